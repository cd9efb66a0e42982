"""mini-TIMIT: the LDC layout and file formats at byte level, labels, determinism."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from asrser.errors import AsrserError
from asrser.synth import espeak, festival, mini_timit
from asrser.corpora.timit import CORE_TEST_SPEAKERS, DEV_SPEAKERS
from asrser.corpora.timit import FOLD_61_TO_48, PHONE_MAP, PHONES48, TIMIT61
from asrser.phones import read_phone_map, read_phone_set


def test_phone_set_sizes():
    phones39 = read_phone_set(PHONE_MAP, 3)
    assert len(TIMIT61) == 61 and len(PHONES48) == 48 and len(phones39) == 39
    assert {v for v in FOLD_61_TO_48.values() if v} == set(PHONES48)
    assert set(read_phone_map(PHONE_MAP, 2, 3).values()) == set(phones39)
    assert FOLD_61_TO_48["q"] is None


def test_layout(tiny_timit):
    assert (tiny_timit / "TRAIN").is_dir() and (tiny_timit / "TEST").is_dir()
    speakers = {p.parent.name: p for p in tiny_timit.glob("*/DR*/*/SA1.WAV")}
    assert all(len(s) == 5 and s[0] in "FM" and s[-1].isdigit() for s in speakers)
    test_speakers = {p.parent.name.lower() for p in (tiny_timit / "TEST").glob("DR*/*/SA1.WAV")}
    assert test_speakers & set(CORE_TEST_SPEAKERS) and test_speakers & set(DEV_SPEAKERS)
    assert test_speakers - set(CORE_TEST_SPEAKERS) - set(DEV_SPEAKERS)  # others the splits must exclude
    for name in ("SA1", "SA2"):
        assert len(list(tiny_timit.glob(f"*/DR*/*/{name}.PHN"))) == len(speakers)
    one = next(iter(speakers.values())).parent
    kinds = sorted(p.name[:2] for p in one.glob("*.PHN"))
    assert kinds.count("SA") == 2 and kinds.count("SX") == 5 and kinds.count("SI") == 3
    for p in one.glob("SA1.*"):
        assert p.suffix in {".WAV", ".PHN", ".WRD", ".TXT"}


def test_sphere_bytes_and_transcripts(tiny_timit):
    wav = next(tiny_timit.glob("TRAIN/DR*/*/SX*.WAV"))
    data = wav.read_bytes()
    assert data.startswith(b"NIST_1A\n   1024\n")
    header = data[:1024].decode("ascii")
    fields = dict(line.split(None, 2)[0::2] for line in header.split("\n")[2:] if line.strip()
                  and line.strip() != "end_head" and not line.startswith(" "))
    assert list(fields)[:3] == ["database_id", "database_version", "utterance_id"]
    count = int(fields["sample_count"])
    assert len(data) == 1024 + 2 * count and fields["sample_byte_format"] == "01"
    phn = [line.split() for line in wav.with_suffix(".PHN").read_text().splitlines()]
    assert phn[0][0] == "0" and phn[0][2] == "h#" and phn[-1][2] == "h#" and int(phn[-1][1]) == count
    for (a, b, _), (c, _, _) in zip(phn, phn[1:]):
        assert int(a) < int(b) == int(c)                      # contiguous, increasing
    assert {p for _, _, p in phn} <= set(TIMIT61)
    txt = wav.with_suffix(".TXT").read_text().split()
    assert txt[:2] == ["0", str(count)] and txt[-1].endswith(".")
    words = [line.split() for line in wav.with_suffix(".WRD").read_text().splitlines()]
    assert [w for _, _, w in words] == [w.lower().strip(".,") for w in txt[2:]]
    assert all(int(phn[0][1]) <= int(a) < int(b) <= int(phn[-1][0]) for a, b, _ in words)


def test_stops_have_closures_and_label_coverage(tiny_timit):
    labels = []
    for phn in tiny_timit.glob("*/DR*/*/*.PHN"):
        labels += [line.split()[2] for line in phn.read_text().splitlines()]
    closures = {"p": "pcl", "t": "tcl", "k": "kcl", "b": "bcl", "d": "dcl", "g": "gcl"}
    with_closure = sum(1 for a, b in zip(labels, labels[1:]) if b in closures and a == closures[b])
    assert with_closure / sum(1 for x in labels if x in closures) > 0.9
    assert len(set(labels)) >= 55


def _job_bytes(tmp_path: Path, seed: int, n: int = 3) -> list[bytes]:
    """The first n utterances of the first speaker, made again in this process (the corpus fixture made
    them in a pool worker, with other speakers before them)."""
    jobs = mini_timit.plan_corpus(tmp_path / f"s{seed}", "tiny", seed, "clean")
    first_speaker = [j for j in jobs if j.speaker.id == jobs[0].speaker.id]
    voices = sorted({j.speaker.voice.name: j.speaker.voice for j in mini_timit.plan_corpus(
        tmp_path, "tiny", 0, "clean")}.values(), key=lambda v: v.name)
    mini_timit._init_worker(voices)
    mini_timit.synthesize_speaker(first_speaker)
    return [Path(job.path).with_suffix(e).read_bytes() for job in first_speaker[:n] for e in (".WAV", ".PHN")]


def test_same_seed_same_bytes(tmp_path, tiny_timit):
    again = _job_bytes(tmp_path, 0)
    jobs = mini_timit.plan_corpus(tiny_timit.parent, "tiny", 0, "clean")[:3]
    original = [Path(j.path).with_suffix(e).read_bytes() for j in jobs for e in (".WAV", ".PHN")]
    assert again == original


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# The tiny corpus (seed 0) as generated on the reference machine (x86_64, Debian 12's espeak-ng 1.51, the pinned
# numpy/scipy). Another value means generation depends on the machine or a dependency changed its output.
TINY_SEED0_SHA256 = "c1873cd1cfc1d357002e587635a9f66539b614908a0dd6ae4c1902d74ce41b25"


def _corpus_digest(files: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{k} {v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def test_same_bytes_with_any_job_split_and_load(tiny_timit, tmp_path, cpu_load):
    """nj=2 in a fresh process, with every core busy (the fixture used nj=1 in this process, unloaded), gives
    the same corpus, byte for byte, and the reference machine's."""
    prog = Path(__file__).resolve().parents[2] / "local" / "make_mini_timit.py"
    run = subprocess.run([sys.executable, str(prog), "--size", "tiny", "--condition", "clean", "--seed", "0",
                          "--nj", "2", str(tmp_path / "again")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    again = _digest(tmp_path / "again" / "TIMIT")
    assert again == _digest(tiny_timit)
    assert _corpus_digest(again) == TINY_SEED0_SHA256


def test_resume_makes_a_missing_utterance_again_identical(tiny_timit, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_timit.parent, copy)
    victim = sorted(copy.glob("TIMIT/TRAIN/DR*/*/SX*.WAV"))[3]
    victim.unlink()
    assert mini_timit.generate(copy, "tiny", seed=0, nj=1, progress=False, condition="clean") == 210
    assert _digest(copy / "TIMIT") == _digest(tiny_timit)


def test_unknown_size_is_an_error():
    with pytest.raises(Exception, match="unknown mini-TIMIT size"):
        mini_timit.make_speakers("huge", 0)


def test_espeak_mapping_rules():
    silence = np.zeros(16000, dtype=np.int16)
    segs = mini_timit.espeak_to_timit([("_:", 0), ("h", 100), ("E", 900), ("n", 2000), ("@", 3000), ("_", 4000)],
                                      silence, np.zeros(22050, dtype=np.int16), 500, 6000)
    labels = [s.label for s in segs]
    assert labels[0] == labels[-1] == "h#"
    assert "nx" in labels  # n between a vowel and an unstressed vowel
    assert segs[0].start == 0 and segs[-1].end == 6000
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))


