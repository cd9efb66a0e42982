"""Small file helpers shared by every stage: atomic writes, Kaldi tables, completion stamps."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from .errors import DataError


def temp_name(path: str | os.PathLike) -> Path:
    """The temporary sibling a file is written to before it is renamed into place."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Open `path` for writing so that readers see either the old file or the complete new one.

    The data go to a temporary sibling that is renamed over `path` only when the block ends without
    an exception; on an exception the temporary file is removed. (No fsync: this guards against killed
    processes, as Kaldi's tools do, not against power loss; syncing every small file costs more than it saves.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    kwargs = {} if "b" in mode else {"encoding": encoding}
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def text_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """(line_number, line) of a UTF-8 text file. A missing file, or bytes that are not UTF-8, are a DataError
    naming the file (and the line), not a traceback."""
    path = Path(path)
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    with f:
        try:
            yield from enumerate(f, 1)
        except UnicodeDecodeError:
            raise _not_utf8(path) from None


def _not_utf8(path: Path) -> DataError:
    """The error for a file that failed to decode, at its first line that is not UTF-8."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return DataError(path, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                                       "convert the file to UTF-8, e.g. with iconv", n)
    return DataError(path, "not UTF-8 text")


def read_table(path: str | os.PathLike, min_fields: int = 2, max_fields: int | None = None,
               ) -> Iterator[tuple[int, list[str]]]:
    """Yield (line_number, fields) for each line of a Kaldi-style whitespace table.

    Raises DataError naming the file and line for a line with too few or too many fields.
    """
    for n, line in text_lines(path):
        fields = line.split()
        if len(fields) < min_fields or (max_fields is not None and len(fields) > max_fields):
            expect = (f"{min_fields}" if max_fields == min_fields else
                      f"at least {min_fields}" if max_fields is None else f"{min_fields}-{max_fields}")
            raise DataError(path, f"expected {expect} fields, found {len(fields)}: {line.rstrip()!r}", n)
        yield n, fields


PhoneSegments = list[tuple[str, float, float]]      # [(phone, start, end)] in seconds


def read_ctm(path: str | os.PathLike) -> dict[str, PhoneSegments]:
    """CTM `utt channel start duration phone` -> {utt: [(phone, start, end)]} in seconds."""
    segments: dict[str, PhoneSegments] = {}
    for n, fields in read_table(path, min_fields=5, max_fields=6):
        try:
            start, dur = float(fields[2]), float(fields[3])
        except ValueError:
            raise DataError(path, f"start/duration are not numbers: {' '.join(fields)}", n) from None
        segments.setdefault(fields[0], []).append((fields[4], start, start + dur))
    return segments


def write_ctm(segments: dict[str, PhoneSegments], path: str | os.PathLike) -> None:
    """{utt: [(phone, start, end)]} -> CTM `utt 1 start duration phone`, in the given utterance order."""
    with atomic_write(path) as f:
        for utt, segs in segments.items():
            for phone, start, end in segs:
                f.write(f"{utt} 1 {start:.4f} {end - start:.4f} {phone}\n")


def read_key_value(path: str | os.PathLike) -> dict[str, str]:
    """Read a table of `key rest-of-line` (utt2spk, wav.scp, text, ...) into an ordered dict.

    Duplicate keys are an error naming both lines.
    """
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for n, line in text_lines(path):
        line = line.rstrip("\n")
        if not line.strip():
            raise DataError(path, "empty line", n)
        key, *rest = line.split(maxsplit=1)
        if key in table:
            raise DataError(path, f"duplicate key {key!r} (first on line {first_line[key]})", n)
        table[key] = rest[0].strip() if rest else ""
        first_line[key] = n
    return table


def write_key_value(path: str | os.PathLike, table: dict[str, str] | Iterable[tuple[str, str]],
                    sort: bool = True) -> None:
    """Write `key value` lines atomically, sorted by key in C order unless told otherwise."""
    items = list(table.items()) if isinstance(table, dict) else list(table)
    if sort:
        items.sort(key=lambda kv: kv[0])
    with atomic_write(path) as f:
        for key, value in items:
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")


def read_yaml(path: str | os.PathLike, what: str = "config") -> dict:
    """A YAML file holding a mapping (an empty file is {}); missing, malformed or not a mapping is a DataError
    naming the file, and the line for a syntax error, instead of a traceback."""
    import yaml

    if not Path(path).is_file():
        raise DataError(path, f"{what} does not exist")
    try:
        doc = yaml.safe_load("".join(line for _, line in text_lines(path)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DataError(path, f"not valid YAML: {getattr(e, 'problem', None) or e}",
                        mark.line + 1 if mark is not None else None) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DataError(path, f"{what} must be a mapping of names to values, found {type(doc).__name__}")
    return doc


def read_matrix(rxspec: str, source: str | os.PathLike, key: str | None = None, what: str = "utterance"):
    """kaldiio.load_mat(rxspec) (an `ark:offset` of an scp, or a matrix file) as a numpy array.

    `source` is the table that lists it (feats.scp, cmvn.scp) or the file itself, `key` the utterance (or
    speaker: what="speaker") it is listed under: a missing, truncated or corrupt file is a DataError naming
    both instead of a traceback.
    """
    import kaldiio

    who = f"{what} {key}: " if key is not None else ""
    try:
        return kaldiio.load_mat(rxspec)
    except FileNotFoundError as e:
        missing = str(e.filename or rxspec)
        raise DataError(source, "file does not exist" if not who and missing == str(source) else
                        f"{who}{missing} does not exist") from None
    except (OSError, ValueError, RuntimeError, EOFError) as e:
        reason = str(e).strip().splitlines()[0][:100] if str(e).strip() else type(e).__name__
        raise DataError(source, f"{who}cannot read {rxspec} (truncated, or not a Kaldi ark): {reason}") from None


def file_digest(*paths: str | os.PathLike) -> str:
    """SHA-256 over the contents of the given files (missing files count as empty)."""
    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(str(p.name).encode())
        if p.exists():
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


class Stamp:
    """A completion marker: a stage is done when its stamp exists and records the same inputs.

    The record holds digests of input files and the stage's parameters, so changing either makes
    the stage run again, while re-running an unchanged stage does no work.
    """

    def __init__(self, path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), **params):
        self.path = Path(path)
        self.record = {"inputs": {str(p): file_digest(p) for p in inputs},
                       "params": json.loads(json.dumps(params, default=str, sort_keys=True))}

    def is_current(self) -> bool:
        try:
            return json.loads(self.path.read_text()) == self.record
        except (FileNotFoundError, json.JSONDecodeError):
            return False

    def write(self) -> None:
        with atomic_write(self.path) as f:
            json.dump(self.record, f, indent=1, sort_keys=True)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def check_generated_dir(out_dir: str | os.PathLike, what: str, **params) -> None:
    """Claim out_dir for a generator run with params, or check that it was made with the same ones.

    Generators resume by keeping finished files; without this record, a run with another seed or size in the
    same directory would silently mix two corpora. The record is <out_dir>/generated.json."""
    from .errors import AsrserError

    record = Path(out_dir) / "generated.json"
    wanted = {"what": what, **json.loads(json.dumps(params, sort_keys=True))}
    if record.exists():
        try:
            found = json.loads(record.read_text())
        except json.JSONDecodeError:
            raise DataError(record, "not a generation record (JSON)") from None
        if found != wanted:
            changed = ", ".join(f"{k} {found.get(k)!r} -> {v!r}" for k, v in wanted.items() if found.get(k) != v)
            raise AsrserError(f"{out_dir} holds a {found.get('what', 'corpus')} made with other settings "
                              f"({changed}); remove it or generate into another directory")
        return
    with atomic_write(record) as f:
        json.dump(wanted, f, indent=1, sort_keys=True)


@contextlib.contextmanager
def captured_native_stderr() -> Iterator[list[str]]:
    """Collect what C/C++ code writes to file descriptor 2 (e.g. kaldilm's per-section info lines) instead of
    letting it flood the logs; the lines are in the yielded list after the block."""
    import sys
    import tempfile

    sys.stderr.flush()
    lines: list[str] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines += sink.read().decode(errors="replace").splitlines()
