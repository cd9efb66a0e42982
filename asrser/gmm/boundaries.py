"""Alignment accuracy: forced-alignment phone boundaries against a reference segmentation (TIMIT .PHN).

Boundaries are the starts of every phone after the first. A boundary between frames t-1 and t is placed
midway between their window centres, t * shift + (window - shift) / 2 (7.5 ms for 25/10 ms frames). Reference
and hypothesis phone sequences are matched with an edit-distance alignment, so only boundaries between
phones that both sides agree on are compared; the report gives the share within 10, 20 and 40 ms.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import kaldialign
import numpy as np

from ..errors import DataError
from ..fileio import atomic_write, read_table
from ..lang import Lang
from .align import alignment_to_phone_segments, read_alignments, tid_tables
from .model import AcousticModel

TOLERANCES_MS = (10, 20, 40)


def read_ctm(path: str | os.PathLike) -> dict[str, list[tuple[str, float, float]]]:
    """CTM `utt channel start duration phone` -> {utt: [(phone, start, end)]} in seconds."""
    segments: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for n, fields in read_table(path, min_fields=5, max_fields=6):
        try:
            start, dur = float(fields[2]), float(fields[3])
        except ValueError:
            raise DataError(path, f"start/duration are not numbers: {' '.join(fields)}", n) from None
        segments[fields[0]].append((fields[4], start, start + dur))
    return dict(segments)


def matched_boundary_errors(ref: list[tuple[str, float, float]], hyp: list[tuple[str, float, float]]
                            ) -> list[float]:
    """|hyp - ref| in seconds for each phone start (after the first) whose phone is matched on both sides."""
    pairs = kaldialign.align([p for p, _, _ in ref], [p for p, _, _ in hyp], "*")
    errors, i, j = [], 0, 0
    for r, h in pairs:
        if r != "*" and h != "*":
            if r == h and i > 0 and j > 0:
                errors.append(abs(ref[i][1] - hyp[j][1]))
            i, j = i + 1, j + 1
        elif r == "*":
            j += 1
        else:
            i += 1
    return errors


def alignment_accuracy(ali_dir: str | os.PathLike, lang_dir: str | os.PathLike, ref_ctm: str | os.PathLike,
                       frame_shift: float = 0.01, window: float = 0.025) -> dict:
    """Share of matched boundaries within 10/20/40 ms; written to <ali_dir>/boundary_accuracy.json."""
    ali_dir = Path(ali_dir)
    model = AcousticModel.load(ali_dir / "final.mdl")
    id2phone = Lang.load(lang_dir).id2phone
    phone_of, state_of = tid_tables(model)
    refs = read_ctm(ref_ctm)
    offset = (window - frame_shift) / 2
    errors: list[float] = []
    utts = 0
    for utt, ali in read_alignments(ali_dir):
        if utt not in refs:
            continue
        hyp, t = [], 0
        for phone, n in alignment_to_phone_segments(phone_of, state_of, ali):
            start = 0.0 if t == 0 else t * frame_shift + offset
            hyp.append((id2phone[phone], start, (t + n) * frame_shift + offset))
            t += n
        errors += matched_boundary_errors(refs[utt], hyp)
        utts += 1
    errs_ms = np.asarray(errors) * 1000.0
    result = {"utterances": utts, "boundaries": int(len(errs_ms)),
              **{f"within_{tol}ms": float((errs_ms <= tol).mean() * 100) if len(errs_ms) else 0.0
                 for tol in TOLERANCES_MS},
              "median_error_ms": float(np.median(errs_ms)) if len(errs_ms) else None}
    with atomic_write(ali_dir / "boundary_accuracy.json") as f:
        json.dump(result, f, indent=1)
    return result
