"""SER folds: fixed validation, rotation, speaker, session and cross-corpus folds, the checks; WA/UA with 3 and 5
classes."""

import json
from pathlib import Path

import numpy as np
import pytest

from asrser.data import combine_data_dirs
from asrser.errors import AsrserError, DataError
from asrser.ser.folds import Fold, check_folds, fold_listing, make_folds, read_fold_plan, read_folds, write_folds
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


def test_a_fold_tests_its_own_group_unless_told_otherwise_and_old_fold_lists_still_read(tmp_path):
    assert Fold("a", ("b",), ("c",)).test_groups == ("a",)
    assert Fold("a", ("b",), ("c",)) == Fold("a", ("b",), ("c",), ("a",))
    old = tmp_path / "folds.json"          # as the folds stage wrote it before folds had test_groups
    old.write_text(json.dumps({"folds": [{"test": "a", "train": ["b"], "validation": ["c"]}]}))
    assert read_folds(old) == [Fold("a", ("b",), ("c",))] and read_folds(old)[0].test_groups == ("a",)


def test_a_group_in_the_test_groups_of_two_folds_is_caught():
    with pytest.raises(AsrserError, match="x:2 tested in more than one fold"):
        check_folds([Fold("x->y", ("x:1",), ("x:2",), ("y:1", "x:2")), Fold("y->x", ("y:1",), ("x:1",), ("x:2",))],
                    ["x:1", "x:2", "y:1"])


def _corpus(parent: Path, name: str, speakers: dict[str, str], emotions=("neu", "ang")) -> Path:
    """A labelled data dir: per speaker (-> its session) one utterance per emotion."""
    data = parent / name
    data.mkdir()
    rows = sorted((f"{spk}-{n}", spk, sess, emo) for spk, sess in speakers.items() for n, emo in enumerate(emotions))
    for table, column in (("utt2spk", 1), ("utt2sess", 2), ("utt2emo", 3)):
        (data / table).write_text("".join(f"{r[0]} {r[column]}\n" for r in rows))
    (data / "spk2utt").write_text("".join(f"{s} {s}-0 {s}-1\n" for s in sorted(speakers)))
    return data


def test_cross_corpus_folds_train_on_one_corpus_and_test_all_of_the_other(tmp_path):
    iemocap = _corpus(tmp_path, "iemocap", {"Ses01F": "Ses01", "Ses01M": "Ses01", "Ses02F": "Ses02",
                                            "Ses03M": "Ses03"})
    msp = _corpus(tmp_path, "msp", {"F01": "session1", "M01": "session1", "F02": "session2"}, ("N", "A"))
    combined = combine_data_dirs(tmp_path / "both", [iemocap, msp], ["iemocap", "msp_improv"]).path
    class_map = tmp_path / "map"
    class_map.write_text("neu neu\nang ang\nN neu\nA ang\n")
    folds = write_folds(combined, tmp_path / "folds", "corpus", (), class_map)
    assert folds == [Fold("iemocap->msp_improv", ("iemocap:Ses01", "iemocap:Ses02"), ("iemocap:Ses03",),
                          ("msp_improv:session1", "msp_improv:session2")),
                     Fold("msp_improv->iemocap", ("msp_improv:session1",), ("msp_improv:session2",),
                          ("iemocap:Ses01", "iemocap:Ses02", "iemocap:Ses03"))]
    plan = read_fold_plan(tmp_path / "folds" / "folds.json")
    assert plan.folds == folds and plan.fold_by == "corpus" and plan.classes == ("ang", "neu")
    assert plan.groups["F02-0"] == "msp_improv:session2" and plan.labels["F02-0"] == "neu"
    doc = json.loads((tmp_path / "folds" / "folds.json").read_text())
    assert doc["session_utterances"]["iemocap:Ses01"] == 4 and doc["folds"][0]["test_groups"] == [
        "msp_improv:session1", "msp_improv:session2"]
    assert fold_listing(folds).splitlines()[0] == ("fold 1: test iemocap->msp_improv: msp_improv:session1 "
                                                   "msp_improv:session2 | train iemocap:Ses01 iemocap:Ses02 | "
                                                   "validation iemocap:Ses03")


def test_cross_corpus_folds_refuse_what_they_cannot_use(tmp_path):
    a = _corpus(tmp_path, "a", {"s1": "S1", "s2": "S2"})
    b = _corpus(tmp_path, "b", {"t1": "T1"})
    with pytest.raises(AsrserError, match="utt2corpus: no such file"):
        write_folds(a, tmp_path / "f0", "corpus")
    with pytest.raises(AsrserError, match="at least 2 sessions in each training corpus.*b has 1"):
        write_folds(combine_data_dirs(tmp_path / "ab", [a, b], ["a", "b"]).path, tmp_path / "f1", "corpus")
    with pytest.raises(AsrserError, match="exactly 2 corpora, found 1"):
        write_folds(combine_data_dirs(tmp_path / "aa", [a], ["a"]).path, tmp_path / "f2", "corpus")
    with pytest.raises(AsrserError, match="give no validation groups"):
        write_folds(tmp_path / "ab", tmp_path / "f3", "corpus", ["a:S1"])
    (tmp_path / "ab" / "utt2sess").write_text("s1-0 S1\n")
    with pytest.raises(DataError, match="utt2sess: 5 labelled utterances of utt2emo have no entry, e.g. s1-1"):
        write_folds(tmp_path / "ab", tmp_path / "f4", "corpus")


def test_the_baseline_predicts_every_test_group_of_a_fold():
    from asrser.ser.baseline import Dataset, fold_predictions

    groups = np.array(["x:1", "x:1", "x:2", "x:2", "y:1", "y:1", "y:2", "y:2"])
    labels = np.array(["a", "b"] * 4)
    features = np.where(labels == "a", 1.0, -1.0)[:, None] + np.linspace(0, 0.1, 8)[:, None]
    data = Dataset([f"u{k}" for k in range(8)], groups, groups, labels, features)
    rows = fold_predictions(data, [Fold("x->y", ("x:1",), ("x:2",), ("y:1", "y:2"))])
    assert [r["utt"] for r in rows if r["role"] == "test"] == ["u4", "u5", "u6", "u7"]
    assert {r["fold"] for r in rows} == {"x->y"} and [r["utt"] for r in rows if r["role"] == "valid"] == ["u2", "u3"]


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
