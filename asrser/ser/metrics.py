"""SER scores from per-utterance predictions: weighted accuracy (WA, the share of utterances right), unweighted
accuracy (UA, the mean of per-class recalls) and the paper's error forms E = 1 - WA and UE = 1 - UA, on the
validation and test speakers (or sessions), per fold and pooled over the folds' predictions.

Predictions are kept as a TSV (fold, role, utt, speaker, label, predicted), one row per utterance and fold,
so that every figure can be recomputed by hand.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fileio import atomic_write

PREDICTION_FIELDS = ("fold", "role", "utt", "speaker", "label", "predicted")
ROLES = ("valid", "test")


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in y_true (a fold's speaker may lack a class)."""
    from sklearn.metrics import recall_score

    return float(recall_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


def weighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> list[list[int]]:
    """Counts, rows: true class, columns: predicted class."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=classes).tolist()


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    wa, ua = weighted_accuracy(y_true, y_pred), unweighted_accuracy(y_true, y_pred)
    return {"utterances": int(len(y_true)), "wa": wa, "ua": ua, "e": 1 - wa, "ue": 1 - ua}


def write_predictions(path: str | os.PathLike, rows: list[dict]) -> None:
    with atomic_write(path) as f:
        writer = csv.DictWriter(f, PREDICTION_FIELDS, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_predictions(path: str | os.PathLike, classes: tuple[str, ...] | list[str]) -> list[dict]:
    """The rows of a predictions TSV; a role, label or prediction that is not valid (classes: the emotion
    classes of the folds) is an error naming the file and line."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        if tuple(reader.fieldnames or ()) != PREDICTION_FIELDS:
            raise DataError(path, f"line 1: expected the columns {' '.join(PREDICTION_FIELDS)}")
        rows = list(reader)
    for line, row in enumerate(rows, 2):
        if row["role"] not in ROLES or row["label"] not in classes or row["predicted"] not in classes:
            raise DataError(path, f"line {line}: role {row['role']!r}, label {row['label']!r} or predicted "
                                  f"{row['predicted']!r} is not valid")
    return rows


def summarize(rows: list[dict], classes: tuple[str, ...] | list[str]) -> dict:
    """Per fold (in order of first appearance) and pooled scores for each role, and the pooled test
    confusion matrix over the classes (in their order)."""
    folds = list(dict.fromkeys(r["fold"] for r in rows))
    summary: dict = {"classes": list(classes), "folds": []}
    for fold in folds:
        entry = {"speaker": fold}
        for role in ROLES:
            part = [r for r in rows if r["fold"] == fold and r["role"] == role]
            if part:
                entry[role] = scores(np.array([r["label"] for r in part]), np.array([r["predicted"] for r in part]))
        summary["folds"].append(entry)
    for role in ROLES:
        part = [r for r in rows if r["role"] == role]
        if not part:
            continue
        y, p = np.array([r["label"] for r in part]), np.array([r["predicted"] for r in part])
        per_fold = [f[role] for f in summary["folds"] if role in f]
        summary[role] = {**scores(y, p), "wa_mean_over_folds": float(np.mean([s["wa"] for s in per_fold])),
                         "ua_mean_over_folds": float(np.mean([s["ua"] for s in per_fold])),
                         "confusion": confusion(y, p, list(classes))}
    return summary
