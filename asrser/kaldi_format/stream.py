"""Kaldi's basic object I/O: tokens, basic types, integer vectors, float vectors and matrices.

As Kaldi's base/io-funcs and matrix/kaldi-{vector,matrix}: a binary stream starts with "\\0B"; a token is its
characters and one space in both modes; a binary basic type is one size byte (4 for int32 and float, -4 for
uint32, 8 for double) and the little-endian value; an integer vector is the byte 4, an int32 count and the values;
a float vector is the token FV (DV for double), a basic-type size and the values; a matrix is FM (DM), rows,
columns and the values row by row. In text a vector is " [ 1 2 3 ]\\n" and a matrix " [\\n  1 2 \\n  3 4 ]\\n".

Text numbers are written as Kaldi writes them (C++ streams at precision 7, i.e. printf's %.7g) whenever those
7 digits give the value back exactly; a value they would round is written with the few more digits that keep it
(at most 9 for float, 17 for double), so that binary -> text -> binary gives the same bytes. Kaldi reads both.
Writer(binary=False, lossless=False) writes 7 digits throughout, byte for byte Kaldi's own text output.

Every read error names the file (or archive entry), what was expected and what was found, or that the data end
early (a truncated file).
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import numpy as np

from ..errors import DataError

BINARY_HEADER = b"\0B"

# what a token found where another was expected most likely means
_TOKEN_HINTS = {
    "<Nnet3>": "an nnet3 model", "<Nnet>": "an nnet1 model", "<NnetProto>": "an nnet1 prototype",
    "<TransitionModel>": "a model beginning with a transition model", "ContextDependency": "a decision tree",
    "<Topology>": "an HMM topology", "<DIMENSION>": "GMMs without a transition model (AmDiagGmm)",
    "<DiagGMM>": "a single GMM", "<FullGMM>": "a full-covariance GMM", "<SGMM>": "an SGMM model",
    "FM": "a float matrix", "DM": "a double matrix", "FV": "a float vector", "DV": "a double vector",
    "CM": "a compressed matrix", "CM2": "a compressed matrix", "CM3": "a compressed matrix",
}
_SPACE = b" \t\n\v\f\r"
_TOKEN = re.compile(rb"[^ \t\n\v\f\r]+")
_WHITESPACE = re.compile(rb"[ \t\n\v\f\r]*")
_INT = re.compile(rb"[+-]?[0-9]+\Z")


class KaldiFormatError(DataError):
    """A file (or archive entry) that is not the Kaldi object expected: says what was expected and found."""


def describe_token(token: str) -> str:
    """A token as found in a file, with what it suggests the file is, e.g. '<Nnet3> (an nnet3 model)'."""
    shown = token if len(token) <= 40 else token[:37] + "..."
    shown = shown.encode("unicode_escape").decode("ascii") if not shown.isprintable() else shown
    hint = _TOKEN_HINTS.get(token)
    return f"{shown} ({hint})" if hint else shown


class Reader:
    """Reads Kaldi objects from the bytes of one file or archive entry, at position `pos`, in binary or text.

    `source` names the file (and entry) in error messages.
    """

    def __init__(self, data: bytes, binary: bool, source: str | os.PathLike, pos: int = 0):
        self.data = data
        self.binary = binary
        self.source = str(source)
        self.pos = pos

    # -- errors ---------------------------------------------------------------------------------------
    def error(self, message: str) -> KaldiFormatError:
        return KaldiFormatError(self.source, message)

    def truncated(self, what: str) -> KaldiFormatError:
        return self.error(f"file ends while reading {what} (truncated?)")

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.truncated(what)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def skip_space(self) -> None:
        self.pos = _WHITESPACE.match(self.data, self.pos).end()

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.data)

    # -- tokens ---------------------------------------------------------------------------------------
    def token(self, what: str = "a token") -> str:
        """ReadToken: leading whitespace is skipped (C++ `>>` does it in both modes); one space follows."""
        self.skip_space()
        m = _TOKEN.match(self.data, self.pos)
        if m is None:
            raise self.truncated(what)
        self.pos = m.end()
        if self.pos < len(self.data):
            if self.data[self.pos] not in _SPACE:
                raise self.error(f"expected {what}, found binary data at byte {m.start()}")
            self.pos += 1
        return m.group().decode("latin-1")

    def choice(self, options: tuple[str, ...], context: str = "") -> str:
        """The next token, which must be one of `options` (else an error saying what was found)."""
        start = self.pos
        token = self.token(" or ".join(options))
        if token not in options:
            raise self.unexpected(" or ".join(options) + context, token, start, options)
        return token

    def unexpected(self, expected: str, found: str, start: int, options: tuple[str, ...] = ()) -> KaldiFormatError:
        """The error for `found` where `expected` should be: "truncated" when the data end inside the token."""
        if self.pos >= len(self.data) and any(o.startswith(found) for o in options):
            return self.truncated(expected)
        return self.error(f"expected {expected}, found {describe_token(found)} at byte {start}")

    def peek_token(self) -> str:
        pos = self.pos
        try:
            return self.token()
        finally:
            self.pos = pos

    def expect(self, token: str, context: str = "") -> None:
        """ExpectToken: the next token must be `token`; otherwise an error saying what was found instead."""
        start = self.pos
        self.skip_space()
        if self.pos >= len(self.data):
            raise self.truncated(token)
        found = self.token(token)
        if found != token:
            raise self.unexpected(token + context, found, start, (token,))

    # -- basic types ----------------------------------------------------------------------------------
    def _size_byte(self, expected: tuple[int, ...], what: str) -> int:
        (size,) = struct.unpack("b", self.take(1, what))
        if size not in expected:
            raise self.error(f"expected {what} (size byte {expected[0]}), found size byte {size} at byte "
                             f"{self.pos - 1}")
        return size

    def _text_number(self, what: str) -> bytes:
        self.skip_space()
        m = _TOKEN.match(self.data, self.pos)
        if m is None:
            raise self.truncated(what)
        self.pos = m.end()
        return m.group()

    def int32(self, what: str = "an integer") -> int:
        if self.binary:
            self._size_byte((4,), what)
            return struct.unpack("<i", self.take(4, what))[0]
        text = self._text_number(what)
        if not _INT.match(text) or not -2 ** 31 <= int(text) < 2 ** 31:
            raise self.error(f"expected {what}, found {describe_token(text.decode('latin-1'))}")
        return int(text)

    def uint32(self, what: str = "a size") -> int:
        if self.binary:
            self._size_byte((-4,), what)
            return struct.unpack("<I", self.take(4, what))[0]
        value = self.int32(what)
        if value < 0:
            raise self.error(f"expected {what}, found {value}")
        return value

    def float(self, what: str = "a number") -> float:
        """ReadBasicType<float|double>: binary float or double (Kaldi reads either into either)."""
        if self.binary:
            size = self._size_byte((4, 8), what)
            return struct.unpack("<f" if size == 4 else "<d", self.take(size, what))[0]
        text = self._text_number(what)
        try:
            return float(text)
        except ValueError:
            raise self.error(f"expected {what}, found {describe_token(text.decode('latin-1'))}") from None

    # -- vectors and matrices -------------------------------------------------------------------------
    def int_vector(self, what: str = "an integer vector") -> np.ndarray:
        """ReadIntegerVector<int32>."""
        if self.binary:
            self._size_byte((4,), what)
            (n,) = struct.unpack("<i", self.take(4, what))
            if n < 0:
                raise self.error(f"{what} has negative length {n}")
            return np.frombuffer(self.take(4 * n, what), dtype="<i4").astype(np.int32)
        self.skip_space()
        if self.take(1, what) != b"[":
            raise self.error(f"expected {what} beginning with '[', found {describe_token(self._peek_word())}")
        end = self.data.find(b"]", self.pos)
        if end < 0:
            raise self.truncated(what)
        fields = self.data[self.pos:end].split()
        self.pos = end + 1
        if not all(_INT.match(f) for f in fields):
            raise self.error(f"expected {what}, found non-integers in it")
        return np.array([int(f) for f in fields], dtype=np.int32)

    def _peek_word(self) -> str:
        m = _TOKEN.match(self.data, self.pos)
        return m.group().decode("latin-1") if m else "end of file"

    def _binary_float_type(self, what: str, single: str, double: str) -> str:
        """The element type announced by a binary vector/matrix token: '<f4' for `single`, '<f8' for `double`."""
        self.skip_space()
        token = self.token(what)
        if token not in (single, double):
            raise self.error(f"expected {what} ({single} or {double}), found {describe_token(token)}")
        return "<f4" if token == single else "<f8"

    def vector(self, what: str = "a vector") -> np.ndarray:
        """Vector<float|double>::Read: float32 or float64 as stored (FV/DV in binary; text gives float32)."""
        if self.binary:
            dtype = self._binary_float_type(what, "FV", "DV")
            n = self.int32(f"the length of {what}")
            if n < 0:
                raise self.error(f"{what} has negative length {n}")
            return np.frombuffer(self.take(n * np.dtype(dtype).itemsize, what), dtype=dtype).astype(dtype[1:])
        return self._text_block(what, matrix=False)

    def matrix(self, what: str = "a matrix") -> np.ndarray:
        """Matrix<float|double>::Read (FM/DM in binary; text gives float32). Compressed matrices are refused."""
        if self.binary:
            dtype = np.dtype(self._binary_float_type(what, "FM", "DM"))
            rows = self.int32(f"the number of rows of {what}")
            cols = self.int32(f"the number of columns of {what}")
            if rows < 0 or cols < 0:
                raise self.error(f"{what} has a negative size {rows}x{cols}")
            data = self.take(rows * cols * dtype.itemsize, what)
            return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("=")).reshape(rows, cols)
        return self._text_block(what, matrix=True)

    def _text_block(self, what: str, matrix: bool) -> np.ndarray:
        self.skip_space()
        word = self._peek_word()
        if word == "[]":
            self.token()
            return np.zeros((0, 0) if matrix else 0, dtype=np.float32)
        if not word.startswith("["):
            raise self.error(f"expected {what} beginning with '[', found {describe_token(word)}")
        self.pos += 1
        end = self.data.find(b"]", self.pos)
        if end < 0:
            raise self.truncated(what)
        body = self.data[self.pos:end]
        self.pos = end + 1
        if self.pos < len(self.data) and self.data[self.pos:self.pos + 1] == b"\n":
            self.pos += 1
        try:
            if not matrix:
                if b"\n" in body.strip(b" \t"):
                    raise self.error(f"expected {what}, found a matrix (rows on several lines)")
                return np.array([float(f) for f in body.split()], dtype=np.float32)
            rows = [[float(f) for f in line.split()] for line in body.replace(b";", b"\n").split(b"\n")]
        except ValueError as e:
            raise self.error(f"expected numbers in {what}: {e}") from None
        rows = [r for r in rows if r]
        if any(len(r) != len(rows[0]) for r in rows):
            raise self.error(f"{what} has rows of different lengths")
        return np.array(rows, dtype=np.float32).reshape(len(rows), len(rows[0]) if rows else 0)


class Writer:
    """Writes Kaldi objects (binary or text) into a byte buffer, as Kaldi's Write functions do."""

    def __init__(self, binary: bool, lossless: bool = True):
        self.binary = binary
        self.lossless = lossless
        self.parts: list[bytes] = []

    def getvalue(self) -> bytes:
        return b"".join(self.parts)

    def raw(self, data: bytes | str) -> None:
        self.parts.append(data.encode() if isinstance(data, str) else data)

    def header(self) -> None:
        """InitKaldiOutputStream: "\\0B" in binary mode, nothing in text."""
        if self.binary:
            self.parts.append(BINARY_HEADER)

    def newline(self) -> None:
        """The `if (!binary) os << "\\n"` that Kaldi's Write functions put after some tokens."""
        if not self.binary:
            self.parts.append(b"\n")

    def token(self, token: str) -> None:
        if not token or any(c.isspace() for c in token):
            raise ValueError(f"invalid Kaldi token {token!r}")
        self.parts.append(token.encode() + b" ")

    def int32(self, value: int) -> None:
        self.parts.append(struct.pack("<bi", 4, value) if self.binary else b"%d " % value)

    def uint32(self, value: int) -> None:
        self.parts.append(struct.pack("<bI", -4, value) if self.binary else b"%d " % value)

    def float32(self, value: float) -> None:
        value = float(np.float32(value))
        self.parts.append(struct.pack("<bf", 4, value) if self.binary
                          else format_numbers(np.array([value], dtype=np.float32), self.lossless)[0].encode() + b" ")

    def int_vector(self, values) -> None:
        values = np.asarray(values, dtype=np.int32)
        if self.binary:
            self.parts.append(struct.pack("<bi", 4, len(values)) + values.astype("<i4").tobytes())
        else:
            self.parts.append(b"[ " + b"".join(b"%d " % v for v in values.tolist()) + b"]\n")

    def vector(self, values: np.ndarray) -> None:
        """Vector::Write: float32 as FV, float64 as DV."""
        values = _float_array(values, 1)
        if self.binary:
            self.token("FV" if values.dtype == np.float32 else "DV")
            self.int32(len(values))
            self.parts.append(values.astype(values.dtype.newbyteorder("<")).tobytes())
        else:
            cells = format_numbers(values, self.lossless)
            self.parts.append((" [ " + "".join(s + " " for s in cells) + "]\n").encode())

    def matrix(self, values: np.ndarray) -> None:
        """Matrix::Write: float32 as FM, float64 as DM."""
        values = _float_array(values, 2)
        rows, cols = values.shape
        if self.binary:
            self.token("FM" if values.dtype == np.float32 else "DM")
            self.int32(rows)
            self.int32(cols)
            self.parts.append(np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes())
        elif cols == 0:
            self.parts.append(b" [ ]\n")
        else:
            cells = format_numbers(values.reshape(-1), self.lossless)
            lines = ["\n  " + "".join(s + " " for s in cells[r * cols:(r + 1) * cols]) for r in range(rows)]
            self.parts.append((" [" + "".join(lines) + "]\n").encode())


