"""The Asterisk PBX voice prompts (Debian's asterisk-core-sounds-en-wav and asterisk-core-sounds-en, CC-BY-SA):
real read speech of one female speaker at 8 kHz, as Kaldi data dirs for word recognition.

Audio: <sounds-dir>/<name>.wav, e.g. /usr/share/asterisk/sounds/en_US_f_Allison/digits/1.wav. Transcripts: the
doc file core-sounds-en.txt.gz, one `name: text` line per prompt (`;` starts a comment line). The text is
written for reading, not as spoken words, so it is normalised (normalise_transcript): bracketed, parenthesised
and angle-bracketed notes are dropped (`[this is a simple beep tone]`, `(simple tone sound plays)`), `#` and
`*` become "pound" and "star", numbers become words ("500" -> "five hundred", "3D" -> "three d"), hyphens
separate words, other punctuation goes (apostrophes inside words stay: "party's"), and the case is lowered,
CMUdict's (asrser.lexicon spells the lexicon as the text does). SPOKEN_FORMS holds the few prompts whose text
is not read as written.

Dropped, each named in <data>/local/asterisk/dropped with its reason and counted in the log: the silence files
(silence/N), prompts with no words once the notes are gone (tones, beeps), transcripts without audio and audio
without a transcript.

The split is prompt-disjoint: the unique normalised texts are shuffled with a seed and the first go to test
until it holds `test_fraction` of the prompts (and at least `min_test`), so no test sentence is seen in
training; prompts with the same text ("invalid", "pbx-invalid") stay together. One speaker; utterance ids are
<speaker>-<name with / and _ as ->, e.g. allison-digits-1. wav.scp names the 8 kHz files as they are: use an
8 kHz feature config (conf/mfcc_8k.conf, conf/fbank_8k.conf) or allow resampling in it.
"""

from __future__ import annotations

import gzip
import logging
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..audio import read_audio, resampled_rxspec
from ..data import write_spk2utt
from ..errors import AsrserError, DataError
from ..fileio import atomic_write, temp_name, write_key_value

log = logging.getLogger(__name__)

SOUNDS_DIR = "/usr/share/asterisk/sounds/en_US_f_Allison"
TRANSCRIPTS = "/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
DEBIAN_PACKAGES = ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en")
# A voice folder's name: language_region_gender_Name (en_US_f_Allison).
VOICE_DIR = re.compile(r"^[a-z]{2}_[A-Z]{2}_(?P<gender>[fm])_(?P<name>[A-Za-z]+)$")

# Prompts whose text is not read as written (the transcript gives a name or a code).
SPOKEN_FORMS = {
    "spy-h323": "h three twenty three",   # H.323, the ITU protocol, is customarily read "H three twenty-three"
}

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
         "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"), (100, "hundred"))
_NOTE = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>")


