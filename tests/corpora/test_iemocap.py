"""IEMOCAP preparation on the tiny mini-IEMOCAP and on a hand-written tree; bad input; the SER baseline on it."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from asrser.corpora.iemocap import EMOTION_CODES, prepare_iemocap, read_emo_evaluation
from asrser.data import validate_data_dir
from asrser.errors import DataError

REPO = Path(__file__).resolve().parents[2]
FOUR = {"neu": "neu", "ang": "ang", "sad": "sad", "hap": "hap", "exc": "hap"}
CLASS_MAP = REPO / "conf" / "iemocap_emotions.map"       # the recipe's 4-class map


def _table(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) if " " in line else (line, "") for line in path.read_text().splitlines())


def _labels(root: Path) -> dict[str, str]:
    """turn -> emotion code, straight from the EmoEvaluation files."""
    out = {}
    for path in root.glob("Session*/dialog/EmoEvaluation/*.txt"):
        for line in path.read_text().splitlines():
            if line.startswith("["):
                fields = line.split("\t")
                out[fields[1]] = fields[2]
    return out


def test_counts_and_files(tiny_iemocap, tiny_iemocap_data):
    kept = _labels(tiny_iemocap)                  # every labelled turn, with IEMOCAP's own code
    assert validate_data_dir(tiny_iemocap_data) == []
    utt2emo = _table(tiny_iemocap_data / "utt2emo")
    assert len(utt2emo) == len(kept) and {"neu", "ang", "hap", "exc", "sad"} < set(utt2emo.values()) \
        <= set(EMOTION_CODES)
    for utt, emo in utt2emo.items():
        spk, turn = utt.split("-", 1)
        assert spk == turn[:5] + turn[-4]                 # session + sex of the turn's speaker
        assert kept[turn] == emo
    utt2spk = _table(tiny_iemocap_data / "utt2spk")
    assert set(utt2spk) == set(utt2emo) and all(u.startswith(s + "-") for u, s in utt2spk.items())
    assert sorted(set(utt2spk.values())) == [f"Ses0{k}{s}" for k in range(1, 6) for s in "FM"]
    assert all(s == u[:5] for u, s in _table(tiny_iemocap_data / "utt2sess").items())
    assert list(utt2emo) == sorted(utt2emo)
    spk2gender = _table(tiny_iemocap_data / "spk2gender")
    assert all(g == s[-1].lower() for s, g in spk2gender.items()) and len(spk2gender) == 10
    for utt, wav in _table(tiny_iemocap_data / "wav.scp").items():
        assert Path(wav).is_absolute() and Path(wav).name == utt.split("-", 1)[1] + ".wav" and Path(wav).is_file()
    texts = _table(tiny_iemocap_data / "text")
    transcripts = {}
    for path in tiny_iemocap.glob("Session*/dialog/transcriptions/*.txt"):
        for line in path.read_text().splitlines():
            transcripts[line.split()[0]] = line.split("]: ", 1)[1]
    assert all(texts[u] == transcripts[u.split("-", 1)[1]] for u in texts)


def test_the_class_map_merges_exc_and_drops_the_distractors(tiny_iemocap, tiny_iemocap_data):
    from asrser.ser.classes import mapped_labels

    labels = _labels(tiny_iemocap)
    utt2emo = {u.split("-", 1)[1]: e for u, e in mapped_labels(tiny_iemocap_data / "utt2emo", CLASS_MAP).items()}
    exc = [t for t, e in labels.items() if e == "exc"]
    dropped = [t for t, e in labels.items() if e not in FOUR]
    assert exc and all(utt2emo[t] == "hap" for t in exc)
    assert dropped and not set(dropped) & set(utt2emo)
    assert {labels[t] for t in dropped} <= {"fru", "sur", "fea", "dis", "oth", "xxx"}


def test_prints_counts(tiny_iemocap, tmp_path, capsys):
    counts = prepare_iemocap(tiny_iemocap.parent, tmp_path)   # the parent of IEMOCAP_full_release works too
    out = capsys.readouterr().out.splitlines()
    codes = [c for c in EMOTION_CODES if c in counts]
    assert out[0].split() == ["speaker", *codes, "total"] and {"ang", "hap", "exc", "neu", "sad"} < set(codes)
    assert [row.split()[0] for row in out[1:]] == [f"Ses0{k}{s}" for k in range(1, 6) for s in "FM"] + ["total"]
    assert [int(x) for x in out[-1].split()[1:]] == [counts[c] for c in codes] + [sum(counts.values())]


# -- bad input --------------------------------------------------------------------------------------------

def _copy_labels(tiny_iemocap: Path, dest: Path) -> Path:
    """A copy of the corpus whose text files are real copies and whose wav folders are symlinks."""
    root = dest / "IEMOCAP_full_release"
    for k in range(1, 6):
        src, dst = tiny_iemocap / f"Session{k}", root / f"Session{k}"
        shutil.copytree(src / "dialog", dst / "dialog")
        (dst / "sentences").mkdir(parents=True)
        (dst / "sentences" / "wav").symlink_to(src / "sentences" / "wav")
    return root


def _edit_first_turn_line(root: Path, edit) -> tuple[Path, int]:
    path = root / "Session2" / "dialog" / "EmoEvaluation" / "Ses02F_impro01.txt"
    lines = path.read_text().split("\n")
    n = next(i for i, line in enumerate(lines) if line.startswith("[") and "\tneu\t" in line)
    lines[n] = edit(lines[n])
    path.write_text("\n".join(lines))
    return path, n + 1


@pytest.mark.parametrize("edit,message", [
    (lambda line: line.replace(" - ", "-", 1), "does not parse"),
    (lambda line: line.replace("\t", " "), "does not parse"),
    (lambda line: line.rsplit("\t", 1)[0], "does not parse"),
    (lambda line: line.replace("\tneu\t", "\tjoy\t"), "unknown emotion code 'joy'"),
    (lambda line: line.replace("\tneu\t", "\tNeutral\t"), "unknown emotion code 'Neutral'"),
    (lambda line: "[9.5 - 3.25]" + line.split("]", 1)[1], "ends (3.25) before it starts (9.5)"),
    (lambda line: "[-1.5 - 3.25]" + line.split("]", 1)[1], "does not parse"),
    (lambda line: "[1.5 - ]" + line.split("]", 1)[1], "does not parse"),
])
def test_bad_emo_evaluation_line(tiny_iemocap, tmp_path, edit, message):
    root = _copy_labels(tiny_iemocap, tmp_path)
    path, line = _edit_first_turn_line(root, edit)
    with pytest.raises(DataError, match=re.escape(message)) as err:
        prepare_iemocap(root, tmp_path / "data", print_counts=False)
    assert err.value.path == str(path) and err.value.line == line
    assert f"{path}:{line}:" in str(err.value)


def test_stray_line_is_an_error(tiny_iemocap, tmp_path):
    root = _copy_labels(tiny_iemocap, tmp_path)
    path, line = _edit_first_turn_line(root, lambda line: line + "\nsomething else")
    with pytest.raises(DataError, match="line does not parse") as err:
        read_emo_evaluation(path)
    assert err.value.line == line + 1


def test_missing_wav_is_a_counted_skip(tiny_iemocap, tiny_iemocap_data, tmp_path, caplog):
    root = tmp_path / "IEMOCAP_full_release"
    shutil.copytree(tiny_iemocap, root)
    utt2emo = _table(tiny_iemocap_data / "utt2emo")
    victim = next(u for u in utt2emo if "Ses03" in u).split("-", 1)[1]
    next(root.glob(f"Session3/sentences/wav/*/{victim}.wav")).unlink()
    with caplog.at_level(logging.INFO, logger="asrser.corpora.iemocap"):
        counts = prepare_iemocap(root, tmp_path / "data", print_counts=False)
    assert sum(counts.values()) == len(utt2emo) - 1
    assert any(victim in r.message and "no audio file" in r.message for r in caplog.records)
    assert any("1 skipped" in r.message and "'no wav': 1" in r.message for r in caplog.records)
    assert not any(victim in line for line in (tmp_path / "data" / "iemocap" / "wav.scp").read_text().splitlines())
    assert validate_data_dir(tmp_path / "data" / "iemocap") == []


# -- a tree written by hand, not by the generator ---------------------------------------------------------

HAND_EMO = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral;\t()
C-E3:\tNeutral;\t()
C-F1:\tNeutral;\t()
A-E3:\tval 3; act 2; dom  2;\t()
A-F1:\tval 3; act 2; dom  2;\t()

[9.1000 - 10.4000]\tSes01F_impro01_M000\texc\t[4.0000, 4.0000, 3.5000]
C-E1:\tExcited;\t()
C-E2:\tExcited; Happiness;\t(eager)
A-E1:\tval 4; act 4; dom  3;\t()

[12.0000 - 13.0000]\tSes01F_impro01_M001\txxx\t[2.5000, 3.0000, 3.0000]
C-E1:\tFrustration;\t()
C-E2:\tNeutral;\t()

[14.5000 - 15.2500]\tSes01F_impro01_F001\tang\t[1.5000, 4.5000, 4.0000]
C-E1:\tAnger;\t()
C-E3:\tAnger;\t(annoyed)

"""
HAND_TRANSCRIPT = """Ses01F_impro01_F000 [006.2901-008.2357]: Hello, is anyone at this desk?
Ses01F_impro01_M000 [009.1000-010.4000]: Yes! It is.
Ses01F_impro01_MXX0 [011.5000-011.9000]: [LAUGHTER]
Ses01F_impro01_M001 [012.0000-013.0000]: Hmm.
Ses01F_impro01_F001 [014.5000-015.2500]: Then why did I wait an hour?
"""
HAND_SCRIPT_EMO = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[1.0000 - 2.5000]\tSes01M_script01_1_F000\tsad\t[1.5000, 2.0000, 2.0000]
C-E4:\tSadness;\t()
C-E5:\tSadness;\t()
A-E4:\tval 2; act 2; dom  2;\t()

