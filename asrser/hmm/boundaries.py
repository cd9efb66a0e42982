"""Alignment accuracy: forced-alignment phone boundaries against a reference segmentation (TIMIT .PHN), and
boundary-specific correction of an aligner's systematic offsets.

Boundaries are the starts of every phone after the first. A boundary between frames t-1 and t is placed
midway between their window centres, t * shift + (window - shift) / 2 (7.5 ms for 25/10 ms frames). Reference
and hypothesis phone sequences are matched with an edit-distance alignment, so only boundaries between
phones that both sides agree on are compared; the report gives the share within 10, 20 and 40 ms.

An HMM aligner places some transitions consistently early or late: where a labelling convention puts a
boundary (closure onset, end of voicing) is not where the frame models' likelihoods cross, and a 25 ms
window smears energy changes. The correction learns, from a training set's alignments and its reference
segmentation, the median offset of each (previous phone, phone) boundary and removes it: the simple
boundary-time correction of phonetic segmentation (Matousek et al. 2003; Yuan et al. 2013). On TIMIT, Stolcke
et al. (ICASSP 2014) quote 80-89% within 20 ms for conventional HMM forced alignment and reach 93.9-96.8% with
correction models. Rare pairs shrink towards the median offset of all boundaries into the same phone.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import kaldialign
import numpy as np

from ..errors import DataError
from ..fileio import PhoneSegments, atomic_write, file_digest, read_ctm, write_ctm
from ..lang import Lang
from .align import read_alignments
from .model import HmmModel
from .tables import alignment_to_phone_segments, tid_tables

log = logging.getLogger(__name__)

TOLERANCES_MS = (10, 20, 40)


def matched_boundaries(ref: PhoneSegments, hyp: PhoneSegments) -> list[tuple[str, str, float]]:
    """(previous hyp phone, phone, hyp - ref in seconds) for each phone start after the first whose phone is
    matched on both sides."""
    pairs = kaldialign.align([p for p, _, _ in ref], [p for p, _, _ in hyp], "*")
    matched, i, j = [], 0, 0
    for r, h in pairs:
        if r != "*" and h != "*":
            if r == h and i > 0 and j > 0:
                matched.append((hyp[j - 1][0], h, hyp[j][1] - ref[i][1]))
            i, j = i + 1, j + 1
        elif r == "*":
            j += 1
        else:
            i += 1
    return matched


def alignment_segments(ali_dir: str | os.PathLike, lang_dir: str | os.PathLike, frame_shift: float = 0.01,
                       window: float = 0.025) -> dict[str, PhoneSegments]:
    """An alignment dir's phone segmentation, {utt: [(phone, start, end)]}, boundaries between window centres;
    word-position-dependent phones as their base phone (AA_B -> AA), as a reference segmentation names them."""
    ali_dir = Path(ali_dir)
    model = HmmModel.load(ali_dir / "final.mdl")
    id2phone = Lang.load(lang_dir).base_phone
    phone_of, state_of = tid_tables(model)
    offset = (window - frame_shift) / 2
    segments = {}
    for utt, ali in read_alignments(ali_dir, model.num_transition_ids):
        hyp, t = [], 0
        for phone, n in alignment_to_phone_segments(phone_of, state_of, ali):
            start = 0.0 if t == 0 else t * frame_shift + offset
            hyp.append((id2phone[phone], start, (t + n) * frame_shift + offset))
            t += n
        segments[utt] = hyp
    return dict(sorted(segments.items()))


@dataclass
class BoundaryCorrection:
    """Per-boundary offsets (seconds) that an aligner adds to the reference: subtract them to correct."""
    pair_offset: dict[tuple[str, str], float] = field(default_factory=dict)
    phone_offset: dict[str, float] = field(default_factory=dict)     # backoff: any boundary into the phone
    default_offset: float = 0.0
    shrink: float = 3.0
    boundaries: int = 0
    fitted_on: dict = field(default_factory=dict)     # where the offsets come from: alignments, reference, model

    @classmethod
    def fit(cls, hyps: dict[str, PhoneSegments], refs: dict[str, PhoneSegments], shrink: float = 3.0
            ) -> "BoundaryCorrection":
        """Median offsets per (previous phone, phone) over the utterances in both; a pair seen n times is
        pulled towards its phone's median with weight shrink / (n + shrink)."""
        if shrink < 0:
            raise ValueError(f"shrink must be >= 0, not {shrink}")
        by_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
        by_phone: dict[str, list[float]] = defaultdict(list)
        for utt in sorted(set(hyps) & set(refs)):
            for left, right, offset in matched_boundaries(refs[utt], hyps[utt]):
                by_pair[left, right].append(offset)
                by_phone[right].append(offset)
        if not by_pair:
            raise ValueError("no utterance has boundaries matched in both segmentations")
        phone_offset = {p: float(np.median(v)) for p, v in by_phone.items()}
        pair_offset = {pair: float((np.median(v) * len(v) + phone_offset[pair[1]] * shrink) / (len(v) + shrink))
                       for pair, v in by_pair.items()}
        return cls(pair_offset, phone_offset, float(np.median([o for v in by_pair.values() for o in v])),
                   shrink, sum(map(len, by_pair.values())))

    def offset(self, left: str, right: str) -> float:
        return self.pair_offset.get((left, right), self.phone_offset.get(right, self.default_offset))

    def apply(self, segments: PhoneSegments, min_phone: float = 0.005) -> PhoneSegments:
        """Move each boundary by minus its offset, keeping the utterance's ends and every phone at least
        min_phone long. A segmentation too short for that (never one from 10 ms frames) is returned as is."""
        end = segments[-1][2] if segments else 0.0
        if len(segments) < 2 or end - segments[0][1] < len(segments) * min_phone:
            return list(segments)
        starts = [segments[0][1]]
        for i in range(1, len(segments)):
            moved = segments[i][1] - self.offset(segments[i - 1][0], segments[i][0])
            starts.append(min(max(moved, starts[-1] + min_phone), end - (len(segments) - i) * min_phone))
        return [(phone, start, stop) for (phone, _, _), start, stop in zip(segments, starts, starts[1:] + [end])]

    def save(self, path: str | os.PathLike) -> None:
        with atomic_write(path) as f:
            json.dump({"method": "median offset per (previous phone, phone), shrunk towards the phone's",
                       "fitted_on": self.fitted_on, "shrink": self.shrink, "boundaries": self.boundaries,
                       "default_offset_ms": round(self.default_offset * 1000, 3),
                       "phone_offset_ms": {p: round(o * 1000, 3) for p, o in sorted(self.phone_offset.items())},
                       "pair_offset_ms": {f"{a} {b}": round(o * 1000, 3)
                                          for (a, b), o in sorted(self.pair_offset.items())}}, f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BoundaryCorrection":
        try:
            d = json.loads(Path(path).read_text())
            pairs = {tuple(k.split()): float(v) / 1000 for k, v in d["pair_offset_ms"].items()}
            if any(len(pair) != 2 for pair in pairs):
                raise ValueError("a pair key is not two phones")
            return cls(pairs, {k: float(v) / 1000 for k, v in d["phone_offset_ms"].items()},
                       float(d["default_offset_ms"]) / 1000, d["shrink"], d["boundaries"], d.get("fitted_on", {}))
        except FileNotFoundError:
            raise DataError(path, "file does not exist") from None
        except (ValueError, KeyError, AttributeError, TypeError) as e:
            raise DataError(path, f"not a boundary correction ({e})") from None


def fit_boundary_correction(ali_dir: str | os.PathLike, lang_dir: str | os.PathLike,
                            ref_ctm: str | os.PathLike, shrink: float = 3.0) -> BoundaryCorrection:
    """Fit on a (training) alignment dir against its reference; written to <ali_dir>/boundary_correction.json."""
    ali_dir = Path(ali_dir)
    if shrink < 0:
        raise ValueError(f"shrink must be >= 0, not {shrink}")     # an option, not the data: no file to name
    try:
        correction = BoundaryCorrection.fit(alignment_segments(ali_dir, lang_dir), read_ctm(ref_ctm), shrink)
    except ValueError as e:
        raise DataError(ref_ctm, f"cannot fit a boundary correction to {ali_dir}: {e}") from None
    correction.fitted_on = {"alignments": str(ali_dir), "reference": str(ref_ctm),
                            "model_digest": file_digest(ali_dir / "final.mdl")}
    correction.save(ali_dir / "boundary_correction.json")
    return correction


def _accuracy(refs: dict[str, PhoneSegments], hyps: dict[str, PhoneSegments]) -> dict:
    errors = [abs(offset) for utt in hyps if utt in refs for _, _, offset in matched_boundaries(refs[utt], hyps[utt])]
    errs_ms = np.asarray(errors) * 1000.0
    return {"utterances": sum(utt in refs for utt in hyps), "boundaries": int(len(errs_ms)),
            **{f"within_{tol}ms": float((errs_ms <= tol).mean() * 100) if len(errs_ms) else 0.0
               for tol in TOLERANCES_MS},
            "median_error_ms": float(np.median(errs_ms)) if len(errs_ms) else None}


def alignment_accuracy(ali_dir: str | os.PathLike, lang_dir: str | os.PathLike, ref_ctm: str | os.PathLike,
                       correction: str | os.PathLike | None = None) -> dict:
    """Share of matched boundaries within 10/20/40 ms, written to <ali_dir>/boundary_accuracy.json with the
    alignment's segmentation as <ali_dir>/phones.ctm. With a correction file (fitted on another set's
    alignments) the report adds the corrected figures under "corrected", and the corrected segmentation goes
    to <ali_dir>/phones_corrected.ctm."""
    ali_dir = Path(ali_dir)
    fitted = BoundaryCorrection.load(correction) if correction is not None else None
    if fitted is not None and fitted.fitted_on.get("model_digest", "") not in ("", file_digest(ali_dir / "final.mdl")):
        log.warning("%s was fitted on alignments by another model than %s's (%s)", correction, ali_dir,
                    fitted.fitted_on.get("alignments"))
    refs = read_ctm(ref_ctm)
    hyps = alignment_segments(ali_dir, lang_dir)
    result = _accuracy(refs, hyps)
    write_ctm(hyps, ali_dir / "phones.ctm")
    if fitted is not None:
        if Path(fitted.fitted_on.get("alignments", "")).resolve() == ali_dir.resolve():
            log.warning("%s is scored with the correction fitted on it: the corrected figures are in-sample", ali_dir)
        corrected = {utt: fitted.apply(segments) for utt, segments in hyps.items()}
        result["corrected"] = {"correction": str(correction), **_accuracy(refs, corrected)}
        write_ctm(corrected, ali_dir / "phones_corrected.ctm")
    with atomic_write(ali_dir / "boundary_accuracy.json") as f:
        json.dump(result, f, indent=1)
    return result


def accuracy_table(exp_dir: str | os.PathLike) -> str:
    """A RESULTS.md section: every <exp_dir>/*/boundary_accuracy.json as a row, as aligned and corrected ("" when
    there is none)."""
    accuracies = sorted(Path(exp_dir).glob("*/boundary_accuracy.json"))
    if not accuracies:
        return ""
    lines = ["\nForced-alignment phone boundaries against the reference segmentation: share within "
             + " / ".join(map(str, TOLERANCES_MS)) + " ms as aligned, and after boundary-specific correction "
             "(each system's median offset per phone pair, fitted on its training-set alignments; - where "
             "none was applied).\n\n| alignment | utterances | boundaries | "
             + " | ".join(f"{kind}{tol} ms" for kind in ("within ", "corrected, within ") for tol in TOLERANCES_MS)
             + " |\n|---|---:|---:|" + "---:|" * (2 * len(TOLERANCES_MS)) + "\n"]
    for path in accuracies:
        a = json.loads(path.read_text())
        cells = [f"{acc[f'within_{tol}ms']:.1f}%" if acc else "-"
                 for acc in (a, a.get("corrected")) for tol in TOLERANCES_MS]
        lines.append(f"| {path.parent.name} | {a['utterances']} | {a['boundaries']} | " + " | ".join(cells) + " |\n")
    return "".join(lines)
