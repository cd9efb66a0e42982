"""Kaldi data directories.

A data dir holds tables keyed by utterance (wav.scp, text, utt2spk, feats.scp, utt2*, ...) or by speaker
(spk2utt, cmvn.scp, spk2*). Keys are sorted in C order; utterance ids start with their speaker id so that
sorting by utterance also groups speakers. When `segments` exists, wav.scp is keyed by recording instead.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import AsrserError, DataError
from ..fileio import Stamp, read_key_value, write_key_value

log = logging.getLogger(__name__)

SPEAKER_TABLES = ("spk2utt", "cmvn.scp", "spk2gender")
CORPUS_TABLE = "utt2corpus"     # the source corpus of each utterance of a combined data dir
# Files a data dir may hold that are neither utterance- nor speaker-indexed tables.
NOT_TABLES = ("frame_shift", "conf", "log", "split", ".backup", "bad_utts", "reco2file_and_channel", "phones")


def table_kind(name: str) -> str | None:
    """'utt', 'spk', 'reco' or None (not a table) for a file name inside a data dir."""
    if name.startswith(".") or name.startswith(NOT_TABLES) or name.endswith((".tmp", ".log", ".json")):
        return None
    if name in SPEAKER_TABLES or name.startswith("spk2"):
        return "spk"
    if name in ("text", "segments") or name.startswith("utt2") or name.endswith(".scp"):
        return "utt"
    return None


@dataclass(frozen=True)
class ValidationIssue:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class DataDir:
    """Read access to a data dir's tables, each parsed once."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataError(self.path, "data directory does not exist")
        self._tables: dict[str, OrderedDict[str, str]] = {}

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def table(self, name: str) -> OrderedDict[str, str]:
        """The table `name` as key -> rest of line, in file order. DataError if missing or malformed."""
        if name not in self._tables:
            self._tables[name] = _read_table_lines(self.path / name)[0]
        return self._tables[name]

    @property
    def utt2spk(self) -> OrderedDict[str, str]:
        return self.table("utt2spk")

    @property
    def utts(self) -> list[str]:
        return list(self.utt2spk)

    @property
    def spk2utt(self) -> OrderedDict[str, list[str]]:
        out: OrderedDict[str, list[str]] = OrderedDict()
        for utt, spk in self.utt2spk.items():
            out.setdefault(spk, []).append(utt)
        return OrderedDict(sorted(out.items()))

    @property
    def speakers(self) -> list[str]:
        return list(self.spk2utt)

    def text(self) -> OrderedDict[str, list[str]]:
        return OrderedDict((u, t.split()) for u, t in self.table("text").items())

    def tables(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.is_file() and table_kind(p.name))


def _read_table_lines(path: Path) -> tuple[OrderedDict[str, str], dict[str, int], list[ValidationIssue]]:
    """Parse a table; return it, each key's line number, and ordering issues (not raised)."""
    lines: dict[str, int] = {}
    table = OrderedDict(read_key_value(path, lines))
    issues = [ValidationIssue(str(path), lines[key], f"not sorted: {key!r} comes after {previous!r} "
                              "(sort with LC_ALL=C, or run fix_data_dir.py)")
              for previous, key in zip(table, list(table)[1:]) if key < previous]
    return table, lines, issues


def validate_data_dir(path: str | os.PathLike, need_text: bool = True, need_wav: bool = True,
                      need_feats: bool = False) -> list[ValidationIssue]:
    """Every problem found in a data dir, each naming the file and line. Empty when the dir is valid."""
    path = Path(path)
    if not path.is_dir():
        return [ValidationIssue(str(path), None, "data directory does not exist")]
    check = _DataDirCheck(path)
    utt2spk = check.utt2spk()
    if utt2spk:
        utts, speakers = set(utt2spk), set(utt2spk.values())
        check.spk2utt(utt2spk, speakers)
        check.text(utts, need_text)
        check.recordings(utts, need_wav)
        check.keyed_table("feats.scp", need_feats, utts, "utterance")
        check.keyed_table("cmvn.scp", False, speakers, "speaker")
        check.spk2gender(speakers)
        check.other_tables(utts, speakers)
        check.positive_values()
    return check.issues


