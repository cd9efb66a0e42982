"""MSP-IMPROV preparation: the real layout's variants (Evaluation.txt or Evalution.txt, with or without Audio/),
the data dir it writes, the class map, and bad input."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from asrser.corpora.msp_improv import EMOTION_CODES, prepare_msp_improv
from asrser.data import validate_data_dir
from asrser.errors import AsrserError, DataError

REPO = Path(__file__).resolve().parents[2]
CLASS_MAP = REPO / "conf" / "msp_improv_emotions.map"


def _table(path: Path) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def _copy(tiny: Path, dst: Path) -> Path:
    shutil.copytree(tiny, dst)
    return dst


def test_data_dir(tiny_msp_improv, tmp_path):
    prepare_msp_improv(tiny_msp_improv, tmp_path, print_counts=False)
    data = tmp_path / "msp_improv"
    assert validate_data_dir(data, need_text=False) == []
    utt2emo = _table(data / "utt2emo")
    assert len(utt2emo) == 96 and set(utt2emo.values()) <= set(EMOTION_CODES)
    utt2spk, utt2sess = _table(data / "utt2spk"), _table(data / "utt2sess")
    for utt, spk in utt2spk.items():
        stem = utt.split("-", 1)[1]
        assert stem.startswith("MSP-IMPROV-") and stem.split("-")[3] == spk
        assert utt2sess[utt] == f"session{int(spk[1:])}"
    assert sorted(set(utt2spk.values())) == [f"{s}{k:02d}" for s in "FM" for k in range(1, 7)]
    assert _table(data / "spk2gender") == {s: s[0].lower() for s in set(utt2spk.values())}


def test_the_class_map_keeps_four_classes_named_as_iemocap(tiny_msp_improv, tmp_path):
    from asrser.ser.classes import mapped_labels

    prepare_msp_improv(tiny_msp_improv, tmp_path, print_counts=False)
    codes = _table(tmp_path / "msp_improv" / "utt2emo")
    mapped = mapped_labels(tmp_path / "msp_improv" / "utt2emo", CLASS_MAP)
    assert set(mapped.values()) == {"ang", "hap", "neu", "sad"}
    assert set(mapped) == {u for u, c in codes.items() if c not in "OX"}
    iemocap = {line.split()[1] for line in (REPO / "conf" / "iemocap_emotions.map").read_text().splitlines()
               if line and not line.startswith("#")} - {"-"}
    assert set(mapped.values()) == iemocap


@pytest.mark.parametrize("layout", ["plain", "misspelt", "audio_folder", "audio_folder_misspelt"])
def test_real_layout_variants(tiny_msp_improv, tmp_path, layout):
    """The release's label file is Evaluation.txt or Evalution.txt, beside session1..6 or one level above an
    Audio/ folder holding them; the data dir is the same."""
    reference = tmp_path / "reference"
    prepare_msp_improv(tiny_msp_improv, reference, print_counts=False)
    top = tmp_path / "MSP-IMPROV"
    sessions = top / "Audio" if layout.startswith("audio_folder") else top
    sessions.mkdir(parents=True)
    for k in range(1, 7):
        (sessions / f"session{k}").symlink_to(tiny_msp_improv / f"session{k}")
    label_name = "Evalution.txt" if layout.endswith("misspelt") else "Evaluation.txt"
    shutil.copy(tiny_msp_improv / "Evaluation.txt", top / label_name)
    for given in {top, sessions}:
        out = tmp_path / f"out-{given.name}"
        prepare_msp_improv(given, out, print_counts=False)
        for name in ("utt2emo", "utt2spk", "utt2sess", "spk2utt", "spk2gender"):
            assert (out / "msp_improv" / name).read_text() == (reference / "msp_improv" / name).read_text()
        assert len(_table(out / "msp_improv" / "wav.scp")) == 96


def test_unknown_code_is_one_error_line(tiny_msp_improv, tmp_path):
    root = _copy(tiny_msp_improv, tmp_path / "MSP-IMPROV")
    labels = root / "Evaluation.txt"
    lines = labels.read_text().splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("UTD-") and i > 10)
    lines[n] = lines[n].replace(".avi; " + lines[n].split("; ")[1] + ";", ".avi; Q;")
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"Evaluation.txt:{n + 1}: unknown emotion code 'Q'"):
        prepare_msp_improv(root, tmp_path / "data", print_counts=False)
    run = subprocess.run([sys.executable, str(REPO / "local" / "msp_improv_data_prep.py"), str(root),
                          str(tmp_path / "data")], capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"{labels}:{n + 1}: unknown emotion code 'Q'" in errors[0]


def test_a_label_line_that_does_not_parse(tiny_msp_improv, tmp_path):
    root = _copy(tiny_msp_improv, tmp_path / "MSP-IMPROV")
    labels = root / "Evaluation.txt"
    text = labels.read_text().splitlines()
    text[0] = text[0].replace("; A:", "; Arousal:")
    labels.write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"Evaluation.txt:1: label line does not parse"):
        prepare_msp_improv(root, tmp_path / "data", print_counts=False)


def test_missing_wav_and_missing_label_are_counted_skips(tiny_msp_improv, tmp_path, caplog):
    root = _copy(tiny_msp_improv, tmp_path / "MSP-IMPROV")
    wavs = sorted(root.rglob("*.wav"))
    gone = wavs[5]
    gone.unlink()                      # labelled, no wav
    blocks = (root / "Evaluation.txt").read_text().rstrip("\n").split("\n\n")
    unlabelled = wavs[40].stem          # a wav whose block is removed
    blocks = [b for b in blocks if not b.startswith(f"UTD-{unlabelled[len('MSP-'):]}.avi")]
    (root / "Evaluation.txt").write_text("\n\n".join(blocks) + "\n\n")
    with caplog.at_level(logging.WARNING):
        counts = prepare_msp_improv(root, tmp_path / "data", print_counts=False)
    assert sum(counts.values()) == 94
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("1 labelled recordings have no wav") and gone.stem in m for m in messages), messages
    assert any(m.startswith("1 wavs have no label") and unlabelled in m for m in messages), messages
    utts = _table(tmp_path / "data" / "msp_improv" / "utt2emo")
    assert not any(gone.stem in u or unlabelled in u for u in utts)


def test_a_wav_at_another_rate_is_an_error_naming_it(tiny_msp_improv, tmp_path):
    root = _copy(tiny_msp_improv, tmp_path / "MSP-IMPROV")
    odd = sorted(root.rglob("*.wav"))[7]
    soundfile.write(odd, np.zeros(8000, np.int16), 8000, subtype="PCM_16")
    with pytest.raises(AsrserError, match=rf"{odd}: sample rate is 8000 Hz, expected 16000 Hz \(--resample"):
        prepare_msp_improv(root, tmp_path / "data", print_counts=False)


def test_resample_reads_a_wav_at_another_rate_through_sox(tiny_msp_improv, tmp_path):
    from asrser.audio import read_audio

    root = _copy(tiny_msp_improv, tmp_path / "MSP-IMPROV")
    odd = sorted(root.rglob("*.wav"))[7]
    t = np.arange(8000) / 8000
    soundfile.write(odd, (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), 8000, subtype="PCM_16")
    prepare_msp_improv(root, tmp_path / "data", print_counts=False, resample=True)
    wav_scp = _table(tmp_path / "data/msp_improv/wav.scp")
    piped = [v for v in wav_scp.values() if v.endswith("|")]
    assert piped == [f"sox {odd.resolve()} -r 16000 -t wav - |"]
    audio = read_audio(piped[0], sample_rate=16000)
    assert audio.sample_rate == 16000 and abs(len(audio.samples) - 16000) <= 16


def test_not_a_corpus(tmp_path):
    with pytest.raises(AsrserError, match="no session1..session6 directories"):
        prepare_msp_improv(tmp_path, tmp_path / "data")
    (tmp_path / "session1").mkdir()
    with pytest.raises(AsrserError, match="no label file Evaluation.txt or Evalution.txt"):
        prepare_msp_improv(tmp_path, tmp_path / "data")
