"""mini-CASIA: the CASIA layout, counts, pinyin for espeak, determinism across jobs, the reader."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from asrser.errors import AsrserError
from asrser.synth import mini_casia


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout(tiny_casia):
    assert tiny_casia.name == "CASIA"
    assert sorted(p.name for p in tiny_casia.parent.iterdir()) == ["CASIA", "generated.json"]
    files = sorted(p.relative_to(tiny_casia).parts for p in tiny_casia.rglob("*") if p.is_file())
    assert len(files) == 4 * 6 * 5
    assert {s for s, _, _ in files} == {"liuchanhg", "zhaoquanyin", "wangzhe", "ZhaoZuoxiang"}
    assert Counter(e for _, e, _ in files) == {e: 20 for e in ("angry", "fear", "happy", "neutral", "sad",
                                                               "surprise")}
    # the same sentence numbers in every folder, as the circulated subset
    assert Counter(n for _, _, n in files) == {f"{k}.wav": 24 for k in range(201, 206)}
    for path in tiny_casia.rglob("*.wav"):
        data = path.read_bytes()
        riff, _, wave, fmt, _, pcm, channels, rate, _, _, bits, tag, n = struct.unpack("<4sI4s4sIHHIIHH4sI",
                                                                                       data[:44])
        assert (riff, wave, fmt, tag, pcm, channels, rate, bits) == (b"RIFF", b"WAVE", b"fmt ", b"data", 1, 1,
                                                                     16000, 16)
        assert n == len(data) - 44 and 1.0 < n / 32000 < 3.5, path      # about two seconds of speech


def test_pinyin_for_espeak():
    assert mini_casia.to_pinyin("你好。") == "ni3 hao3 ."
    assert mini_casia.to_pinyin("今天的天气很好。") == "jin1 tian1 de5 tian1 qi4 hen3 hao3 ."
    assert mini_casia.to_pinyin("绿色的，好吗？") == "lv4 se4 de5 , hao3 ma5 ?"
    with pytest.raises(AsrserError, match="cannot convert 'abc'"):
        mini_casia.to_pinyin("你好abc")
    assert all(mini_casia.to_pinyin(s) for s in mini_casia.SENTENCES)


def test_espeak_reads_the_tones():
    """The same syllable in three tones is three pitch contours: `ma1` level, `ma2` rising, `ma4` falling."""
    from asrser.synth.espeak import IsolatedSynthesizer

    def f0(x: np.ndarray) -> list[float]:
        """Autocorrelation pitch (64-267 Hz) of 40 ms frames, every 20 ms, over the voiced part."""
        out = []
        for i in range(0, len(x) - 640, 320):
            frame = x[i:i + 640]
            if np.std(frame) > 0.3 * np.std(x):
                ac = np.correlate(frame, frame, "full")[639:]
                out.append(16000 / (60 + int(np.argmax(ac[60:250]))))
        return out

    synth = IsolatedSynthesizer([], mini_casia.LANGUAGE)
    try:
        level, rising, falling = (f0(synth.synthesize(f"ma{t}", voice=mini_casia.LANGUAGE).samples.astype(float))
                                  for t in (1, 2, 4))
    finally:
        synth.close()
    assert abs(level[-1] / level[0] - 1) < 0.08, level
    assert rising[-1] > 1.1 * rising[0], rising
    assert falling[-1] < falling[0] / 1.1, falling


def test_same_seed_same_bytes_any_nj(tiny_casia, tmp_path, cpu_load):
    """nj=2 in a fresh process, with every core busy, gives the fixture's corpus (nj=1) byte for byte."""
    prog = Path(__file__).resolve().parents[2] / "local" / "make_mini_casia.py"
    run = subprocess.run([sys.executable, str(prog), "--size", "tiny", "--seed", "0", "--nj", "2",
                          str(tmp_path / "again")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert _digest(tmp_path / "again" / mini_casia.ROOT_NAME) == _digest(tiny_casia)
    other = mini_casia.plan_corpus(tmp_path / "other", "tiny", seed=1)
    ours = mini_casia.plan_corpus(tmp_path / "again", "tiny", seed=0)
    assert [c.rendition for c in other] != [c.rendition for c in ours]


def test_default_plan(tmp_path):
    clips = mini_casia.plan_corpus(tmp_path, "default", seed=0)
    assert len(clips) == 1200 and len({c.path for c in clips}) == 1200
    # every sentence said by every speaker in every emotion, under the same number
    assert Counter((c.number, c.text) for c in clips) == {(201 + j, mini_casia.to_pinyin(s)): 24
                                                          for j, s in enumerate(mini_casia.SENTENCES)}
    # emotion lives in the voice
    mean = {e: np.mean([(c.rendition.pitch - c.speaker.pitch, c.rendition.rate / c.speaker.rate,
                         c.rendition.gain_db) for c in clips if c.emotion == e], axis=0) for e in mini_casia.EMOTIONS}
    assert mean["sad"][1] < mean["neutral"][1] < mean["fear"][1]
    assert mean["sad"][2] < mean["neutral"][2] < mean["angry"][2]
    assert max(mean, key=lambda e: mean[e][0]) == "surprise" and min(mean, key=lambda e: mean[e][0]) == "sad"
    # short espeak voice names: espeak-ng 1.51 aborts on long ones
    assert max(len(v.name) for v in mini_casia.all_voices(clips)) <= 12


def test_unknown_size_is_an_error(tmp_path):
    with pytest.raises(AsrserError, match="unknown mini-CASIA size"):
        mini_casia.plan_corpus(tmp_path, "huge", 0)


def test_reader_round_trip(tiny_casia, tmp_path):
    casia = pytest.importorskip("asrser.corpora.casia")
    data = casia.prepare_casia(tiny_casia, tmp_path)
    utt2emo = dict(line.split() for line in (data / "utt2emo").read_text().splitlines())
    wav = dict(line.split(" ", 1) for line in (data / "wav.scp").read_text().splitlines())
    assert len(utt2emo) == len(wav) == 120
    assert all(Path(wav[u]).parent.name == e for u, e in utt2emo.items())