class _DataDirCheck:
    """The checks of validate_data_dir, table by table; each adds what it finds to .issues."""

    CHECKED = {"utt2spk", "spk2utt", "text", "segments", "wav.scp", "feats.scp", "cmvn.scp", "spk2gender"}

    def __init__(self, path: Path):
        self.path = path
        self.issues: list[ValidationIssue] = []

    def issue(self, name: str, line: int | None, message: str) -> None:
        self.issues.append(ValidationIssue(str(self.path / name), line, message))

    def load(self, name: str, required: bool, fields: int | None = None):
        """(table, line numbers) of a table, or (None, None) when it is missing or unreadable (an issue)."""
        p = self.path / name
        if not p.is_file():
            if required:
                self.issue(name, None, "required file is missing")
            return None, None
        try:
            table, lines, order = _read_table_lines(p)
        except DataError as e:
            self.issues.append(ValidationIssue(e.path, e.line, e.message))
            return None, None
        self.issues.extend(order)
        if fields is not None:
            for key, value in table.items():
                if len(value.split()) != fields - 1:
                    self.issue(name, lines[key], f"expected {fields} fields, found {len(value.split()) + 1}")
        for key, value in table.items():
            if not value and name != "text":
                self.issue(name, lines[key], f"{key!r} has no value")
        return table, lines

    def same_keys(self, name: str, table, lines, expected: set[str], what: str, against: str = "utt2spk"):
        """Every key of the table is one of `expected` (utterances or speakers) and none of them is missing."""
        if table is None:
            return
        for key in table:
            if key not in expected:
                self.issue(name, lines[key], f"{what} {key!r} is not in {against}")
        missing = sorted(expected - set(table))
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            self.issue(name, None, f"{len(missing)} {what}s of {against} are missing here: {shown}")

    def keyed_table(self, name: str, required: bool, expected: set[str], what: str, fields: int | None = None):
        table, lines = self.load(name, required, fields)
        self.same_keys(name, table, lines, expected, what)
        return table, lines

    def utt2spk(self):
        """utt2spk (None when unusable or empty), its utterance ids checked to begin with their speaker."""
        utt2spk, lines = self.load("utt2spk", True, fields=2)
        if utt2spk is None:
            return None
        if not utt2spk:
            self.issue("utt2spk", None, "no utterances: the file is empty")
            return None
        # Kaldi needs speaker-prefixed utterance ids: sorting by utterance must also group speakers.
        by_speaker = sorted(utt2spk.items(), key=lambda kv: (kv[1], kv[0]))
        if [u for u, _ in by_speaker] != sorted(utt2spk):
            bad = next(s for (u, _), s in zip(by_speaker, sorted(utt2spk)) if u != s)
            self.issue("utt2spk", lines[bad], f"utterance {bad!r} is out of order when sorted by speaker: "
                                              "utterance ids must begin with their speaker id")
        return utt2spk

    def spk2utt(self, utt2spk, speakers: set[str]) -> None:
        spk2utt, lines = self.keyed_table("spk2utt", True, speakers, "speaker")
        for spk, value in (spk2utt or {}).items():
            expected = [u for u, s in utt2spk.items() if s == spk]
            if spk in speakers and sorted(value.split()) != sorted(expected):
                self.issue("spk2utt", lines[spk], f"speaker {spk!r} lists utterances that disagree with utt2spk")

    def text(self, utts: set[str], need_text: bool) -> None:
        text, lines = self.keyed_table("text", need_text, utts, "utterance")
        if text is not None and need_text:   # stages that only carry text along (split, subset) let a trainer
            for utt, value in text.items():   # skip and count empty transcripts instead
                if not value.split():
                    self.issue("text", lines[utt], f"utterance {utt!r} has an empty transcript")

    def recordings(self, utts: set[str], need_wav: bool) -> None:
        """wav.scp, keyed by utterance, or by recording when segments exists (whose times are checked)."""
        segments, seg_lines = self.keyed_table("segments", False, utts, "utterance", fields=4)
        wav, wav_lines = self.load("wav.scp", need_wav)
        if wav is None:
            return
        if segments is None:
            self.same_keys("wav.scp", wav, wav_lines, utts, "utterance")
            return
        for utt, value in segments.items():
            reco = value.split()[0]
            if reco not in wav:
                self.issue("segments", seg_lines[utt], f"recording {reco!r} is not in wav.scp")
            start, end = value.split()[1:3]
            try:
                if float(end) <= float(start) and float(end) != -1:
                    raise ValueError
            except ValueError:
                self.issue("segments", seg_lines[utt], f"bad segment times {start} {end}")

    def spk2gender(self, speakers: set[str]) -> None:
        gender, lines = self.keyed_table("spk2gender", False, speakers, "speaker", fields=2)
        for spk, g in (gender or {}).items():
            if g not in ("m", "f"):
                self.issue("spk2gender", lines[spk], f"gender must be m or f, found {g!r}")

    def other_tables(self, utts: set[str], speakers: set[str]) -> None:
        """Any other utt* / spk* table (utt2dur, utt2emo, spk2warp, ...): the same keys as utt2spk's."""
        for p in sorted(self.path.iterdir()):
            if p.name in self.CHECKED or not p.is_file():
                continue
            kind = table_kind(p.name)
            if kind == "utt":
                self.keyed_table(p.name, True, utts, "utterance")
            elif kind == "spk":
                self.keyed_table(p.name, True, speakers, "speaker")

    def positive_values(self) -> None:
        for name in ("utt2dur", "utt2num_frames"):
            table = DataDir(self.path).table(name) if (self.path / name).is_file() else None
            for utt, value in (table or {}).items():
                try:
                    if float(value) <= 0:
                        raise ValueError
                except ValueError:
                    self.issue(name, None, f"utterance {utt!r}: value {value!r} is not a positive number")


