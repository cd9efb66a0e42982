"""Frame targets for neural nets from alignments: per transition-id a class (monophone HMM states, or the
tree's pdfs as Kaldi's ali-to-pdf), written as Kaldi archives with the class count and class frequencies."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import AsrserError
from ..fileio import Stamp, atomic_write
from .align import AlignmentWriter, read_alignments
from .model import HmmModel
from .tables import tid_tables

log = logging.getLogger(__name__)

TARGET_TYPES = ("mono-state", "pdf")


def monophone_state_classes(model: HmmModel, num_states: int = 3) -> tuple[np.ndarray, int]:
    """transition-id -> class (phone - 1) * num_states + state: 48 x 3 = 144 classes on TIMIT.

    Phones with more HMM states (silence: 5) are folded onto num_states classes: the first state to class
    0, the last to class num_states-1, the inner states to the middle class(es), as the paper's 3-state
    targets need one class set for every phone."""
    phone, state = tid_tables(model)
    topo = model.trans_model.topo if not callable(model.trans_model.topo) else model.trans_model.topo()
    n_states = {p: n for p, n in zip(topo.phones, [topo.num_pdf_classes(p) for p in topo.phones])}
    classes = np.zeros(len(phone), dtype=np.int64)
    for tid in range(1, len(phone)):
        n = n_states[int(phone[tid])]
        s = int(state[tid])
        folded = s if n == num_states else (0 if s == 0 else num_states - 1 if s == n - 1 else
                                             1 + (s - 1) * (num_states - 2) // max(n - 2, 1))
        classes[tid] = (phone[tid] - 1) * num_states + folded
    return classes, int(max(topo.phones)) * num_states


def target_table(model: HmmModel, targets: str = "mono-state") -> tuple[np.ndarray, int]:
    """transition-id -> frame class for the nets, and the number of classes: monophone HMM states
    (mono-state) or the tree's leaves (pdf)."""
    if targets == "mono-state":
        return monophone_state_classes(model)
    if targets == "pdf":
        return model.tid2pdf, model.trans_model.num_pdfs
    raise AsrserError(f"unknown target type {targets!r} ({' or '.join(TARGET_TYPES)})")


def write_targets(ali_dir: str | os.PathLike, out_dir: str | os.PathLike, targets: str = "mono-state") -> int:
    """ali-to-pdf / monophone-state targets for the neural nets: <out>/targets.{ark,scp}, num_classes."""
    ali_dir, out_dir = Path(ali_dir), Path(out_dir)
    model = HmmModel.load(ali_dir / "final.mdl")
    # "kind": the record's name for the target type since the first release (a new name would redo every run)
    stamp = Stamp(out_dir / "targets.done", [*sorted(ali_dir.glob("ali.*.ark")), ali_dir / "final.mdl"],
                  kind=targets)
    if stamp.is_current():
        return int((out_dir / "num_classes").read_text())
    table, num_classes = target_table(model, targets)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = np.zeros(num_classes, dtype=np.int64)
    with AlignmentWriter(out_dir / "targets") as write:
        for utt, ali in read_alignments(ali_dir):
            frame_classes = table[ali]
            counts += np.bincount(frame_classes, minlength=num_classes)
            write(utt, frame_classes)
    with atomic_write(out_dir / "num_classes") as f:
        f.write(f"{num_classes}\n")
    with atomic_write(out_dir / "class_counts") as f:
        f.write(" ".join(map(str, counts)) + "\n")
    stamp.write()
    log.info("%s: %s targets, %d classes (%d never seen), %d frames", out_dir, targets, num_classes,
             int((counts == 0).sum()), int(counts.sum()))
    return num_classes
