"""Segment images for FaceNet SER: a sine's waveform diagram and spectrogram derived pixel by pixel, the segment
counts of padded, dropped and short remainders, and the cache: its files, resume and idempotence, a kill in the
middle of writing, bad audio and a bad config named in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from asrser.audio import read_audio, write_wav
from asrser.errors import AudioError, DataError
from asrser.facenet.images import (ImageConfig, ImageSet, render_spectrogram, render_waveform,
                                   segment_samples, spectrogram_row_frequency, utterance_images, write_images)
from helpers import STEPS, run_step

RATE = 16000


def _sine(frequency: float, seconds: float = 1.0, amplitude: float = 1.0) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * frequency * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ waveform diagram

def test_a_sine_of_one_period_per_column_is_the_band_of_its_amplitude():
    # 160 Hz at 16 kHz: each column's 100 samples hold one whole period, reaching +0.5 (sample 25) and -0.5
    # (sample 75). Row of amplitude a: floor((1 - a) * 159 / 2 + 0.5): +0.5 -> floor(40.25) = 40,
    # -0.5 -> floor(119.75) = 119.
    image = render_waveform(_sine(160, amplitude=0.5), 160)
    expected = np.zeros((160, 160), np.uint8)
    expected[40:120, :] = 255
    assert image.dtype == np.uint8 and np.array_equal(image, expected)


def test_a_slow_sine_draws_its_curve_column_by_column():
    image = render_waveform(_sine(1.0), 160)          # one period over the 160 columns
    lit = lambda c: list(np.flatnonzero(image[:, c]))  # noqa: E731
    # Column 0, samples 0..99: from sin(0) = 0 (row floor(79.5 + 0.5) = 80) up to sin(2 pi 99 / 16000) = 0.03886
    # (row floor(0.96114 * 79.5 + 0.5) = floor(76.91) = 76).
    assert lit(0) == [76, 77, 78, 79, 80]
    # Column 40, samples 4000..4099: the crest 1.0 (row 0) down to cos(2 pi 99 / 16000) = 0.99925 (row
    # floor(0.06 + 0.5) = 0).
    assert lit(40) == [0]
    # Column 120, samples 12000..12099: the trough -1.0: row 159 only.
    assert lit(120) == [159]
    # Column 80, samples 8000..8099: sin from 0 (row 80) down to -0.03886 (row floor(1.03886 * 79.5 + 0.5) = 83).
    assert lit(80) == [80, 81, 82, 83]


def test_silence_is_the_middle_row_and_a_batch_renders_each_segment():
    batch = np.stack([np.zeros(16000, np.float32), _sine(160, amplitude=0.5)])
    images = render_waveform(batch, 160)
    assert images.shape == (2, 160, 160)
    assert set(np.flatnonzero(images[0].any(axis=1))) == {80}       # 0 -> floor(79.5 + 0.5) = 80
    assert np.array_equal(images[1], render_waveform(batch[1], 160))


# ----------------------------------------------------------------------------------------------------- spectrogram

def test_a_sine_at_a_bins_frequency_is_one_bright_row():
    # n_fft = 2 * (160 - 1) = 318: bin k is k * 16000 / 318 Hz, row 159 - k. A unit sine at bin 40's frequency,
    # through a periodic Hann window, has |X[40]| = sum(window) / 2 (the 0 dB reference: 255) and
    # |X[39]| = |X[41]| = half of it (-6.0206 dB: floor(255 * (80 - 6.0206) / 80 + 0.5) = floor(236.3) = 236),
    # and exactly nothing elsewhere (below -80 dB: 0).
    frequency = 40 * RATE / 318
    assert spectrogram_row_frequency(RATE, 160)[119] == pytest.approx(frequency)
    assert spectrogram_row_frequency(RATE, 160)[0] == RATE / 2 and spectrogram_row_frequency(RATE, 160)[159] == 0
    image = render_spectrogram(_sine(frequency), RATE, 160)
    expected = np.zeros(160, np.uint8)
    expected[119], expected[118], expected[120] = 255, 236, 236
    # Frame t is centred on sample 100 t + 50 with a 318-sample window: frames 2..157 lie inside the segment.
    for column in range(2, 158):
        assert np.array_equal(image[:, column], expected), column
    # The edge frames see part of the zero padding beyond the segment: the line is still brightest there.
    for column in (0, 1, 158, 159):
        assert int(np.argmax(image[:, column])) == 119


def test_silence_is_black_and_a_louder_sine_is_brighter_up_to_full_scale():
    assert not render_spectrogram(np.zeros(16000, np.float32), RATE, 160).any()
    frequency = 40 * RATE / 318
    quiet = render_spectrogram(_sine(frequency, amplitude=0.1), RATE, 160)   # -20 dB: floor(191.25 + 0.5) = 191
    assert quiet[119, 80] == 191


# -------------------------------------------------------------------------------------------------------- segments

@pytest.mark.parametrize("seconds, short_segments, starts, counts", [
    (2.0, "pad", [0, 16000], (0, 0, 0)),
    (2.5, "pad", [0, 16000, 32000], (1, 0, 0)),
    (2.5, "drop", [0, 16000], (0, 1, 0)),
    (2.1, "pad", [0, 16000], (0, 1, 0)),           # a 0.1 s remainder is below min_segment_seconds 0.25
    (0.1, "drop", [0], (0, 0, 1)),                 # shorter than one segment: padded even with drop
    (0.1, "pad", [0], (0, 0, 1)),
])
def test_remainders_are_padded_or_dropped_and_counted(seconds, short_segments, starts, counts):
    samples = np.arange(1, int(seconds * RATE) + 1, dtype=np.float32)
    segments, found, found_counts = segment_samples(samples, RATE, ImageConfig(short_segments=short_segments))
    assert list(found) == starts
    assert (found_counts["padded"], found_counts["dropped"], found_counts["short_utterance"]) == counts
    assert segments.shape == (len(starts), 16000) and segments.dtype == np.float32
    for segment, start in zip(segments, starts):
        real = min(16000, len(samples) - start)
        assert np.array_equal(segment[:real], samples[start:start + real])
        assert not segment[real:].any()                  # zero padding


def test_overlapping_segments_start_every_hop():
    config = ImageConfig(hop_seconds=0.5)
    _, starts, counts = segment_samples(np.ones(int(2.2 * RATE), np.float32), RATE, config)
    # whole segments at 0, 0.5, 1.0 s (1.0 + 1.0 <= 2.2); the remainder from 1.5 s (0.7 s) is padded.
    assert list(starts) == [0, 8000, 16000, 24000] and counts["padded"] == 1


def test_the_config_is_the_images_section_of_a_yaml_file(tmp_path):
    (tmp_path / "base.yaml").write_text("images:\n  size: 96\n  db_range: 60\nmodel:\n  width: 0.25\n")
    (tmp_path / "facenet.yaml").write_text("base: base.yaml\nimages:\n  kind: spectrogram\n")
    config = ImageConfig.from_yaml(tmp_path / "facenet.yaml")
    assert (config.kind, config.size, config.db_range, config.segment_seconds) == ("spectrogram", 96, 60.0, 1.0)
    (tmp_path / "bad.yaml").write_text("images:\n  kind: spectrogram\n  short_segments: trim\n")
    with pytest.raises(DataError, match=r"bad.yaml:3: short_segments: expected one of pad, drop"):
        ImageConfig.from_yaml(tmp_path / "bad.yaml")


# ----------------------------------------------------------------------------------------------------------- cache

def _data_dir(root: Path, last: str | None = None) -> Path:
    """Four utterances (wav.scp deliberately unsorted; d_utt read through a pipe, or the command `last`):
    a 0.5 s (short), b 2.5 s (one padded), c 1.1 s (0.1 s dropped), d 1.6 s (one padded)."""
    rng = np.random.default_rng(7)
    data, audio = root / "data", root / "audio"
    data.mkdir(parents=True)
    audio.mkdir()
    lines = []
    for utt, seconds in (("c_utt", 1.1), ("b_utt", 2.5), ("a_utt", 0.5), ("d_utt", 1.6)):
        path = audio / f"{utt}.wav"
        write_wav(path, (rng.standard_normal(int(seconds * RATE)) * 3000).astype(np.int16), RATE)
        spec = f"cat {path} |" if utt == "d_utt" else str(path)
        lines.append(f"{utt} {last if utt == 'd_utt' and last else spec}\n")
    (data / "wav.scp").write_text("".join(lines))
    return data


def test_the_cache_holds_every_segment_in_utterance_order(tmp_path):
    data = _data_dir(tmp_path)
    config = ImageConfig(kind="waveform")
    assert write_images(data, tmp_path / "images", config, progress=False) == 7
    assert (tmp_path / "images/segments").read_text() == (
        "a_utt-000000 a_utt 0.000 0.500\n"
        "b_utt-000000 b_utt 0.000 1.000\nb_utt-000100 b_utt 1.000 2.000\nb_utt-000200 b_utt 2.000 2.500\n"
        "c_utt-000000 c_utt 0.000 1.000\n"
        "d_utt-000000 d_utt 0.000 1.000\nd_utt-000100 d_utt 1.000 1.600\n")
    meta = json.loads((tmp_path / "images/images.json").read_text())
    assert meta["counts"] == {"padded": 2, "dropped": 1, "short_utterance": 1}
    assert (meta["utterances"], meta["images"], meta["config"]["kind"]) == (4, 7, "waveform")
    images = ImageSet.read(tmp_path / "images")
    assert isinstance(images.images, np.memmap) and images.images.shape == (7, 160, 160)
    assert images.utts == ["a_utt", "b_utt", "c_utt", "d_utt"]
    assert images.segment_utts == ["a_utt", "b_utt", "b_utt", "b_utt", "c_utt", "d_utt", "d_utt"]
    assert list(images.rows("b_utt")) == [1, 2, 3] and list(images.rows("d_utt")) == [5, 6]
    for utt in images.utts:
        samples = read_audio(f"{tmp_path}/audio/{utt}.wav", utt).samples
        assert np.array_equal(images.images[images.rows(utt)], utterance_images(samples, config)[0])


def test_a_second_run_rewrites_nothing_and_a_changed_config_renders_again(tmp_path):
    data = _data_dir(tmp_path)
    out = tmp_path / "images"
    write_images(data, out, ImageConfig(), progress=False)
    files = [out / "images.npy", out / "segments", out / "images.json"]
    before = [(f.stat().st_mtime_ns, f.stat().st_ino) for f in files]
    assert write_images(data, out, ImageConfig(), progress=False) == 0
    assert [(f.stat().st_mtime_ns, f.stat().st_ino) for f in files] == before
    assert write_images(data, out, ImageConfig(kind="spectrogram"), progress=False) == 7
    assert ImageSet.read(out).config.kind == "spectrogram"
    # Two processes give the same bytes as one.
    write_images(data, tmp_path / "nj2", ImageConfig(kind="spectrogram"), nj=2, progress=False)
    assert (tmp_path / "nj2/images.npy").read_bytes() == (out / "images.npy").read_bytes()


def _kill_process_group(proc: subprocess.Popen) -> None:
    """SIGKILL a run's whole process group and wait until every member is gone: its image workers (forked, so
    holding the output directory's lock with it) die after the main process, and under load the next run could
    otherwise find the lock still held."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process group {proc.pid} still alive 30 s after SIGKILL")


