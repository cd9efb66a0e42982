"""Kaldi archives and small experiment files: alignments (`ali.N.gz`), matrix archives (log-likelihoods for
latgen-faster-mapped), `final.occs`, `final.mat`, `num_jobs`.

An archive entry is the key, one space, and the object as its holder writes it (util/kaldi-holder-inl.h,
kaldi-table-inl.h): "\\0B" and the object in binary, or the text form. An int32 vector (BasicVectorHolder, e.g.
an alignment) is "\\0B", a basic-type int32 count ("\\4" + 4 bytes), then each value as a basic type ("\\4" +
4 bytes) -- byte for byte what kaldiio writes for an int32 array -- or in text "1 2 3 \\n". A matrix is "\\0B"
"FM " rows cols data, or " [\\n  1 2 \\n ]\\n". An archive whose name ends in .gz is gzip-compressed, as Kaldi's
scripts write `ark:|gzip -c >ali.1.gz`.

Writers write to a temporary name and rename when the archive is complete (and gzip without a time stamp, so
the same content gives the same bytes); readers name the file, the entry and what was expected on any error.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..errors import DataError
from ..fileio import temp_name
from .stream import BINARY_HEADER, KaldiFormatError, Reader, Writer, object_reader

_KEY = re.compile(rb"[ \t\n\v\f\r]*([^ \t\n\v\f\r]+)")


def read_file_bytes(path: str | os.PathLike) -> bytes:
    """A file's bytes, gunzipped when its name ends in .gz; missing, truncated or corrupt gzip is a DataError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a file") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except EOFError:
            raise KaldiFormatError(path, "gzip data end early (truncated file?)") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise KaldiFormatError(path, f"not valid gzip data ({e})") from None
    return data


class ArchiveWriter:
    """Writes a Kaldi archive (gzipped when the name ends in .gz) under a temporary name; the archive appears
    under its name when the `with` block ends without an exception."""

    def __init__(self, path: str | os.PathLike, binary: bool = True):
        self.path = Path(path)
        self.binary = binary
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_name(self.path)
        self._file = open(self._tmp, "wb")
        self._out = (gzip.GzipFile(filename="", mode="wb", fileobj=self._file, compresslevel=6, mtime=0)
                     if self.path.suffix == ".gz" else self._file)

    def write_entry(self, key: str, payload: bytes) -> None:
        """Key, space, and an object already in its holder's form."""
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"invalid archive key {key!r}")
        self._out.write(key.encode() + b" " + payload)

    def write_int_vector(self, key: str, values) -> None:
        self.write_entry(key, encode_int_vector(values, self.binary))

    def write_matrix(self, key: str, values: np.ndarray) -> None:
        self.write_entry(key, encode_object(lambda w: w.matrix(values), self.binary))

    def write_vector(self, key: str, values: np.ndarray) -> None:
        self.write_entry(key, encode_object(lambda w: w.vector(values), self.binary))

    def close(self) -> None:
        if self._out is not self._file:
            self._out.close()
        self._file.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "ArchiveWriter":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def encode_int_vector(values, binary: bool = True) -> bytes:
    """BasicVectorHolder<int32>::Write."""
    values = np.asarray(values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"expected a 1-d integer array, got {values.dtype} of shape {values.shape}")
    values = values.astype("<i4")
    if binary:
        cells = np.empty((len(values), 5), dtype=np.uint8)
        cells[:, 0] = 4
        cells[:, 1:] = values.view(np.uint8).reshape(-1, 4)
        return BINARY_HEADER + struct.pack("<bi", 4, len(values)) + cells.tobytes()
    return "".join(f"{v} " for v in values.tolist()).encode() + b"\n"


def encode_object(write: Callable[[Writer], None], binary: bool = True) -> bytes:
    """KaldiObjectHolder::Write: the binary header, then the object."""
    w = Writer(binary)
    w.header()
    write(w)
    return w.getvalue()