def number_to_words(n: int) -> str:
    """An integer as English words: 500 -> "five hundred", 21 -> "twenty one" (no "and", as read in prompts)."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in _SCALES:
        if n >= size:
            head, rest = divmod(n, size)
            return f"{number_to_words(head)} {name}" + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError(n)


def normalise_transcript(text: str) -> str:
    """Spoken words of a prompt's written text, lower case, space-separated (empty when it has none)."""
    text = _NOTE.sub(" ", text)
    text = text.replace("#", " pound ").replace("*", " star ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)                      # 1,000 -> 1000
    text = re.sub(r"(\d+)\.(\d+)", lambda m: f"{m.group(1)} point {' '.join(m.group(2))}", text)
    text = re.sub(r"\d+", lambda m: f" {number_to_words(int(m.group()))} ", text)
    text = re.sub(r"(?<![A-Za-z])'|'(?![A-Za-z])", " ", text)            # quotes, not apostrophes
    text = re.sub(r"[^A-Za-z']+", " ", text)
    return " ".join(text.lower().split())


@dataclass
class Prompt:
    name: str               # digits/1
    text: str               # as written in the transcript file
    line: int
    words: str = ""         # normalised
    wav: Path | None = None
    duration: float = 0.0
    sample_rate: int = 0

    def utt_id(self, speaker: str) -> str:
        return f"{speaker}-" + re.sub(r"[/_]", "-", self.name)


def read_transcripts(path: str | os.PathLike) -> dict[str, Prompt]:
    """The `name: text` lines of core-sounds-en.txt(.gz); a line that is not one, or a name given twice, is a
    DataError naming the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"transcript file does not exist (it is in the Debian package {DEBIAN_PACKAGES[1]}; "
                              "a dpkg path-exclude of /usr/share/doc also leaves it out)")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read: {e}") from None
    prompts: dict[str, Prompt] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith(";"):
            continue
        name, sep, text = line.partition(":")
        name = name.strip()
        if not sep or not name or " " in name:
            raise DataError(path, f"expected 'name: text', found {line!r}", n)
        if name in prompts:
            raise DataError(path, f"prompt {name!r} is listed twice (first on line {prompts[name].line})", n)
        prompts[name] = Prompt(name, text.strip(), n)
    if not prompts:
        raise DataError(path, "no prompts listed")
    return prompts


def scan_prompts(sounds_dir: Path, prompts: dict[str, Prompt]) -> tuple[list[Prompt], list[tuple[str, str, str]]]:
    """The usable prompts (with audio, words and duration) and the dropped ones as (name, reason, text)."""
    wavs = {p.relative_to(sounds_dir).with_suffix("").as_posix(): p for p in sorted(sounds_dir.rglob("*.wav"))}
    kept: list[Prompt] = []
    dropped: list[tuple[str, str, str]] = []
    for name, prompt in sorted(prompts.items()):
        prompt.words = normalise_transcript(SPOKEN_FORMS.get(name, prompt.text))
        if name.startswith("silence/"):
            dropped.append((name, "silence", prompt.text))
        elif not prompt.words:
            dropped.append((name, "no-words", prompt.text))
        elif name not in wavs:
            dropped.append((name, "no-audio", prompt.text))
        else:
            prompt.wav = wavs[name].resolve()
            audio = read_audio(str(prompt.wav), name)
            prompt.duration, prompt.sample_rate = audio.duration, audio.sample_rate
            kept.append(prompt)
    for name in sorted(set(wavs) - set(prompts)):
        dropped.append((name, "no-transcript", ""))
    return kept, dropped


def split_by_text(prompts: list[Prompt], test_fraction: float, min_test: int, seed: int
                  ) -> tuple[list[Prompt], list[Prompt]]:
    """(train, test) sharing no normalised text: the unique texts in a seeded random order fill the test set
    until it holds max(test_fraction of the prompts, min_test) prompts."""
    if not 0 < test_fraction < 1:
        raise AsrserError(f"test fraction must be between 0 and 1, got {test_fraction}")
    by_text: dict[str, list[Prompt]] = {}
    for p in sorted(prompts, key=lambda p: p.name):
        by_text.setdefault(p.words, []).append(p)
    texts = sorted(by_text)
    random.Random(seed).shuffle(texts)
    want = max(round(test_fraction * len(prompts)), min_test)
    if want >= len(prompts):
        raise AsrserError(f"cannot hold out {want} test prompts out of {len(prompts)}")
    test_texts: set[str] = set()
    held = 0
    for text in texts:
        if held >= want:
            break
        test_texts.add(text)
        held += len(by_text[text])
    train = [p for t in texts if t not in test_texts for p in by_text[t]]
    test = [p for t in test_texts for p in by_text[t]]
    return sorted(train, key=lambda p: p.name), sorted(test, key=lambda p: p.name)


def write_data_dir(prompts: list[Prompt], out: Path, speaker: str, gender: str, sample_rate: int | None = None
                   ) -> None:
    """wav.scp, text, utt2spk, spk2utt, spk2gender and utt2dur of one set; wav.scp resamples (sox) the audio
    that is not at `sample_rate`, when given."""
    rows = sorted((p.utt_id(speaker), p) for p in prompts)
    out.mkdir(parents=True, exist_ok=True)
    write_key_value(out / "wav.scp", ((u, str(p.wav) if sample_rate in (None, p.sample_rate)
                                       else resampled_rxspec(str(p.wav), sample_rate)) for u, p in rows))
    write_key_value(out / "text", ((u, p.words) for u, p in rows))
    write_key_value(out / "utt2spk", ((u, speaker) for u, _ in rows))
    write_key_value(out / "utt2dur", ((u, f"{p.duration:.4f}") for u, p in rows))
    write_key_value(out / "spk2gender", [(speaker, gender)])
    write_spk2utt(out)


def voice_of(sounds_dir: Path) -> tuple[str, str]:
    """(speaker id, gender) from a voice folder named like en_US_f_Allison: ("allison", "f")."""
    m = VOICE_DIR.match(sounds_dir.name)
    if not m:
        raise AsrserError(f"{sounds_dir}: cannot tell the speaker from the folder name (expected e.g. "
                          "en_US_f_Allison); give the speaker and gender")
    return m["name"].lower(), m["gender"]


def _spoken_prompts(sounds_dir: str | os.PathLike, transcripts: str | os.PathLike, speaker: str | None,
                    gender: str | None) -> tuple[str, str, list, list]:
    """(speaker, gender, the prompts with both audio and words, the dropped ones) of a sounds folder; the voice
    read from the folder where not given."""
    sounds_dir = Path(sounds_dir)
    if not sounds_dir.is_dir():
        raise AsrserError(f"{sounds_dir}: Asterisk sounds folder does not exist (Debian package "
                          f"{DEBIAN_PACKAGES[0]})")
    sounds_dir = sounds_dir.resolve()            # /usr/share/asterisk/sounds/en is a link to the voice folder
    if speaker is None or gender is None:
        found_speaker, found_gender = voice_of(sounds_dir)
        speaker, gender = speaker or found_speaker, gender or found_gender
    kept, dropped = scan_prompts(sounds_dir, read_transcripts(transcripts))
    if not kept:
        raise AsrserError(f"{sounds_dir}: no prompt has both audio and words")
    return speaker, gender, kept, dropped


def prepare_asterisk(data_dir: str | os.PathLike, sounds_dir: str | os.PathLike = SOUNDS_DIR,
                     transcripts: str | os.PathLike = TRANSCRIPTS, test_fraction: float = 0.15, min_test: int = 60,
                     seed: int = 0, speaker: str | None = None, gender: str | None = None) -> dict[str, object]:
    """<data_dir>/train and <data_dir>/test (prompt-disjoint; each replaces an earlier one whole),
    <data_dir>/local/asterisk/{dropped,summary}; returns the counts of the summary."""
    data_dir = Path(data_dir)
    speaker, gender, kept, dropped = _spoken_prompts(sounds_dir, transcripts, speaker, gender)
    train, test = split_by_text(kept, test_fraction, min_test, seed)
    for name, prompts in (("train", train), ("test", test)):
        # A fresh dir replaces the old one whole: features of an earlier split must not survive beside new text.
        out, tmp = data_dir / name, temp_name(data_dir / name)
        shutil.rmtree(tmp, ignore_errors=True)
        write_data_dir(prompts, tmp, speaker, gender)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    reasons: dict[str, int] = {}
    for _, reason, _ in dropped:
        reasons[reason] = reasons.get(reason, 0) + 1
    summary = {"kept": len(kept), "dropped": reasons,
               "train": len(train), "train_minutes": round(sum(p.duration for p in train) / 60, 2),
               "test": len(test), "test_minutes": round(sum(p.duration for p in test) / 60, 2),
               "train_texts": len({p.words for p in train}), "test_texts": len({p.words for p in test})}
    local = data_dir / "local" / "asterisk"
    with atomic_write(local / "dropped") as f:
        f.writelines(f"{name}\t{reason}\t{text}\n" for name, reason, text in dropped)
    with atomic_write(local / "summary") as f:
        f.writelines(f"{key} {value}\n" for key, value in summary.items())
    log.info("%s: %d prompts kept, %d dropped (%s; listed in %s); train %d prompts (%.2f min), test %d prompts "
             "(%.2f min), no text shared", data_dir, len(kept), len(dropped),
             ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())), local / "dropped", len(train),
             summary["train_minutes"], len(test), summary["test_minutes"])
    return summary


def prepare_asterisk_phone_test(out_dir: str | os.PathLike, sounds_dir: str | os.PathLike = SOUNDS_DIR,
                                transcripts: str | os.PathLike = TRANSCRIPTS, max_prompts: int | None = None,
                                speaker: str | None = None, gender: str | None = None,
                                g2p: str = "espeak", sample_rate: int | None = None) -> dict[str, object]:
    """One data dir <out_dir> of every spoken prompt (or `max_prompts` of them, evenly spaced in name order) as
    a phone recognition test set: `text` holds TIMIT 39-phone references from the dictionary
    (asrser.lexicon.phone_references: CMUdict, G2P for the words it lacks), `text.words` the normalised words,
    oov_report.txt the words CMUdict lacks. With `sample_rate`, wav.scp resamples the 8 kHz audio to it (for
    models trained at 16 kHz). Replaces an earlier dir whole; returns counts."""
    from ..lexicon import phone_references, write_oov_report

    out_dir = Path(out_dir)
    speaker, gender, kept, dropped = _spoken_prompts(sounds_dir, transcripts, speaker, gender)
    if max_prompts is not None and max_prompts < len(kept):
        step = len(kept) / max_prompts
        kept = [kept[int(i * step)] for i in range(max_prompts)]
    refs, lexicon = phone_references({p.utt_id(speaker): p.words for p in kept}, g2p)
    tmp = temp_name(out_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    write_data_dir(kept, tmp, speaker, gender, sample_rate)
    os.replace(tmp / "text", tmp / "text.words")
    write_key_value(tmp / "text", ((u, " ".join(refs[u])) for u in sorted(refs)))
    write_oov_report(lexicon, tmp / "oov_report.txt")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    words = sum(len(p.words.split()) for p in kept)
    oov_tokens = sum(e.count for e in lexicon.oov.values())
    summary = {"prompts": len(kept), "dropped": len(dropped), "minutes": round(sum(p.duration for p in kept) / 60, 2),
               "words": words, "oov_words": len(lexicon.oov), "oov_tokens": oov_tokens,
               "phones": sum(len(r) for r in refs.values())}
    log.info("%s: %d prompts (%.2f min, %d words, %d not in CMUdict: %d tokens by G2P), %d phones in the "
             "39-phone references", out_dir, len(kept), summary["minutes"], words, len(lexicon.oov), oov_tokens,
             summary["phones"])
    return summary


__all__ = ["prepare_asterisk", "prepare_asterisk_phone_test", "normalise_transcript", "number_to_words", "read_transcripts", "split_by_text",
           "SOUNDS_DIR", "TRANSCRIPTS", "DEBIAN_PACKAGES", "SPOKEN_FORMS"]
