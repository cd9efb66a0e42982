"""Boundary scoring and boundary-specific correction on hand-made segmentations with known offsets."""

from __future__ import annotations

import pytest

from asrser.errors import DataError
from asrser.fileio import read_ctm, write_ctm
from asrser.hmm.boundaries import BoundaryCorrection, matched_boundaries


def segmentation(phones, starts, end):
    return [(p, s, e) for p, s, e in zip(phones, starts, starts[1:] + [end])]


REF = segmentation(["sil", "s", "ih", "t", "sil"], [0.0, 0.20, 0.30, 0.40, 0.50], 0.70)
# the aligner puts s->ih 20 ms late and t->sil 30 ms late, everything else exactly
HYP = segmentation(["sil", "s", "ih", "t", "sil"], [0.0, 0.20, 0.32, 0.40, 0.53], 0.70)


def test_matched_boundaries_are_signed_and_skip_unmatched_phones():
    assert [(a, b, round(o, 3)) for a, b, o in matched_boundaries(REF, HYP)] == [
        ("sil", "s", 0.0), ("s", "ih", 0.02), ("ih", "t", 0.0), ("t", "sil", 0.03)]
    deleted = [seg for seg in HYP if seg[0] != "t"]
    assert [(a, b) for a, b, _ in matched_boundaries(REF, deleted)] == [("sil", "s"), ("s", "ih"), ("ih", "sil")]


def test_fitted_offsets_are_the_aligners_and_applying_them_restores_the_reference():
    refs = {f"u{i}": REF for i in range(5)}
    hyps = {f"u{i}": HYP for i in range(5)}
    correction = BoundaryCorrection.fit(hyps, refs, shrink=0)
    assert correction.offset("s", "ih") == pytest.approx(0.02)
    assert correction.offset("t", "sil") == pytest.approx(0.03)
    assert correction.boundaries == 20
    corrected = correction.apply(HYP)
    assert [p for p, _, _ in corrected] == [p for p, _, _ in REF]
    assert [s for _, s, _ in corrected] == pytest.approx([s for _, s, _ in REF])
    assert corrected[-1][2] == 0.70
    # an unseen pair backs off to the offset of boundaries into its phone, then to the median of all
    assert correction.offset("z", "ih") == pytest.approx(0.02)
    assert correction.offset("z", "aa") == pytest.approx(0.01)          # median of 0, 0, 20, 30 ms


def test_rare_pairs_shrink_towards_their_phone():
    exact = segmentation(["sil", "s", "sil"], [0.0, 0.1, 0.2], 0.3)
    correction = BoundaryCorrection.fit({"a": HYP, "b": exact}, {"a": REF, "b": exact}, shrink=2)
    # (t, sil) seen once, at +30 ms; boundaries into sil at +30 (t sil) and 0 ms (s sil): median 15 ms
    assert correction.offset("t", "sil") == pytest.approx((0.03 * 1 + 0.015 * 2) / 3)


def test_correction_keeps_order_and_a_minimum_phone_length():
    correction = BoundaryCorrection({("sil", "s"): -0.5, ("s", "ih"): 0.3}, {}, 0.0)
    corrected = correction.apply(HYP, min_phone=0.005)
    starts = [s for _, s, _ in corrected]
    assert all(b - a >= 0.005 - 1e-9 for a, b in zip(starts, starts[1:] + [0.70]))
    assert starts[0] == 0.0 and corrected[-1][2] == 0.70
    too_short = [("a", 0.0, 0.002), ("b", 0.002, 0.004), ("c", 0.004, 0.008)]
    assert correction.apply(too_short, min_phone=0.005) == too_short


def test_nothing_to_fit_and_bad_settings_are_errors():
    with pytest.raises(ValueError, match="no utterance"):
        BoundaryCorrection.fit({"u": HYP}, {"other": REF})
    with pytest.raises(ValueError, match="shrink"):
        BoundaryCorrection.fit({"u": HYP}, {"u": REF}, shrink=-1)


def test_correction_and_ctm_round_trip(tmp_path):
    correction = BoundaryCorrection.fit({"u": HYP}, {"u": REF}, shrink=3)
    correction.save(tmp_path / "c.json")
    again = BoundaryCorrection.load(tmp_path / "c.json")
    assert again.offset("t", "sil") == pytest.approx(correction.offset("t", "sil"), abs=1e-6)
    write_ctm({"u": HYP}, tmp_path / "u.ctm")
    back = read_ctm(tmp_path / "u.ctm")["u"]
    assert [p for p, _, _ in back] == [p for p, _, _ in HYP]
    assert [t for _, s, e in back for t in (s, e)] == pytest.approx([t for _, s, e in HYP for t in (s, e)])
    for name, text in [("empty.json", "{}"), ("list.json", "[]"), ("notjson.json", "offsets"),
                       ("pair.json", (tmp_path / "c.json").read_text().replace('"t sil"', '"t sil x"'))]:
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=f"{name}.*not a boundary correction"):
            BoundaryCorrection.load(tmp_path / name)
    with pytest.raises(DataError, match="missing.json.*does not exist"):
        BoundaryCorrection.load(tmp_path / "missing.json")
