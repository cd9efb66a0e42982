"""TIMIT preparation on the tiny mini-TIMIT and on copies of it in the other real layouts; bad input."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from asrser.corpora.timit import CORE_TEST_SPEAKERS, DEV_SPEAKERS, PHONES48, fold_segments, prepare_timit
from asrser.data import validate_data_dir
from asrser.errors import AsrserError, AudioError, DataError


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_splits_and_files(tiny_timit, tiny_timit_data):
    counts = {s: len(_lines(tiny_timit_data / s / "text")) for s in ("train", "dev", "test")}
    n_train_spk = len(list((tiny_timit / "TRAIN").glob("DR*/*")))
    assert counts == {"train": 8 * n_train_spk, "dev": 32, "test": 32}   # SA excluded: 5 SX + 3 SI each
    for split in ("train", "dev", "test"):
        assert validate_data_dir(tiny_timit_data / split) == []
        for line in _lines(tiny_timit_data / split / "text"):
            utt, *phones = line.split()
            assert utt == utt.lower() and "_s" in utt and not utt.split("_")[1].startswith("sa")
            assert phones[0] == phones[-1] == "sil" and set(phones) <= set(PHONES48)
    dev_spk = {line.split()[0] for line in _lines(tiny_timit_data / "dev" / "spk2utt")}
    test_spk = {line.split()[0] for line in _lines(tiny_timit_data / "test" / "spk2utt")}
    assert dev_spk <= set(DEV_SPEAKERS) and test_spk <= set(CORE_TEST_SPEAKERS) and not dev_spk & test_spk
    genders = dict(line.split() for line in _lines(tiny_timit_data / "dev" / "spk2gender"))
    assert all(g == s[0] for s, g in genders.items())
    wav = _lines(tiny_timit_data / "dev" / "wav.scp")[0].split()[1]
    assert wav.endswith(".WAV") and Path(wav).is_file()



def test_narrowband_data_dirs_read_at_8_khz(tiny_timit, tmp_path):
    """--sample-rate 8000: wav.scp resamples through sox; the text and segmentation are those at 16 kHz."""
    from asrser.audio import read_audio
    from asrser.fileio import read_key_value

    prepare_timit(tiny_timit, tmp_path / "wide")
    prepare_timit(tiny_timit, tmp_path / "narrow", sample_rate=8000)
    for name in ("text", "utt2spk", "ref_phones.ctm"):
        assert (tmp_path / "narrow/dev" / name).read_bytes() == (tmp_path / "wide/dev" / name).read_bytes()
    assert validate_data_dir(tmp_path / "narrow/dev") == []
    utt, spec = next(iter(read_key_value(tmp_path / "narrow/dev/wav.scp").items()))
    wide = read_audio(read_key_value(tmp_path / "wide/dev/wav.scp")[utt], utt)
    narrow = read_audio(spec, utt, 8000)
    assert wide.sample_rate == 16000 and narrow.sample_rate == 8000
    assert abs(narrow.duration - wide.duration) < 0.001

def test_reference_segmentation_matches_text(tiny_timit_data):
    ctm: dict[str, list[str]] = {}
    for line in _lines(tiny_timit_data / "test" / "ref_phones.ctm"):
        utt, _, start, dur, phone = line.split()
        ctm.setdefault(utt, []).append(phone)
        assert float(dur) > 0
    text = {line.split()[0]: line.split()[1:] for line in _lines(tiny_timit_data / "test" / "text")}
    assert ctm == text


def test_lhotse_prepare_timit_agrees(tiny_timit, tiny_timit_data, tmp_path):
    """The peer implementation reads the same corpus (in the Kaggle layout it expects): same utterances
    (lhotse keeps SA) and the same number of 48-set phones per utterance (q -> '' there, deleted here)."""
    from lhotse.recipes.timit import prepare_timit as lhotse_prepare

    (tmp_path / "kaggle" / "data").mkdir(parents=True)
    for side in ("TRAIN", "TEST"):
        (tmp_path / "kaggle" / "data" / side).symlink_to(tiny_timit / side)
    manifests = lhotse_prepare(tmp_path / "kaggle", num_phones=48)
    ours = {s: {line.split()[0]: line.split()[1:] for line in _lines(tiny_timit_data / s / "text")}
            for s in ("train", "dev", "test")}
    for part, split in (("TRAIN", "train"), ("DEV", "dev"), ("TEST", "test")):
        theirs = {}
        for sup in manifests[part]["supervisions"]:
            spk, utt = sup.id.split("-")
            if utt.upper().startswith("SA"):
                continue
            phones = [a.symbol for a in sup.alignment["phone"] if a.symbol]
            theirs[f"{spk.lower()}_{utt.lower()}"] = phones
        assert set(theirs) == set(ours[split])
        assert {u: len(p) for u, p in theirs.items()} == {u: len(p) for u, p in ours[split].items()}


def _copy_layout(src: Path, dst: Path, lower: bool) -> None:
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        target = dst / (str(rel).lower() if lower else str(rel))
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)


@pytest.mark.parametrize("layout", ["lower", "kaggle"])
def test_other_layouts(tiny_timit, tiny_timit_data, tmp_path, layout):
    root = tmp_path / "corpus"
    if layout == "lower":
        _copy_layout(tiny_timit, root / "timit", lower=True)
    else:
        _copy_layout(tiny_timit, root / "data", lower=False)
        # the Kaggle copy also holds converted RIFF files, which must be ignored
        for wav in list((root / "data").rglob("SI*.WAV"))[:3]:
            (wav.parent / (wav.name + ".wav")).write_bytes(b"RIFF")
    counts = prepare_timit(root, tmp_path / "data")
    assert counts == {s: len(_lines(tiny_timit_data / s / "text")) for s in ("train", "dev", "test")}


@pytest.fixture
def small_copy(tiny_timit, tmp_path):
    """A writable copy of the TEST side of one core-test speaker plus a TRAIN and a dev speaker."""
    root = tmp_path / "TIMIT"
    for side in ("TRAIN", "TEST"):
        for spk in sorted((tiny_timit / side).glob("DR*/*"))[:2 if side == "TEST" else 1]:
            shutil.copytree(spk, root / side / spk.parent.name / spk.name)
    core = next(p for p in (tiny_timit / "TEST").glob("DR*/*") if p.name.lower() in CORE_TEST_SPEAKERS)
    dev = next(p for p in (tiny_timit / "TEST").glob("DR*/*") if p.name.lower() in DEV_SPEAKERS)
    for spk in (core, dev):
        shutil.copytree(spk, root / "TEST" / spk.parent.name / spk.name, dirs_exist_ok=True)
    return root


def _first(root: Path, pattern: str) -> Path:
    return sorted(root.glob(pattern))[0]


def test_phn_times_not_increasing(small_copy, tmp_path):
    phn = _first(small_copy, "TRAIN/DR*/*/SX*.PHN")
    lines = _lines(phn)
    a, b, label = lines[3].split()
    lines[3] = f"{a} {a} {label}"
    phn.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{phn.name}:4: phone .* ends"):
        prepare_timit(small_copy, tmp_path / "data")


def test_phn_unknown_label(small_copy, tmp_path):
    phn = _first(small_copy, "TRAIN/DR*/*/SI*.PHN")
    lines = _lines(phn)
    a, b, _ = lines[2].split()
    lines[2] = f"{a} {b} xx"
    phn.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{phn.name}:3: unknown phone label 'xx'"):
        prepare_timit(small_copy, tmp_path / "data")


def test_phn_gap(small_copy, tmp_path):
    phn = _first(small_copy, "TRAIN/DR*/*/SI*.PHN")
    lines = _lines(phn)
    a, b, label = lines[5].split()
    lines[5] = f"{int(a) + 7} {b} {label}"
    phn.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="contiguous"):
        prepare_timit(small_copy, tmp_path / "data")


def test_sphere_sample_count_disagrees(small_copy, tmp_path):
    wav = _first(small_copy, "TRAIN/DR*/*/SX*.WAV")
    wav.write_bytes(wav.read_bytes()[:-100])
    with pytest.raises(AudioError, match="sample_count"):
        prepare_timit(small_copy, tmp_path / "data")


def _sphere_samples(wav: Path) -> int:
    from asrser.corpora.timit import sphere_num_samples
    return sphere_num_samples(wav)


@pytest.mark.parametrize("past", [161, 500])
def test_phn_longer_than_audio(small_copy, tmp_path, past):
    phn = _first(small_copy, "TRAIN/DR*/*/SX*.PHN")
    lines = _lines(phn)
    a, b, label = lines[-1].split()
    lines[-1] = f"{a} {_sphere_samples(phn.with_suffix('.WAV')) + past} {label}"
    phn.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{phn.name}:{len(lines)}: last phone '{label}' ends at sample \d+, "
                                        rf"{past} samples past the audio's \d+ \(up to 160 are clipped\)"):
        prepare_timit(small_copy, tmp_path / "data")


def test_last_phone_a_few_samples_past_the_audio_is_clipped(small_copy, tmp_path, caplog):
    """Up to 10 ms past the audio: clipped to it, with a warning naming the file and line; the rest of the
    utterance and of the corpus is prepared as usual."""
    phn = _first(small_copy, "TRAIN/DR*/*/SX*.PHN")
    num_samples = _sphere_samples(phn.with_suffix(".WAV"))
    lines = _lines(phn)
    a, b, label = lines[-1].split()
    lines[-1] = f"{a} {num_samples + 160} {label}"
    phn.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        counts = prepare_timit(small_copy, tmp_path / "data")
    assert counts["train"] == 8
    assert any(f"{phn}:{len(lines)}: last phone '{label}' ends at sample {num_samples + 160}, 160 samples (10.0 ms) "
               f"past the audio's {num_samples}; clipped" in r.message for r in caplog.records)
    utt = f"{phn.parent.name.lower()}_{phn.stem.lower()}"
    ctm = [line.split() for line in _lines(tmp_path / "data" / "train" / "ref_phones.ctm") if line.startswith(utt)]
    assert float(ctm[-1][2]) + float(ctm[-1][3]) == pytest.approx(num_samples / 16000, abs=1e-4)


def test_phn_negative_start(small_copy, tmp_path):
    phn = _first(small_copy, "TRAIN/DR*/*/SX*.PHN")
    lines = _lines(phn)
    _, b, label = lines[0].split()
    lines[0] = f"-16 {b} {label}"
    phn.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"{phn.name}:1: phone '{label}' starts at a negative sample \(-16\)"):
        prepare_timit(small_copy, tmp_path / "data")


def test_phn_with_only_glottal_stops_is_a_logged_skip(small_copy, tmp_path, caplog):
    """Folding deletes q: such an utterance has no transcript, and is left out (named), not given an empty
    one."""
    phn = _first(small_copy, "TRAIN/DR*/*/SI*.PHN")
    phn.write_text(f"0 {_sphere_samples(phn.with_suffix('.WAV'))} q\n")
    with caplog.at_level(logging.INFO):
        counts = prepare_timit(small_copy, tmp_path / "data")
    assert counts["train"] == 7
    assert any(str(phn) in r.message and "only glottal stops" in r.message for r in caplog.records)
    assert any("1 skipped ({'only q': 1})" in r.message for r in caplog.records)
    text = dict(line.split(" ", 1) if " " in line else (line, "") for line in
                _lines(tmp_path / "data" / "train" / "text"))
    assert len(text) == 7 and all(text.values())
    assert validate_data_dir(tmp_path / "data" / "train") == []


def test_a_speaker_found_twice_is_an_error(small_copy, tmp_path):
    """The same speaker under two dialect regions would give every utterance twice; on both sides, the test
    sets would hold a training speaker."""
    spk = _first(small_copy, "TRAIN/DR*/*")
    other_region = "DR8" if spk.parent.name != "DR8" else "DR7"
    shutil.copytree(spk, small_copy / "TRAIN" / other_region / spk.name)
    with pytest.raises(DataError, match=rf"utterance {spk.name.lower()}_s\w+ is also in .*{spk.parent.name}"):
        prepare_timit(small_copy, tmp_path / "data")
    shutil.rmtree(small_copy / "TRAIN" / other_region / spk.name)
    test_spk = next(p for p in sorted(small_copy.glob("TEST/DR*/*")) if p.name.lower() in CORE_TEST_SPEAKERS)
    shutil.copytree(test_spk, small_copy / "TRAIN" / test_spk.parent.name / test_spk.name)
    with pytest.raises(AsrserError, match=rf"speaker {test_spk.name.lower()} is in both TRAIN .* and TEST"):
        prepare_timit(small_copy, tmp_path / "data")


def test_phn_without_wav_is_a_counted_skip(small_copy, tmp_path, caplog):
    wav = _first(small_copy, "TRAIN/DR*/*/SI*.WAV")
    wav.unlink()
    with caplog.at_level(logging.INFO):
        counts = prepare_timit(small_copy, tmp_path / "data")
    assert counts["train"] == 7
    assert any("no .WAV" in r.message and wav.stem in r.message for r in caplog.records)
    assert any("1 skipped" in r.message for r in caplog.records)


def test_not_a_timit_dir(tmp_path):
    with pytest.raises(AsrserError, match="no TRAIN and TEST"):
        prepare_timit(tmp_path, tmp_path / "data")


def test_folding_gives_a_glottal_stop_to_the_phone_after_it():
    # "button": b ah q en -> the q's closure is the syllabic nasal's onset; a q before silence, or at the
    # very end, goes to the phone before it
    segments = [("h#", 0, 100), ("bcl", 100, 200), ("b", 200, 250), ("ah", 250, 400), ("q", 400, 500),
                ("en", 500, 700), ("q", 700, 750), ("h#", 750, 900)]
    assert fold_segments(segments) == [("sil", 0, 100), ("vcl", 100, 200), ("b", 200, 250), ("ah", 250, 400),
                                       ("en", 400, 750), ("sil", 750, 900)]
    assert fold_segments([("h#", 0, 10), ("ax", 10, 20), ("q", 20, 30)]) == [("sil", 0, 10), ("ax", 10, 30)]
    assert fold_segments([("h#", 0, 10), ("q", 10, 20), ("q", 20, 25), ("iy", 25, 40)]) == \
        [("sil", 0, 10), ("iy", 10, 40)]
