"""SER RESULTS.md tables from results.json files; the protocol sentence from the folds and their classes."""

import json
from pathlib import Path

import pytest

from asrser.ser.folds import read_fold_plan, write_folds
from asrser.ser.report import collect_ser_results, format_report, protocol_sentence


def hand_data(where: Path, speakers: list[str], emotions: list[str], sessions: dict[str, str] | None = None) -> Path:
    """A labelled data dir by hand: every speaker says one utterance of every emotion."""
    where.mkdir(parents=True)
    utts = [(f"{spk}-{emo}", spk, emo) for spk in speakers for emo in emotions]
    (where / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s, _ in sorted(utts)))
    (where / "utt2emo").write_text("".join(f"{u} {e}\n" for u, _, e in sorted(utts)))
    if sessions:
        (where / "utt2sess").write_text("".join(f"{u} {sessions[s]}\n" for u, s, _ in sorted(utts)))
    return where


def test_ser_results_table(tmp_path):
    def s(wa, ua, n):
        return {"utterances": n, "wa": wa, "ua": ua, "e": 1 - wa, "ue": 1 - ua}

    speakers = [f"Ses0{k}{g}" for k in range(1, 6) for g in "FM"]
    write_folds(hand_data(tmp_path / "data", speakers, ["ang", "hap", "neu", "sad"]), tmp_path / "folds", "speaker",
                ["Ses05F", "Ses05M"])
    result = {"system": "SVM", "features": "f", "classifier": "c", "classes": ["ang", "hap", "neu", "sad"],
              "folds": [{"speaker": "Ses01F", "test": s(0.5, 0.5, 2), "valid": s(0.25, 0.3, 4)},
                        {"speaker": "Ses01M", "test": s(1.0, 1.0, 2), "valid": s(0.75, 0.7, 4)}],
              "test": {**s(0.75, 0.625, 4), "ua_mean_over_folds": 0.75,
                       "confusion": [[2, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1]]},
              "valid": {**s(0.5, 0.5, 8), "ua_mean_over_folds": 0.5}}
    (tmp_path / "exp" / "svm").mkdir(parents=True)
    (tmp_path / "exp" / "svm" / "results.json").write_text(json.dumps(result))
    rows = collect_ser_results(tmp_path / "folds" / "folds.json", tmp_path / "exp", tmp_path / "RESULTS.md", "IEMOCAP")
    text = (tmp_path / "RESULTS.md").read_text()
    assert [r["dir"] for r in rows] == ["svm"]
    assert ("Speech emotion recognition, 4 classes, leave one speaker out: each fold trains on 7 speakers, stops "
            "early on the 2 validation speakers and tests the held-out one.") in text
    assert "| svm | 50.0 | 25.0 | 50.0 | 37.5 | 75.0 | 62.5 | 75.0 | 4 |" in text
    assert "| Ses01F | 2 | 50.0 | 50.0 | 25.0 | 30.0 |" in text and "| hap | 0 | 0 | 0 | 1 |" in text
    report = format_report(result)
    assert "pooled" in report and "hap        0     0     0     1    0.0%" in report


def test_the_report_follows_the_class_list_and_the_folds(tmp_path):
    """3 classes from the data, 5 speakers with rotating validation: the header says so, the confusion tables
    have the 3 classes as rows and columns."""
    speakers = ["s1", "s2", "s3", "s4", "s5"]
    write_folds(hand_data(tmp_path / "data", speakers, ["calm", "angry", "sad"]), tmp_path / "folds")
    plan = read_fold_plan(tmp_path / "folds" / "folds.json")
    assert plan.classes == ("angry", "calm", "sad")
    assert protocol_sentence(plan) == (
        "Speech emotion recognition, 3 classes, leave one speaker out: each fold trains on 3 speakers, stops "
        "early on the next speaker (the validation speaker rotates with the test speaker, so every speaker is "
        "tested once) and tests the held-out one.")
    result = {"system": "SVM", "features": "f", "classifier": "c", "classes": list(plan.classes),
              "folds": [{"speaker": "s1", "test": {"utterances": 3, "wa": 2 / 3, "ua": 2 / 3}}],
              "test": {"utterances": 3, "wa": 2 / 3, "ua": 2 / 3, "e": 1 / 3, "ue": 1 / 3,
                       "confusion": [[1, 0, 0], [0, 1, 0], [0, 1, 0]]}}
    (tmp_path / "exp" / "svm").mkdir(parents=True)
    (tmp_path / "exp" / "svm" / "results.json").write_text(json.dumps(result))
    collect_ser_results(tmp_path / "folds" / "folds.json", tmp_path / "exp", tmp_path / "RESULTS.md", "mine")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| | angry | calm | sad |\n|---|---:|---:|---:|\n| angry | 1 | 0 | 0 |" in text
    assert "| sad | 0 | 1 | 0 |" in text and "| fold (test speaker) |" in text
    lines = format_report(result).splitlines()
    assert lines[-4].split() == ["angry", "calm", "sad", "recall"]

    sessions = {"s1": "A", "s2": "A", "s3": "B", "s4": "C", "s5": "C"}
    write_folds(hand_data(tmp_path / "data2", speakers, ["calm", "sad"], sessions), tmp_path / "folds2", "session",
                ["C"])
    assert protocol_sentence(read_fold_plan(tmp_path / "folds2" / "folds.json")) == (
        "Speech emotion recognition, 2 classes, leave one session out: each fold trains on 1 session, stops early "
        "on the 1 validation session and tests the held-out one.")


def test_the_protocol_of_cross_corpus_folds_names_the_directions(tmp_path):
    from asrser.data import combine_data_dirs, write_spk2utt

    sessions = {"s1": "A", "s2": "A", "s3": "B"}
    a = hand_data(tmp_path / "a", ["s1", "s2", "s3"], ["calm", "sad"], sessions)
    b = hand_data(tmp_path / "b", ["t1", "t2"], ["calm", "sad"], {"t1": "X", "t2": "Y"})
    write_spk2utt(a), write_spk2utt(b)
    combine_data_dirs(tmp_path / "ab", [a, b], ["acted", "improvised"])
    write_folds(tmp_path / "ab", tmp_path / "folds", "corpus")
    assert protocol_sentence(read_fold_plan(tmp_path / "folds" / "folds.json")) == (
        "Speech emotion recognition, 2 classes, across corpora (acted->improvised, improvised->acted): each "
        "direction trains on the sessions of one corpus but its last, stops early on that last session and tests "
        "every session of the other corpus.")
