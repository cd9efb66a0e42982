"""Kaldi lattices: the decoder's raw lattice determinised and pruned into a CompactLattice, `lat.N.gz` archives
both ways, and the best path per LM weight (Kaldi's lattice-scale --inv-acoustic-scale=LMWT | lattice-best-path).

A CompactLattice (lat/kaldi-lattice.h, fstext/lattice-weight.h) is an acceptor over words whose arc and final
weights are (graph cost, acoustic cost, transition-id string). On disk it is an OpenFst VectorFst: the header
(magic 0x7eb2fdd6, fst type "vector", arc type "compactlattice44", version 2, flags, properties, start,
number of states, number of arcs), then per state its final weight, an int64 arc count and its arcs (int32
ilabel, int32 olabel, weight, int32 next state); a weight is two floats, an int32 length and the int32
transition-ids, the non-final weight being (inf, inf, empty). In an archive the key and a space precede the
FST directly (no "\\0B": CompactLatticeHolder writes none). In text form the key is followed by a newline,
the FST's lines "state<TAB>next<TAB>word[<TAB>graph,acoustic,tid_tid_...]" and "state[<TAB>weight]" for final
states, start state first, and an empty line.

kaldifst 1.7.17 has Lattice, scale_lattice and shortest_path but no CompactLattice, no ConvertLattice and no
lattice determinisation, so those are written here: `determinize_lattice` follows Kaldi's
DeterminizeLatticePruned (lat/determinize-lattice-pruned.cc) -- subsets of raw states with residual weights and
transition-id strings, epsilon closure over word-less arcs, subsets kept in their minimal form (states that are
final or have word arcs), normalisation by the best weight and the common string prefix, and tasks expanded best
first by forward + backward cost, dropped beyond best + beam, memory bounded by Kaldi's max_mem with its retry at
a narrower beam -- then Connect, and the acoustic costs divided by the decoding's acoustic scale, as
gmm-latgen-simple writes them. (Kaldi's decoders first determinise on phones, DeterminizeLatticePhonePruned, to
go faster; the result is the same word-level determinised lattice up to pruning.) The algorithm is written twice:
here in Python (_Determinizer, the reference, readable) and in latdet.cc (the same steps in the same
floating-point order, built by tools/setup.sh; 4 to 5 times faster on hybrid lattices, see
benchmarks/bench_lattice.py); the tests require byte-identical lattices from both.
"""

from __future__ import annotations

import ctypes
import heapq
import logging
import math
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import kaldifst
import numpy as np

from .stream import KaldiFormatError, format_numbers
from .tables import ArchiveWriter, iter_archive

log = logging.getLogger(__name__)

FST_MAGIC = 2125659606
INF = math.inf
DELTA = 1.0 / 1024          # OpenFst's kDelta, used by Kaldi to compare weights of subsets

# OpenFst property bits (fst/properties.h) stated in the header of the lattices written here: only what holds
# (a VectorFst is expanded and mutable; a CompactLattice is an acceptor; determinism is checked); OpenFst works
# out any other property when it needs it
_EXPANDED, _MUTABLE, _ACCEPTOR, _I_DETERMINISTIC, _O_DETERMINISTIC = 0x1, 0x2, 0x10000, 0x40000, 0x100000

Arc = tuple  # (word, next state, graph cost, acoustic cost, transition-ids)


@dataclass
class CompactLattice:
    """A CompactLattice: per state its arcs (word, next state, graph cost, acoustic cost, transition-id tuple)
    and final weight ((graph, acoustic, transition-ids) or None); start is -1 for an empty lattice."""
    start: int
    arcs: list[list[Arc]]
    finals: list[tuple[float, float, tuple[int, ...]] | None]

    @property
    def num_states(self) -> int:
        return len(self.arcs)

    @property
    def num_arcs(self) -> int:
        return sum(len(a) for a in self.arcs)

    def is_deterministic(self) -> bool:
        return all(len({a[0] for a in arcs}) == len(arcs) and all(a[0] != 0 for a in arcs) for arcs in self.arcs)

    def scaled(self, lm_scale: float = 1.0, acoustic_scale: float = 1.0) -> "CompactLattice":
        """lattice-scale: graph costs times lm_scale, acoustic costs times acoustic_scale (in float, as Kaldi)."""
        def f(g: float, a: float) -> tuple[float, float]:
            if g == INF:
                return INF, INF
            return _f32(lm_scale * g), _f32(acoustic_scale * a)
        arcs = [[(w, n, *f(g, a), s) for w, n, g, a, s in arcs] for arcs in self.arcs]
        finals = [None if x is None else (*f(x[0], x[1]), x[2]) for x in self.finals]
        return CompactLattice(self.start, arcs, finals)

    def topological_order(self, source: str = "lattice") -> list[int]:
        """States in topological order (Kahn); a cycle is an error (Kaldi's lattices are acyclic)."""
        indegree = [0] * self.num_states
        for arcs in self.arcs:
            for arc in arcs:
                indegree[arc[1]] += 1
        order = [s for s in range(self.num_states) if indegree[s] == 0]
        for s in order:
            for arc in self.arcs[s]:
                indegree[arc[1]] -= 1
                if indegree[arc[1]] == 0:
                    order.append(arc[1])
        if len(order) != self.num_states:
            raise KaldiFormatError(source, "the lattice has a cycle (Kaldi lattices are acyclic)")
        return order

    def best_path(self, acoustic_scale: float = 1.0, lm_scale: float = 1.0, source: str = "lattice"
                  ) -> "BestPath | None":
        """lattice-best-path after lattice-scale: the path of least lm_scale * graph + acoustic_scale * acoustic
        cost (ties: least graph cost), with its words, transition-ids and unscaled costs; None if no path."""
        if self.start < 0:
            return None
        cost = [INF] * self.num_states
        back: list[tuple[int, int] | None] = [None] * self.num_states
        cost[self.start] = 0.0
        best, best_state = INF, -1
        for s in self.topological_order(source):
            c = cost[s]
            if c == INF:
                continue
            final = self.finals[s]
            if final is not None and final[0] != INF:
                total = c + lm_scale * final[0] + acoustic_scale * final[1]
                if total < best:
                    best, best_state = total, s
            for i, (_, nxt, g, a, _) in enumerate(self.arcs[s]):
                if g == INF:
                    continue
                new = c + lm_scale * g + acoustic_scale * a
                if new < cost[nxt]:
                    cost[nxt], back[nxt] = new, (s, i)
        if best_state < 0:
            return None
        path, s = [], best_state
        while back[s] is not None:
            prev, i = back[s]
            path.append(self.arcs[prev][i])
            s = prev
        path.reverse()
        final = self.finals[best_state]
        words, word_frames, tids = [], [], []
        for arc in path:
            if arc[0] != 0:
                words.append(arc[0])
                word_frames.append(len(tids))
            tids += arc[4]
        tids += list(final[2])
        return BestPath(words, tids, sum(a[2] for a in path) + final[0], sum(a[3] for a in path) + final[1],
                        word_frames)