def check_data_dir(path: str | os.PathLike, **kwargs) -> DataDir:
    """Validate and return the data dir; raise DataError listing every issue otherwise."""
    issues = validate_data_dir(path, **kwargs)
    if issues:
        shown = "\n  ".join(str(i) for i in issues[:20])
        more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
        raise DataError(path, f"invalid data directory ({len(issues)} problems):\n  {shown}{more}")
    return DataDir(path)


def _write_filtered(src: Path, dst: Path, utts: set[str]) -> None:
    """Copy every table of src into dst keeping only `utts` and their speakers (and recordings)."""
    data = DataDir(src)
    dst.mkdir(parents=True, exist_ok=True)
    speakers = {data.utt2spk[u] for u in utts}
    recordings = None
    if data.has("segments"):
        recordings = {v.split()[0] for u, v in data.table("segments").items() if u in utts}
    for name in data.tables():
        kind = table_kind(name)
        if name == "spk2utt":
            continue
        if name == "wav.scp" and recordings is not None:
            keep = recordings
        else:
            keep = utts if kind == "utt" else speakers
        write_key_value(dst / name, ((k, v) for k, v in data.table(name).items() if k in keep))
    write_spk2utt(dst)
    for extra in ("frame_shift",):
        if (src / extra).is_file():
            shutil.copy(src / extra, dst / extra)


def write_spk2utt(path: str | os.PathLike) -> None:
    """<path>/spk2utt from <path>/utt2spk: each speaker's utterances in utt2spk's order, speakers sorted."""
    data = DataDir(path)
    write_key_value(data.path / "spk2utt", ((s, " ".join(u)) for s, u in data.spk2utt.items()))