[3.0000 - 4.0000]\tSes01M_script01_1_M000\thap\t[4.0000, 3.0000, 3.0000]
C-E4:\tHappiness;\t()
C-E5:\tHappiness;\t()

"""


def _hand_tree(root: Path) -> Path:
    """Session1 with an improvisation and a script, as the real release lays them out, plus clutter."""
    release = root / "IEMOCAP_full_release"
    s1 = release / "Session1"
    for name, text in (("Ses01F_impro01", HAND_EMO), ("Ses01M_script01_1", HAND_SCRIPT_EMO)):
        (s1 / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
        (s1 / "dialog" / "EmoEvaluation" / f"{name}.txt").write_text(text)
    (s1 / "dialog" / "EmoEvaluation" / "Categorical").mkdir()            # subfolders of the real release
    (s1 / "dialog" / "EmoEvaluation" / "Categorical" / "Ses01F_impro01_e1_cat.txt").write_text("junk\n")
    (s1 / "dialog" / "EmoEvaluation" / "._Ses01F_impro01.txt").write_bytes(b"\x00\x05\x16\x07 resource fork")
    (s1 / "dialog" / "transcriptions").mkdir(parents=True)
    (s1 / "dialog" / "transcriptions" / "Ses01F_impro01.txt").write_text(HAND_TRANSCRIPT)
    (s1 / "dialog" / "transcriptions" / "Ses01M_script01_1.txt").write_text(
        "Ses01M_script01_1_F000 [001.0000-002.5000]: I waited all day.\n"
        "Ses01M_script01_1_M000 [003.0000-004.0000]: It was worth it.\n")
    rng = np.random.default_rng(0)
    for turn, seconds in (("Ses01F_impro01_F000", 1.9), ("Ses01F_impro01_M000", 1.4), ("Ses01F_impro01_M001", 1.0),
                          ("Ses01F_impro01_F001", 0.75), ("Ses01M_script01_1_F000", 1.5),
                          ("Ses01M_script01_1_M000", 1.0)):
        dialog = turn.rsplit("_", 1)[0]
        path = s1 / "sentences" / "wav" / dialog / f"{turn}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, (rng.normal(0, 1000, int(16000 * seconds))).astype(np.int16), 16000,
                        subtype="PCM_16")
    return release


def test_hand_written_tree(tmp_path):
    release = _hand_tree(tmp_path)
    counts = prepare_iemocap(release, tmp_path / "data", print_counts=False)
    assert counts == {"neu": 1, "hap": 1, "exc": 1, "sad": 1, "ang": 1, "xxx": 1}
    data = tmp_path / "data" / "iemocap"
    assert validate_data_dir(data) == []
    assert _table(data / "utt2emo") == {
        "Ses01F-Ses01F_impro01_F000": "neu", "Ses01F-Ses01F_impro01_F001": "ang",
        "Ses01F-Ses01M_script01_1_F000": "sad", "Ses01M-Ses01F_impro01_M000": "exc",
        "Ses01M-Ses01F_impro01_M001": "xxx", "Ses01M-Ses01M_script01_1_M000": "hap"}
    assert _table(data / "text")["Ses01M-Ses01F_impro01_M000"] == "Yes! It is."
    assert _table(data / "text")["Ses01F-Ses01M_script01_1_F000"] == "I waited all day."
    assert (data / "spk2utt").read_text() == (
        "Ses01F Ses01F-Ses01F_impro01_F000 Ses01F-Ses01F_impro01_F001 Ses01F-Ses01M_script01_1_F000\n"
        "Ses01M Ses01M-Ses01F_impro01_M000 Ses01M-Ses01F_impro01_M001 Ses01M-Ses01M_script01_1_M000\n")
    assert set(_table(data / "utt2sess").values()) == {"Ses01"}
    assert _table(data / "wav.scp")["Ses01F-Ses01F_impro01_F000"] == str(
        release / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F000.wav")
    assert not list(data.glob(".*")), "no temporary files left behind"
    turns = read_emo_evaluation(release / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt")
    assert [(t.speaker, t.emotion, t.start, t.end) for t in turns][:2] == [
        ("Ses01F", "neu", 6.2901, 8.2357), ("Ses01M", "exc", 9.1, 10.4)]
    assert turns[1].vad == (4.0, 4.0, 3.5)


def test_turns_with_audio_but_no_label_are_named_and_counted(tmp_path, caplog):
    """An empty EmoEvaluation file, a missing one and a missing block each leave turns with audio unlabelled:
    a warning names the file (or the missing one) and the dialog, and the summary counts the turns."""
    release = _hand_tree(tmp_path)
    emo_dir = release / "Session1" / "dialog" / "EmoEvaluation"
    (emo_dir / "Ses01M_script01_1.txt").write_text("")
    with caplog.at_level(logging.INFO, logger="asrser.corpora.iemocap"):
        counts = prepare_iemocap(release, tmp_path / "data", print_counts=False)
    assert counts == {"neu": 1, "exc": 1, "ang": 1, "xxx": 1}
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{emo_dir / 'Ses01M_script01_1.txt'}: no labelled turn (an empty EmoEvaluation file): "
                        "2 of the 2 turns with audio of Ses01M_script01_1 have no label and are left out"]
    assert any("2 skipped or incomplete ({'no label': 2})" in r.message for r in caplog.records)

    caplog.clear()
    (emo_dir / "Ses01M_script01_1.txt").unlink()
    (emo_dir / "Ses01F_impro01.txt").write_text(HAND_EMO.split("\n\n[14.5000")[0] + "\n")   # the last block lost
    with caplog.at_level(logging.INFO, logger="asrser.corpora.iemocap"):
        counts = prepare_iemocap(release, tmp_path / "data", print_counts=False)
    assert counts == {"neu": 1, "exc": 1, "xxx": 1}
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{emo_dir / 'Ses01F_impro01.txt'}: 1 of the 4 turns with audio of Ses01F_impro01 have no label "
        "(e.g. Ses01F_impro01_F001) and are left out",
        f"{emo_dir}: no EmoEvaluation file Ses01M_script01_1.txt: its 2 turns with audio "
        f"({release / 'Session1' / 'sentences' / 'wav' / 'Ses01M_script01_1'}) have no label and are left out"]
    assert any("3 skipped or incomplete ({'no label': 3})" in r.message for r in caplog.records)

    caplog.clear()
    (emo_dir / "Ses01F_impro02.txt").write_text("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n")
    with caplog.at_level(logging.WARNING, logger="asrser.corpora.iemocap"):
        prepare_iemocap(release, tmp_path / "data", print_counts=False)
    assert any(r.message.startswith(f"{emo_dir / 'Ses01F_impro02.txt'}: no labelled turn (an empty EmoEvaluation "
                                    "file), and no audio folder") for r in caplog.records)


def test_no_unlabelled_audio_in_the_generated_corpus(tiny_iemocap, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="asrser.corpora.iemocap"):
        prepare_iemocap(tiny_iemocap, tmp_path / "data", print_counts=False)
    assert not caplog.records


def test_command_line(tmp_path):
    release = _hand_tree(tmp_path)
    prog = REPO / "local" / "iemocap_data_prep.py"
    ok = subprocess.run([sys.executable, str(prog), str(tmp_path), str(tmp_path / "data")], capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].split() == ["speaker", "neu", "hap", "exc", "sad", "ang", "xxx", "total"]
    assert ok.stdout.splitlines()[-1].split() == ["total", "1", "1", "1", "1", "1", "1", "6"]
    assert "6 utterances of 2 speakers (neu 1 hap 1 exc 1 sad 1 ang 1 xxx 1)" in ok.stderr
    emo = release / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    emo.write_text(HAND_EMO.replace("\tang\t", "\tangry\t"))
    bad = subprocess.run([sys.executable, str(prog), str(release), str(tmp_path / "data2")], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and not (tmp_path / "data2" / "iemocap").exists()
    assert f"ERROR (iemocap_data_prep.py): {emo}:19: unknown emotion code 'angry'" in bad.stderr


# -- the baseline on the prepared tiny data ---------------------------------------------------------------

def test_egemaps_svm_baseline_on_the_ser_folds(tiny_iemocap_data, tmp_path):
    import json

    from asrser.ser.baseline import run_baseline
    from asrser.ser.folds import write_folds
    from asrser.ser.metrics import read_predictions

    folds = tmp_path / "folds" / "folds.json"
    write_folds(tiny_iemocap_data, folds.parent, "speaker", ["Ses05F", "Ses05M"], CLASS_MAP)
    first = run_baseline(tiny_iemocap_data, folds, tmp_path / "svm", nj=2, progress=False)
    again = run_baseline(tiny_iemocap_data, folds, tmp_path / "again", nj=1, progress=False)
    saved = json.loads((tmp_path / "svm" / "results.json").read_text())
    assert saved["test"] == first["test"] == again["test"]
    assert [f["speaker"] for f in saved["folds"]] == [f"Ses0{k}{s}" for k in range(1, 5) for s in "FM"]
    rows = read_predictions(tmp_path / "svm" / "predictions.tsv", ("ang", "hap", "neu", "sad"))
    test = [r for r in rows if r["role"] == "test"]
    valid = [r for r in rows if r["role"] == "valid"]
    assert {r["speaker"] for r in valid} == {"Ses05F", "Ses05M"} and all(r["speaker"] == r["fold"] for r in test)
    matrix = np.array(saved["test"]["confusion"])
    assert matrix.sum() == len(test) == saved["test"]["utterances"]
    assert saved["test"]["wa"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert saved["test"]["e"] == pytest.approx(1 - saved["test"]["wa"])
    assert 0.25 < saved["test"]["ua"] <= 1.0
    assert (tmp_path / "svm" / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(tmp_path / "svm" / "egemaps.npz") as z:
        assert z["features"].shape == (len(test) + len(valid) // 8, 88)