@dataclass
class BestPath:
    words: list[int]
    transition_ids: list[int]       # the alignment: one per frame
    graph_cost: float
    acoustic_cost: float
    word_frames: list[int]          # the frame where each word's arc starts


def _f32(x: float) -> float:
    return float(np.float32(x))


# -- the decoder's raw lattice --------------------------------------------------------------------------------
@dataclass
class RawLattice:
    """A state-level lattice (kaldifst.Lattice) as Python lists: arcs (transition-id, word, graph cost,
    acoustic cost, next state) and final (graph, acoustic) or None."""
    start: int
    arcs: list[list[tuple[int, int, float, float, int]]]
    finals: list[tuple[float, float] | None]

    @classmethod
    def from_kaldifst(cls, lattice: kaldifst.Lattice) -> "RawLattice":
        """Through the lattice's OpenFst binary form (the wheels expose no arc iterator for lattices, and
        their text form rounds weights to 6 digits)."""
        return read_fst(_kaldifst_bytes(lattice), 0, "the decoder's lattice", expect_compact=False)[0]


def phone_loop_lattice(frames: int, phones: int, seed: int = 0) -> RawLattice:
    """A synthetic raw lattice for tests and benchmarks: that of a net that cannot tell `phones` phones apart,
    any phone at any frame (transition-id = word = phone + 1), a phone change costing 1 (graph) and each frame a
    random acoustic cost in [0, 2); far more phone sequences within a beam than frames."""
    cost = np.random.default_rng(seed).uniform(0.0, 2.0, (frames, phones))

    def state(t: int, k: int) -> int:
        return 1 + t * phones + k

    arcs = [[(k + 1, k + 1, 0.0, float(cost[0, k]), state(0, k)) for k in range(phones)]]
    for t in range(frames):
        for k in range(phones):
            arcs.append([] if t + 1 == frames else
                        [(j + 1, 0 if j == k else j + 1, 0.0 if j == k else 1.0, float(cost[t + 1, j]),
                          state(t + 1, j)) for j in range(phones)])
    finals = [None] + [(0.0, 0.0) if t + 1 == frames else None for t in range(frames) for _ in range(phones)]
    return RawLattice(0, arcs, finals)


def _kaldifst_bytes(lattice: kaldifst.Lattice) -> bytes:
    fd, name = tempfile.mkstemp(suffix=".fst")
    os.close(fd)
    try:
        if not lattice.write(name):
            raise RuntimeError(f"kaldifst could not write a lattice to {name}")
        return Path(name).read_bytes()
    finally:
        os.unlink(name)


@dataclass
class RawArrays:
    """A raw lattice as arrays, as the compiled determiniser takes it: per state the offset of its first arc
    (num_states + 1 values), per arc transition-id, word, graph and acoustic cost, next state; per state the
    final costs (inf: not final)."""
    start: int
    offsets: np.ndarray
    tid: np.ndarray
    word: np.ndarray
    g: np.ndarray
    a: np.ndarray
    next: np.ndarray
    final_g: np.ndarray
    final_a: np.ndarray

    @classmethod
    def from_raw(cls, raw: RawLattice) -> "RawArrays":
        flat = [arc for arcs in raw.arcs for arc in arcs]
        column = lambda i, dtype: np.array([arc[i] for arc in flat], dtype=dtype)   # noqa: E731
        finals = [f if f is not None else (INF, INF) for f in raw.finals]
        return cls(raw.start, np.concatenate([[0], np.cumsum([len(a) for a in raw.arcs])]).astype(np.int64),
                   column(0, np.int32), column(1, np.int32), column(2, np.float64), column(3, np.float64),
                   column(4, np.int32), np.array([f[0] for f in finals], dtype=np.float64),
                   np.array([f[1] for f in finals], dtype=np.float64))

    @classmethod
    def from_kaldifst(cls, lattice: kaldifst.Lattice) -> "RawArrays":
        data, source = _kaldifst_bytes(lattice), "the decoder's lattice"
        _, arc_type, _, _, _, start, num_states, _, pos = read_fst_header(data, 4, source, "lattice header")
        if arc_type not in ("lattice4", "lattice8"):
            raise KaldiFormatError(source, f"expected a state-level lattice, found arc type {arc_type!r}")
        counts, arcs, finals, _ = _state_level_arrays(data, pos, num_states, _ARC_TYPES[arc_type][0], source)
        as_c = np.ascontiguousarray
        return cls(start if num_states else -1, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                   as_c(arcs["i"]), as_c(arcs["o"]), as_c(arcs["g"], np.float64), as_c(arcs["a"], np.float64),
                   as_c(arcs["n"]), as_c(finals["g"], np.float64), as_c(finals["a"], np.float64))