def _float_array(values, ndim: int) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float32)
    if values.ndim != ndim:
        raise ValueError(f"expected a {ndim}-dimensional array, got shape {values.shape}")
    return values


def format_numbers(values: np.ndarray, lossless: bool = True) -> list[str]:
    """Kaldi's text form of each number (%.7g), with more digits only where 7 would not give the value back
    (unless lossless=False)."""
    values = np.asarray(values)
    if values.size == 0:
        return []
    text = np.char.mod("%.7g", values.astype(np.float64)).astype("<U32")   # room for the longer forms
    if not lossless:
        return text.tolist()
    lossy = ~_same(text.astype(np.float64).astype(values.dtype), values)
    for digits in range(8, 10 if values.dtype == np.float32 else 18):
        if not lossy.any():
            break
        better = np.char.mod(f"%.{digits}g", values[lossy].astype(np.float64))
        text[lossy] = better
        lossy[lossy] = ~_same(better.astype(np.float64).astype(values.dtype), values[lossy])
    return text.tolist()


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def object_reader(path: str | os.PathLike, data: bytes | None = None) -> Reader:
    """A Reader on a whole Kaldi object file (Kaldi's Input with InitKaldiInputStream): binary when the file
    begins with "\\0B", text otherwise. A missing or empty file is an error naming it."""
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DataError(path, "file does not exist") from None
        except IsADirectoryError:
            raise DataError(path, "is a directory, not a Kaldi object file") from None
    if not data.strip():
        raise KaldiFormatError(path, "file is empty")
    if data[:1] == b"\0":
        if data[:2] != BINARY_HEADER:
            raise KaldiFormatError(path, "begins with a zero byte but not \\0B: not a Kaldi object file")
        return Reader(data, True, path, 2)
    return Reader(data, False, path, 0)
