"""The frame-level SER ConvNet on the SER folds (asrser.ser.folds), with the ASR trainer (asrser.nnet); its
targets are the folds' emotion classes plus silence.

prepare_fold_frames: per fold, the mean/variance of the training speakers' (or sessions') fbank frames
(normalisation from the training subset only) and the normalised frames of its train, valid and test groups
(the fold's test_groups: one speaker or session, or a whole corpus across corpora)
with their VAD frame targets; shared by every net trained on the fold (baseline and transfer).
train_fold: trains one fold (early stopping on the validation groups) and writes predictions.tsv: the
utterance decisions of the validation and the test groups. The classes and labels are the folds dir's
(classes.txt and utt2emo beside the fold dirs).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import kaldiio

from ..errors import AsrserError
from ..fileio import Stamp, atomic_write, read_key_value, temp_name
from ..nnet.data import FrameData, frame_files, prepare_frames
from ..nnet.model import NetConfig
from .classes import CLASSES_FILE, LABELS_FILE, frame_classes, read_classes, read_labels
from .folds import Fold, read_fold_plan
from .frames import utterance_decision
from .metrics import ROLES, read_predictions, summarize, write_predictions
from .report import write_results

log = logging.getLogger(__name__)

ROLE_FRAMES = {"train": "frames_train", "valid": "frames_valid", "test": "frames_test"}


def prepare_fold_frames(fbank_dir: str | os.PathLike, targets_dir: str | os.PathLike,
                        folds_json: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """<out_dir>/fold<k>/{fold.json, global_cmvn.stats, frames_train, frames_valid, frames_test} per fold."""
    from ..features import global_cmvn_stats

    fbank_dir, targets_dir, out_dir = Path(fbank_dir), Path(targets_dir), Path(out_dir)
    plan = read_fold_plan(folds_json)
    folds, utt2group = plan.folds, plan.groups
    targets_scp = targets_dir / "targets.scp"
    labelled = set(read_key_value(targets_scp))
    fold_dirs = []
    for k, fold in enumerate(folds, 1):
        fold_dir = out_dir / f"fold{k}"
        fold_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(fold_dir / "fold.json") as f:
            json.dump(asdict(fold), f)
        groups = {"train": fold.train, "valid": fold.validation, "test": fold.test_groups}
        utts = {role: [u for u, g in utt2group.items() if g in groups[role] and u in labelled] for role in groups}
        empty = [role for role, found in utts.items() if not found]
        if empty:
            raise AsrserError(f"{folds_json}: fold {k} (test {fold.test}) has no utterances with frame targets "
                              f"for {', '.join(empty)}")
        stats_path = fold_dir / "global_cmvn.stats"
        stamp = Stamp(fold_dir / "global_cmvn.done", [fbank_dir / "feats.scp"], utts=utts["train"])
        if not stamp.is_current():
            tmp = temp_name(stats_path)
            kaldiio.save_mat(str(tmp), global_cmvn_stats(fbank_dir / "feats.scp", utts["train"]))
            os.replace(tmp, stats_path)
            stamp.write()
        for role, name in ROLE_FRAMES.items():
            prepare_frames(fbank_dir, targets_scp, stats_path, fold_dir / name, utts=utts[role])
        fold_dirs.append(fold_dir)
    with atomic_write(out_dir / "num_folds") as f:
        f.write(f"{len(folds)}\n")
    return fold_dirs


def predict_utterances(net_path: str | os.PathLike, frames_dir: str | os.PathLike, classes: tuple[str, ...],
                       device: str = "auto") -> list[tuple[str, str]]:
    """(utt, emotion) per utterance: frame posteriors averaged over its voiced frames (all frames when the VAD
    found none), argmax over the emotion classes."""
    from ..nnet.decode import utterance_log_posteriors
    from ..nnet.train import load_model, select_device

    model = load_model(net_path)
    outputs = frame_classes(classes)
    if model.num_classes != len(outputs):
        raise AsrserError(f"{net_path} has {model.num_classes} outputs, SER with these folds needs {len(outputs)} "
                          f"({' '.join(outputs)})")
    data = FrameData(frames_dir, model.config.context)
    decisions = []
    for i, (utt, log_post) in enumerate(utterance_log_posteriors(model, data, select_device(device))):
        decisions.append((utt, classes[utterance_decision(log_post, data.targets[data.utterance(i)[1]])]))
    return decisions


def train_fold(data_dir: str | os.PathLike, fold_dir: str | os.PathLike, out_dir: str | os.PathLike,
               config: NetConfig, transfer_from: str | os.PathLike | None = None, frozen_layers: int = 0,
               device: str = "auto", progress: bool = True) -> Path:
    """Train on the fold's frames (resumable), then write <out_dir>/predictions.tsv; returns its path. The
    classes and labels are those of the folds dir holding fold_dir; the speakers those of data_dir."""
    from ..nnet.train import train_net

    fold_dir, out_dir = Path(fold_dir), Path(out_dir)
    folds_dir = fold_dir.parent
    classes = read_classes(folds_dir)
    try:
        fold = Fold(**{k: v if k == "test" else tuple(v)
                       for k, v in json.loads((fold_dir / "fold.json").read_text()).items()})
    except FileNotFoundError:
        raise AsrserError(f"{fold_dir}: no prepared fold (run the fold preparation stage first)") from None
    train_net(fold_dir / ROLE_FRAMES["train"], fold_dir / ROLE_FRAMES["valid"], out_dir, config, len(classes) + 1,
              transfer_from=transfer_from, frozen_layers=frozen_layers, device=device, progress=progress)
    predictions = out_dir / "predictions.tsv"
    stamp = Stamp(out_dir / "predictions.done", [out_dir / "final.pt", *frame_files(fold_dir / ROLE_FRAMES["valid"]),
                                                 *frame_files(fold_dir / ROLE_FRAMES["test"]),
                                                 Path(data_dir) / "utt2spk", folds_dir / LABELS_FILE,
                                                 folds_dir / CLASSES_FILE])
    if stamp.is_current():
        return predictions
    utt2spk = read_key_value(Path(data_dir) / "utt2spk")
    utt2emo = read_labels(folds_dir)
    rows = []
    for role in ROLES:
        for utt, emotion in predict_utterances(out_dir / "final.pt", fold_dir / ROLE_FRAMES[role], classes, device):
            rows.append({"fold": fold.test, "role": role, "utt": utt, "speaker": utt2spk[utt],
                         "label": utt2emo[utt], "predicted": emotion})
    write_predictions(predictions, rows)
    stamp.write()
    test = [r for r in rows if r["role"] == "test"]
    log.info("%s: test %s, %d of %d utterances right", out_dir, fold.test,
             sum(r["label"] == r["predicted"] for r in test), len(test))
    return predictions


def score_folds(folds_dir: str | os.PathLike, system_dir: str | os.PathLike, description: dict | None = None
                ) -> dict:
    """<system_dir>/fold*/predictions.tsv -> predictions.tsv (all folds), results.json, confusion.png, over
    the classes of <folds_dir>. The system's description in results.json: `description` over the one its
    first fold wrote (fold1/description.json, e.g. by a CTA-RNN fold), over the frame ConvNet's."""
    system_dir = Path(system_dir)
    classes = read_classes(folds_dir)
    fold_files = sorted(system_dir.glob("fold*/predictions.tsv"), key=lambda p: int(p.parent.name[4:]))
    if not fold_files:
        raise AsrserError(f"{system_dir}: no fold predictions (fold*/predictions.tsv)")
    rows = [row for path in fold_files for row in read_predictions(path, classes)]
    write_predictions(system_dir / "predictions.tsv", rows)
    histories = [json.loads(p.parent.joinpath("history.json").read_text()) for p in fold_files
                 if p.parent.joinpath("history.json").exists()]
    written = fold_files[0].parent / "description.json"
    result = {"system": f"ConvNet (frame-level, {len(classes) + 1} classes)",
              "features": "40 log-mel fbank, 31-frame windows",
              "classifier": "the paper's ConvNet; utterance = mean voiced-frame posterior",
              **(json.loads(written.read_text()) if written.exists() else {}),
              **(description or {}), **summarize(rows, classes),
              "epochs": [len(h) for h in histories]}
    write_results(system_dir / "results.json", result)
    return result
