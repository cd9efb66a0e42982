"""Kaldi's decision tree file, `tree`: a ContextDependency (tree/context-dep.cc, tree/event-map.cc).

The wheels' ContextDependency reads only binary bytes (through __setstate__) and trusts them. Here a tree file
(binary or text) is parsed and checked first -- context width and central position, event-map keys (-1 for the
pdf-class, else a context position), sizes and depth -- and handed to the wheels as the binary bytes Kaldi's
ContextDependency::Write would produce; writing goes the other way, in either mode.

Event maps: "CE answer" (a leaf: the pdf-id), "TE key size ( map-or-NULL ... )" (a table on the value of
`key`), "SE key [ yes-values ] { yes-map no-map }" (a yes/no question), "NULL" (an empty table slot).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import kaldi_hmm_gmm as khg

from ..errors import DataError
from ..fileio import atomic_write
from .stream import KaldiFormatError, Reader, Writer, object_reader

PDF_CLASS_KEY = -1      # Kaldi's kPdfClass
MAX_DEPTH = 500


@dataclass(frozen=True)
class Constant:
    answer: int


@dataclass(frozen=True)
class Table:
    key: int
    table: tuple  # of event maps or None


@dataclass(frozen=True)
class Split:
    key: int
    yes_set: tuple[int, ...]
    yes: object
    no: object


@dataclass
class ContextDependency:
    """A tree as stored: context width N, central position P and the event map to pdf-ids."""
    context_width: int
    central_position: int
    to_pdf: object

    @property
    def num_pdfs(self) -> int:
        return 1 + max(_answers(self.to_pdf), default=-1)

    @classmethod
    def read(cls, r: Reader) -> "ContextDependency":
        r.expect("ContextDependency", " (a decision tree)")
        width, central = r.int32("the context width"), r.int32("the central position")
        if not 1 <= width <= 100 or not 0 <= central < width:
            raise r.error(f"implausible context width {width} with central position {central}")
        if r.choice(("ToPdf", "ToLength")) == "ToLength":  # an old file's map to pdf-class counts, unused
            _read_map(r, width, 0)
            r.expect("ToPdf")
        to_pdf = _read_map(r, width, 0)
        r.expect("EndContextDependency")
        if not r.at_end():
            raise r.error(f"unexpected data after the tree at byte {r.pos}")
        return cls(width, central, to_pdf)

    def write(self, w: Writer) -> None:
        """ContextDependency::Write."""
        w.token("ContextDependency")
        w.int32(self.context_width)
        w.int32(self.central_position)
        w.token("ToPdf")
        _write_map(w, self.to_pdf)
        w.token("EndContextDependency")

    def to_bytes(self, binary: bool = True) -> bytes:
        w = Writer(binary)
        w.header()
        self.write(w)
        return w.getvalue()

    def to_wheel(self) -> khg.ContextDependency:
        data = self.to_bytes(True)[2:]
        tree = khg.ContextDependency.__new__(khg.ContextDependency)
        tree.__setstate__(([b - 256 if b > 127 else b for b in data],))
        return tree

    @classmethod
    def from_wheel(cls, tree: khg.ContextDependency) -> "ContextDependency":
        data = bytes(b & 0xFF for b in tree.__getstate__()[0])
        return cls.read(Reader(data, True, "the wheels' ContextDependency"))


def _read_map(r: Reader, width: int, depth: int):
    if depth > MAX_DEPTH:
        raise r.error(f"the decision tree is deeper than {MAX_DEPTH} levels")
    token = r.choice(("CE", "TE", "SE", "NULL"), " (an event map)")
    if token == "NULL":
        return None
    if token == "CE":
        answer = r.int32("a pdf-id")
        if answer < 0:
            raise r.error(f"negative pdf-id {answer} in the decision tree")
        return Constant(answer)
    key = r.int32("an event-map key")
    if not PDF_CLASS_KEY <= key < width:
        raise r.error(f"event-map key {key} is neither -1 (pdf-class) nor a context position below {width}")
    if token == "TE":
        size = r.uint32("the size of an event-map table")
        if size > 100_000:
            raise r.error(f"implausible event-map table size {size}")
        r.expect("(")
        table = tuple(_read_map(r, width, depth + 1) for _ in range(size))
        r.expect(")")
        return Table(key, table)
    yes_set = tuple(r.int_vector("the yes-set of a question").tolist())
    r.expect("{")
    yes = _read_map(r, width, depth + 1)
    no = _read_map(r, width, depth + 1)
    r.expect("}")
    if yes is None or no is None:
        raise r.error("a question (SE) of the decision tree has an empty branch")
    return Split(key, yes_set, yes, no)


def _write_map(w: Writer, node) -> None:
    if node is None:
        w.token("NULL")
    elif isinstance(node, Constant):
        w.token("CE")
        w.int32(node.answer)
    elif isinstance(node, Table):
        w.token("TE")
        w.int32(node.key)
        w.uint32(len(node.table))
        w.token("(")
        for child in node.table:
            _write_map(w, child)
        w.token(")")
        w.newline()
    else:
        w.token("SE")
        w.int32(node.key)
        w.int_vector(node.yes_set)
        w.token("{")
        _write_map(w, node.yes)
        _write_map(w, node.no)
        w.token("}")
        w.newline()


def _answers(node):
    if isinstance(node, Constant):
        yield node.answer
    elif isinstance(node, Table):
        for child in node.table:
            yield from _answers(child)
    elif isinstance(node, Split):
        yield from _answers(node.yes)
        yield from _answers(node.no)


def read_tree(path: str | os.PathLike, num_pdfs: int | None = None) -> khg.ContextDependency:
    """A Kaldi `tree` file (binary or text) as the wheels' ContextDependency; a file of another kind is an
    error naming it and what was expected, and so is a tree whose pdf count is not the model's `num_pdfs`."""
    tree = ContextDependency.read(object_reader(path))
    if num_pdfs is not None and tree.num_pdfs != num_pdfs:
        raise KaldiFormatError(path, f"the tree has {tree.num_pdfs} pdfs, the model {num_pdfs}: not the model's tree")
    try:
        return tree.to_wheel()
    except RuntimeError as e:
        raise DataError(path, f"the wheels refuse the tree: {str(e).strip().splitlines()[-1]}") from None


def write_tree(path: str | os.PathLike, tree: khg.ContextDependency | ContextDependency, binary: bool = True) -> None:
    """Write a tree as Kaldi does (binary, or text with binary=False), atomically."""
    if isinstance(tree, khg.ContextDependency):
        tree = ContextDependency.from_wheel(tree)
    data = tree.to_bytes(binary)
    with atomic_write(path, "wb", encoding=None) as f:
        f.write(data)
