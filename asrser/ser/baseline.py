"""The classic SER baseline: openSMILE eGeMAPSv02 functionals, standardisation, linear SVM, leave one speaker out.

Features are the 88 eGeMAPS v02 functionals of each utterance (openSMILE's Python package, computed locally).
Each fold holds out one speaker, fits the standardisation and a linear SVM (class-balanced weights, seeded) on
the other speakers, and predicts the held-out one. Reported: UA (unweighted accuracy, the mean of per-class
recalls) and WA (weighted accuracy, the share of utterances right) per fold and over all folds' pooled
predictions, the mean over folds, and the pooled confusion matrix (rows: true class, columns: predicted).
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AsrserError, DataError
from ..fileio import atomic_write, read_key_value

log = logging.getLogger(__name__)

FEATURE_SET = "eGeMAPSv02"
_SMILE = None


def _smile():
    global _SMILE
    if _SMILE is None:
        import opensmile

        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                 feature_level=opensmile.FeatureLevel.Functionals)
    return _SMILE


def egemaps_names() -> list[str]:
    return list(_smile().feature_names)


def egemaps_one(utt: str, rxspec: str) -> np.ndarray:
    """The 88 eGeMAPSv02 functionals of one wav.scp entry."""
    from ..audio import read_audio

    audio = read_audio(rxspec, utt)
    values = _smile().process_signal(audio.samples / 32768.0, audio.sample_rate).to_numpy()
    if values.shape != (1, 88) or not np.all(np.isfinite(values)):
        raise AsrserError(f"utterance {utt} ({rxspec}): openSMILE gave {values.shape} features with "
                          f"{int(np.sum(~np.isfinite(values)))} non-finite values")
    return values[0].astype(np.float64)


def _egemaps_chunk(items: list[tuple[str, str]]) -> np.ndarray:
    return np.stack([egemaps_one(u, r) for u, r in items])


def extract_egemaps(wav_scp: dict[str, str], nj: int = 1, progress: bool = True) -> np.ndarray:
    """Features of every utterance of wav_scp, in its order (one row each); nj processes."""
    from tqdm import tqdm

    items = list(wav_scp.items())
    chunks = [items[i:i + 16] for i in range(0, len(items), 16)]
    bar = tqdm(total=len(items), desc="eGeMAPS", unit="utt", disable=not progress)
    parts = []
    if nj <= 1:
        for chunk in chunks:
            parts.append(_egemaps_chunk(chunk))
            bar.update(len(chunk))
    else:
        with ProcessPoolExecutor(nj) as pool:
            for chunk, part in zip(chunks, pool.map(_egemaps_chunk, chunks)):
                parts.append(part)
                bar.update(len(chunk))
    bar.close()
    return np.concatenate(parts) if parts else np.zeros((0, 88))


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> list[list[int]]:
    return [[int(np.sum((y_true == a) & (y_pred == b))) for b in classes] for a in classes]


@dataclass
class Dataset:
    utts: list[str]
    speakers: np.ndarray
    labels: np.ndarray
    features: np.ndarray


def load_dataset(data_dir: str | os.PathLike, nj: int = 1, cache: str | os.PathLike | None = None,
                 progress: bool = True) -> Dataset:
    """Labels (utt2emo), speakers (utt2spk) and eGeMAPS features (from `cache` when it holds these utts)."""
    data_dir = Path(data_dir)
    wav = read_key_value(data_dir / "wav.scp")
    utt2spk = read_key_value(data_dir / "utt2spk")
    utt2emo = read_key_value(data_dir / "utt2emo")
    for name, table in (("utt2spk", utt2spk), ("utt2emo", utt2emo)):
        missing = [u for u in wav if u not in table]
        if missing:
            raise DataError(data_dir / name, f"{len(missing)} utterances of wav.scp have no entry, e.g. {missing[0]}")
    utts = list(wav)
    features = None
    if cache is not None and Path(cache).is_file():
        with np.load(cache) as z:
            if list(z["utts"]) == utts:
                features = z["features"]
                log.info("eGeMAPS features of %d utterances from %s", len(utts), cache)
    if features is None:
        features = extract_egemaps(wav, nj, progress)
        if cache is not None:
            with atomic_write(cache, "wb", encoding=None) as f:
                np.savez(f, utts=np.array(utts), features=features)
    return Dataset(utts, np.array([utt2spk[u] for u in utts]), np.array([utt2emo[u] for u in utts]), features)


def leave_one_speaker_out(data: Dataset, C: float = 0.1, seed: int = 0) -> dict:
    """Standardisation + linear SVM per fold; returns per-fold and overall UA/WA and the confusion matrix."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    classes = sorted(set(data.labels))
    speakers = sorted(set(data.speakers))
    if len(speakers) < 2:
        raise AsrserError(f"leave-one-speaker-out needs at least 2 speakers, found {len(speakers)}")
    predictions = np.empty(len(data.labels), dtype=object)
    folds = []
    for spk in speakers:
        test = data.speakers == spk
        model = make_pipeline(StandardScaler(), LinearSVC(C=C, class_weight="balanced", random_state=seed,
                                                          max_iter=50000))
        model.fit(data.features[~test], data.labels[~test])
        predictions[test] = model.predict(data.features[test])
        y, p = data.labels[test], predictions[test].astype(str)
        folds.append({"speaker": spk, "utterances": int(test.sum()), "ua": unweighted_accuracy(y, p),
                      "wa": weighted_accuracy(y, p)})
    pred = predictions.astype(str)
    return {
        "protocol": "leave-one-speaker-out", "features": f"openSMILE {FEATURE_SET} functionals (88)",
        "classifier": "StandardScaler + LinearSVC (class_weight=balanced)", "C": C, "seed": seed,
        "classes": classes, "utterances": len(data.utts),
        "class_counts": {c: int(np.sum(data.labels == c)) for c in classes},
        "folds": folds,
        "overall": {"ua": unweighted_accuracy(data.labels, pred), "wa": weighted_accuracy(data.labels, pred),
                    "ua_mean_over_folds": float(np.mean([f["ua"] for f in folds])),
                    "wa_mean_over_folds": float(np.mean([f["wa"] for f in folds]))},
        "confusion": {"rows": "true class", "columns": "predicted class", "classes": classes,
                      "matrix": confusion(data.labels, pred, classes)},
    }