# -- the compiled determiniser (latdet.cc, built by tools/setup.sh) ---------------------------------------------
_LATDET_ABI = 1
_latdet_lib = None


def _latdet():
    """The compiled determiniser, or None (with one warning) when it is not built or older than its source."""
    global _latdet_lib
    if _latdet_lib is None:
        here = Path(__file__).parent
        lib_path, source = here / "liblatdet.so.1", here / "latdet.cc"
        reason = None
        if not lib_path.exists():
            reason = "not built"
        elif source.exists() and source.stat().st_mtime > lib_path.stat().st_mtime:
            reason = "older than latdet.cc"
        else:
            try:
                lib = ctypes.CDLL(str(lib_path))
                if lib.latdet_abi_version() != _LATDET_ABI:
                    reason = "built from another version of latdet.cc"
            except OSError as e:
                reason = f"cannot be loaded ({e})"
        if reason:
            log.warning("%s is %s: lattices are determinised by the Python reference, 4 to 5 times slower "
                        "(tools/setup.sh builds it)", lib_path, reason)
            _latdet_lib = False
        else:
            p, i32, i64, f64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_double
            lib.latdet_run.argtypes = [i32, i32, p, p, p, p, p, p, p, p, f64, f64, i64]
            lib.latdet_run.restype = p
            lib.latdet_num_states.argtypes, lib.latdet_num_states.restype = [p], i32
            lib.latdet_effective_beam.argtypes, lib.latdet_effective_beam.restype = [p], f64
            lib.latdet_sizes.argtypes = [p, p, p]
            lib.latdet_get.argtypes = [p] * 11
            lib.latdet_free.argtypes = [p]
            _latdet_lib = lib
    return _latdet_lib or None


def _determinize_compiled(lib, raw: RawArrays, beam: float, prune_beam: float, max_mem: int
                          ) -> tuple[CompactLattice, float]:
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)    # noqa: E731
    handle = lib.latdet_run(len(raw.final_g), raw.start, ptr(raw.offsets), ptr(raw.tid), ptr(raw.word),
                            ptr(raw.g), ptr(raw.a), ptr(raw.next), ptr(raw.final_g), ptr(raw.final_a),
                            beam, prune_beam, max_mem)
    if not handle:
        raise ValueError("the raw lattice has a cycle (epsilon cycles in the decoding graph?)")
    try:
        num_states, effective = lib.latdet_num_states(handle), lib.latdet_effective_beam(handle)
        if num_states < 0:
            return CompactLattice(-1, [], []), effective
        num_arcs, num_tids = ctypes.c_int64(), ctypes.c_int64()
        lib.latdet_sizes(handle, ctypes.byref(num_arcs), ctypes.byref(num_tids))
        na = num_arcs.value
        src, word, dst = (np.empty(na, np.int32) for _ in range(3))
        g, a, final_g, final_a = np.empty(na), np.empty(na), np.empty(num_states), np.empty(num_states)
        arc_len, final_len = np.empty(na, np.int64), np.empty(num_states, np.int64)
        tids = np.empty(max(num_tids.value, 1), np.int32)
        lib.latdet_get(handle, ptr(src), ptr(word), ptr(dst), ptr(g), ptr(a), ptr(arc_len), ptr(final_g),
                       ptr(final_a), ptr(final_len), ptr(tids))
    finally:
        lib.latdet_free(handle)
    tid_list, pos = tids.tolist(), 0
    arcs: list[list[Arc]] = [[] for _ in range(num_states)]
    for s, w, d, gc, ac, n in zip(src.tolist(), word.tolist(), dst.tolist(), g.tolist(), a.tolist(),
                                  arc_len.tolist()):
        arcs[s].append((w, d, gc, ac, tuple(tid_list[pos:pos + n])))
        pos += n
    finals: list[tuple[float, float, tuple[int, ...]] | None] = []
    for gc, ac, n in zip(final_g.tolist(), final_a.tolist(), final_len.tolist()):
        finals.append(None if gc == INF else (gc, ac, tuple(tid_list[pos:pos + n])))
        pos += n
    return CompactLattice(0, arcs, finals), effective


MAX_MEM = 50_000_000        # Kaldi's DeterminizeLatticePrunedOptions::max_mem (bytes)
RETRY_CUTOFF = 0.5          # ... ::retry_cutoff
MAX_ITERATIONS = 10         # DeterminizeLatticePruned's max_num_iters


@dataclass
class Determinized:
    """A determinised lattice and the lattice beam it was finally pruned with (below the beam asked for when the
    subsets outgrew max_mem and the raw lattice was pruned harder, as Kaldi does)."""
    lattice: CompactLattice
    beam: float


