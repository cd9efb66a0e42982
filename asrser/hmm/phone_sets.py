"""The phone tables of a lang dir that tie phones together, as Kaldi's utils/prepare_lang.sh writes them:
word-position-dependent phones (AA_B AA_I AA_E AA_S) and their base phone, phones/sets.int (the phones that
share a monophone model), phones/roots.int (the roots of the phonetic tree), phones/extra_questions.int and
phones/word_boundary.int.

A lang without position-dependent phones (phone-as-word TIMIT) has one phone per set: every phone is its own
base phone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..fileio import read_table

WORD_POSITION_SUFFIXES = ("_B", "_I", "_E", "_S")     # begin, internal, end, singleton (prepare_lang.sh)
WORD_BOUNDARY_KINDS = ("nonword", "begin", "end", "internal", "singleton")


def base_phone(phone: str) -> str:
    """The phone without its word-position suffix (AA_B -> AA, SIL_S -> SIL; sil -> sil)."""
    if len(phone) > 2 and phone[-2:] in WORD_POSITION_SUFFIXES:
        return phone[:-2]
    return phone


def base_phone_names(id2phone: dict[int, str]) -> dict[int, str]:
    """Per phone id its base phone's name."""
    return {i: base_phone(p) for i, p in id2phone.items()}


def read_int_sets(path: str | os.PathLike) -> list[list[int]]:
    """sets.int / extra_questions.int: one set of phone ids per line (an empty file: no sets)."""
    sets = []
    for n, fields in read_table(path, 1):
        try:
            sets.append([int(f) for f in fields])
        except ValueError:
            raise DataError(path, f"phone ids must be integers: {' '.join(fields)!r}", n) from None
    return sets


@dataclass(frozen=True)
class TreeRoot:
    """A line of roots.int: phones sharing one root; `shared`: their pdf-classes share it too (the tree may
    ask about the pdf-class), else one root per pdf-class; `split`: the tree may split the root."""
    phones: tuple[int, ...]
    shared: bool
    split: bool


def read_roots(path: str | os.PathLike) -> list[TreeRoot]:
    """roots.int: `{shared|not-shared} {split|not-split} <phone-id>...` per line."""
    roots = []
    for n, fields in read_table(path, 3):
        shared, split = fields[0], fields[1]
        if shared not in ("shared", "not-shared") or split not in ("split", "not-split"):
            raise DataError(path, f"expected '{{shared|not-shared}} {{split|not-split}} phones...', found "
                                  f"{' '.join(fields)!r}", n)
        try:
            phones = tuple(int(f) for f in fields[2:])
        except ValueError:
            raise DataError(path, f"phone ids must be integers: {' '.join(fields[2:])!r}", n) from None
        roots.append(TreeRoot(phones, shared == "shared", split == "split"))
    return roots


def read_word_boundary(path: str | os.PathLike) -> dict[int, str]:
    """word_boundary.int: `<phone-id> {nonword|begin|end|internal|singleton}` per line."""
    table = {}
    for n, (phone, kind) in read_table(path, 2, 2):
        if kind not in WORD_BOUNDARY_KINDS or not phone.isdigit():
            raise DataError(path, f"expected '<phone-id> {'|'.join(WORD_BOUNDARY_KINDS)}', found {phone} {kind}", n)
        table[int(phone)] = kind
    return table


def lang_phone_sets(lang_dir: str | os.PathLike, phones: list[int]) -> list[list[int]]:
    """phones/sets.int of a lang dir (each set sorted), or one set per phone when the lang has none; every
    phone of `phones` (the topology's) must be in exactly one set."""
    path = Path(lang_dir) / "phones/sets.int"
    sets = [sorted(s) for s in read_int_sets(path)] if path.exists() else [[p] for p in phones]
    seen = [p for s in sets for p in s]
    if sorted(seen) != sorted(phones):
        missing = sorted(set(phones) - set(seen))
        extra = sorted({p for p in seen if seen.count(p) > 1} | (set(seen) - set(phones)))
        raise DataError(path, f"the sets must hold each phone of the topology once (missing {missing}, "
                              f"repeated or unknown {extra})")
    return sets
