"""Decoding graphs as Kaldi writes them: `HCLG.fst` is an OpenFst ConstFst (utils/mkgraph.sh ends with
`fstconvert --fst_type=const`), which the wheels cannot read (kaldifst's StdConstFst.read fails with "Unknown
FST type const"). read_graph() reads a const or vector FST of standard arcs and returns the wheels'
StdVectorFst: a const file's arrays are laid out again as a vector file, which kaldifst reads.

ConstFst on disk (fst/const-fst.h): the FST header (fst type "const", arc type "standard", version 2, or 1 when
aligned, then flags, properties, start, number of states, number of arcs), the states as (float final weight,
uint32 first arc, uint32 arcs, uint32 input epsilons, uint32 output epsilons), then all arcs as (int32 ilabel,
int32 olabel, float weight, int32 next state); an aligned file pads the header and the states to 16 bytes.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import kaldifst
import numpy as np

from ..errors import DataError
from .lattice import FST_MAGIC, read_fst_header
from .stream import KaldiFormatError

_IS_ALIGNED, _SYMBOL_TABLES = 0x4, 0x3
_MUTABLE = 0x2
_CONST_STATE = np.dtype([("final", "<f4"), ("pos", "<u4"), ("narcs", "<u4"), ("niepsilons", "<u4"),
                         ("noepsilons", "<u4")])
_ARC = np.dtype([("ilabel", "<i4"), ("olabel", "<i4"), ("weight", "<f4"), ("nextstate", "<i4")])


def _header(data: bytes, path: Path) -> tuple[str, str, int, int, int, int, int, int, int]:
    if len(data) < 4 or struct.unpack_from("<i", data)[0] != FST_MAGIC:
        raise KaldiFormatError(path, "expected an FST (OpenFst binary, e.g. HCLG.fst), found other data")
    return read_fst_header(data, 4, path, "FST header")


def _read_fst_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None


def read_graph(path: str | os.PathLike) -> kaldifst.StdVectorFst:
    """A decoding graph (HCLG.fst, or any FST of standard arcs) written by Kaldi (const) or by kaldifst (vector)
    as the wheels' StdVectorFst. Other FSTs (a lattice, symbol tables attached) are errors naming the file."""
    path = Path(path)
    data = _read_fst_file(path)
    fst_type, arc_type, version, flags, props, start, num_states, num_arcs, pos = _header(data, path)
    if arc_type != "standard":
        raise KaldiFormatError(path, f"expected an FST of standard (tropical) arcs, found arc type {arc_type!r}")
    if flags & _SYMBOL_TABLES:
        raise KaldiFormatError(path, "FSTs with attached symbol tables are not supported (remove them with "
                                     "fstsymbols --clear_isymbols --clear_osymbols)")
    if fst_type == "vector":
        return kaldifst.StdVectorFst.read(str(path))
    if fst_type != "const":
        raise KaldiFormatError(path, f"expected a vector or const FST, found fst type {fst_type!r}")
    aligned = version == 1 or bool(flags & _IS_ALIGNED)
    if version not in (1, 2) or num_states < 0 or num_arcs < 0:
        raise KaldiFormatError(path, f"unsupported const FST (version {version}, {num_states} states)")

    def align(p: int) -> int:
        return p + (-p) % 16 if aligned else p

    pos = align(pos)
    states_end = pos + num_states * _CONST_STATE.itemsize
    arcs_at = align(states_end)
    if arcs_at + num_arcs * _ARC.itemsize > len(data):
        raise KaldiFormatError(path, "file ends before the FST's states and arcs (truncated?)")
    states = np.frombuffer(data, dtype=_CONST_STATE, count=num_states, offset=pos)
    arcs = np.frombuffer(data, dtype=_ARC, count=num_arcs, offset=arcs_at)
    counts = states["narcs"].astype(np.int64)
    firsts = states["pos"].astype(np.int64)
    if (firsts + counts > num_arcs).any() or not -1 <= start < max(num_states, 1) or (
            num_arcs and not ((arcs["nextstate"] >= 0) & (arcs["nextstate"] < num_states)).all()):
        raise KaldiFormatError(path, "corrupt const FST (arcs or states out of range)")
    return _as_vector_fst(states, arcs, start, props)