def determinize_lattice(raw: kaldifst.Lattice | RawLattice, beam: float, acoustic_scale: float = 1.0,
                        max_mem: int = MAX_MEM, implementation: str = "auto") -> Determinized:
    """Kaldi's DeterminizeLatticePruned of a decoder's raw lattice (input labels transition-ids, output labels
    words, acoustic costs scaled by `acoustic_scale`), then Connect; the acoustic costs of the result are
    divided by `acoustic_scale`, as gmm-latgen-* and latgen-faster-mapped write them.

    Memory is bounded as in Kaldi: when the subsets and their strings outgrow `max_mem` (estimated as Kaldi
    counts them: 16 bytes per subset element, 4 per transition-id of a string) determinisation stops; the beam
    it had reached (the next task's cost over the best path's) is the effective beam. Below retry_cutoff of the
    beam, the raw lattice is pruned with beam * sqrt(effective / beam) (at least a quarter of the beam) and
    determinised again, at most MAX_ITERATIONS times; the last attempt's lattice is kept (its best paths come
    first). implementation: "compiled" (latdet.cc), "python" (_Determinizer, the reference) or "auto" (compiled
    when built); both give the same lattice."""
    lib = _latdet() if implementation != "python" else None
    if implementation == "compiled" and lib is None:
        raise RuntimeError("the compiled lattice determiniser is not built (tools/setup.sh builds it)")
    if lib is not None:
        arrays = RawArrays.from_kaldifst(raw) if isinstance(raw, kaldifst.Lattice) else RawArrays.from_raw(raw)
        determinize = lambda b, prune: _determinize_compiled(lib, arrays, b, prune, max_mem)  # noqa: E731
    else:
        original = RawLattice.from_kaldifst(raw) if isinstance(raw, kaldifst.Lattice) else raw

        def determinize(b: float, prune: float) -> tuple[CompactLattice, float]:
            det = _Determinizer(original if prune < 0 else prune_raw_lattice(original, prune), b, max_mem)
            return det.run(), det.effective_beam
    prune = -1.0
    for iteration in range(MAX_ITERATIONS):
        clat, effective = determinize(beam, prune)
        if effective >= beam * RETRY_CUTOFF or iteration + 1 == MAX_ITERATIONS:
            break
        beam = prune = max(beam * math.sqrt(max(effective, 0.0) / beam), 0.25 * beam)
    clat = _connect(clat)
    if acoustic_scale != 1.0:
        clat = clat.scaled(1.0, 1.0 / acoustic_scale)
    return Determinized(clat, beam)


def prune_raw_lattice(raw: RawLattice, beam: float) -> RawLattice:
    """Kaldi's PruneLattice: drop the arcs and final weights of a raw lattice whose best path through them costs
    more than the best path's + beam (states stay, unreachable)."""
    order = _raw_topological_order(raw)
    n = len(raw.arcs)
    forward = [INF] * n
    if raw.start >= 0:
        forward[raw.start] = 0.0
    for s in order:
        f = forward[s]
        if f == INF:
            continue
        for _, _, g, a, nxt in raw.arcs[s]:
            if f + g + a < forward[nxt]:
                forward[nxt] = f + g + a
    backward = _backward_costs(raw, order)
    cutoff = (backward[raw.start] if raw.start >= 0 else INF) + beam
    arcs = [[arc for arc in raw.arcs[s] if forward[s] + arc[2] + arc[3] + backward[arc[4]] <= cutoff]
            for s in range(n)]
    finals = [f if f is not None and forward[s] + f[0] + f[1] <= cutoff else None
              for s, f in enumerate(raw.finals)]
    return RawLattice(raw.start, arcs, finals)


def _backward_costs(raw: RawLattice, order: list[int]) -> list[float]:
    """Per state the cost of its best path to a final state."""
    backward = [INF] * len(raw.arcs)
    for s in reversed(order):
        final = raw.finals[s]
        best = final[0] + final[1] if final is not None else INF
        for _, _, g, a, nxt in raw.arcs[s]:
            c = g + a + backward[nxt]
            if c < best:
                best = c
        backward[s] = best
    return backward


