"""Kaldi dictionary directories (data/local/dict), read and checked as Kaldi's utils/validate_dict_dir.pl does.

A dict dir holds:
  silence_phones.txt     silence and noise phones; the phones on one line share a tree root
  optional_silence.txt   the one silence phone the lexicon may put between words
  nonsilence_phones.txt  the real phones; one line per base phone (e.g. its stress or tone variants)
  lexicon.txt            `word phone1 phone2 ...`, or
  lexiconp.txt           `word prob phone1 ...` with pronunciation probabilities 0 < prob <= 1 (wins over
                         lexicon.txt when both exist, as in Kaldi; the two must then agree line by line)
  extra_questions.txt    optional: extra phone sets for the tree's questions
Every problem is a DataError naming the file and the line.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError
from .fileio import read_table

# Words Kaldi reserves in words.txt and G.fst; a lexicon may not define them.
RESERVED_WORDS = ("<eps>", "#0", "<s>", "</s>")
# Kaldi reserves these phone spellings: disambiguation symbols, epsilon and the word-position suffixes.
_BAD_PHONE = re.compile(r"^#|_[BEIS]$|^<eps>$")


@dataclass
class Pronunciation:
    word: str
    prob: float             # 1.0 for lexicon.txt
    phones: list[str]


@dataclass
class DictDir:
    path: Path
    silence: list[list[str]]        # lines of silence_phones.txt
    nonsilence: list[list[str]]     # lines of nonsilence_phones.txt
    optional_silence: str
    lexicon: list[Pronunciation]    # in file order
    lexicon_path: Path              # the file the lexicon came from (lexiconp.txt or lexicon.txt)
    extra_questions: list[list[str]]

    @property
    def words(self) -> set[str]:
        return {p.word for p in self.lexicon}


def _read_phone_lines(path: Path, seen: dict[str, str]) -> list[list[str]]:
    """Lines of a phone list; `seen` maps each phone read so far to where it was read (file:line)."""
    if not path.is_file():
        raise DataError(path, "missing from the dict dir")
    lines = []
    for n, phones in read_table(path, 1):
        for p in phones:
            if _BAD_PHONE.search(p):
                raise DataError(path, f"phone {p!r} has a reserved form (#..., <eps> or a _B/_E/_I/_S suffix)", n)
            if p in seen:
                raise DataError(path, f"phone {p!r} is listed twice (also at {seen[p]})", n)
            seen[p] = f"{path.name}:{n}"
        lines.append(phones)
    if not lines:
        raise DataError(path, "is empty")
    return lines


def _read_lexicon(path: Path, with_probs: bool, phones: set[str]) -> list[Pronunciation]:
    lexicon: list[Pronunciation] = []
    seen: dict[tuple, int] = {}
    for n, fields in read_table(path, 3 if with_probs else 2):
        word, rest = fields[0], fields[1:]
        if word in RESERVED_WORDS:
            raise DataError(path, f"the word {word!r} is reserved (one of {' '.join(RESERVED_WORDS)})", n)
        prob = 1.0
        if with_probs:
            try:
                prob = float(rest[0])
            except ValueError:
                prob = math.nan
            if not 0.0 < prob <= 1.0:       # also catches nan
                raise DataError(path, f"pronunciation probability {rest[0]!r} of {word!r} is not in (0, 1]", n)
            rest = rest[1:]
        unknown = [p for p in rest if p not in phones]
        if unknown:
            raise DataError(path, f"phone {unknown[0]!r} of {word!r} is in neither silence_phones.txt nor "
                                  "nonsilence_phones.txt", n)
        key = (word, prob, tuple(rest))
        if key in seen:
            raise DataError(path, f"repeats line {seen[key]}", n)
        seen[key] = n
        lexicon.append(Pronunciation(word, prob, rest))
    if not lexicon:
        raise DataError(path, "the lexicon is empty")
    return lexicon


def read_dict_dir(path: str | os.PathLike) -> DictDir:
    """Read and check a Kaldi dict dir (see the module docstring)."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(path, "dict dir does not exist")
    seen: dict[str, str] = {}
    silence = _read_phone_lines(path / "silence_phones.txt", seen)
    nonsilence = _read_phone_lines(path / "nonsilence_phones.txt", seen)
    phones = set(seen)
    silence_set = {p for line in silence for p in line}

    opt_path = path / "optional_silence.txt"
    if not opt_path.is_file():
        raise DataError(opt_path, "missing from the dict dir")
    opt = list(read_table(opt_path, 1, 1))
    if len(opt) != 1:
        raise DataError(opt_path, f"expected one line with one phone, found {len(opt)} lines")
    optional_silence = opt[0][1][0]
    if optional_silence not in silence_set:
        raise DataError(opt_path, f"phone {optional_silence!r} is not in silence_phones.txt", opt[0][0])

    plain, with_probs = path / "lexicon.txt", path / "lexiconp.txt"
    if with_probs.is_file():
        lexicon, lexicon_path = _read_lexicon(with_probs, True, phones), with_probs
        if plain.is_file():     # Kaldi's check_lexicon_pair: both must list the same prons in the same order
            other = _read_lexicon(plain, False, phones)
            for n, (a, b) in enumerate(zip(other, lexicon), 1):
                if (a.word, a.phones) != (b.word, b.phones):
                    raise DataError(plain, f"differs from lexiconp.txt:{n} ({b.word} {' '.join(b.phones)})", n)
            if len(other) != len(lexicon):
                raise DataError(plain, f"has {len(other)} pronunciations, lexiconp.txt {len(lexicon)}")
    elif plain.is_file():
        lexicon, lexicon_path = _read_lexicon(plain, False, phones), plain
    else:
        raise DataError(path, "has neither lexicon.txt nor lexiconp.txt")

    extra_questions: list[list[str]] = []
    eq_path = path / "extra_questions.txt"
    if eq_path.is_file() and eq_path.stat().st_size:
        for n, question in read_table(eq_path, 1):
            unknown = [p for p in question if p not in phones]
            if unknown:
                raise DataError(eq_path, f"phone {unknown[0]!r} is in neither silence_phones.txt nor "
                                         "nonsilence_phones.txt", n)
            extra_questions.append(question)
    return DictDir(path, silence, nonsilence, optional_silence, lexicon, lexicon_path, extra_questions)