def test_a_clause_break_is_one_pause():
    silence = np.zeros(16000, dtype=np.int16)
    segs = mini_timit.espeak_to_timit([("_:", 0), ("s", 100), ("i:", 900), ("_:", 2000), ("_", 2500), ("m", 3000),
                                       ("i:", 3800), ("_", 4500)],
                                      silence, np.zeros(22050, dtype=np.int16), 500, 6000)
    assert [s.label for s in segs] == ["h#", "s", "iy", "pau", "m", "iy", "h#"]
    assert segs[3].start == 2500 and segs[3].end == 3500


def test_glottal_stop_starts_with_its_silence_and_epi_is_silent():
    rng = np.random.default_rng(0)
    samples = (rng.normal(size=8000) * 3000).astype(np.int16)
    raw = (rng.normal(size=11025) * 3000).astype(np.int16)
    raw[int(2600 * 22050 / 16000):int(3200 * 22050 / 16000)] = 0      # espeak's silence: from 2600, before "?"
    # "cotton": k A ? n- ; then "s m": the s (1000 samples) ends in epi before the nasal
    segs = mini_timit.espeak_to_timit([("_:", 0), ("A:", 1000), ("?", 3000), ("n-", 3200), ("s", 4500),
                                       ("m", 5500), ("_", 7000)], samples, raw, 0, 8000)
    labels = [s.label for s in segs]
    q = segs[labels.index("q")]
    assert (q.start, q.end) == (2600, 3200) and segs[labels.index("q") - 1].end == 2600
    epi = segs[labels.index("epi")]
    assert (epi.start, epi.end) == (5500 - 240, 5500)
    gapped = mini_timit.epenthetic_gaps(samples, segs, 0)
    assert np.abs(gapped[epi.start + 48:epi.end - 48]).max() < 0.02 * np.abs(samples[epi.start:epi.end]).max()
    assert np.array_equal(gapped[:epi.start], samples[:epi.start])
    assert np.array_equal(gapped[epi.end:], samples[epi.end:])


