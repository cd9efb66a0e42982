"""The emotion classes of an SER experiment, taken from the data: the codes of a data dir's utt2emo, optionally
passed through a class map, sorted.

A class map (e.g. conf/iemocap_emotions.map) has one `code class` line per emotion code of the corpus:
`exc hap` merges exc into hap, `neu neu` keeps a code as it is, `xxx -` drops the utterances labelled xxx;
`#` starts a comment. With a map, every code in utt2emo must be listed (a code it does not cover is an error
naming utt2emo's line, not a silently dropped class); without one, every code is its own class.

The folds stage writes the result once to the folds dir (classes.txt: one class a line, in order; utt2emo:
the mapped label of every kept utterance), and every later step reads it from there: frame targets, the nets'
output size, the baseline, the metrics and the reports.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import AsrserError, DataError
from ..fileio import atomic_write, read_key_value, text_lines, write_key_value

SILENCE = "sil"          # the frame-level nets' extra class, after the emotions
DROP = "-"               # a class map's target that leaves the code's utterances out
CLASSES_FILE = "classes.txt"
LABELS_FILE = "utt2emo"


def read_class_map(path: str | os.PathLike) -> dict[str, str | None]:
    """code -> class (None: drop) of a class-map file; a malformed or repeated line is an error naming it."""
    mapping: dict[str, str | None] = {}
    where: dict[str, int] = {}
    for n, line in text_lines(path):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(path, f"expected 'CODE CLASS' (or 'CODE {DROP}' to drop it), got {' '.join(fields)!r}", n)
        code, target = fields
        if code in mapping:
            raise DataError(path, f"emotion code {code!r} is mapped twice (first on line {where[code]})", n)
        if target == SILENCE:
            raise DataError(path, f"{code!r} is mapped to {SILENCE!r}, the name of the nets' silence class", n)
        mapping[code], where[code] = (None if target == DROP else target), n
    if not any(mapping.values()):
        raise DataError(path, "the class map keeps no class")
    return mapping


def mapped_labels(utt2emo: str | os.PathLike, class_map: str | os.PathLike | None = None) -> dict[str, str]:
    """utt -> class of every utterance of `utt2emo` the class map keeps (all of them without a map)."""
    mapping = read_class_map(class_map) if class_map else None
    lines: dict[str, int] = {}
    codes = read_key_value(utt2emo, lines)
    labels = {}
    for utt, code in codes.items():
        if not code or len(code.split()) != 1:
            raise DataError(utt2emo, f"{utt} needs one emotion code, got {code!r}", lines[utt])
        if mapping is None:
            if code in (SILENCE, DROP):
                raise DataError(utt2emo, f"{utt}: {code!r} cannot be an emotion class (map it with a class map)",
                                lines[utt])
            labels[utt] = code
        elif code not in mapping:
            raise DataError(utt2emo, f"{utt} has emotion code {code!r}, which the class map {class_map} does not "
                                     f"list (it maps {' '.join(mapping)}; add '{code} CLASS' or '{code} {DROP}')",
                            lines[utt])
        elif mapping[code] is not None:
            labels[utt] = mapping[code]
    classes = class_list(labels)
    if len(classes) < 2:
        mapped = f" (mapped by {class_map})" if class_map else ""
        raise DataError(utt2emo, f"SER needs at least 2 emotion classes, the data{mapped} has {len(classes)} "
                                 f"({' '.join(classes)})")
    return labels


def class_list(labels: dict[str, str]) -> tuple[str, ...]:
    """The classes of utt -> class labels, sorted."""
    return tuple(sorted(set(labels.values())))


def frame_classes(classes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The frame-level nets' classes: the emotions, then silence (its index is len(classes))."""
    return (*classes, SILENCE)


def write_classes(folds_dir: str | os.PathLike, labels: dict[str, str]) -> tuple[str, ...]:
    """<folds_dir>/classes.txt and <folds_dir>/utt2emo (the mapped labels); returns the classes."""
    folds_dir = Path(folds_dir)
    folds_dir.mkdir(parents=True, exist_ok=True)
    classes = class_list(labels)
    write_key_value(folds_dir / LABELS_FILE, labels)
    with atomic_write(folds_dir / CLASSES_FILE) as f:
        f.write("".join(f"{c}\n" for c in classes))
    return classes


def read_classes(folds_dir: str | os.PathLike) -> tuple[str, ...]:
    """The classes the folds stage wrote to <folds_dir>/classes.txt."""
    path = Path(folds_dir) / CLASSES_FILE
    try:
        classes = tuple(path.read_text(encoding="utf-8").split())
    except FileNotFoundError:
        raise AsrserError(f"{path}: no class list (run the folds stage first)") from None
    if len(classes) < 2 or list(classes) != sorted(set(classes)) or SILENCE in classes:
        raise DataError(path, f"expected at least 2 sorted, distinct classes other than {SILENCE!r}, got "
                              f"{' '.join(classes)!r}")
    return classes


def read_labels(folds_dir: str | os.PathLike) -> dict[str, str]:
    """utt -> class as the folds stage wrote it (<folds_dir>/utt2emo), checked against classes.txt."""
    classes = set(read_classes(folds_dir))
    path = Path(folds_dir) / LABELS_FILE
    if not path.exists():
        raise AsrserError(f"{path}: no labels (run the folds stage first)")
    lines: dict[str, int] = {}
    labels = read_key_value(path, lines)
    for utt, label in labels.items():
        if label not in classes:
            raise DataError(path, f"{utt} has class {label!r}, not one of {CLASSES_FILE}'s {' '.join(sorted(classes))}",
                            lines[utt])
    return labels
