"""TIMIT phone sets and the standard folding (Lee & Hon 1989, as in Kaldi's egs/timit):
61 labels -> 48 for training (q deleted) -> 39 for scoring."""

from __future__ import annotations

TIMIT61 = (
    "b d g p t k dx q jh ch s sh z zh f th v dh m n ng em en eng nx l r w y hh hv el "
    "iy ih eh ey ae aa aw ay ah ao oy ow uh uw ux er ax ix axr ax-h "
    "bcl dcl gcl pcl tcl kcl pau epi h#"
).split()

# 61 -> 48; None means the label is deleted (the glottal stop q).
FOLD_61_TO_48: dict[str, str | None] = {p: p for p in TIMIT61}
FOLD_61_TO_48.update({
    "q": None, "h#": "sil", "pau": "sil", "pcl": "cl", "tcl": "cl", "kcl": "cl", "bcl": "vcl", "dcl": "vcl",
    "gcl": "vcl", "ax-h": "ax", "axr": "er", "em": "m", "eng": "ng", "hv": "hh", "nx": "n", "ux": "uw",
})
PHONES48 = tuple(sorted({p for p in FOLD_61_TO_48.values() if p is not None}))

# 48 -> 39 for scoring; silence-like classes merge into sil.
FOLD_48_TO_39: dict[str, str] = {p: p for p in PHONES48}
FOLD_48_TO_39.update({"ao": "aa", "ax": "ah", "ix": "ih", "el": "l", "en": "n", "zh": "sh",
                      "cl": "sil", "vcl": "sil", "epi": "sil"})
PHONES39 = tuple(sorted(set(FOLD_48_TO_39.values())))
SILENCE48 = "sil"

assert len(TIMIT61) == 61 and len(PHONES48) == 48 and len(PHONES39) == 39


def fold(labels, mapping: dict[str, str | None]) -> list[str]:
    """Map a label sequence, dropping labels that map to None. KeyError names an unknown label."""
    out = []
    for p in labels:
        if p not in mapping:
            raise KeyError(p)
        if mapping[p] is not None:
            out.append(mapping[p])
    return out