def test_another_seed_in_the_same_directory_is_refused(tmp_path):
    """Generation resumes by keeping finished files: another seed or size in the same directory would mix two
    corpora, so it is refused, naming what differs."""
    from asrser.errors import AsrserError

    from asrser.fileio import check_generated_dir

    check_generated_dir(tmp_path, "mini-TIMIT", size="tiny", seed=0, condition="read")
    check_generated_dir(tmp_path, "mini-TIMIT", size="tiny", seed=0, condition="read")   # same settings: fine
    with pytest.raises(AsrserError, match=r"seed 0 -> 1.*remove it"):
        mini_timit.generate(tmp_path, "tiny", seed=1, nj=1, progress=False)
    assert not (tmp_path / "TIMIT").exists()


# -- the read condition ------------------------------------------------------------------------------------

needs_festival = pytest.mark.skipif(not festival.available(), reason="festival is not installed")


@pytest.fixture(scope="module")
def tiny_read(tmp_path_factory) -> Path:
    if not all(map(festival.available, festival.VOICES)):
        pytest.skip("the read condition's Festival voices are not installed")
    out = tmp_path_factory.mktemp("mini_timit_read")
    mini_timit.generate(out, "tiny", seed=0, nj=1, progress=False, condition="read")
    return out / "TIMIT"


