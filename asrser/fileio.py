"""Small file helpers shared by every stage: atomic writes, Kaldi tables, completion stamps."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
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


def read_table(path: str | os.PathLike, min_fields: int = 2, max_fields: int | None = None,
               ) -> Iterator[tuple[int, list[str]]]:
    """Yield (line_number, fields) for each line of a Kaldi-style whitespace table.

    Raises DataError naming the file and line for a line with too few or too many fields.
    """
    path = Path(path)
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    with f:
        for n, line in enumerate(f, 1):
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
    path = Path(path)
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    with f:
        for n, line in enumerate(f, 1):
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


_SCP_LOCATION = re.compile(r"(?P<file>.+):\d+(\[[^\]]*\])?")


def scp_files(scp: str | os.PathLike) -> list[Path]:
    """The files a Kaldi .scp points to, in order of first mention: the arks of `utt ark:offset` (feats.scp,
    cmvn.scp, targets.scp) and the files of `utt path` (wav.scp). Commands (`... |`) name no file."""
    files: dict[str, None] = {}
    try:
        f = open(scp, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    with f:
        for line in f:
            fields = line.split(maxsplit=1)
            if len(fields) < 2 or fields[1].rstrip().endswith("|"):
                continue
            location = fields[1].strip()
            match = _SCP_LOCATION.fullmatch(location)
            files.setdefault(match["file"] if match and not os.path.exists(location) else location, None)
    return [Path(name) for name in files]


def _file_state(path: Path) -> list[int] | None:
    """What changes whenever a file's contents do (size, times, inode), or None for a missing file or one
    written too recently to tell a later rewrite within the file system's timestamp resolution apart."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if time.time_ns() - st.st_mtime_ns < 2_000_000_000:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class Stamp:
    """A completion marker: a stage is done when its stamp exists and records the same inputs.

    The record holds content digests of the input files and the stage's parameters, so changing either makes
    the stage run again, while re-running an unchanged stage does no work. An input `.scp` also stands for
    the files it points to (the arks of feats.scp, the audio of wav.scp), since two feature extractions with
    other options give the same index over other data; `follow_scp=False` digests the index alone (for a
    stage that reads no more, such as splitting a data dir). A file's digest is computed once: the stamp keeps
    each file's size, times and inode beside it and re-hashes only a file whose state has changed.
    """

    def __init__(self, path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *,
                 follow_scp: bool = True, **params):
        self.path = Path(path)
        files: dict[str, Path] = {}
        for p in map(Path, inputs):
            files.setdefault(str(p), p)
            if follow_scp and p.suffix == ".scp":
                for target in scp_files(p):
                    files.setdefault(str(target), target)
        known = self._read() or {}
        known_digests, known_states = known.get("inputs", {}), known.get("file_states", {})
        digests, self.file_states = {}, {}
        for name, p in files.items():
            state = _file_state(p)          # before hashing: a file changed meanwhile is hashed again next time
            if state is not None and known_states.get(name) == state and name in known_digests:
                digests[name] = known_digests[name]
            else:
                digests[name] = file_digest(p)
            if state is not None:
                self.file_states[name] = state
        self.record = {"inputs": digests,
                       "params": json.loads(json.dumps(params, default=str, sort_keys=True))}

    def _read(self) -> dict | None:
        """What the stamp file holds, or None when there is no readable one."""
        try:
            found = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return found if isinstance(found, dict) else None

    def is_current(self) -> bool:
        """True when the stage is done with these inputs and params."""
        stored = self._read()
        current = stored is not None and {k: stored.get(k) for k in self.record} == self.record
        if current and stored.get("file_states") != self.file_states:
            self.write()                    # states learnt since (files too new to trust then): no re-hash next time
        return current

    def write(self) -> None:
        with atomic_write(self.path) as f:
            json.dump({**self.record, "file_states": self.file_states}, f, indent=1, sort_keys=True)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


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