def format_report(result: dict) -> str:
    lines = [f"{result['features']}, {result['classifier']}, C={result['C']}, seed {result['seed']}; "
             f"{result['protocol']}, {result['utterances']} utterances",
             f"{'fold':10s}{'utts':>6s}{'UA %':>8s}{'WA %':>8s}"]
    for f in result["folds"]:
        lines.append(f"{f['speaker']:10s}{f['utterances']:6d}{100 * f['ua']:8.1f}{100 * f['wa']:8.1f}")
    o = result["overall"]
    lines.append(f"{'pooled':10s}{result['utterances']:6d}{100 * o['ua']:8.1f}{100 * o['wa']:8.1f}")
    lines.append(f"{'fold mean':16s}{100 * o['ua_mean_over_folds']:8.1f}{100 * o['wa_mean_over_folds']:8.1f}")
    classes = result["confusion"]["classes"]
    lines.append("confusion (rows true, columns predicted):")
    lines.append(f"{'':6s}" + "".join(f"{c:>6s}" for c in classes) + f"{'recall':>8s}")
    for c, row in zip(classes, result["confusion"]["matrix"]):
        recall = 100 * row[classes.index(c)] / max(1, sum(row))
        lines.append(f"{c:6s}" + "".join(f"{v:6d}" for v in row) + f"{recall:7.1f}%")
    return "\n".join(lines)


def run_baseline(data_dir: str | os.PathLike, out_json: str | os.PathLike, nj: int = 1, C: float = 0.1,
                 seed: int = 0, cache: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Features, leave-one-speaker-out SVM, report printed and written to out_json."""
    data = load_dataset(data_dir, nj, cache, progress)
    result = leave_one_speaker_out(data, C, seed)
    result["data_dir"] = str(data_dir)
    print(format_report(result))
    with atomic_write(out_json) as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    log.info("UA %.1f%%, WA %.1f%% (pooled over %d folds); written to %s", 100 * result["overall"]["ua"],
             100 * result["overall"]["wa"], len(result["folds"]), out_json)
    return result
