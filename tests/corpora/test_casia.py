"""CASIA preparation: both release layouts (speaker folders at the top, or under same-text/different-text
folders), `normal` for neutral, other speaker spellings, the data dir it writes (valid, and folded by the SER
protocol's own script), and bad input."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from asrser.audio import write_wav
from asrser.corpora.casia import EMOTIONS, prepare_casia
from asrser.data import validate_data_dir
from asrser.errors import AsrserError

REPO = Path(__file__).resolve().parents[2]
CLASS_MAP = REPO / "conf" / "casia_emotions.map"
SPEAKERS = {"liuchanhg": "f", "wangzhe": "m", "zhaoquanyin": "f", "ZhaoZuoxiang": "m"}


def _table(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def _wav(path: Path, seed: int, seconds: float = 0.05) -> None:
    rng = np.random.default_rng(seed)
    write_wav(path, (1000 * rng.standard_normal(int(16000 * seconds))).astype(np.int16), 16000)


def _speaker_folders(top: Path, speakers=tuple(SPEAKERS), stems=("201", "202"), neutral: str = "neutral") -> None:
    """<top>/<speaker>/<emotion>/<stem>.wav, tiny wavs of noise."""
    seed = 0
    for speaker in speakers:
        for emotion in EMOTIONS:
            folder = top / speaker / (neutral if emotion == "neutral" else emotion)
            folder.mkdir(parents=True)
            for stem in stems:
                seed += 1
                _wav(folder / f"{stem}.wav", seed)


@pytest.fixture
def subset_layout(tmp_path) -> Path:
    """Layout (a), the circulated subset: <root>/<speaker>/<emotion>/<n>.wav."""
    _speaker_folders(tmp_path / "CASIA")
    return tmp_path / "CASIA"


def _prep_script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "local" / "casia_data_prep.py"), *map(str, args)],
                          capture_output=True, text=True)


def test_speaker_emotion_layout(subset_layout, tmp_path):
    out = prepare_casia(subset_layout, tmp_path / "data")
    assert out == tmp_path / "data" / "casia"
    assert validate_data_dir(out, need_text=False) == []
    utt2emo, utt2spk = _table(out / "utt2emo"), _table(out / "utt2spk")
    assert len(utt2emo) == 4 * 6 * 2
    assert sorted(set(utt2emo.values())) == list(EMOTIONS)
    for utt, emotion in utt2emo.items():
        speaker, folder_emotion, stem = utt.split("-")
        assert (speaker, folder_emotion) == (utt2spk[utt], emotion) and stem in ("201", "202")
    wav_scp = _table(out / "wav.scp")
    assert wav_scp["wangzhe-fear-202"] == str((subset_layout / "wangzhe" / "fear" / "202.wav").resolve())
    assert _table(out / "spk2gender") == SPEAKERS
    assert not (out / "utt2subset").exists()
    assert list(utt2spk) == sorted(utt2spk)          # Kaldi (C) order: ZhaoZuoxiang before liuchanhg
    assert next(iter(utt2spk)).startswith("ZhaoZuoxiang-")


def test_full_release_layout_with_subset_folders_and_normal(tmp_path):
    """Layout (b): speakers under same-text/different-text folders; neutral named `normal`; utt ids carry the
    subset after the speaker and utt2subset holds it."""
    root = tmp_path / "CASIA_full"
    _speaker_folders(root / "same_text", neutral="normal")
    _speaker_folders(root / "different_text", stems=("301",), neutral="Normal")
    out = prepare_casia(root, tmp_path / "data")
    assert validate_data_dir(out, need_text=False) == []
    utt2emo, utt2subset = _table(out / "utt2emo"), _table(out / "utt2subset")
    assert len(utt2emo) == 4 * 6 * 3
    assert "normal" not in utt2emo.values() and sum(e == "neutral" for e in utt2emo.values()) == 4 * 3
    assert utt2emo["wangzhe-same_text-neutral-201"] == "neutral"
    assert utt2subset["wangzhe-different_text-neutral-301"] == "different_text"
    assert set(utt2subset.values()) == {"same_text", "different_text"}
    assert _table(out / "spk2gender") == SPEAKERS
    assert _table(out / "wav.scp")["liuchanhg-same_text-neutral-202"] == str(
        (root / "same_text" / "liuchanhg" / "normal" / "202.wav").resolve())


def test_other_speaker_spellings_are_the_same_speakers(tmp_path):
    root = tmp_path / "CASIA"
    _speaker_folders(root, speakers=("Chang.Liu", "Zhe_Wang", "QuanyinZhao", "zhao zuoxiang"), stems=("1",))
    out = prepare_casia(root, tmp_path / "data")
    assert sorted(set(_table(out / "utt2spk").values())) == sorted(SPEAKERS)
    assert _table(out / "spk2gender") == SPEAKERS
    assert "liuchanhg-angry-1" in _table(out / "utt2emo")


def test_an_unrecognised_speaker_keeps_its_name_without_spk2gender(tmp_path, caplog):
    """spk2gender must list every speaker, so an unknown gender leaves it out altogether; the dir stays valid."""
    root = tmp_path / "CASIA"
    _speaker_folders(root, speakers=("liuchanhg", "new speaker"), stems=("1",))
    with caplog.at_level(logging.WARNING):
        out = prepare_casia(root, tmp_path / "data")
    assert validate_data_dir(out, need_text=False) == []
    assert sorted(set(_table(out / "utt2spk").values())) == ["liuchanhg", "new_speaker"]
    assert not (out / "spk2gender").exists()
    assert any("new_speaker" in r.getMessage() and "spk2gender" in r.getMessage() for r in caplog.records)


def test_unknown_emotion_folder_is_one_error_line_and_no_data_dir(subset_layout, tmp_path):
    odd = subset_layout / "wangzhe" / "disgust"
    odd.mkdir()
    _wav(odd / "201.wav", 99)
    with pytest.raises(AsrserError, match=rf"{odd}: unknown emotion folder 'disgust'"):
        prepare_casia(subset_layout, tmp_path / "data")
    run = _prep_script(subset_layout, tmp_path / "data")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"{odd}: unknown emotion folder 'disgust'" in errors[0]
    assert not (tmp_path / "data").exists()


def test_an_error_leaves_an_earlier_data_dir_alone(subset_layout, tmp_path):
    out = prepare_casia(subset_layout, tmp_path / "data")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (subset_layout / "wangzhe" / "Disgust").mkdir()
    with pytest.raises(AsrserError, match="unknown emotion folder 'Disgust'"):
        prepare_casia(subset_layout, tmp_path / "data")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_non_wav_files_are_counted_logged_skips(subset_layout, tmp_path, caplog):
    (subset_layout / "wangzhe" / "sad" / "notes.txt").write_text("x\n")
    (subset_layout / "liuchanhg" / "angry" / "._201.wav").write_bytes(b"\0\5\26\7")   # a macOS resource fork
    (subset_layout / "liuchanhg" / "Thumbs.db").write_bytes(b"x")
    with caplog.at_level(logging.WARNING):
        out = prepare_casia(subset_layout, tmp_path / "data")
    assert len(_table(out / "utt2emo")) == 4 * 6 * 2
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("3 non-wav files under") and "._201.wav" in m for m in messages), messages
    run = _prep_script(subset_layout, tmp_path / "data2")
    assert run.returncode == 0, run.stderr
    assert "3 non-wav files" in run.stderr and "3 skipped" in run.stderr
    assert run.stdout.splitlines()[-1].split() == ["total"] + ["8"] * 6 + ["48"]


def test_a_wav_at_another_rate_is_an_error_naming_it(subset_layout, tmp_path):
    odd = subset_layout / "zhaoquanyin" / "happy" / "202.wav"
    write_wav(odd, np.zeros(800, np.int16), 8000)
    with pytest.raises(AsrserError, match=rf"^{odd}: sample rate is 8000 Hz, expected 16000 Hz"):
        prepare_casia(subset_layout, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_a_stereo_wav_is_an_error_naming_it(subset_layout, tmp_path):
    odd = subset_layout / "zhaoquanyin" / "happy" / "202.wav"
    soundfile.write(odd, np.zeros((800, 2), np.int16), 16000, subtype="PCM_16")
    with pytest.raises(AsrserError, match=rf"^{odd}: has 2 channels; expected mono"):
        prepare_casia(subset_layout, tmp_path / "data")


@pytest.mark.parametrize("damage", ["truncated", "not audio"])
def test_a_bad_wav_is_one_error_line_naming_it(subset_layout, tmp_path, damage):
    odd = subset_layout / "ZhaoZuoxiang" / "surprise" / "201.wav"
    data = odd.read_bytes()
    odd.write_bytes(data[:len(data) // 2] if damage == "truncated" else b"not a wav file at all")
    run = _prep_script(subset_layout, tmp_path / "data")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    expected = "truncated" if damage == "truncated" else "unknown audio format"
    assert len(errors) == 1 and str(odd) in errors[0] and expected in errors[0], run.stderr
    assert not (tmp_path / "data").exists()


def test_no_speakers_is_an_error_naming_the_root(tmp_path):
    (tmp_path / "empty" / "docs").mkdir(parents=True)
    with pytest.raises(AsrserError, match=rf"^{tmp_path / 'empty'}: no CASIA speakers found"):
        prepare_casia(tmp_path / "empty", tmp_path / "data")
    with pytest.raises(AsrserError, match="CASIA directory does not exist"):
        prepare_casia(tmp_path / "missing", tmp_path / "data")


def test_the_class_map_and_speaker_folds(subset_layout, tmp_path):
    """conf/casia_emotions.map keeps every clip in 6 classes (the 4 shared with IEMOCAP named as there), and the
    SER protocol's scripts accept the data dir: leave one speaker out, 4 folds."""
    import json

    out = prepare_casia(subset_layout, tmp_path / "data")
    validate = subprocess.run([sys.executable, str(REPO / "steps_py" / "validate_data_dir.py"), "--no-text",
                               str(out)], capture_output=True, text=True)
    assert validate.returncode == 0 and "is OK" in validate.stderr, validate.stderr
    folds_dir = tmp_path / "exp" / "folds" / "casia"
    run = subprocess.run([sys.executable, str(REPO / "steps_py" / "ser_make_folds.py"), "--fold-by", "speaker",
                          "--class-map", str(CLASS_MAP), str(out), str(folds_dir)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    plan = json.loads((folds_dir / "folds.json").read_text())
    assert plan["classes"] == ["ang", "fea", "hap", "neu", "sad", "sur"]
    assert sorted(f["test"] for f in plan["folds"]) == sorted(SPEAKERS)
    assert plan["speaker_utterances"] == {s: 12 for s in SPEAKERS}
    codes = {"angry": "ang", "fear": "fea", "happy": "hap", "neutral": "neu", "sad": "sad", "surprise": "sur"}
    assert _table(folds_dir / "utt2emo") == {u: codes[e] for u, e in _table(out / "utt2emo").items()}
    iemocap = {line.split()[1] for line in (REPO / "conf" / "iemocap_emotions.map").read_text().splitlines()
               if line and not line.startswith("#")} - {"-"}
    assert iemocap < set(codes.values())
