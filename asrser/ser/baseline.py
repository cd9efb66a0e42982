"""The classic SER baseline: openSMILE eGeMAPSv02 functionals, standardisation, linear SVM, on the SER folds.

Features are the 88 eGeMAPS v02 functionals of each utterance (openSMILE's Python package, computed locally).
Each fold fits the standardisation and a linear SVM (class-balanced weights, seeded) on its training speakers
(or sessions) and predicts its validation and test ones, exactly the folds, classes and labels the ConvNet
uses (the folds dir's); scores come from metrics.summarize.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AsrserError, DataError
from ..fileio import atomic_write, read_key_value
from ..progress import bar as progress_bar
from .folds import Fold, FoldPlan, read_fold_plan
from .metrics import summarize, write_predictions
from .report import write_results

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
    items = list(wav_scp.items())
    chunks = [items[i:i + 16] for i in range(0, len(items), 16)]
    bar = progress_bar(total=len(items), desc="eGeMAPS", unit="utt", enabled=progress)
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


@dataclass
class Dataset:
    utts: list[str]
    speakers: np.ndarray
    groups: np.ndarray            # the folds' speaker or session of each utterance
    labels: np.ndarray
    features: np.ndarray


def load_dataset(data_dir: str | os.PathLike, plan: FoldPlan, nj: int = 1, cache: str | os.PathLike | None = None,
                 progress: bool = True) -> Dataset:
    """The utterances of <data_dir>'s wav.scp the folds label, with their labels and groups (the folds'),
    speakers (utt2spk) and eGeMAPS features (from `cache` when it holds these utts)."""
    data_dir = Path(data_dir)
    wav = read_key_value(data_dir / "wav.scp")
    utt2spk = read_key_value(data_dir / "utt2spk")
    missing = [u for u in plan.labels if u not in wav]
    if missing:
        raise DataError(data_dir / "wav.scp", f"{len(missing)} labelled utterances of the folds have no audio, "
                                              f"e.g. {missing[0]}")
    wav = {u: r for u, r in wav.items() if u in plan.labels}
    missing = [u for u in wav if u not in utt2spk]
    if missing:
        raise DataError(data_dir / "utt2spk", f"{len(missing)} utterances of wav.scp have no entry, e.g. {missing[0]}")
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
    return Dataset(utts, np.array([utt2spk[u] for u in utts]), np.array([plan.groups[u] for u in utts]),
                   np.array([plan.labels[u] for u in utts]), features)


def fold_predictions(data: Dataset, folds: list[Fold], C: float = 0.1, seed: int = 0) -> list[dict]:
    """Per fold: standardisation + linear SVM fitted on the training groups, predicting the validation and
    the test groups; one prediction row per utterance, fold and role."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    rows = []
    for fold in folds:
        train = np.isin(data.groups, fold.train)
        model = make_pipeline(StandardScaler(), LinearSVC(C=C, class_weight="balanced", random_state=seed,
                                                          max_iter=50000))
        model.fit(data.features[train], data.labels[train])
        for role, groups in (("valid", fold.validation), ("test", fold.test_groups)):
            chosen = np.flatnonzero(np.isin(data.groups, groups))
            for i, predicted in zip(chosen, model.predict(data.features[chosen])):
                rows.append({"fold": fold.test, "role": role, "utt": data.utts[i], "speaker": data.speakers[i],
                             "label": data.labels[i], "predicted": str(predicted)})
    return rows


def run_baseline(data_dir: str | os.PathLike, folds_json: str | os.PathLike, out_dir: str | os.PathLike,
                 nj: int = 1, C: float = 0.1, seed: int = 0, progress: bool = True) -> dict:
    """Features (cached in out_dir/egemaps.npz), the SVM on every fold of <folds-dir>/folds.json (with the
    classes and labels beside it); out_dir/{predictions.tsv, results.json}; the report is printed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = read_fold_plan(folds_json)
    data = load_dataset(data_dir, plan, nj, out_dir / "egemaps.npz", progress)
    rows = fold_predictions(data, plan.folds, C, seed)
    write_predictions(out_dir / "predictions.tsv", rows)
    result = {"system": "eGeMAPS + linear SVM", "features": f"openSMILE {FEATURE_SET} functionals (88)",
              "classifier": "StandardScaler + LinearSVC (class_weight=balanced)", "C": C, "seed": seed,
              "data_dir": str(data_dir), **summarize(rows, plan.classes)}
    write_results(out_dir / "results.json", result)
    return result