def _as_vector_fst(states: np.ndarray, arcs: np.ndarray, start: int, props: int) -> kaldifst.StdVectorFst:
    """The same FST in VectorFst's binary layout (per state: final weight, int64 arc count, its arcs), read by
    kaldifst from a temporary file."""
    counts = states["narcs"].astype(np.int64)
    header = (struct.pack("<i", FST_MAGIC) + struct.pack("<i", 6) + b"vector" + struct.pack("<i", 8) + b"standard"
              + struct.pack("<iiQqqq", 2, 0, props | _MUTABLE, start, len(states), 0))
    record = 12 + 16 * counts
    starts = len(header) + np.concatenate([[0], np.cumsum(record)[:-1]]).astype(np.int64)
    out = np.zeros(len(header) + int(record.sum()), dtype=np.uint8)
    out[:len(header)] = np.frombuffer(header, dtype=np.uint8)
    heads = np.zeros(len(states), dtype=[("final", "<f4"), ("narcs", "<i8")])
    heads["final"], heads["narcs"] = states["final"], counts
    out[starts[:, None] + np.arange(12)] = heads.view(np.uint8).reshape(-1, 12)
    if counts.sum():
        source = np.repeat(states["pos"].astype(np.int64), counts) + (
            np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        target = np.repeat(starts + 12, counts) + 16 * (np.arange(counts.sum())
                                                        - np.repeat(np.cumsum(counts) - counts, counts))
        out[target[:, None] + np.arange(16)] = arcs[source].view(np.uint8).reshape(-1, 16)
    fd, name = tempfile.mkstemp(suffix=".fst")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(out.tobytes())
        return kaldifst.StdVectorFst.read(name)
    finally:
        os.unlink(name)


def graph_max_ilabel(path: str | os.PathLike) -> int:
    """The largest input label (transition-id, for a decoding graph) of an FST file, vector or const: what a
    decoder checks against its model's transition-ids before the wheels' C++ would index beyond them."""
    path = Path(path)
    data = _read_fst_file(path)
    fst_type, _, version, flags, _, _, num_states, num_arcs, pos = _header(data, path)
    if fst_type == "const":
        aligned = version == 1 or bool(flags & _IS_ALIGNED)
        pos += (-pos) % 16 if aligned else 0
        arcs_at = pos + num_states * _CONST_STATE.itemsize
        arcs_at += (-arcs_at) % 16 if aligned else 0
        if arcs_at + num_arcs * _ARC.itemsize > len(data):
            raise KaldiFormatError(path, "file ends before the FST's arcs (truncated?)")
        arcs = np.frombuffer(data, dtype=_ARC, count=num_arcs, offset=arcs_at)
        return int(arcs["ilabel"].max()) if num_arcs else 0
    if fst_type != "vector":
        raise KaldiFormatError(path, f"expected a vector or const FST, found fst type {fst_type!r}")
    # per state: float final weight, int64 arc count, the arcs; the counts are read state by state
    best, count_at = 0, struct.Struct("<q").unpack_from
    for _ in range(num_states):
        if pos + 12 > len(data):
            raise KaldiFormatError(path, "file ends inside the FST's states (truncated?)")
        (n,) = count_at(data, pos + 4)
        pos += 12
        if n:
            if n < 0 or pos + 16 * n > len(data):
                raise KaldiFormatError(path, "corrupt or truncated FST (arc count)")
            best = max(best, int(np.frombuffer(data, dtype=_ARC, count=n, offset=pos)["ilabel"].max()))
            pos += 16 * n
    return best
