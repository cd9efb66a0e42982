"""Small file helpers shared by every stage: atomic writes, Kaldi tables, completion stamps, output-dir locks."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

from .errors import AsrserError, DataError

log = logging.getLogger(__name__)


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
               maxsplit: int = -1) -> Iterator[tuple[int, list[str]]]:
    """Yield (line_number, fields) for each line of a Kaldi-style whitespace table (fields split at most
    maxsplit times: 1 keeps the rest of the line after the key as one field).

    Raises DataError naming the file and line for an empty line or a line with too few or too many fields.
    """
    for n, line in text_lines(path):
        fields = line.split(maxsplit=maxsplit)
        if not fields:
            raise DataError(path, "empty line", n)
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


def read_key_value(path: str | os.PathLike, line_numbers: dict[str, int] | None = None) -> dict[str, str]:
    """Read a table of `key rest-of-line` (utt2spk, wav.scp, text, ...) into an ordered dict; each key's line
    number goes into line_numbers when given.

    Duplicate keys are an error naming both lines.
    """
    table: dict[str, str] = {}
    first_line: dict[str, int] = {} if line_numbers is None else line_numbers
    for n, fields in read_table(path, min_fields=1, maxsplit=1):
        key = fields[0]
        if key in table:
            raise DataError(path, f"duplicate key {key!r} (first on line {first_line[key]})", n)
        table[key] = fields[1].strip() if len(fields) > 1 else ""
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


# The version of the formats the stages write. A stamp written under another version is not current, so that an
# exp dir of an earlier release is rebuilt rather than read in a format this one no longer writes (2: models,
# trees, alignments and lattices in Kaldi's formats, where 1 kept models in .npz).
OUTPUT_FORMAT = 2


class Stamp:
    """A completion marker: a stage is done when its stamp exists and records the same inputs.

    The record holds content digests of the input files and the stage's parameters, so changing either makes
    the stage run again, while re-running an unchanged stage does no work. An input `.scp` also stands for
    the files it points to (the arks of feats.scp, the audio of wav.scp), since two feature extractions with
    other options give the same index over other data; `follow_scp=False` digests the index alone (for a
    stage that reads no more, such as splitting a data dir). A file's digest is computed once: the stamp keeps
    each file's size, times and inode beside it and re-hashes only a file whose state has changed.

    The stamp also guards its directory, the stage's output dir. Checking it (is_current) takes the
    directory's exclusive lock for this process until the stamp is written (or the check finds the stage done,
    or the process ends): a second process checking a stamp there is refused with the holder's pid, instead of
    two runs overwriting each other's files. `exclusive=False` leaves the lock to the stage's driver (a job's
    stamp in a directory other jobs of the same stage write to, or a shared cache such as a data dir's split).
    Either way the check removes the temporary files (temp_name) that killed processes left there (with
    exclusive=False, only those of the stamp's own outputs: a job cleans up after its killed predecessor).
    """

    def __init__(self, path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *,
                 follow_scp: bool = True, exclusive: bool = True, **params):
        self.path = Path(path)
        self.exclusive = exclusive
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
                       "params": json.loads(json.dumps(params, default=str, sort_keys=True)),
                       "format": OUTPUT_FORMAT}

    def _read(self, path: Path | None = None) -> dict | None:
        """What a stamp file (default: this one) holds, or None when there is no readable one."""
        try:
            found = json.loads((path or self.path).read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return found if isinstance(found, dict) else None

    def _recorded(self, path: Path | None = None) -> dict | None:
        """The record (inputs and params) in a stamp file (default: this one), without the file states."""
        found = self._read(path)
        return {k: found.get(k) for k in ("inputs", "params", "format")} if found is not None else None

    def is_current(self, *outputs: str | os.PathLike) -> bool:
        """True when the stage is done with these inputs and params (and the given outputs exist). Takes the
        output dir's lock (see above), which stays held when the stage has to run, until write()."""
        self._claim()
        stored = self._read()
        current = (stored is not None and {k: stored.get(k) for k in self.record} == self.record
                   and all(Path(p).exists() for p in outputs))
        if current:
            if stored.get("file_states") != self.file_states:
                self._write(self.path)      # states learnt since (files too new to trust then): no re-hash next time
            release_dir(self.path.parent, self.path.resolve())
        return current

    def _claim(self) -> None:
        if self.exclusive:
            claim_dir(self.path.parent, self.path.resolve())
        else:       # other jobs write beside this one's outputs (.raw_fbank_train.1.done: raw_fbank_train.1.*)
            remove_dead_temp_files(self.path.parent, self.path.name.lstrip(".").rsplit(".", 1)[0] + ".")

    def write(self) -> None:
        self._write(self.path)
        release_dir(self.path.parent, self.path.resolve())

    def _write(self, path: Path) -> None:
        with atomic_write(path) as f:
            json.dump({**self.record, "file_states": self.file_states}, f, indent=1, sort_keys=True)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def changes(self, previous: dict | None) -> list[str]:
        """What differs between a previous record and this one: one phrase per option, then the inputs."""
        if previous is None:
            return ["no record of a previous run"]
        if previous.get("format") != self.record["format"]:
            return [f"written by an earlier release (output format {previous.get('format') or 1}, this release "
                    f"writes {OUTPUT_FORMAT})"]
        before, after = _flatten(previous.get("params") or {}), _flatten(self.record["params"])
        changes = [f"{key} changed from {_short(before[key])} to {_short(after[key])}"
                   for key in sorted(before.keys() & after.keys()) if before[key] != after[key]]
        changes += [f"{key} is new ({_short(after[key])})" for key in sorted(after.keys() - before.keys())]
        changes += [f"{key} is no longer set" for key in sorted(before.keys() - after.keys())]
        old, new = previous.get("inputs") or {}, self.record["inputs"]
        for what, names in (("other contents of", [n for n in new if n in old and old[n] != new[n]]),
                            ("new input", [n for n in new if n not in old]),
                            ("no longer an input", [n for n in old if n not in new])):
            if names:
                more = f" and {len(names) - 3} more" if len(names) > 3 else ""
                changes.append(f"{what} {', '.join(names[:3])}{more}")
        return changes

    def resume_or_start_fresh(self, leftovers: Iterable[str | os.PathLike], keep_interrupted: bool = False) -> None:
        """Before a resumable stage runs: the partial outputs (leftovers) of an earlier run are resumed from
        when that run had this very record, and otherwise removed, with a warning saying what changed. With
        keep_interrupted, the leftovers of a run that did not finish are never removed: a changed record is
        then an error saying what changed (hours of training are not thrown away by a mistyped option).

        The record of the run in progress is kept beside the stamp (train.done -> train.started)."""
        from .errors import AsrserError

        started = self.path.with_suffix(".started")
        previous = self._recorded(started)
        if previous == self.record:
            return
        found = [Path(p) for p in leftovers if Path(p).exists()]
        if found and keep_interrupted and previous is not None and not self.path.exists():
            release_dir(self.path.parent, self.path.resolve())
            raise AsrserError(f"{self.path.parent} holds an interrupted run with other settings "
                              f"({'; '.join(self.changes(previous))}); resuming it would mix the two: run with its "
                              f"settings to finish it, or remove {self.path.parent} to start this one")
        if found:
            log.warning("%s: %s; starting again (removing %d file(s) of the earlier run)", self.path.parent,
                        "; ".join(self.changes(previous)), len(found))
            for p in found:
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        self._write(started)


def _flatten(params: dict, prefix: str = "") -> dict:
    """{"training": {"seed": 1}, "layers": [{"units": 9}]} -> {"training.seed": 1, "layers.1.units": 9}: option
    names as a user finds them in the config (lists of sections numbered from 1, as the network's layers)."""
    flat = {}
    for key, value in params.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            value = {str(i): v for i, v in enumerate(value, 1)}
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# Output-dir locks (see Stamp): {directory: (open lock file, the stamps of this process holding it)}.
LOCK_NAME = ".lock"
_held: dict[Path, tuple[int, set]] = {}


def claim_dir(directory: str | os.PathLike, holder: object = None) -> None:
    """Take the exclusive lock of an output directory for this process, on behalf of `holder` (a stamp path;
    one process may hold it for several); raise AsrserError naming the process that holds it instead.
    Then remove the temporary files that killed processes left in the directory.

    The lock is fcntl.flock on <directory>/.lock: the system drops it when the holding process ends, so a
    killed run never leaves a stale lock behind."""
    given, directory = directory, Path(directory).resolve()
    if directory in _held:
        _held[directory][1].add(holder)
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "pid unknown"
        os.close(fd)
        raise AsrserError(f"{given} is being written by another process ({owner}); two runs on one directory "
                          "would corrupt each other's files: wait for it to finish, or stop it") from None
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}, {program}\n".encode(), 0)
    _held[directory] = (fd, {holder})
    remove_dead_temp_files(directory)


def release_dir(directory: str | os.PathLike, holder: object = None) -> None:
    """Give up `holder`'s claim of a directory; the lock goes when no claim of this process is left."""
    directory = Path(directory).resolve()
    if directory not in _held:
        return
    fd, holders = _held[directory]
    holders.discard(holder)
    if not holders:
        del _held[directory]
        os.close(fd)            # closing the only descriptor drops the flock


_TEMP_NAME = re.compile(r"\..+\.tmp(?P<pid>\d+)(\.[^.]+)?")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:         # someone else's process
        return True
    return True


def remove_dead_temp_files(directory: str | os.PathLike, prefix: str = "") -> list[Path]:
    """Remove the temporary files (temp_name: .<name>.tmp<pid>) in directory whose process no longer runs:
    partial outputs of a killed stage, which can be large (a feature ark). Those of live processes stay.
    With a prefix, only the temporary files of outputs whose names start with it."""
    removed = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry.name)
        if match and entry.name.startswith(f".{prefix}") and not process_alive(int(match["pid"])):
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:      # another cleaner was first
                continue
            removed.append(path)
    if removed:
        log.info("%s: removed %d temporary file(s) left by killed processes: %s", directory, len(removed),
                 ", ".join(p.name for p in removed[:3]) + (" ..." if len(removed) > 3 else ""))
    return removed


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
