"""The Asterisk prompts as Kaldi data dirs: transcript normalisation on hand-written lines, the dropped prompts,
a prompt-disjoint and reproducible split, validated data dirs; and the same on the installed Debian packages."""

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from asrser.audio import read_audio, write_wav
from asrser.corpora.asterisk import (SOUNDS_DIR, TRANSCRIPTS, normalise_transcript, number_to_words,
                                     prepare_asterisk, read_transcripts)
from asrser.data import DataDir, validate_data_dir
from asrser.errors import DataError
from asrser.lexicon import prepare_dict
from helpers import REPO, run_step, synth_speechlike


@pytest.mark.parametrize("written,spoken", [
    ("Please press 1 to mute or unmute yourself, 2 to lock.", "please press one to mute or unmute yourself two to lock"),
    ("press * to toggle pause, press # to enter a new dictation filename",
     "press star to toggle pause press pound to enter a new dictation filename"),
    ("Enter a numeric dictation filename followed by # or just # to exit",
     "enter a numeric dictation filename followed by pound or just pound to exit"),
    ("you can dial 500 to attempt an Inter-Asterisk Exchange or IAX connection",
     "you can dial five hundred to attempt an inter asterisk exchange or iax connection"),
    ("3D audio enabled", "three d audio enabled"),
    ('IAX (note: does not say "2")', "iax"),
    ("When done hang up or press the pound key. (simple tone sound plays)",
     "when done hang up or press the pound key"),
    ("at [@]", "at"),
    ("[this is a simple beep tone]", ""),
    ("<beep ascending>", ""),
    ("(10 seconds of silence)", ""),
    ("This message lasts ...", "this message lasts"),
    ("If you'd like to hear your party's 'greeting'!", "if you'd like to hear your party's greeting"),
    ("the person is not at their desk; I will try", "the person is not at their desk i will try"),
    ("Call-Forward on No Answer.", "call forward on no answer"),
    ("1,250 callers, 2.5 minutes", "one thousand two hundred fifty callers two point five minutes"),
])
def test_transcripts_are_normalised_to_spoken_words(written, spoken):
    assert normalise_transcript(written) == spoken


def test_number_words():
    assert [number_to_words(n) for n in (0, 13, 40, 99, 100, 105, 2000, 1_000_001)] == [
        "zero", "thirteen", "forty", "ninety nine", "one hundred", "one hundred five", "two thousand",
        "one million one"]


TRANSCRIPT_LINES = """; Core Asterisk Sounds in English

agent-pass: Please enter your password followed by the pound key.
beep: [this is a simple beep tone]
digits/1: one
digits/2: two
hello: Hello.
invalid: I am sorry, that's not a valid extension.  Please try again.
pbx-invalid: I am sorry, that's not a valid extension.  Please try again.
letters/at: at [@]
no-file: This prompt has no recording.
silence/1: (1 second of silence)
vm-press: Press
vm-options: Press 1 to record your unavailable message, press 2 to record your busy message
dictate/both_help: press * to toggle pause, press # to enter a new dictation filename
"""


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    """A hand-written transcript file (gzipped, as Debian ships it) and 8 kHz wav files in the package layout:
    a silence file, a note-only prompt, a transcript without audio and a recording without a transcript."""
    sounds = tmp_path / "en_US_f_Allison"
    names = [line.split(":")[0] for line in TRANSCRIPT_LINES.splitlines() if line and not line.startswith(";")]
    for i, name in enumerate(n for n in names if n != "no-file"):
        (sounds / name).parent.mkdir(parents=True, exist_ok=True)
        write_wav(sounds / f"{name}.wav", synth_speechlike(0.5 + 0.1 * i, seed=i, rate=8000), 8000)
    write_wav(sounds / "extra-recording.wav", synth_speechlike(0.5, seed=99, rate=8000), 8000)
    transcripts = tmp_path / "core-sounds-en.txt.gz"
    with gzip.open(transcripts, "wt") as f:
        f.write(TRANSCRIPT_LINES)
    return sounds, transcripts


def texts(data: Path) -> set[str]:
    return set(DataDir(data).table("text").values())


def test_prepare_asterisk_drops_named_prompts_and_splits_by_text(corpus, tmp_path):
    sounds, transcripts = corpus
    summary = prepare_asterisk(tmp_path / "data", sounds, transcripts, test_fraction=0.3, min_test=2, seed=1)
    assert summary["dropped"] == {"silence": 1, "no-words": 1, "no-audio": 1, "no-transcript": 1}
    assert (tmp_path / "data/local/asterisk/dropped").read_text().splitlines() == [
        "beep\tno-words\t[this is a simple beep tone]",
        "no-file\tno-audio\tThis prompt has no recording.",
        "silence/1\tsilence\t(1 second of silence)",
        "extra-recording\tno-transcript\t",
    ]
    train, test = tmp_path / "data/train", tmp_path / "data/test"
    assert summary["kept"] == 10 and summary["train"] + summary["test"] == 10 and summary["test"] >= 3
    for data in (train, test):
        assert validate_data_dir(data) == []
        assert DataDir(data).table("spk2gender") == {"allison": "f"}
    assert not texts(train) & texts(test)                      # prompt-disjoint
    both = {**DataDir(train).table("text"), **DataDir(test).table("text")}
    assert both["allison-dictate-both-help"] == "press star to toggle pause press pound to enter a new dictation filename"
    assert both["allison-letters-at"] == "at"
    # Prompts with the same text are on the same side.
    same_side = [u in DataDir(test).utts for u in ("allison-invalid", "allison-pbx-invalid")]
    assert same_side[0] == same_side[1]
    wav = DataDir(test).table("wav.scp")
    utt = next(iter(wav))
    assert read_audio(wav[utt]).sample_rate == 8000            # the files as they are, no resampling pipe
    assert sounds.resolve() in Path(wav[utt]).parents
    minutes = sum(float(d) for d in DataDir(test).table("utt2dur").values()) / 60
    assert summary["test_minutes"] == round(minutes, 2)