def test_read_condition_same_bytes_with_two_jobs_on_a_fresh_machine_and_differs_from_clean(tiny_read, tiny_timit,
                                                                                             tmp_path):
    """Two jobs in a fresh process whose home has never run PulseAudio (as on a new machine, where espeak-ng's
    audio library first creates its runtime directory and used to change what espeak-ng synthesised) give the
    fixture's bytes."""
    prog = Path(__file__).resolve().parents[2] / "local" / "make_mini_timit.py"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "XDG_"))} | {"HOME": str(home)}
    try:
        run = subprocess.run([sys.executable, str(prog), "--size", "tiny", "--condition", "read", "--nj", "2",
                              str(tmp_path / "again")], capture_output=True, text=True, env=env)
    finally:   # what PulseAudio made of that home, if anything, outside it
        for link in home.glob(".config/pulse/*-runtime"):
            shutil.rmtree(link.resolve(), ignore_errors=True)
    assert run.returncode == 0, run.stderr
    assert _digest(tmp_path / "again" / "TIMIT") == _digest(tiny_read)
    assert _corpus_digest(_digest(tiny_read)) != TINY_SEED0_SHA256
    assert '"condition": "read"' in (tmp_path / "again" / "generated.json").read_text()


# The tiny read corpus (seed 0) as generated on the reference machine, as TINY_SEED0_SHA256 pins the clean one
# (and Festival 2.5 from Debian 12 with its voices): long measurements rest on these bytes.
TINY_READ_SEED0_SHA256 = "66cc6c89a0017a91563027b4c155488e0a8f0518c6513f07a7f9385a86c25a5a"


def test_read_condition_bytes_are_the_reference_machines(tiny_read):
    assert _corpus_digest(_digest(tiny_read)) == TINY_READ_SEED0_SHA256


def test_read_labels_are_well_formed_and_words_match(tiny_read):
    for wav in sorted(tiny_read.glob("TRAIN/DR*/*/S*.WAV"))[:30]:
        phn = [line.split() for line in wav.with_suffix(".PHN").read_text().splitlines()]
        assert phn[0][2] == phn[-1][2] == "h#" and {p for _, _, p in phn} <= set(TIMIT61)
        assert all(int(a) < int(b) == int(c) for (a, b, _), (c, _, _) in zip(phn, phn[1:]))
        txt = wav.with_suffix(".TXT").read_text().split()
        words = [line.split() for line in wav.with_suffix(".WRD").read_text().splitlines()]
        assert [w for _, _, w in words] == [w.lower().strip(".,?") for w in txt[2:]]


def test_connected_speech_is_in_the_audio_events_and_the_labels(tmp_path):
    """With every rule on, 'get up' flaps and 'ten boys' assimilates: espeak's events of the audio name the
    realised phones (t#, m) and so does the .PHN (dx, m before the b)."""
    from asrser.synth.connected_speech import RULES, Style

    spk = mini_timit.make_speakers("tiny", 0, "read")[0]
    spk.style = Style(dict.fromkeys(RULES, 1.0))
    spk.style.for_utterance = lambda rng, jitter=0.0: spk.style        # no per-utterance shift
    job = mini_timit.Job(str(tmp_path / "X" / "SI1"), "Get up and take ten boys home.", spk, 7)
    mini_timit._init_worker([spk.voice])
    (phonemes, covered), = mini_timit.connected_speech([job], [np.random.default_rng(7)])
    assert "t#" in phonemes and "t'Em" in phonemes.replace(",", "'"), phonemes
    synthesis = mini_timit._synthesizer.for_voice(spk.voice.name).synthesize(phonemes,
                                                                            voice=f"en-us+{spk.voice.name}")
    events = [p for p, _ in synthesis.phones]
    assert "t#" in events and any(a == "m" and b == "b" for a, b in zip(events, events[1:]))
    mini_timit.synthesize_speaker([job])
    labels = [line.split()[2] for line in (tmp_path / "X" / "SI1.PHN").read_text().splitlines()]
    assert "dx" in labels and any(a == "m" and b == "bcl" for a, b in zip(labels, labels[1:])), labels
    words = [line.split()[2] for line in (tmp_path / "X" / "SI1.WRD").read_text().splitlines()]
    assert words == ["get", "up", "and", "take", "ten", "boys", "home"]


def _speech(seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(seconds * 16000)) / 16000
    return 3000 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 300 * rng.normal(size=len(t))