def iter_archive(path: str | os.PathLike, read_object: Callable[[bytes, int, str], tuple[object, int]],
                 data: bytes | None = None) -> Iterator[tuple[str, object]]:
    """(key, object) for each entry; read_object(data, pos, source) reads one object after its key and returns
    it with the position after it. Errors name the archive and the entry's key."""
    path = Path(path)
    if data is None:
        data = read_file_bytes(path)
    pos = 0
    while True:
        m = _KEY.match(data, pos)
        if m is None:
            return
        key = m.group(1).decode("utf-8", "replace")
        pos = m.end()
        if pos >= len(data):
            raise KaldiFormatError(path, f"entry {key}: archive ends after the key (truncated?)")
        if data[pos:pos + 1] in b" \t":
            pos += 1
        elif data[pos:pos + 1] != b"\n":
            raise KaldiFormatError(path, f"entry {key}: expected a space after the key, found byte "
                                         f"0x{data[pos]:02x}: not a Kaldi archive")
        obj, pos = read_object(data, pos, f"{path}, entry {key}")
        yield key, obj


def _entry_reader(data: bytes, pos: int, source: str) -> Reader:
    """KaldiObjectHolder / BasicVectorHolder: "\\0B" starts a binary object, anything else a text one."""
    if data[pos:pos + 2] == BINARY_HEADER:
        return Reader(data, True, source, pos + 2)
    if data[pos:pos + 1] == b"\0":
        raise KaldiFormatError(source, "begins with a zero byte but not \\0B")
    return Reader(data, False, source, pos)


def read_int_vector_entry(data: bytes, pos: int, source: str) -> tuple[np.ndarray, int]:
    """BasicVectorHolder<int32>::Read (binary, or text up to the end of the line)."""
    r = _entry_reader(data, pos, source)
    if not r.binary:
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        fields = data[pos:end].split()
        try:
            values = np.array([int(f) for f in fields], dtype=np.int64)
        except ValueError:
            raise KaldiFormatError(source, "expected integers (an int32 vector in text form)") from None
        if len(values) and (values.min() < -2 ** 31 or values.max() >= 2 ** 31):
            raise KaldiFormatError(source, "integer out of the int32 range")
        return values.astype(np.int32), end + 1
    n = r.int32("the length of an int32 vector")
    if n < 0:
        raise KaldiFormatError(source, f"negative vector length {n}")
    cells = r.take(5 * n, f"an int32 vector of {n} values")
    cells = np.frombuffer(cells, dtype=np.uint8).reshape(n, 5)
    if n and not (cells[:, 0] == 4).all():
        raise KaldiFormatError(source, "expected int32 values (size byte 4) in an int32 vector: not an "
                                       "alignment or integer-vector archive")
    return np.ascontiguousarray(cells[:, 1:]).view("<i4").reshape(n).astype(np.int32), r.pos


def read_matrix_entry(data: bytes, pos: int, source: str) -> tuple[np.ndarray, int]:
    r = _entry_reader(data, pos, source)
    return r.matrix(), r.pos


def read_vector_entry(data: bytes, pos: int, source: str) -> tuple[np.ndarray, int]:
    r = _entry_reader(data, pos, source)
    return r.vector(), r.pos


def read_int_vectors(path: str | os.PathLike) -> Iterator[tuple[str, np.ndarray]]:
    """The (key, int32 array) entries of an int32-vector archive (alignments), binary or text, .gz or not."""
    return iter_archive(path, read_int_vector_entry)


def read_matrices(path: str | os.PathLike) -> Iterator[tuple[str, np.ndarray]]:
    return iter_archive(path, read_matrix_entry)


def read_table_dict(entries: Iterable[tuple[str, object]], path: str | os.PathLike) -> dict:
    """The entries as a dict; a key twice is an error naming the archive."""
    table: dict = {}
    for key, value in entries:
        if key in table:
            raise KaldiFormatError(path, f"key {key} appears twice")
        table[key] = value
    return table


def write_int_vectors(path: str | os.PathLike, items: Iterable[tuple[str, Iterable[int]]],
                      binary: bool = True) -> None:
    with ArchiveWriter(path, binary) as w:
        for key, values in items:
            w.write_int_vector(key, values)