def test_a_run_killed_while_writing_leaves_no_images_json_and_the_next_run_completes(tmp_path):
    data = _data_dir(tmp_path, last=f"sleep 60; cat {tmp_path}/audio/d_utt.wav |")
    config = tmp_path / "facenet.yaml"
    config.write_text("images:\n  kind: spectrogram\n")
    out = tmp_path / "images"
    env = {**os.environ, "PATH": f"{STEPS}:{Path(sys.executable).parent}:{os.environ['PATH']}"}
    killed = subprocess.Popen([sys.executable, str(STEPS / "make_images.py"), "--config", str(config), str(data),
                               str(out)], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        # a, b and c are written, d_utt's command sleeps: the images are half written.
        while not (out / f".images.npy.tmp{killed.pid}").exists() or \
                (out / f".images.npy.tmp{killed.pid}").stat().st_size < 128 + 5 * 160 * 160:
            assert killed.poll() is None and time.monotonic() < deadline, "make_images.py ended or hung"
            time.sleep(0.05)
    finally:
        _kill_process_group(killed)
    assert not (out / "images.json").exists() and not (out / "images.npy").exists()
    with pytest.raises(Exception, match="not a complete image set"):
        ImageSet.read(out)
    (data / "wav.scp").write_text((data / "wav.scp").read_text().replace("sleep 60; ", ""))
    assert write_images(data, out, ImageConfig.from_yaml(config), progress=False) == 7
    assert sorted(p.name for p in out.iterdir()) == [".lock", "images.done", "images.json", "images.npy",
                                                     "segments"]       # the killed run's temporary file is gone


def test_bad_audio_and_a_bad_config_are_one_line_naming_them(tmp_path):
    data = _data_dir(tmp_path)
    (tmp_path / "audio/b_utt.wav").write_bytes((tmp_path / "audio/b_utt.wav").read_bytes()[:5000])   # truncated
    with pytest.raises(AudioError, match=r"utterance b_utt \(.*b_utt.wav\): truncated"):
        write_images(data, tmp_path / "images", ImageConfig(), progress=False)
    assert not (tmp_path / "images/images.json").exists()
    config = tmp_path / "facenet.yaml"
    config.write_text("images:\n  kind: waveform\n")
    proc = run_step("make_images.py", "--config", config, data, tmp_path / "images_cli", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("ERROR (make_images.py): utterance b_utt (")
    assert "Traceback" not in proc.stderr
    config.write_text("images:\n  kind: picture\n")
    proc = run_step("make_images.py", "--config", config, data, tmp_path / "images_cli", check=False)
    assert proc.stderr.strip() == (f"ERROR (make_images.py): {config}:2: kind: expected one of waveform, "
                                   "spectrogram, found 'picture'")


def test_the_example_grid_has_a_row_per_class(tmp_path):
    from asrser.facenet.images import example_images

    data = _data_dir(tmp_path)
    write_images(data, tmp_path / "images", ImageConfig(), progress=False)
    images = ImageSet.read(tmp_path / "images")
    labels = {"a_utt": "sad", "b_utt": "ang", "c_utt": "ang", "d_utt": "ang"}
    examples = example_images(images, labels, count=2)
    assert list(examples) == ["ang", "sad"] and [len(v) for v in examples.values()] == [2, 1]
    assert np.array_equal(examples["ang"][1], images.images[4])          # c_utt's first segment
    (tmp_path / "utt2emo").write_text("".join(f"{u} {e}\n" for u, e in labels.items()))
    run_step("plot_images.py", "--utt2emo", tmp_path / "utt2emo", tmp_path / "images", tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