def test_read_recording_snr_in_range():
    clean = np.concatenate([np.zeros(2000), _speech(), np.zeros(2000)])
    other = np.random.default_rng(99)          # babble sources independent of the speech
    for seed in range(5):
        out, snr = mini_timit.read_recording(clean, 2000, 16000, mini_timit.Recording(tilt=0.0),
                                             np.random.default_rng(seed), [other.normal(size=9000), other.normal(size=7000)])
        x = out.astype(np.float64)
        gain = np.dot(x, clean) / np.dot(clean, clean)
        noise = x / gain - clean
        measured = 10 * np.log10(np.mean(clean[2000:18000] ** 2) / np.mean(noise[2000:18000] ** 2))
        assert mini_timit.SNR_DB[0] <= snr <= mini_timit.SNR_DB[1] and abs(measured - snr) < 1.0


def test_band_limited_speaker_has_no_energy_above_the_cut_off():
    clean = np.concatenate([np.zeros(2000), _speech(), np.zeros(2000)])
    out, _ = mini_timit.read_recording(clean, 2000, 16000, mini_timit.Recording(tilt=0.0, band=(0, 4000)),
                                       np.random.default_rng(0), [])
    spectrum = np.abs(np.fft.rfft(out.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(out), 1 / 16000)
    assert spectrum[freqs > 4300].sum() / spectrum.sum() < 1e-5
    assert spectrum[freqs < 3500].sum() / spectrum.sum() > 0.99


def test_read_speakers_spread_and_unknown_condition():
    speakers = mini_timit.make_speakers("default", 0, "read")
    rates = [s.rate for s in speakers if s.engine == "espeak"]
    assert min(rates) < 135 and max(rates) > 205
    assert any(s.voice.extra for s in speakers if s.voice) and any(s.recording.band != (0, 0) for s in speakers)
    assert any(s.recording.rt60 > 0 for s in speakers)
    with pytest.raises(Exception, match="unknown mini-TIMIT condition"):
        mini_timit.make_speakers("tiny", 0, "noisy")


def test_read_traits_are_dealt_evenly_over_the_speaker_sets():
    """Klatt sources, far rooms and band limits go to the same share of each set (core test, dev, train), so
    that dev and test are equally hard; near speakers are in a small room too."""
    speakers = mini_timit.make_speakers("default", 0, "read")
    spec = mini_timit.SIZES["default"]
    core, dev = speakers[:spec["core"]], speakers[spec["core"]:spec["core"] + spec["dev"]]
    train = [s for s in speakers if s.side == "TRAIN"]
    for group in (core, dev, train):
        n = len(group)
        far = [s for s in group if s.recording.drr_db < mini_timit.NEAR_DRR_DB[0]]
        assert len(far) == round(mini_timit.FAR_SHARE * n)
        assert all(mini_timit.FAR_DRR_DB[0] <= s.recording.drr_db <= mini_timit.FAR_DRR_DB[1] for s in far)
        assert all(s.recording.rt60 > 0 for s in group)
        # Festival speakers take their voice from Festival: the Klatt sources dealt to them are not spoken
        assert sum(bool(s.voice and s.voice.extra) for s in group) <= round(mini_timit.KLATT_SHARE * n)
        assert sum(s.recording.band != (0, 0) for s in group) == round(mini_timit.BAND_SHARE * n)


# -- Festival's speakers in the read condition -------------------------------------------------------------

def test_festival_speaks_a_third_of_the_read_speakers_with_voices_of_their_sex():
    speakers = mini_timit.make_speakers("default", 0, "read")
    spoken = [s for s in speakers if s.engine == "festival"]
    assert 0.25 < len(spoken) / len(speakers) < 0.4
    assert {s.festival.name for s in spoken} == set(festival.VOICES)
    for s in spoken:
        assert s.voice is None and s.style is None and s.recording is not None
        assert s.festival.name in (("cmu_us_slt_arctic_hts",) if s.id[0] == "F" else ("kal_diphone", "ked_diphone"))
        assert (s.festival.f0_std is None) == (s.festival.name in festival.HTS_VOICES)
        assert 0.8 <= s.festival.duration_stretch <= 1.3 and 0.92 <= s.festival.vocal_tract <= 1.1
        assert (150 <= s.festival.f0_mean <= 240) if s.id[0] == "F" else (80 <= s.festival.f0_mean <= 145)
    assert len({round(s.festival.f0_mean) for s in spoken}) > len(spoken) // 2
    # the slow HTS voice reads few enough utterances for the corpus speed (see FESTIVAL_SHARE)
    assert 0 < sum(s.festival.name in festival.HTS_VOICES for s in spoken) / len(speakers) < 0.05
    assert all(s.engine == "espeak" for s in mini_timit.make_speakers("default", 0, "clean"))


def test_festival_speakers_labels_words_and_channel(tiny_read):
    spoken = [s for s in mini_timit.make_speakers("tiny", 0, "read") if s.engine == "festival"]
    assert {s.festival.name for s in spoken} == {"kal_diphone", "ked_diphone"}   # slt: the next test
    for spk in spoken:
        for wav in sorted(tiny_read.glob(f"{spk.side}/DR*/{spk.id}/*.WAV")):
            phn = [line.split() for line in wav.with_suffix(".PHN").read_text().splitlines()]
            n = int(wav.with_suffix(".TXT").read_text().split()[1])
            assert phn[0][:1] == ["0"] and int(phn[-1][1]) == n == (wav.stat().st_size - 1024) // 2
            assert phn[0][2] == phn[-1][2] == "h#" and {p for _, _, p in phn} <= set(TIMIT61)
            assert all(int(a) < int(b) == int(c) for (a, b, _), (c, _, _) in zip(phn, phn[1:]))
            labels = [p for _, _, p in phn]
            assert any(a.endswith("cl") and b in "p t k b d g ch jh".split() for a, b in zip(labels, labels[1:]))
            txt = wav.with_suffix(".TXT").read_text().split()
            words = [line.split() for line in wav.with_suffix(".WRD").read_text().splitlines()]
            assert [w for _, _, w in words] == [w.lower().strip(".,?") for w in txt[2:]]
            assert int(words[0][0]) == int(phn[1][0]) and int(words[-1][1]) == int(phn[-2][1])
            assert all(int(a) < int(b) <= int(c) for (a, b, _), (c, _, _) in zip(words, words[1:]))
            # the channel: noise in the leading h# (Festival's own silence is digital zero)
            lead = np.frombuffer(wav.read_bytes()[1024:1024 + 2 * int(phn[0][1])], "<i2")
            assert np.abs(lead).max() > 0


@needs_festival
def test_festival_words_follow_the_text_and_one_process_serves_a_voice(tmp_path):
    """Festival expands '$5' into five dollars and '2' into two: the .WRD keeps the text's words, each over
    the words Festival spoke for it; a voice's process is started once for all its speakers."""
    spk = next(s for s in mini_timit.make_speakers("tiny", 0, "read") if s.festival
               and s.festival.name == "kal_diphone")
    other = mini_timit.Speaker("MXYZ0", 1, "TRAIN", None, 0, 0, 0, engine="festival", festival=spk.festival,
                               recording=spk.recording)
    texts = ["Ingrid's 2 rings cost $5.", "The yellow fountain, by the bottle."]
    try:
        for k, s in enumerate((spk, other)):
            jobs = [mini_timit.Job(str(tmp_path / s.id / f"SI{k}{n}"), t, s, 11 + n) for n, t in enumerate(texts)]
            assert mini_timit.synthesize_speaker(jobs) == 2
        assert list(mini_timit._festival) == ["kal_diphone"] and mini_timit._festival["kal_diphone"].utterances == 4
    finally:
        mini_timit._close_festival()
    words = [line.split() for line in (tmp_path / spk.id / "SI00.WRD").read_text().splitlines()]
    assert [w for _, _, w in words] == ["ingrid's", "2", "rings", "cost", "$5"]
    phn = [line.split() for line in (tmp_path / spk.id / "SI00.PHN").read_text().splitlines()]
    five = [p for a, b, p in phn if int(words[-1][0]) <= int(a) and int(b) <= int(words[-1][1])]
    assert "f" in five and "z" in five, five          # "five dollars" under the $5
    with pytest.raises(AsrserError, match="Festival spoke no words for"):
        synthesis = festival.FestivalSynthesis(np.zeros(10, np.int16), [], [("cost", 0, 5)], [0])
        mini_timit.festival_words("Ingrid cost.", synthesis, [], 0)


def test_a_read_corpus_without_festival_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(festival, "available", lambda voice=None: False)
    with pytest.raises(AsrserError, match="needs Festival voices .*festvox"):
        mini_timit.generate(tmp_path, "tiny", seed=0, nj=1, progress=False, condition="read")
    assert not (tmp_path / "TIMIT").exists()


@needs_festival
def test_an_hts_speaker_gives_the_same_bytes_in_any_process_and_order(tmp_path):
    """The tiny corpus has no slt speaker: one of the default plan's, made in a process that already spoke
    another voice and its own sentences in another order, and alone in a fresh one, gives the same files."""
    jobs = mini_timit.plan_corpus(tmp_path, "default", 0, "read")
    hts = [j for j in jobs if j.speaker.festival and j.speaker.festival.name in festival.HTS_VOICES][:3]
    male = [j for j in jobs if j.speaker.festival and j.speaker.festival.name == "kal_diphone"][:2]
    assert hts[0].speaker.id[0] == "F" and hts[0].speaker.festival.f0_std is None
    for name, groups in (("after", [male, hts[::-1], hts]), ("alone", [hts])):
        try:
            for group in groups:
                for job in group:
                    job.path = str(tmp_path / name / job.speaker.id / Path(job.path).name)
                mini_timit.synthesize_speaker(group)
        finally:
            mini_timit._close_festival()
    made = [{p.name: p.read_bytes() for p in (tmp_path / name / hts[0].speaker.id).iterdir()}
            for name in ("after", "alone")]
    assert made[0] == made[1] and len(made[1]) == 12


def test_full_size_voices_exceed_one_espeak_data_dir_and_each_part_speaks(tmp_path):
    """The full-size read plan has more voice variants than one espeak-ng data dir holds: they are dealt to
    servers in parts, and a speaker of the last part (whose voice the first server does not have) speaks."""
    jobs = mini_timit.plan_corpus(tmp_path, "full", 0, "read")
    voices = sorted({j.speaker.voice.name: j.speaker.voice for j in jobs if j.speaker.voice}.values(),
                    key=lambda v: v.name)
    assert len(voices) > espeak.MAX_VARIANTS
    pool = espeak.PartitionedSynthesizer(voices)
    assert [v for part in pool._parts for v in part] == voices
    assert all(len(part) <= espeak.MAX_VARIANTS for part in pool._parts) and len(pool._parts) == 2
    last = next(j for j in jobs if j.speaker.voice and j.speaker.voice.name == voices[-1].name
                and not j.speaker.festival)
    group = [j for j in jobs if j.speaker.id == last.speaker.id][:2]
    mini_timit._init_worker(voices)
    try:
        assert mini_timit.synthesize_speaker(group) == 2
        assert list(mini_timit._synthesizer._servers) == [1]      # only the part that holds the voice started
    finally:
        mini_timit._synthesizer.close()
    assert Path(group[1].path).with_suffix(".PHN").read_text().count("\n") > 5
    with pytest.raises(AsrserError, match="not among the"):
        pool.for_voice("no-such-variant")