def subset_data_dir(src: str | os.PathLike, dst: str | os.PathLike, utts: Iterable[str] | None = None,
                    speakers: Iterable[str] | None = None, first: int | None = None) -> DataDir:
    """A new data dir with the given utterances, the given speakers' utterances, or the first N."""
    src, dst = Path(src), Path(dst)
    data = check_data_dir(src, need_text=False, need_wav=False)
    if sum(x is not None for x in (utts, speakers, first)) != 1:
        raise ValueError("give exactly one of utts, speakers, first")
    if utts is not None:
        keep = _known(set(utts), data.utts, src / "utt2spk", "utterances")
    elif speakers is not None:
        wanted = _known(set(speakers), data.speakers, src / "spk2utt", "speakers")
        keep = {u for u, s in data.utt2spk.items() if s in wanted}
    else:
        keep = set(data.utts[:first])
    _write_filtered(src, dst, keep)
    return DataDir(dst)


def split_heldout(src: str | os.PathLike, train_dst: str | os.PathLike, heldout_dst: str | os.PathLike,
                  fraction: float, seed: int) -> tuple[DataDir, DataDir]:
    """Hold out a seeded `fraction` of a data dir's speakers (at least one, and at least one left to train on),
    as a dev set for a corpus that has none. With a single speaker the utterances are held out instead, so a
    one-speaker corpus still gets a dev set (not speaker-independent then: the log says so)."""
    src = Path(src)
    if not 0 < fraction < 1:
        raise AsrserError(f"the held-out fraction must be between 0 and 1, got {fraction}")
    data = check_data_dir(src, need_text=False, need_wav=False)
    rng = random.Random(seed)
    if len(data.speakers) > 1:
        speakers = sorted(data.speakers)
        rng.shuffle(speakers)
        n = min(max(1, round(fraction * len(speakers))), len(speakers) - 1)
        held = set(speakers[:n])
        heldout = {u for u, s in data.utt2spk.items() if s in held}
        log.info("%s: %d of %d speakers held out (%s)", src, n, len(speakers), " ".join(sorted(held)))
    else:
        utts = sorted(data.utts)
        if len(utts) < 2:
            raise DataError(src / "utt2spk", "one utterance: nothing to hold out")
        rng.shuffle(utts)
        heldout = set(utts[:min(max(1, round(fraction * len(utts))), len(utts) - 1)])
        log.warning("%s has one speaker: %d of %d utterances held out (the held-out set shares its speaker)",
                    src, len(heldout), len(utts))
    for dst, utts in ((Path(heldout_dst), heldout), (Path(train_dst), set(data.utts) - heldout)):
        _replace_dir(dst, lambda tmp, utts=utts: _write_filtered(src, tmp, utts))
    return DataDir(train_dst), DataDir(heldout_dst)


def import_data_dirs(train: str | os.PathLike, tests: list[str | os.PathLike], out_dir: str | os.PathLike,
                     dev: str | os.PathLike | None = None, dev_fraction: float = 0.1, seed: int = 0
                     ) -> dict[str, DataDir]:
    """A corpus's data dirs as a recipe's: <out>/train, <out>/dev (given, or held out from train by
    split_heldout) and <out>/<name> per test dir, each checked and copied without features. Copies that are
    already up to date are left alone (with the features computed for them), so the step can run again."""
    out = Path(out_dir)
    names = [Path(t).name for t in tests]
    clash = sorted({n for n in names if n in ("train", "dev") or names.count(n) > 1})
    if clash:
        raise AsrserError(f"test data dirs are named by their directory names, which must be unique and not "
                          f"train or dev: {', '.join(clash)}")
    for d in [train, *tests, *([dev] if dev else [])]:
        check_data_dir(d)
    if dev:
        sources = {"train": Path(train), "dev": Path(dev)}
    else:
        staging = out / ".heldout"
        split_heldout(train, staging / "train", staging / "dev", dev_fraction, seed)
        sources = {"train": staging / "train", "dev": staging / "dev"}
    sources.update({n: Path(t) for n, t in zip(names, tests)})
    return {name: copy_data_dir(src, out / name) for name, src in sources.items()}


