"""mini-MSP-IMPROV: the MSP-IMPROV layout and label format, counts, determinism across jobs, the reader."""

from __future__ import annotations

import hashlib
import re
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from asrser.corpora.msp_improv import HEADER_LINE, RECORDING_NAME, prepare_msp_improv
from asrser.synth import mini_iemocap, mini_msp_improv

WAV_PATH = re.compile(r"^session([1-6])/S(\d\d)([AHSN])/([PRST])/MSP-IMPROV-S\2\3-([FM])0\1-\4-(FM|MF)\d\d\.wav$")
# The rater lines as the community's MSP-IMPROV scripts read them.
RATER_LINE = re.compile(r"^([A-Za-z0-9-_]+); (Sad|Angry|Happy|Neutral|Other); (.*); A:(\d+\.\d+); V:(\d+\.\d+); "
                        r"D:(\d+\.\d+); N:(\d+\.\d+);$")


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _blocks(root: Path) -> list[list[str]]:
    text = (root / "Evaluation.txt").read_text()
    assert text.endswith("\n\n")
    return [block.split("\n") for block in text.rstrip("\n").split("\n\n")]


def test_layout(tiny_msp_improv):
    assert tiny_msp_improv.name == "MSP-IMPROV"
    assert sorted(p.name for p in tiny_msp_improv.iterdir()) == ["Evaluation.txt"] + [f"session{k}"
                                                                                      for k in range(1, 7)]
    wavs = sorted(str(p.relative_to(tiny_msp_improv)) for p in tiny_msp_improv.rglob("*.wav"))
    assert len(wavs) == 96
    matches = [WAV_PATH.match(w) for w in wavs]
    assert all(matches), [w for w, m in zip(wavs, matches) if not m][:3]
    assert Counter(m[4] for m in matches) == {"P": 24, "R": 24, "S": 24, "T": 24}
    speakers = Counter(f"{m[5]}0{m[1]}" for m in matches)
    assert len(speakers) == 12 and all(6 <= n <= 10 for n in speakers.values())
    # every session has all four target emotions; R and S are said by the scenario's lead (named first)
    assert {(m[1], m[3]) for m in matches} == {(str(k), e) for k in range(1, 7) for e in "AHSN"}
    assert all(m[5] == m[6][0] for m in matches if m[4] in "RS")
    data = (tiny_msp_improv.rglob("*.wav").__next__()).read_bytes()
    riff, size, wave, fmt, fmt_size, pcm, channels, rate, byte_rate, align, bits, tag, n = \
        struct.unpack("<4sI4s4sIHHIIHH4sI", data[:44])
    assert (riff, wave, fmt, tag, pcm, channels, rate, bits) == (b"RIFF", b"WAVE", b"fmt ", b"data", 1, 1, 16000, 16)
    assert n == len(data) - 44 > 0.5 * 32000


def test_evaluation_format(tiny_msp_improv):
    blocks = _blocks(tiny_msp_improv)
    stems = {p.stem for p in tiny_msp_improv.rglob("*.wav")}
    assert len(blocks) == 96
    names = [block[0].split(".avi")[0] for block in blocks]
    assert names == sorted(names) and {"MSP-" + n[len("UTD-"):] for n in names} == stems
    codes = Counter()
    for header, *raters in blocks:
        m = HEADER_LINE.match(header)
        assert m and RECORDING_NAME.match("MSP-IMPROV-" + m["id"]), header
        assert re.fullmatch(r"UTD-IMPROV-\S+\.avi; [AHSNOX]; A:\d\.\d{6}; V:\d\.\d{6}; D:\d\.\d{6} ; N:\d\.\d{6};",
                            header)
        assert 5 <= len(raters) <= 7 and all(RATER_LINE.match(r) for r in raters), raters
        votes = Counter(r.split("; ")[1] for r in raters)
        (top, k), *rest = votes.most_common()
        if m["code"] == "X":
            assert rest and rest[0][1] == k, "X: no plurality"
        else:
            assert top[0] == m["code"] and not (rest and rest[0][1] == k)
        means = np.mean([[float(x) for x in re.findall(r"[AVDN]:(\d\.\d+)", r)] for r in raters], axis=0)
        assert np.allclose(means, [float(m[x]) for x in "avdn"], atol=1e-6)
        codes[m["code"]] += 1
    assert set(codes) == set("AHSNOX") and codes["N"] == max(codes.values())


def test_reader_round_trip(tiny_msp_improv, tmp_path):
    counts = prepare_msp_improv(tiny_msp_improv, tmp_path, print_counts=False)
    truth = Counter(block[0].split("; ")[1] for block in _blocks(tiny_msp_improv))
    assert counts == dict(truth)
    data = tmp_path / "msp_improv"
    wav = dict(line.split(" ", 1) for line in (data / "wav.scp").read_text().splitlines())
    assert len(wav) == 96 and all(Path(p).is_file() and u.endswith(Path(p).stem) for u, p in wav.items())


def test_same_seed_same_bytes_any_nj(tiny_msp_improv, tmp_path, cpu_load):
    """nj=2 in a fresh process, with every core busy, gives the fixture's corpus (nj=1) byte for byte."""
    prog = Path(__file__).resolve().parents[2] / "local" / "make_mini_msp_improv.py"
    run = subprocess.run([sys.executable, str(prog), "--size", "tiny", "--seed", "0", "--nj", "2",
                          str(tmp_path / "again")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert _digest(tmp_path / "again" / mini_msp_improv.ROOT_NAME) == _digest(tiny_msp_improv)
    other = mini_msp_improv.plan_corpus(tmp_path / "other", "tiny", seed=1)
    ours = mini_msp_improv.plan_corpus(tmp_path / "again", "tiny", seed=0)
    assert [t.label for t in other] != [t.label for t in ours]


def test_default_plan_and_how_it_differs_from_mini_iemocap(tmp_path):
    turns = mini_msp_improv.plan_corpus(tmp_path, "default", seed=0)
    assert 950 <= len(turns) <= 1050
    assert len({t.name for t in turns}) == len(turns)
    labels = Counter(t.label for t in turns)
    assert labels["N"] > labels["H"] > max(labels["A"], labels["S"]), "unbalanced as the real corpus"
    # the target sentences: 20, each said (R and S) in all four target emotions
    said = {(t.text, t.scenario[-1]) for t in turns if t.recording in "RS"}
    assert {s for s, _ in said} == set(mini_msp_improv.TARGET_SENTENCES)
    assert all(sum((s, e) in said for e in "AHSN") == 4 for s in mini_msp_improv.TARGET_SENTENCES)
    # emotion lives in the voice, with this corpus's own statistics
    mean = {k: np.mean([(t.rendition.rate / t.speaker.rate, t.rendition.gain_db) for t in turns if t.label == k],
                       axis=0) for k in "AHSN"}
    assert mean["S"][0] < mean["N"][0] < mean["H"][0] and mean["N"][1] < mean["A"][1]
    # other voices than mini-IEMOCAP's: no variant in common, Klatt voice sources
    iemocap = {v.name for s in mini_iemocap.make_speakers(0) for v in s.voices.values()}
    ours = mini_msp_improv.all_voices(turns)
    assert not iemocap & {v.name for v in ours} and all(any(x.startswith("klatt") for x in v.extra) for v in ours)


def test_unknown_size_is_an_error(tmp_path):
    with pytest.raises(Exception, match="unknown mini-MSP-IMPROV size"):
        mini_msp_improv.plan_corpus(tmp_path, "huge", 0)