class _Determinizer:
    """LatticeDeterminizerPruned on words (the raw lattice inverted: words are the labels, transition-ids the
    strings). Subsets are tuples of (state, graph, acoustic, string) sorted by state."""

    def __init__(self, raw: RawLattice, beam: float, max_mem: int):
        self.raw = raw
        self.max_mem = max_mem
        self.mem = 0                # estimated bytes of subsets and strings, as Kaldi's num_mem_
        self.effective_beam = beam
        n = len(raw.arcs)
        order = _raw_topological_order(raw)
        self.rank = [0] * n
        for r, s in enumerate(order):
            self.rank[s] = r
        self.backward = backward = _backward_costs(raw, order)
        self.best = backward[raw.start] if raw.start >= 0 else INF
        self.cutoff = self.best + beam
        # word-less arcs (followed in epsilon closures) and word arcs (transitions of determinised states)
        self.eps = [[(tid, g, a, nxt) for tid, word, g, a, nxt in arcs if word == 0 and g != INF] for arcs in raw.arcs]
        self.word_arcs = [[arc for arc in arcs if arc[1] != 0 and arc[2] != INF] for arcs in raw.arcs]
        self.keep = [raw.finals[s] is not None or bool(self.word_arcs[s]) for s in range(n)]
        self.states: list[tuple] = []           # minimal subsets
        self.forward: list[float] = []
        self.out_arcs: list[list[Arc]] = []
        self.out_final: list[tuple | None] = []
        self.minimal_hash: dict[tuple, list[tuple[tuple, int]]] = {}
        self.initial_hash: dict[tuple, list[tuple[tuple, tuple]]] = {}
        self.queue: list = []
        self.counter = 0

    def run(self) -> CompactLattice:
        raw = self.raw
        if raw.start < 0 or self.backward[raw.start] == INF:
            return CompactLattice(-1, [], [])
        closure = self._closure({raw.start: (0.0, 0.0, ())})
        subset = tuple(sorted((s, *v) for s, v in closure.items() if self.keep[s]))
        self._new_state(subset, 0.0)    # the start state's subset is not normalised, as in Kaldi
        while self.queue:
            if self.mem > self.max_mem:
                # tasks go best first: every path cheaper than the next task's is in the lattice
                self.effective_beam = self.queue[0][0] - self.best
                break
            _, _, state, word, elems = heapq.heappop(self.queue)
            self._process_transition(state, word, elems)
        return CompactLattice(0, self.out_arcs, self.out_final)

    # -- subsets ----------------------------------------------------------------------------------------
    def _closure(self, subset: dict[int, tuple[float, float, tuple]]) -> dict[int, tuple[float, float, tuple]]:
        """Follow word-less arcs, keeping per state the best (weight, string); states in topological order, so
        that each is expanded once, with its final value."""
        eps, rank = self.eps, self.rank
        heap = [(rank[s], s) for s in subset if eps[s]]
        heapq.heapify(heap)
        push, pop, get = heapq.heappush, heapq.heappop, subset.get
        done = set()
        while heap:
            s = pop(heap)[1]
            if s in done:
                continue
            done.add(s)
            g0, a0, str0 = subset[s]
            for tid, g, a, nxt in eps[s]:
                new = (g0 + g, a0 + a, str0 + (tid,) if tid else str0)
                old = get(nxt)
                if old is not None:
                    c_new, c_old = new[0] + new[1], old[0] + old[1]
                    if c_new > c_old or (c_new == c_old and not _better(new, old)):
                        continue
                subset[nxt] = new
                if eps[nxt]:
                    push(heap, (rank[nxt], nxt))
        return subset

    @staticmethod
    def _normalize(elems: list[tuple]) -> tuple[tuple, tuple[float, float], tuple]:
        """Divide by the best weight and remove the common string prefix: (subset, weight, prefix)."""
        g0, a0 = elems[0][1], elems[0][2]
        prefix = elems[0][3]
        for _, g, a, s in elems[1:]:
            if g + a < g0 + a0 or (g + a == g0 + a0 and g < g0):
                g0, a0 = g, a
            if prefix:
                n = min(len(prefix), len(s))
                i = 0
                while i < n and prefix[i] == s[i]:
                    i += 1
                prefix = prefix[:i]
        k = len(prefix)
        return tuple((st, g - g0, a - a0, s[k:]) for st, g, a, s in elems), (g0, a0), prefix

    @staticmethod
    def _lookup(table: dict, subset: tuple):
        key = tuple((e[0], e[3]) for e in subset)
        for weights, value in table.get(key, ()):
            if all(abs((e[1] + e[2]) - (w[0] + w[1])) <= DELTA for e, w in zip(subset, weights)):
                return key, value
        return key, None

    def _new_state(self, subset: tuple, forward: float) -> int:
        """MinimalToStateId for a subset not seen before: record it, its final weight and its transitions."""
        state = len(self.states)
        self.states.append(subset)
        self.forward.append(forward)
        self.out_arcs.append([])
        self.out_final.append(None)
        key = tuple((e[0], e[3]) for e in subset)
        self.minimal_hash.setdefault(key, []).append((tuple((e[1], e[2]) for e in subset), state))
        self.mem += _subset_bytes(subset)
        self._process_final(state)
        self._process_transitions(state)
        return state

    def _process_final(self, state: int) -> None:
        best = None
        for s, g, a, string in self.states[state]:
            final = self.raw.finals[s]
            if final is None or final[0] == INF:
                continue
            cand = (g + final[0], a + final[1], string)
            if best is None or _better(cand, best):
                best = cand
        if best is not None and best[0] + best[1] + self.forward[state] <= self.cutoff:
            self.out_final[state] = best

    def _process_transitions(self, state: int) -> None:
        by_word: dict[int, dict[int, tuple]] = {}
        word_arcs = self.word_arcs
        for s, g0, a0, str0 in self.states[state]:
            for tid, word, g, a, nxt in word_arcs[s]:
                new = (g0 + g, a0 + a, str0 + (tid,) if tid else str0)
                targets = by_word.setdefault(word, {})
                old = targets.get(nxt)
                if old is None or _better(new, old):
                    targets[nxt] = new
        forward, backward = self.forward[state], self.backward
        for word in sorted(by_word):
            targets = by_word[word]
            priority = forward + min(g + a + backward[s] for s, (g, a, _) in targets.items())
            if priority > self.cutoff:
                continue
            elems = [(s, *targets[s]) for s in sorted(targets)]
            self.counter += 1
            heapq.heappush(self.queue, (priority, self.counter, state, word, elems))

    def _process_transition(self, state: int, word: int, elems: list[tuple]) -> None:
        subset, (g0, a0), prefix = self._normalize(elems)
        forward = self.forward[state] + g0 + a0
        key, found = self._lookup(self.initial_hash, subset)
        if found is None:
            closure = self._closure({s: (g, a, string) for s, g, a, string in subset})
            minimal = sorted((s, *v) for s, v in closure.items() if self.keep[s])
            minimal, (g1, a1), rest = self._normalize(minimal)
            _, target = self._lookup(self.minimal_hash, minimal)
            if target is None:
                target = self._new_state(minimal, forward + g1 + a1)
            found = (target, g1, a1, rest)
            self.initial_hash.setdefault(key, []).append((tuple((e[1], e[2]) for e in subset), found))
            self.mem += _subset_bytes(subset)
        target, g1, a1, rest = found
        self.mem += 16 + 4 * (len(prefix) + len(rest))
        self.out_arcs[state].append((word, target, g0 + g1, a0 + a1, prefix + rest))


def _subset_bytes(subset: tuple) -> int:
    return sum(16 + 4 * len(e[3]) for e in subset)


def _better(x: tuple, y: tuple) -> bool:
    """Kaldi's Compare(x, y) == 1 on (graph, acoustic, string): less total cost, then less graph cost, then the
    shorter string, then the lexicographically greater one."""
    cx, cy = x[0] + x[1], y[0] + y[1]
    if cx != cy:
        return cx < cy
    if x[0] != y[0]:
        return x[0] < y[0]
    if len(x[2]) != len(y[2]):
        return len(x[2]) < len(y[2])
    return x[2] > y[2]


def _raw_topological_order(raw: RawLattice) -> list[int]:
    n = len(raw.arcs)
    indegree = [0] * n
    for arcs in raw.arcs:
        for arc in arcs:
            indegree[arc[4]] += 1
    order = [s for s in range(n) if indegree[s] == 0]
    for s in order:
        for arc in raw.arcs[s]:
            indegree[arc[4]] -= 1
            if indegree[arc[4]] == 0:
                order.append(arc[4])
    if len(order) != n:
        raise ValueError("the raw lattice has a cycle (epsilon cycles in the decoding graph?)")
    return order


