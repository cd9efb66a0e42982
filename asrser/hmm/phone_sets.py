"""What the HMM side needs of a lang's phone structure beyond asrser.lang.Lang (whose word_boundary, base_phone,
sets, roots and extra_questions read phones/*.int): base phones where only phone names are at hand (the
phones.txt beside a model, scoring), the check of phones/sets.int against a topology, and
phones/context_indep.int.
"""

from __future__ import annotations

from ..errors import DataError
from ..fileio import read_table
from ..lang import POSITION_SUFFIXES, Lang


def base_phone(phone: str) -> str:
    """A phone name without its word-position suffix (AA_B -> AA, SIL_S -> SIL; sil -> sil). Kaldi forbids the
    suffixes in a dict dir's phone names, so a suffix is always a word position (as Lang.base_phone_name)."""
    if len(phone) > 2 and phone[-2:] in POSITION_SUFFIXES:
        return phone[:-2]
    return phone


def lang_phone_sets(lang: Lang, phones: list[int]) -> list[list[int]]:
    """Lang.sets (phones/sets.int, or one set per phone), each sorted, checked to hold every phone of `phones`
    (the topology's) exactly once, as gmm-init-mono --shared-phones needs."""
    sets = [sorted(s) for s in lang.sets]
    seen = [p for s in sets for p in s]
    if sorted(seen) != sorted(phones):
        missing = sorted(set(phones) - set(seen))
        extra = sorted({p for p in seen if seen.count(p) > 1} | (set(seen) - set(phones)))
        raise DataError(lang.path / "phones/sets.int", f"the sets must hold each phone of the topology once "
                                                       f"(missing {missing}, repeated or unknown {extra})")
    return sets


def context_independent_phones(lang: Lang) -> frozenset[int]:
    """phones/context_indep.int (Kaldi's acc-tree-stats --ci-phones): phones whose context the tree never asks
    about; none when the file is absent."""
    path = lang.path / "phones/context_indep.int"
    if not path.exists():
        return frozenset()
    phones = set()
    for n, fields in read_table(path, 1):
        if not all(f.isdigit() for f in fields):
            raise DataError(path, f"phone ids must be integers: {' '.join(fields)!r}", n)
        phones.update(int(f) for f in fields)
    return frozenset(phones)