def _known(requested: set[str], present: Iterable[str], table: Path, what: str) -> set[str]:
    """The requested names, all of which the data dir has (else an error naming the table and an example)."""
    unknown = sorted(requested - set(present))
    if unknown:
        raise DataError(table, f"{len(unknown)} requested {what} are not in the data dir, e.g. {unknown[0]!r}")
    return requested


def combine_data_dirs(dst: str | os.PathLike, srcs: Iterable[str | os.PathLike],
                      corpus_names: Iterable[str] | None = None) -> DataDir:
    """Concatenate data dirs (every table the sources share: utt2emo, utt2sess, ...; tables present in only
    some sources are dropped, with a warning). With corpus_names (one per source), also utt2corpus: the name of
    each utterance's source, which cross-corpus SER folds group by. The directory is written whole."""
    srcs = [Path(s) for s in srcs]
    dst = Path(dst)
    names_of_corpora = list(corpus_names) if corpus_names is not None else None
    if names_of_corpora is not None:
        if len(names_of_corpora) != len(srcs):
            raise AsrserError(f"combine: {len(names_of_corpora)} corpus names for {len(srcs)} data dirs")
        bad = [n for n in names_of_corpora if not n or any(c.isspace() for c in n)]
        if bad or len(set(names_of_corpora)) != len(names_of_corpora):
            raise AsrserError(f"combine: corpus names must be distinct single words, got {' '.join(names_of_corpora)}")
    dirs = [check_data_dir(s, need_text=False, need_wav=False) for s in srcs]
    names = set.intersection(*(set(d.tables()) for d in dirs)) - {"spk2utt"}
    if names_of_corpora is not None:
        names.discard(CORPUS_TABLE)     # the sources' own utt2corpus (if any) is replaced by the new one
    for d in dirs:
        for dropped in sorted(set(d.tables()) - names - {"spk2utt", CORPUS_TABLE}):
            log.warning("combine: %s is not in every source; dropping it", d.path / dropped)
    tables: dict[str, dict[str, str]] = {}
    for name in sorted(names):
        merged: dict[str, str] = {}
        for d in dirs:
            for key, value in d.table(name).items():
                if key in merged and merged[key] != value:
                    raise DataError(d.path / name, f"key {key!r} also appears with a different value in "
                                                   "another source")
                merged[key] = value
        tables[name] = merged
    if names_of_corpora is not None:
        utt2corpus: dict[str, str] = {}
        for d, corpus in zip(dirs, names_of_corpora):
            for utt in d.utts:
                if utt in utt2corpus:
                    raise DataError(d.path / "utt2spk", f"utterance {utt!r} is also in corpus {utt2corpus[utt]}")
                utt2corpus[utt] = corpus
        tables[CORPUS_TABLE] = utt2corpus

    def write_tables(tmp: Path) -> None:
        for name, table in tables.items():
            write_key_value(tmp / name, table)
        write_spk2utt(tmp)

    _replace_dir(dst, write_tables)
    return DataDir(dst)


def fix_data_dir(path: str | os.PathLike) -> list[str]:
    """Sort every table and keep only utterances present in all utterance tables (and their speakers).

    Originals are kept in <dir>/.backup. Returns the removed utterance ids (also logged).
    """
    path = Path(path)
    data = DataDir(path)
    names = data.tables()
    utt_names = [n for n in names if table_kind(n) == "utt" and not (n == "wav.scp" and data.has("segments"))]
    keep = set(data.utts)
    for name in utt_names:
        keep &= set(data.table(name))
    if data.has("segments"):
        recordings = set(data.table("wav.scp"))
        keep = {u for u in keep if data.table("segments")[u].split()[0] in recordings}
    if data.has("text"):
        keep = {u for u in keep if data.table("text")[u].split()}
    removed = sorted(set(data.utts) - keep)
    backup = path / ".backup"
    backup.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(path / name, backup / name)
    speakers = {data.utt2spk[u] for u in keep}
    for name in names:
        if name == "spk2utt":
            continue
        kind = table_kind(name)
        table = data.table(name)
        if name == "wav.scp" and data.has("segments"):
            used = {data.table("segments")[u].split()[0] for u in keep}
            write_key_value(path / name, ((k, v) for k, v in table.items() if k in used))
        else:
            allowed = keep if kind == "utt" else speakers
            write_key_value(path / name, ((k, v) for k, v in table.items() if k in allowed))
    write_spk2utt(path)
    if removed:
        log.warning("fix_data_dir %s: removed %d utterances missing from some table: %s%s", path, len(removed),
                    " ".join(removed[:10]), " ..." if len(removed) > 10 else "")
    return removed