def _connect(clat: CompactLattice) -> CompactLattice:
    """OpenFst Connect: drop states not on a path from the start to a final state, keeping their order."""
    n = clat.num_states
    if clat.start < 0:
        return clat
    reach = [False] * n
    reach[clat.start] = True
    stack = [clat.start]
    while stack:
        for arc in clat.arcs[stack.pop()]:
            if not reach[arc[1]]:
                reach[arc[1]] = True
                stack.append(arc[1])
    incoming: list[list[int]] = [[] for _ in range(n)]
    for s, arcs in enumerate(clat.arcs):
        for arc in arcs:
            incoming[arc[1]].append(s)
    coreach = [f is not None for f in clat.finals]
    stack = [s for s in range(n) if coreach[s]]
    while stack:
        for prev in incoming[stack.pop()]:
            if not coreach[prev]:
                coreach[prev] = True
                stack.append(prev)
    keep = [reach[s] and coreach[s] for s in range(n)]
    if not keep[clat.start]:
        return CompactLattice(-1, [], [])
    new_id = np.cumsum(keep) - 1
    arcs = [[(w, int(new_id[nx]), g, a, st) for w, nx, g, a, st in clat.arcs[s] if keep[nx]]
            for s in range(n) if keep[s]]
    finals = [clat.finals[s] for s in range(n) if keep[s]]
    return CompactLattice(int(new_id[clat.start]), arcs, finals)


# -- OpenFst binary form -----------------------------------------------------------------------------------------
_ARC_TYPES = {"compactlattice44": ("<f", True), "compactlattice84": ("<d", True),
              "lattice4": ("<f", False), "lattice8": ("<d", False)}


def read_fst_header(data: bytes, pos: int, source, what: str) -> tuple[str, str, int, int, int, int, int, int, int]:
    """The OpenFst binary header after its magic number at `pos`: (fst type, arc type, version, flags,
    properties, start, states, arcs, position after the header); `what` names it in errors."""
    def string(pos: int) -> tuple[str, int]:
        if pos + 4 > len(data):
            raise KaldiFormatError(source, f"{what} ends early (truncated?)")
        (n,) = struct.unpack_from("<i", data, pos)
        if not 0 <= n <= 256 or pos + 4 + n > len(data):
            raise KaldiFormatError(source, f"corrupt {what}")
        return data[pos + 4:pos + 4 + n].decode("latin-1"), pos + 4 + n

    fst_type, pos = string(pos)
    arc_type, pos = string(pos)
    if pos + 40 > len(data):
        raise KaldiFormatError(source, f"{what} ends early (truncated?)")
    version, flags, props, start, num_states, num_arcs = struct.unpack_from("<iiQqqq", data, pos)
    return fst_type, arc_type, version, flags, props, start, num_states, num_arcs, pos + 40


def read_fst(data: bytes, pos: int, source: str, expect_compact: bool = True):
    """Read one lattice VectorFst in OpenFst binary form at `pos`: (CompactLattice or RawLattice, position after
    it). A CompactLattice is expected unless expect_compact=False; a state-level lattice (lattice4) where a
    compact one is expected is converted as Kaldi's ConvertLattice does (words as labels, transition-ids into
    the strings)."""
    if pos + 4 > len(data):
        raise KaldiFormatError(source, "file ends where a lattice should begin (truncated?)")
    (magic,) = struct.unpack_from("<i", data, pos)
    if magic != FST_MAGIC:
        raise KaldiFormatError(source, "expected a lattice (an OpenFst binary FST), found other data")
    fst_type, arc_type, version, flags, _props, start, num_states, _num_arcs, pos = read_fst_header(
        data, pos + 4, source, "lattice header")
    if fst_type != "vector":
        raise KaldiFormatError(source, f"expected a vector FST, found fst type {fst_type!r}")
    if arc_type not in _ARC_TYPES:
        raise KaldiFormatError(source, f"expected a lattice (arc type compactlattice44), found arc type "
                                       f"{arc_type!r}")
    if version != 2 or flags & 3:
        raise KaldiFormatError(source, f"unsupported lattice format (version {version}, flags {flags}: symbol "
                                       "tables are not supported)")
    float_fmt, compact = _ARC_TYPES[arc_type]
    if expect_compact is False and compact:
        raise KaldiFormatError(source, "expected a state-level lattice, found a compact lattice")
    fsize = struct.calcsize(float_fmt)
    if num_states < 0 or num_states > (len(data) - pos) // (2 * fsize + 8) or not -1 <= start < max(num_states, 1):
        raise KaldiFormatError(source, f"corrupt lattice header ({num_states} states, start {start})")
    pair = struct.Struct(f"<2{float_fmt[1]}")
    arcs_out, finals = [], []
    try:
        if compact:
            for _ in range(num_states):
                final, pos = _read_compact_weight(data, pos, pair)
                (narcs,) = struct.unpack_from("<q", data, pos)
                pos += 8
                if not 0 <= narcs <= (len(data) - pos) // 20:
                    raise KaldiFormatError(source, "corrupt or truncated lattice (arc count)")
                arcs = []
                for _ in range(narcs):
                    ilabel, olabel = struct.unpack_from("<ii", data, pos)
                    weight, pos = _read_compact_weight(data, pos + 8, pair)
                    (nxt,) = struct.unpack_from("<i", data, pos)
                    pos += 4
                    if ilabel != olabel or weight is None or not 0 <= nxt < num_states:
                        raise KaldiFormatError(source, "corrupt compact lattice (arc labels, weight or state)")
                    arcs.append((ilabel, nxt, *weight))
                arcs_out.append(arcs)
                finals.append(final)
            return CompactLattice(start if num_states else -1, arcs_out, finals), pos
        arcs_out, finals, pos = _read_state_level(data, pos, num_states, float_fmt, source)
    except struct.error:
        raise KaldiFormatError(source, "lattice ends early (truncated?)") from None
    raw = RawLattice(start if num_states else -1, arcs_out, finals)
    if expect_compact:
        return _raw_to_compact(raw), pos
    return raw, pos