def write_matrices(path: str | os.PathLike, items: Iterable[tuple[str, np.ndarray]], binary: bool = True) -> None:
    """A float matrix archive. For Kaldi's latgen-faster-mapped: one (frames x pdfs) matrix of log-likelihoods
    (log-posterior minus log-prior) per utterance, as many columns as the transition model has pdfs."""
    with ArchiveWriter(path, binary) as w:
        for key, values in items:
            w.write_matrix(key, np.asarray(values, dtype=np.float32))


def loglikelihood_matrix(key: str, values, num_pdfs: int) -> np.ndarray:
    """One utterance's input of Kaldi's latgen-faster-mapped (DecodableMatrixScaledMapped), checked: a float
    matrix of frames x pdfs (log-posterior minus log-prior, unscaled: the decoder applies --acoustic-scale),
    exactly as many columns as the transition model has pdfs, column = pdf-id, all finite."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[1] != num_pdfs:
        raise ValueError(f"utterance {key}: expected frames x {num_pdfs} log-likelihoods (one column per "
                         f"pdf of the transition model), got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"utterance {key}: log-likelihoods must be finite")
    return values


def write_loglikelihoods(path: str | os.PathLike, items: Iterable[tuple[str, np.ndarray]], num_pdfs: int,
                         binary: bool = True) -> None:
    """An archive of latgen-faster-mapped's input, one loglikelihood_matrix per utterance."""
    write_matrices(path, ((key, loglikelihood_matrix(key, values, num_pdfs)) for key, values in items), binary)


# -- alignment directories ----------------------------------------------------------------------------------
def write_num_jobs(directory: str | os.PathLike, num_jobs: int) -> None:
    """`num_jobs` as Kaldi's scripts write it (echo $nj > dir/num_jobs)."""
    from ..fileio import atomic_write

    with atomic_write(Path(directory) / "num_jobs") as f:
        f.write(f"{num_jobs}\n")


def read_num_jobs(directory: str | os.PathLike) -> int:
    path = Path(directory) / "num_jobs"
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        raise DataError(path, "file does not exist (not a Kaldi alignment, decode or model directory?)") from None
    if not text.isdigit() or int(text) < 1:
        raise DataError(path, f"expected a positive number of jobs, found {text[:40]!r}")
    return int(text)


def read_alignment_dir(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """All alignments of a Kaldi alignment (or training) directory: ali.1.gz .. ali.<num_jobs>.gz."""
    directory = Path(directory)
    table: dict[str, np.ndarray] = {}
    for job in range(1, read_num_jobs(directory) + 1):
        path = directory / f"ali.{job}.gz"
        for key, ali in read_int_vectors(path):
            if key in table:
                raise KaldiFormatError(path, f"utterance {key} is also in another ali.*.gz of {directory}")
            table[key] = ali
    return table


# -- single-object files ------------------------------------------------------------------------------------
def write_kaldi_object(path: str | os.PathLike, write: Callable[[Writer], None], binary: bool = True) -> None:
    from ..fileio import atomic_write

    data = encode_object(write, binary)
    with atomic_write(path, "wb", encoding=None) as f:
        f.write(data)


def write_kaldi_vector(path: str | os.PathLike, values: np.ndarray, binary: bool = True) -> None:
    """A Kaldi Vector file, e.g. `final.occs` (gmm-est --write-occs: float occupancy per pdf)."""
    write_kaldi_object(path, lambda w: w.vector(values), binary)


def _read_single_object(path: str | os.PathLike, read, what: str):
    """The one object of a Kaldi file (read(reader) reads it); anything after it is an error."""
    r = object_reader(path)
    value = read(r)
    if not r.at_end():
        raise KaldiFormatError(path, f"unexpected data after the {what}")
    return value


def read_kaldi_vector(path: str | os.PathLike) -> np.ndarray:
    return _read_single_object(path, lambda r: r.vector("a Kaldi vector"), "vector")


def write_kaldi_matrix(path: str | os.PathLike, values: np.ndarray, binary: bool = True) -> None:
    """A Kaldi Matrix file, e.g. `final.mat` (an LDA+MLLT transform)."""
    write_kaldi_object(path, lambda w: w.matrix(values), binary)


def read_kaldi_matrix(path: str | os.PathLike) -> np.ndarray:
    return _read_single_object(path, lambda r: r.matrix("a Kaldi matrix"), "matrix")