def test_the_split_is_reproducible_and_follows_the_seed(corpus, tmp_path):
    sounds, transcripts = corpus
    splits = []
    for run, seed in (("a", 1), ("b", 1), ("c", 2), ("d", 3), ("e", 4)):
        prepare_asterisk(tmp_path / run, sounds, transcripts, test_fraction=0.3, min_test=2, seed=seed)
        splits.append((tmp_path / run / "test/text").read_text())
    assert splits[0] == splits[1]
    assert len(set(splits)) > 1
    # Preparing again replaces the data dirs whole: nothing of the earlier split (its features) stays.
    (tmp_path / "a/test/feats.scp").write_text("stale\n")
    prepare_asterisk(tmp_path / "a", sounds, transcripts, test_fraction=0.3, min_test=2, seed=2)
    assert (tmp_path / "a/test/text").read_text() == splits[2]
    assert not (tmp_path / "a/test/feats.scp").exists()


def test_bad_transcript_lines_are_named(tmp_path):
    bad = tmp_path / "t.txt"
    bad.write_text("hello: Hello.\nthis line has no name\n")
    with pytest.raises(DataError, match=rf"{bad}:2: expected 'name: text'"):
        read_transcripts(bad)
    bad.write_text("hello: Hello.\nhello: Hello again.\n")
    with pytest.raises(DataError, match=rf"{bad}:2: prompt 'hello' is listed twice \(first on line 1\)"):
        read_transcripts(bad)
    with pytest.raises(DataError, match="transcript file does not exist .*asterisk-core-sounds-en"):
        read_transcripts(tmp_path / "missing.txt.gz")


installed = pytest.mark.skipif(not (Path(SOUNDS_DIR).is_dir() and Path(TRANSCRIPTS).is_file()),
                               reason="the Debian packages asterisk-core-sounds-en-wav and asterisk-core-sounds-en "
                                      "are not installed")


@installed
def test_the_installed_asterisk_prompts(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "local/asterisk_data_prep.py"), "--seed", "0",
                           str(tmp_path / "data")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "551 prompts kept, 18 dropped (no-audio 1, no-words 7, silence 10" in proc.stderr
    train, test = tmp_path / "data/train", tmp_path / "data/test"
    for data in (train, test):
        assert run_step("validate_data_dir.py", data).returncode == 0
    n_train, n_test = len(DataDir(train).utts), len(DataDir(test).utts)
    assert n_train + n_test == 551 and n_test >= 60
    assert not texts(train) & texts(test)
    minutes = sum(float(d) for data in (train, test) for d in DataDir(data).table("utt2dur").values()) / 60
    assert 23 < minutes < 26
    lexicon = prepare_dict([train / "text", test / "text"], tmp_path / "dict")
    assert not lexicon.unk_words
    assert {"umute", "fourtieth", "pbx"} <= set(lexicon.g2p_words)


def test_phone_test_set_holds_every_prompt_with_39_phone_references(corpus, tmp_path):
    from asrser.corpora.asterisk import prepare_asterisk_phone_test
    from asrser.fileio import read_key_value

    sounds, transcripts = corpus
    summary = prepare_asterisk_phone_test(tmp_path / "asterisk", sounds, transcripts, g2p="none")
    data = tmp_path / "asterisk"
    assert summary["prompts"] == 10 and validate_data_dir(data) == []
    words = read_key_value(data / "text.words")
    assert words["allison-hello"] == "hello"
    refs = DataDir(data).table("text")
    assert refs["allison-hello"] == "sil hh ah l ow sil"                   # CMUdict's first: HH AH0 L OW1
    assert refs["allison-digits-2"] == "sil t uw sil"                      # T UW1: the stop after its closure
    assert set(refs) == set(words)
    # evenly spaced subset; resampled audio in wav.scp reads at the rate asked for
    prepare_asterisk_phone_test(tmp_path / "few", sounds, transcripts, max_prompts=3, g2p="none", sample_rate=16000)
    few = DataDir(tmp_path / "few")
    assert len(few.utts) == 3 and set(few.table("text").items()) <= set(refs.items())
    spec = next(iter(few.table("wav.scp").values()))
    assert read_audio(spec).sample_rate == 16000


@installed
def test_the_installed_prompts_as_a_phone_test_set(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "local/asterisk_data_prep.py"), "--phone-test",
                           str(tmp_path / "asterisk")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = DataDir(tmp_path / "asterisk")
    assert len(data.utts) == 551
    phones = {p for line in data.table("text").values() for p in line.split()}
    assert "sil" in phones and phones <= set(
        "aa ae ah aw ay b ch d dh dx eh er ey f g hh ih iy jh k l m n ng ow oy p r s sh sil t th uh uw v w y z".split())
