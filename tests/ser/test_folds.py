"""SER folds: fixed validation, rotation, speaker and session folds, the checks; WA/UA with 3 and 5 classes."""

import json
from pathlib import Path

import numpy as np
import pytest

from asrser.errors import AsrserError
from asrser.ser.folds import Fold, check_folds, make_folds, read_fold_plan, write_folds
from asrser.ser.metrics import summarize

SPEAKERS = [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]


def test_a_fixed_validation_pair_serves_every_fold():
    folds = make_folds(SPEAKERS, ["Ses05F", "Ses05M"])
    assert len(folds) == 8 and all(f.validation == ("Ses05F", "Ses05M") and len(f.train) == 7 for f in folds)
    assert [f.test for f in folds] == SPEAKERS[:8]


def test_rotation_tests_every_speaker_once_and_validates_on_the_next():
    speakers = ["e", "a", "d", "b", "c"]
    folds = make_folds(speakers)
    assert [f.test for f in folds] == ["a", "b", "c", "d", "e"]              # each tested exactly once
    assert [f.validation for f in folds] == [("b",), ("c",), ("d",), ("e",), ("a",)]
    for f in folds:
        assert f.test not in f.validation and not set(f.train) & {f.test, *f.validation}
        assert sorted([f.test, *f.validation, *f.train]) == sorted(speakers)
    with pytest.raises(AsrserError, match="at least 3 speakers"):
        make_folds(["a", "b"])


def test_the_checks_catch_overlap_and_double_tests():
    with pytest.raises(AsrserError, match="overlap"):
        check_folds([Fold("a", ("a", "b"), ("c",)), Fold("b", ("c",), ("a",))], ["a", "b", "c"])
    with pytest.raises(AsrserError, match="tested in more than one fold"):
        check_folds([Fold("a", ("b",), ("c",)), Fold("a", ("b",), ("c",))], ["a", "b", "c"])
    with pytest.raises(AsrserError, match="never tested"):
        check_folds([Fold("a", ("b", "c", "e"), ("d",)), Fold("b", ("a", "c", "e"), ("d",))],
                    ["a", "b", "c", "d", "e"])


def _data(tmp_path: Path) -> Path:
    """6 speakers in 3 sessions, 2 utterances each (neu, ang; one xxx)."""
    data = tmp_path / "data"
    data.mkdir()
    rows = [(f"{spk}-{n}", spk, f"S{1 + k // 2}", emo) for k, spk in enumerate(["a", "b", "c", "d", "e", "f"])
            for n, emo in enumerate(["neu", "ang"])] + [("f-9", "f", "S3", "xxx")]
    for name, column in (("utt2spk", 1), ("utt2sess", 2), ("utt2emo", 3)):
        (data / name).write_text("".join(f"{r[0]} {r[column]}\n" for r in sorted(rows)))
    return data


def test_session_folds_leave_one_session_out(tmp_path):
    data = _data(tmp_path)
    class_map = tmp_path / "map"
    class_map.write_text("neu neu\nang ang\nxxx -\n")
    folds = write_folds(data, tmp_path / "folds", "session", (), class_map)
    assert [(f.test, f.validation, f.train) for f in folds] == [("S1", ("S2",), ("S3",)), ("S2", ("S3",), ("S1",)),
                                                                 ("S3", ("S1",), ("S2",))]
    plan = read_fold_plan(tmp_path / "folds" / "folds.json")
    assert plan.fold_by == "session" and plan.classes == ("ang", "neu") and plan.validation == ()
    assert "f-9" not in plan.labels and plan.groups["c-0"] == "S2" and len(plan.groups) == 12
    doc = json.loads((tmp_path / "folds" / "folds.json").read_text())
    assert doc["session_utterances"] == {"S1": 4, "S2": 4, "S3": 4}
    (data / "utt2sess").unlink()
    with pytest.raises(AsrserError, match="utt2sess: no such file"):
        write_folds(data, tmp_path / "folds2", "session")


def test_speaker_folds_with_a_fixed_validation_speaker(tmp_path):
    folds = write_folds(_data(tmp_path), tmp_path / "folds", "speaker", ["f"])
    assert [f.test for f in folds] == ["a", "b", "c", "d", "e"] and all(f.validation == ("f",) for f in folds)
    assert read_fold_plan(tmp_path / "folds" / "folds.json").classes == ("ang", "neu", "xxx")    # no map


def _rows(pairs):
    return [{"fold": "A", "role": "test", "utt": f"u{k}", "speaker": "A", "label": t, "predicted": p}
            for k, (t, p) in enumerate(pairs)]


def test_wa_ua_and_confusion_with_3_classes():
    # a: 2 of 3 right; b: 1 of 1; c: 0 of 2  -> UA = (2/3 + 1 + 0) / 3, WA = 3/6
    pairs = [("a", "a"), ("a", "a"), ("a", "b"), ("b", "b"), ("c", "a"), ("c", "b")]
    s = summarize(_rows(pairs), ("a", "b", "c"))
    assert s["test"]["wa"] == pytest.approx(3 / 6)
    assert s["test"]["ua"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert s["test"]["confusion"] == [[2, 1, 0], [0, 1, 0], [1, 1, 0]] and s["classes"] == ["a", "b", "c"]


def test_wa_ua_and_confusion_with_5_classes():
    # recalls: v 1/1, w 1/2, x 0/1, y 2/2, z 1/4 -> UA = (1 + 0.5 + 0 + 1 + 0.25) / 5; WA = 5/10
    pairs = [("v", "v"), ("w", "w"), ("w", "v"), ("x", "z"), ("y", "y"), ("y", "y"),
             ("z", "z"), ("z", "v"), ("z", "w"), ("z", "x")]
    classes = ("v", "w", "x", "y", "z")
    s = summarize(_rows(pairs), classes)
    assert s["test"]["wa"] == pytest.approx(0.5) and s["test"]["ua"] == pytest.approx(2.75 / 5)
    matrix = np.array(s["test"]["confusion"])
    assert matrix.shape == (5, 5) and matrix.trace() == 5 and list(matrix[4]) == [1, 1, 1, 0, 1]