def _state_level_arrays(data: bytes, pos: int, num_states: int, float_fmt: str, source: str):
    """The states of a lattice4/lattice8 VectorFst, vectorised: a state is final weight (2 floats), int64 arc
    count, arcs of (int32 ilabel, int32 olabel, 2 floats, int32 next state). Returns (arc counts per state,
    arcs as a structured array i/o/g/a/n, finals as a structured array g/a, position after the states)."""
    fsize = struct.calcsize(float_fmt)
    state_head, arc_size = 2 * fsize + 8, 12 + 2 * fsize
    starts, counts = np.empty(num_states, dtype=np.int64), np.empty(num_states, dtype=np.int64)
    count_at = struct.Struct("<q").unpack_from
    p = pos
    for s in range(num_states):
        if p + state_head > len(data):
            raise KaldiFormatError(source, "lattice ends early (truncated?)")
        (n,) = count_at(data, p + 2 * fsize)
        if n < 0:
            raise KaldiFormatError(source, "corrupt lattice (negative arc count)")
        starts[s], counts[s] = p, n
        p += state_head + n * arc_size
    if p > len(data):
        raise KaldiFormatError(source, "lattice ends early (truncated?)")
    arc_dtype = np.dtype([("i", "<i4"), ("o", "<i4"), ("g", float_fmt), ("a", float_fmt), ("n", "<i4")])
    final_dtype = np.dtype([("g", float_fmt), ("a", float_fmt)])
    buffer = np.frombuffer(data, dtype=np.uint8, count=p - pos, offset=pos)
    final_rows = (starts - pos)[:, None] + np.arange(final_dtype.itemsize)
    finals_arr = buffer[final_rows].copy().view(final_dtype).reshape(-1)
    first = np.repeat(starts - pos + state_head, counts)
    within = np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
    arc_rows = (first + within * arc_size)[:, None] + np.arange(arc_size)
    arcs_arr = buffer[arc_rows].copy().view(arc_dtype).reshape(-1)
    if len(arcs_arr) and not ((arcs_arr["n"] >= 0) & (arcs_arr["n"] < num_states)).all():
        raise KaldiFormatError(source, "corrupt lattice (arc to a state that does not exist)")
    return counts, arcs_arr, finals_arr, p


def _read_state_level(data: bytes, pos: int, num_states: int, float_fmt: str, source: str):
    """The states of a lattice4/lattice8 VectorFst as RawLattice's lists: (arcs, finals, position after)."""
    counts, arcs_arr, finals_arr, p = _state_level_arrays(data, pos, num_states, float_fmt, source)
    flat = list(zip(arcs_arr["i"].tolist(), arcs_arr["o"].tolist(), arcs_arr["g"].tolist(),
                    arcs_arr["a"].tolist(), arcs_arr["n"].tolist()))
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    arcs = [flat[bounds[s]:bounds[s + 1]] for s in range(num_states)]
    finals = [None if g == INF else (g, a) for g, a in zip(finals_arr["g"].tolist(), finals_arr["a"].tolist())]
    return arcs, finals, p


def _read_compact_weight(data: bytes, pos: int, pair: struct.Struct):
    g, a = pair.unpack_from(data, pos)
    pos += pair.size
    (n,) = struct.unpack_from("<i", data, pos)
    pos += 4
    if n < 0 or pos + 4 * n > len(data):
        raise struct.error("string")
    string = struct.unpack_from(f"<{n}i", data, pos) if n else ()
    pos += 4 * n
    return (None if g == INF else (_f32(g), _f32(a), tuple(string))), pos


def _raw_to_compact(raw: RawLattice) -> CompactLattice:
    arcs = [[(word, nxt, g, a, (tid,) if tid else ()) for tid, word, g, a, nxt in arcs] for arcs in raw.arcs]
    finals = [None if f is None else (f[0], f[1], ()) for f in raw.finals]
    return CompactLattice(raw.start, arcs, finals)


def encode_compact_lattice(clat: CompactLattice, binary: bool = True) -> bytes:
    """CompactLatticeHolder::Write: the OpenFst binary form (no "\\0B"), or the text form with its newlines."""
    if not binary:
        return b"\n" + _text_lattice(clat).encode() + b"\n"
    parts = []
    props = _EXPANDED | _MUTABLE | _ACCEPTOR
    if clat.is_deterministic():
        props |= _I_DETERMINISTIC | _O_DETERMINISTIC
    header = (struct.pack("<i", FST_MAGIC) + _pack_string("vector") + _pack_string("compactlattice44")
              + struct.pack("<iiQqqq", 2, 0, props, clat.start, clat.num_states, 0))
    parts.append(header)
    none = struct.pack("<ffi", INF, INF, 0)
    for arcs, final in zip(clat.arcs, clat.finals):
        parts.append(none if final is None else _pack_weight(*final))
        parts.append(struct.pack("<q", len(arcs)))
        for word, nxt, g, a, string in arcs:
            parts.append(struct.pack("<ii", word, word) + _pack_weight(g, a, string) + struct.pack("<i", nxt))
    return b"".join(parts)


def _pack_string(s: str) -> bytes:
    return struct.pack("<i", len(s)) + s.encode()


def _pack_weight(g: float, a: float, string: tuple[int, ...]) -> bytes:
    return struct.pack(f"<ffi{len(string)}i", g, a, len(string), *string)