def split_data_dir(path: str | os.PathLike, num_jobs: int, per_utt: bool = False) -> list[Path]:
    """Split into <dir>/split<N>[utt]/{1..N}, keeping each speaker in one part (unless per_utt).

    Parts hold contiguous runs of speakers with utterance counts as even as possible. An up-to-date
    split is reused.
    """
    path = Path(path)
    data = check_data_dir(path, need_text=False, need_wav=False)
    split_root = path / f"split{num_jobs}{'utt' if per_utt else ''}"
    parts = [split_root / str(i) for i in range(1, num_jobs + 1)]
    # The split reads the tables only (not the audio or arks they point to); stages reading one data dir at the
    # same time may share it, so it is not an output dir of theirs to lock.
    stamp = Stamp(split_root / ".done", [path / n for n in data.tables()], follow_scp=False, exclusive=False,
                  num_jobs=num_jobs, per_utt=per_utt)
    if stamp.is_current():
        return parts
    units = [[u] for u in data.utts] if per_utt else list(data.spk2utt.values())
    if num_jobs > len(units):
        raise DataError(path, f"cannot split into {num_jobs} parts: only {len(units)} "
                              f"{'utterances' if per_utt else 'speakers'}")
    total = sum(len(u) for u in units)
    groups: list[list[str]] = [[] for _ in range(num_jobs)]
    done, part = 0, 0
    for i, unit in enumerate(units):
        # Move to the next part once this one has its share, leaving at least one unit per later part.
        left_units = len(units) - i
        if part < num_jobs - 1 and groups[part] and (done >= total * (part + 1) / num_jobs
                                                    or left_units <= num_jobs - 1 - part):
            part += 1
        groups[part].extend(unit)
        done += len(unit)
    for part_dir, utts in zip(parts, groups):
        _write_filtered(path, part_dir, set(utts))
    stamp.write()
    return parts


FEATURE_FILES = ("feats.scp", "cmvn.scp", "utt2num_frames", "bad_utts")


def _copied(path: Path) -> bool:
    """A file copy_data_dir copies: not the features, nor a stage's bookkeeping (stamps, lock, temporary files:
    dot files, which differ from run to run and would make an up-to-date copy look stale)."""
    return path.is_file() and path.name not in FEATURE_FILES and not path.name.startswith(".")


def copy_data_dir(src: str | os.PathLike, dst: str | os.PathLike) -> DataDir:
    """utils/copy_data_dir.sh: the same data dir without its features (to compute other ones). A copy that
    is already up to date (same tables) is left alone, with the features computed for it."""
    src, dst = Path(src), Path(dst)
    check_data_dir(src, need_text=False)
    tables = sorted(p.name for p in src.iterdir() if _copied(p))
    if dst.is_dir() and all((dst / name).is_file() and (dst / name).read_bytes() == (src / name).read_bytes()
                            for name in tables):
        return DataDir(dst)
    def copy_tables(tmp: Path) -> None:
        for name in tables:
            shutil.copy(src / name, tmp / name)

    _replace_dir(dst, copy_tables)
    return DataDir(dst)


def _replace_dir(dst: Path, fill) -> None:
    """Write a directory whole: `fill(tmp)` fills a temporary sibling, which then replaces dst."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    fill(tmp)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
