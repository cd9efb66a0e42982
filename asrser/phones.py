"""Phone sets and phone maps read from files, so that a corpus brings its phones as files, not code.

The format is that of Kaldi's egs/timit/s5/conf/phones.60-48-39.map: one row per label of the first set, one
whitespace-separated column per phone set, each later column giving the label's folding into that set. A row
that stops early deletes the label from the sets whose columns it lacks (TIMIT's glottal stop `q`, a row of
its own, maps to nothing). A one-column file is a plain phone list.
"""

from __future__ import annotations

import os

from .errors import AsrserError, DataError
from .fileio import read_table


def _rows(path: str | os.PathLike) -> list[tuple[int, list[str]]]:
    rows = list(read_table(path, min_fields=1))
    if not rows:
        raise DataError(path, "no phones")
    return rows


def read_phone_set(path: str | os.PathLike, column: int = 1) -> list[str]:
    """The distinct labels of a phone-map file's `column` (1-based), sorted."""
    rows = _rows(path)
    if column < 1 or all(len(fields) < column for _, fields in rows):
        raise DataError(path, f"no phone in column {column}")
    return sorted({fields[column - 1] for _, fields in rows if len(fields) >= column})


def read_phone_map(path: str | os.PathLike, source: int = 1, target: int = 2) -> dict[str, str | None]:
    """{label of column `source`: its label in column `target`, None where the row ends before `target`} of
    a phone-map file (columns 1-based). Rows without a `source` label are skipped; one source label with two
    different targets is an error naming the file and line."""
    if source < 1 or target < 1:
        raise AsrserError(f"{path}: phone-map columns are numbered from 1, got {source} and {target}")
    mapping: dict[str, str | None] = {}
    first_line: dict[str, int] = {}
    for n, fields in _rows(path):
        if len(fields) < source:
            continue
        label = fields[source - 1]
        folded = fields[target - 1] if len(fields) >= target else None
        if label in mapping and mapping[label] != folded:
            raise DataError(path, f"{label!r} maps to {folded!r} here but to {mapping[label]!r} on line "
                                  f"{first_line[label]}", n)
        mapping[label] = folded
        first_line.setdefault(label, n)
    if not mapping:
        raise DataError(path, f"no phone in column {source}")
    if all(folded is None for folded in mapping.values()):
        raise DataError(path, f"no phone in column {target}")
    return mapping


def read_scoring_map(path: str | os.PathLike | None, columns: str = "1,2") -> dict[str, str | None] | None:
    """The map that scoring applies (decode.py --phone-map FILE --phone-map-columns FROM,TO, e.g. 2,3 for
    TIMIT's 48 -> 39), or None without a file: phones are scored as they are."""
    if path is None:
        return None
    try:
        source, target = (int(x) for x in columns.split(","))
    except ValueError:
        raise AsrserError(f"--phone-map-columns must be FROM,TO (e.g. 2,3), got {columns!r}") from None
    return read_phone_map(path, source, target)


def scoring_name(phone_map: dict[str, str | None] | None) -> str:
    """The name of a scoring's files: `<n>phn` after a map onto n phones (39phn for TIMIT's 48 -> 39), `phn`
    without one."""
    if not phone_map:
        return "phn"
    return f"{len({p for p in phone_map.values() if p is not None})}phn"