def _text_lattice(clat: CompactLattice) -> str:
    """OpenFst's FstPrinter on an acceptor (start state first), weights as Kaldi prints them."""
    if clat.start < 0:
        return ""
    floats = [v for arcs in clat.arcs for arc in arcs for v in arc[2:4]]
    floats += [v for f in clat.finals if f is not None for v in f[:2]]
    text = iter(format_numbers(np.array(floats, dtype=np.float32)))

    def weight(g: float, a: float, string: tuple[int, ...]) -> str:
        return f"{next(text)},{next(text)},{'_'.join(map(str, string))}"

    arc_lines: list[list[str]] = []
    for s, arcs in enumerate(clat.arcs):
        lines = []
        for word, nxt, g, a, string in arcs:
            w = weight(g, a, string)
            one = g == 0 and a == 0 and not string          # Weight::One() is not printed
            lines.append(f"{s}\t{nxt}\t{word}" + ("" if one else f"\t{w}") + "\n")
        arc_lines.append(lines)
    final_lines = []
    for s, final in enumerate(clat.finals):
        if final is None:
            final_lines.append("" if clat.arcs[s] else f"{s}\tInfinity,Infinity,\n")
        else:
            w = weight(*final)
            one = final[0] == 0 and final[1] == 0 and not final[2]
            final_lines.append(f"{s}\n" if one else f"{s}\t{w}\n")
    order = [clat.start] + [s for s in range(clat.num_states) if s != clat.start]
    return "".join("".join(arc_lines[s]) + final_lines[s] for s in order)


def _parse_text_weight(text: str, source: str) -> tuple[float, float, tuple[int, ...]]:
    parts = text.split(",")
    try:
        if len(parts) == 3:
            string = tuple(int(t) for t in parts[2].split("_")) if parts[2] else ()
        elif len(parts) == 2:
            string = ()
        else:
            raise ValueError
        g, a = (INF if p == "Infinity" else float(p) for p in parts[:2])
    except ValueError:
        raise KaldiFormatError(source, f"expected a lattice weight graph,acoustic[,tids], found {text!r}") from None
    return _f32(g), _f32(a), string


def _read_text_lattice(data: bytes, pos: int, source: str) -> tuple[CompactLattice, int]:
    """LatticeReader::ReadText for a compact lattice, or a state-level one (5 columns, converted)."""
    if data[pos:pos + 1] != b"\n":
        raise KaldiFormatError(source, "expected a newline before a lattice in text form")
    pos += 1
    arcs: dict[int, list] = {}
    finals: dict[int, tuple] = {}
    start, num_states = -1, 0
    while True:
        end = data.find(b"\n", pos)
        line = data[pos:len(data) if end < 0 else end].decode("utf-8", "replace")
        pos = len(data) if end < 0 else end + 1
        cols = line.replace("\r", "").split()
        if not cols:
            break
        try:
            s = int(cols[0])
            if start < 0:
                start = s
            if len(cols) <= 2:
                finals[s] = _parse_text_weight(cols[1], source) if len(cols) == 2 else (0.0, 0.0, ())
                num_states = max(num_states, s + 1)
                continue
            nxt = int(cols[1])
            if len(cols) == 3 or (len(cols) == 4 and "," in cols[3]):
                word = int(cols[2])
                weight = _parse_text_weight(cols[3], source) if len(cols) == 4 else (0.0, 0.0, ())
            elif len(cols) in (4, 5):   # state-level: ilabel (transition-id) olabel (word) [graph,acoustic]
                tid, word = int(cols[2]), int(cols[3])
                g, a, _ = _parse_text_weight(cols[4], source) if len(cols) == 5 else (0.0, 0.0, ())
                weight = (g, a, (tid,) if tid else ())
            else:
                raise ValueError
        except ValueError:
            raise KaldiFormatError(source, f"bad lattice line {line.strip()!r}") from None
        if s < 0 or nxt < 0:
            raise KaldiFormatError(source, f"bad lattice line {line.strip()!r}")
        arcs.setdefault(s, []).append((word, nxt, *weight))
        num_states = max(num_states, s + 1, nxt + 1)
        if end < 0:
            break
    clat = CompactLattice(start, [arcs.get(s, []) for s in range(num_states)],
                          [finals.get(s) for s in range(num_states)])
    return clat, pos


def read_lattice_entry(data: bytes, pos: int, source: str) -> tuple[CompactLattice, int]:
    """CompactLatticeHolder::Read: binary if the FST magic number follows the key, text if whitespace."""
    if pos >= len(data):
        raise KaldiFormatError(source, "archive ends after the key (truncated?)")
    if data[pos] in b" \t\r\n":
        return _read_text_lattice(data, pos, source)
    if data[pos] != 214:
        raise KaldiFormatError(source, "expected a lattice (OpenFst binary or text), found other data")
    return read_fst(data, pos, source)


def read_lattices(path: str | os.PathLike) -> Iterator[tuple[str, CompactLattice]]:
    """(utterance, CompactLattice) for each entry of a Kaldi lattice archive (lat.N.gz, binary or text)."""
    return iter_archive(path, read_lattice_entry)


def write_lattices(path: str | os.PathLike, items: Iterable[tuple[str, CompactLattice]], binary: bool = True) -> None:
    """A Kaldi CompactLattice archive (gzipped when the name ends in .gz), written atomically."""
    with ArchiveWriter(path, binary) as w:
        for key, clat in items:
            w.write_entry(key, encode_compact_lattice(clat, binary))


def best_paths(lattices: Iterable[tuple[str, CompactLattice]], lm_weights: Iterable[float], source: str = "lattices"
               ) -> dict[float, dict[str, list[int]]]:
    """Words of the best path of each lattice for each LM weight, as Kaldi's scoring does it:
    lattice-scale --inv-acoustic-scale=LMWT | lattice-best-path (an empty lattice gives no words)."""
    weights = list(lm_weights)
    out: dict[float, dict[str, list[int]]] = {w: {} for w in weights}
    for key, clat in lattices:
        for w in weights:
            best = clat.best_path(acoustic_scale=1.0 / w, source=f"{source}, entry {key}")
            out[w][key] = best.words if best is not None else []
    return out
