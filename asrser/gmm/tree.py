"""Phonetic decision trees, built in numpy and handed to the wheels in Kaldi's binary tree format.

Kaldi's acc-tree-stats, cluster-phones, compile-questions, build-tree, gmm-init-model and convert-ali are not
in the wheels. Here:

* tree statistics: per (left, centre, right phone, pdf-class) event, the count, sum and sum of squares of
  the features aligned to it (one Gaussian per event, as Kaldi's GaussClusterable);
* questions: phone sets from agglomerative clustering of the centre phones' statistics (the middle state,
  as cluster-phones' default --pdf-class-list=1), every node of the clustering tree being a question, plus
  the silence phones as a set;
* the tree: the roots of the lang's phones/roots.int as Kaldi's build-tree reads them (a root per line's
  phone set; "shared": one root for all pdf-classes, which the tree may then split by asking about the
  pdf-class (Kaldi's key -1, questions "pdf-class < k" as compile-questions makes them); "not-shared": a root
  per pdf-class; "not-split": never split), the phones of a root split by the centre phone (key 1) with the
  same questions as the context, context-independent phones (phones/context_indep) never split by context;
  or, the tree of earlier releases, one split root per (phone, pdf-class) (`roots=None`). Splitting is
  greedy on the question with the largest likelihood gain, best leaf first, until the target number of
  leaves or no split gains more than a threshold;
* the Kaldi EventMap: TableEventMap on the centre phone -> TableEventMap on the pdf-class -> SplitEventMaps
  on keys 0 (left) / 2 (right) -> ConstantEventMap(pdf), written as Kaldi binary bytes that
  ContextDependency reads, so graph compilation, alignment and decoding run in the wheels' C++. (Questions
  about the centre phone and the pdf-class are answered while writing: the table entries say which.)
"""

from __future__ import annotations

import heapq
import logging
import struct
from dataclasses import dataclass, field

import kaldi_hmm_gmm as khg
import numpy as np

from ..errors import AsrserError
from ..hmm.tables import alignment_to_phone_segments

log = logging.getLogger(__name__)
LOG_2PI = float(np.log(2 * np.pi))
LEFT, CENTRE, RIGHT, PDF_CLASS = 0, 1, 2, 3     # columns of TreeStats.events; Kaldi keys 0, 1, 2, -1


@dataclass
class TreeStats:
    """acc-tree-stats: events (E, 4) = (left, centre, right, pdf-class), with Gaussian statistics each."""
    events: np.ndarray     # (E, 4) int
    count: np.ndarray      # (E,)
    sum_x: np.ndarray      # (E, D)
    sum_x2: np.ndarray     # (E, D)

    @classmethod
    def from_frames(cls, events: np.ndarray, feats: np.ndarray) -> "TreeStats":
        if len(events) == 0:
            return cls(np.zeros((0, 4), np.int64), np.zeros(0), np.zeros((0, feats.shape[1])),
                       np.zeros((0, feats.shape[1])))
        keys, inverse = np.unique(events, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
        x = np.asarray(feats, dtype=np.float64)[order]
        return cls(keys, np.diff(np.r_[starts, len(order)]).astype(np.float64),
                   np.add.reduceat(x, starts, axis=0), np.add.reduceat(x * x, starts, axis=0))

    @classmethod
    def merge(cls, parts: list["TreeStats"]) -> "TreeStats":
        events = np.concatenate([p.events for p in parts])
        keys, inverse = np.unique(events, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n = len(keys)
        count = np.bincount(inverse, weights=np.concatenate([p.count for p in parts]), minlength=n)
        sum_x = np.zeros((n, parts[0].sum_x.shape[1]))
        sum_x2 = np.zeros_like(sum_x)
        np.add.at(sum_x, inverse, np.concatenate([p.sum_x for p in parts]))
        np.add.at(sum_x2, inverse, np.concatenate([p.sum_x2 for p in parts]))
        return cls(keys, count, sum_x, sum_x2)

    def save(self, f) -> None:
        np.savez(f, events=self.events, count=self.count, sum_x=self.sum_x, sum_x2=self.sum_x2)

    @classmethod
    def load(cls, path) -> "TreeStats":
        z = np.load(path)
        return cls(z["events"], z["count"], z["sum_x"], z["sum_x2"])


def frame_events(phone_of: np.ndarray, state_of: np.ndarray, alignment: np.ndarray) -> np.ndarray:
    """(T, 4) per-frame (left, centre, right, pdf-class) from a transition-id alignment; 0 at the edges.

    Kaldi's standard topologies use pdf-class = HMM state, which the lang here writes."""
    segments = alignment_to_phone_segments(phone_of, state_of, alignment)
    phones = np.array([p for p, _ in segments])
    lengths = np.array([n for _, n in segments])
    left = np.repeat(np.r_[0, phones[:-1]], lengths)
    right = np.repeat(np.r_[phones[1:], 0], lengths)
    return np.stack([left, phone_of[alignment], right, state_of[alignment]], axis=1)


def gauss_objf(count: np.ndarray, sum_x: np.ndarray, sum_x2: np.ndarray, var_floor: float = 0.01) -> np.ndarray:
    """Log-likelihood of the data under its own ML diagonal Gaussian (Kaldi's GaussClusterable::Objf)."""
    count = np.asarray(count, dtype=np.float64)
    safe = np.maximum(count, 1e-10)[..., None]
    var = np.maximum(sum_x2 / safe - (sum_x / safe) ** 2, var_floor)
    dim = sum_x.shape[-1]
    objf = -0.5 * count * (dim * (1.0 + LOG_2PI) + np.log(var).sum(-1))
    return np.where(count > 0, objf, 0.0)


# -- questions -------------------------------------------------------------------------------------------

def cluster_phones(stats: TreeStats, phone_sets: list[list[int]], pdf_class: int = 1) -> list[list[int]]:
    """Agglomerative clustering of phone sets by the likelihood loss of merging their centre statistics;
    returns every node of the resulting binary tree (leaves included) as a question."""
    rows = stats.events[:, PDF_CLASS] == pdf_class
    if not rows.any():
        rows = np.ones(len(stats.events), dtype=bool)
    centre = stats.events[rows, CENTRE]
    clusters = []
    for phones in phone_sets:
        sel = np.isin(centre, phones)
        clusters.append([sorted(phones), stats.count[rows][sel].sum(), stats.sum_x[rows][sel].sum(0),
                         stats.sum_x2[rows][sel].sum(0)])
    questions = [c[0] for c in clusters]
    active = [c for c in clusters if c[1] > 0]
    unseen = [c[0] for c in clusters if c[1] == 0]
    while len(active) > 1:
        n = len(active)
        cnt = np.array([c[1] for c in active])
        sx = np.stack([c[2] for c in active])
        sx2 = np.stack([c[3] for c in active])
        alone = gauss_objf(cnt, sx, sx2)
        merged = gauss_objf(cnt[:, None] + cnt[None], sx[:, None] + sx[None], sx2[:, None] + sx2[None])
        loss = alone[:, None] + alone[None] - merged
        loss[np.tril_indices(n)] = np.inf
        i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
        new = [sorted(active[i][0] + active[j][0]), cnt[i] + cnt[j], sx[i] + sx[j], sx2[i] + sx2[j]]
        active = [c for k, c in enumerate(active) if k not in (i, j)] + [new]
        questions.append(new[0])
    if unseen and active:   # phones never seen still need a home in the questions
        questions.append(sorted(active[0][0] + sum(unseen, [])))
    unique = {tuple(q) for q in questions}
    return [list(q) for q in sorted(unique, key=lambda q: (len(q), q))]


# -- tree building ---------------------------------------------------------------------------------------

@dataclass
class Node:
    events: np.ndarray                  # row indices into TreeStats
    key: int = -1                       # LEFT, CENTRE, RIGHT or PDF_CLASS when split
    yes_set: list[int] = field(default_factory=list)
    yes: "Node | None" = None
    no: "Node | None" = None
    pdf: int = -1


@dataclass
class BuildOptions:
    num_leaves: int = 1000
    min_gain: float = 0.0             # Kaldi build-tree --thresh (0: split until num_leaves)
    min_count: float = 20.0           # frames each side of a split must have


class DecisionTree:
    """The root of each (phone, pdf-class) (one root may serve several), each a binary tree of questions."""

    def __init__(self, roots: dict[tuple[int, int], Node], num_pdf_classes: dict[int, int]):
        self.roots = roots
        self.num_pdf_classes = num_pdf_classes
        self.num_leaves = self._number_leaves()

    def _number_leaves(self) -> int:
        pdf = -1
        for pdf, (_, node) in enumerate(self.leaves()):
            node.pdf = pdf
        return pdf + 1

    def leaves(self):
        """(root key, leaf) in pdf order: roots by their first (phone, pdf-class), each depth first with the
        yes branch first."""
        seen = set()
        for key in sorted(self.roots):
            if id(self.roots[key]) in seen:
                continue
            seen.add(id(self.roots[key]))
            stack = [self.roots[key]]
            while stack:
                node = stack.pop()
                if node.yes is None:
                    yield key, node
                else:
                    stack += [node.no, node.yes]

    def pdf_of(self, left: int, centre: int, right: int, pdf_class: int) -> int:
        node = self.roots[(centre, pdf_class)]
        event = (left, centre, right, pdf_class)
        while node.yes is not None:
            node = node.yes if event[node.key] in node.yes_set else node.no
        return node.pdf

    # Kaldi binary serialisation (tree/event-map.cc, context-dep.cc)
    def kaldi_bytes(self) -> bytes:
        def token(t: str) -> bytes:
            return t.encode() + b" "

        def int32(v: int) -> bytes:
            return b"\x04" + struct.pack("<i", v)

        def split(node: Node, phone: int, pdf_class: int) -> bytes:
            """The event map below a root for one (phone, pdf-class): its questions answered here."""
            if node.yes is None:
                return token("CE") + int32(node.pdf)
            if node.key in (CENTRE, PDF_CLASS):
                known = phone if node.key == CENTRE else pdf_class
                return split(node.yes if known in node.yes_set else node.no, phone, pdf_class)
            key = 0 if node.key == LEFT else 2
            values = sorted(set(node.yes_set))
            return (token("SE") + int32(key) + b"\x04" + struct.pack("<i", len(values))
                    + struct.pack(f"<{len(values)}i", *values) + token("{") + split(node.yes, phone, pdf_class)
                    + split(node.no, phone, pdf_class) + token("}"))

        def table(key: int, entries: list[bytes | None]) -> bytes:
            body = b"".join(token("NULL") if e is None else e for e in entries)
            return token("TE") + int32(key) + b"\xfc" + struct.pack("<I", len(entries)) + token("(") + body \
                + token(")")

        max_phone = max(self.num_pdf_classes)
        per_phone: list[bytes | None] = [None]
        for phone in range(1, max_phone + 1):
            if phone not in self.num_pdf_classes:
                per_phone.append(None)
                continue
            per_phone.append(table(-1, [split(self.roots[(phone, c)], phone, c)
                                        for c in range(self.num_pdf_classes[phone])]))
        return (token("ContextDependency") + int32(3) + int32(1) + token("ToPdf") + table(1, per_phone)
                + token("EndContextDependency"))

    def to_context_dependency(self) -> khg.ContextDependency:
        tree = khg.ContextDependency.__new__(khg.ContextDependency)
        data = self.kaldi_bytes()
        tree.__setstate__(([b - 256 if b > 127 else b for b in data],))
        return tree


def pdf_class_questions(num_pdf_classes: dict[int, int]) -> list[list[int]]:
    """compile-questions' questions about the pdf-class: [0], [0, 1], ... up to the largest class but one."""
    most = max(num_pdf_classes.values(), default=1)
    return [list(range(k + 1)) for k in range(most - 1)]


def build_tree(stats: TreeStats, questions: list[list[int]], num_pdf_classes: dict[int, int],
               opts: BuildOptions, roots: list[tuple[bool, bool, list[int]]] | None = None,
               context_independent: frozenset[int] = frozenset()) -> DecisionTree:
    """Greedy likelihood-gain splitting of the roots to opts.num_leaves leaves.

    `roots`: the lang's phones/roots.int as (shared, split, phones) (Lang.roots, Kaldi's build-tree); None: one split root per (phone, pdf-class),
    asking only about the context (the tree of earlier releases). Phones in `context_independent` (Kaldi's
    acc-tree-stats --ci-phones) are never split by their context."""
    num_ctx = int(max(max(num_pdf_classes), stats.events[:, [LEFT, RIGHT]].max(initial=0))) + 1
    qmat = np.zeros((len(questions), num_ctx))
    for i, q in enumerate(questions):
        qmat[i, [p for p in q if p < num_ctx]] = 1.0
    class_questions = pdf_class_questions(num_pdf_classes)
    num_classes = max(num_pdf_classes.values(), default=1)
    cmat = np.zeros((len(class_questions), num_classes))
    for i, q in enumerate(class_questions):
        cmat[i, q] = 1.0
    key_questions = {LEFT: (qmat, questions), CENTRE: (qmat, questions), RIGHT: (qmat, questions),
                     PDF_CLASS: (cmat, class_questions)}
    dim = stats.sum_x.shape[1]
    packed = np.concatenate([stats.count[:, None], stats.sum_x, stats.sum_x2], axis=1)
    keys_of: dict[int, tuple[int, ...]] = {}      # id(root) -> the keys its subtree may ask about

    def objf(rows: np.ndarray) -> float:
        return float(gauss_objf(rows[..., 0], rows[..., 1:1 + dim], rows[..., 1 + dim:]))

    def best_split(node: Node, keys: tuple[int, ...]) -> tuple[float, int, int]:
        rows = packed[node.events]
        total = rows.sum(0)
        base = objf(total)
        best = (-np.inf, -1, -1)
        for key in keys:
            matrix = key_questions[key][0]
            per_value = np.zeros((matrix.shape[1], packed.shape[1]))
            np.add.at(per_value, stats.events[node.events, key], rows)
            yes = matrix @ per_value
            no = total - yes
            ok = (yes[:, 0] >= opts.min_count) & (no[:, 0] >= opts.min_count)
            if not ok.any():
                continue
            gain = (gauss_objf(yes[:, 0], yes[:, 1:1 + dim], yes[:, 1 + dim:])
                    + gauss_objf(no[:, 0], no[:, 1:1 + dim], no[:, 1 + dim:]) - base)
            gain[~ok] = -np.inf
            q = int(np.argmax(gain))
            if gain[q] > best[0]:
                best = (float(gain[q]), key, q)
        return best

    tree_roots: dict[tuple[int, int], Node] = {}
    phone_col, class_col = stats.events[:, CENTRE], stats.events[:, PDF_CLASS]
    splittable: list[tuple[Node, tuple[int, ...]]] = []
    if roots is None:
        for phone, n in num_pdf_classes.items():
            for c in range(n):
                tree_roots[(phone, c)] = Node(np.flatnonzero((phone_col == phone) & (class_col == c)))
                splittable.append((tree_roots[(phone, c)], (LEFT, RIGHT)))
    else:
        for shared, split, root_phones in roots:
            unknown = [p for p in root_phones if p not in num_pdf_classes]
            if unknown:
                raise AsrserError(f"tree roots: phones {unknown} are not in the topology")
            classes = max(num_pdf_classes[p] for p in root_phones)
            context = () if set(root_phones) & context_independent else (LEFT, RIGHT)
            centre = (CENTRE,) if len(root_phones) > 1 else ()
            in_root = np.isin(phone_col, root_phones)
            groups = [list(range(classes))] if shared else [[c] for c in range(classes)]
            for group in groups:
                node = Node(np.flatnonzero(in_root & np.isin(class_col, group)))
                for phone in root_phones:
                    for c in group:
                        if c < num_pdf_classes[phone]:
                            tree_roots[(phone, c)] = node
                if split:
                    splittable.append((node, context + centre + ((PDF_CLASS,) if len(group) > 1 else ())))
        missing = sorted({p for p in num_pdf_classes} - {p for p, _ in tree_roots})
        if missing:
            raise AsrserError(f"tree roots: phones {missing} of the topology are in no root")
    num_leaves = len({id(node) for node in tree_roots.values()})
    if opts.num_leaves < num_leaves:
        raise AsrserError(f"num_leaves {opts.num_leaves} is below the {num_leaves} roots of the tree")
    heap: list = []
    counter = 0
    for node, keys in splittable:
        keys_of[id(node)] = keys
        gain, key, q = best_split(node, keys)
        if np.isfinite(gain):
            heapq.heappush(heap, (-gain, counter, node, key, q))
            counter += 1
    total_gain = 0.0
    while heap and num_leaves < opts.num_leaves:
        neg_gain, _, node, key, q = heapq.heappop(heap)
        if -neg_gain <= opts.min_gain:
            break
        matrix, key_qs = key_questions[key]
        in_yes = matrix[q, stats.events[node.events, key]] > 0
        node.key, node.yes_set = key, key_qs[q]
        node.yes, node.no = Node(node.events[in_yes]), Node(node.events[~in_yes])
        num_leaves += 1
        total_gain += -neg_gain
        for child in (node.yes, node.no):
            keys_of[id(child)] = keys_of[id(node)]
            gain, ckey, cq = best_split(child, keys_of[id(child)])
            if np.isfinite(gain):
                heapq.heappush(heap, (-gain, counter, child, ckey, cq))
                counter += 1
    tree = DecisionTree(tree_roots, num_pdf_classes)
    frames = stats.count.sum()
    log.info("tree: %d leaves from %d roots; likelihood gain %.3f per frame over %d frames", tree.num_leaves,
             len({id(node) for node in tree_roots.values()}), total_gain / max(frames, 1), frames)
    return tree


def leaf_gaussians(tree: DecisionTree, stats: TreeStats, var_floor: float = 0.01
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gmm-init-model: one Gaussian per leaf from the tree statistics: (counts, means, variances)."""
    n, dim = tree.num_leaves, stats.sum_x.shape[1]
    count, sx, sx2 = np.zeros(n), np.zeros((n, dim)), np.zeros((n, dim))
    for _, node in tree.leaves():
        count[node.pdf] = stats.count[node.events].sum()
        sx[node.pdf] = stats.sum_x[node.events].sum(0)
        sx2[node.pdf] = stats.sum_x2[node.events].sum(0)
    total = max(count.sum(), 1.0)
    global_mean, global_x2 = sx.sum(0) / total, sx2.sum(0) / total
    safe = np.maximum(count, 1.0)[:, None]
    mean = np.where(count[:, None] > 0, sx / safe, global_mean)
    var = np.where(count[:, None] > 0, sx2 / safe - mean ** 2, global_x2 - global_mean ** 2)
    return count, mean, np.maximum(var, var_floor)


def convert_alignment(old_phone: np.ndarray, old_state: np.ndarray, old_trans_index: np.ndarray,
                      new_tid: dict[tuple[int, int, int, int], int], ctx_dep: khg.ContextDependency,
                      alignment: np.ndarray) -> np.ndarray:
    """convert-ali: the same phones, states and transitions, as transition-ids of the new model (the new
    tree is asked once per distinct context event)."""
    events = frame_events(old_phone, old_state, alignment)
    uniq, inverse = np.unique(events, axis=0, return_inverse=True)
    pdfs = np.array([_pdf(ctx_dep, l, c, r, k) for l, c, r, k in uniq])[inverse.ravel()]
    keys = np.stack([events[:, CENTRE], events[:, PDF_CLASS], pdfs, old_trans_index[alignment]], axis=1)
    uniq_keys, inverse = np.unique(keys, axis=0, return_inverse=True)
    try:
        tids = np.array([new_tid[tuple(int(v) for v in k)] for k in uniq_keys], dtype=np.int32)
    except KeyError as e:
        raise AsrserError(f"convert-ali: the new model has no transition for (phone, state, pdf, index) {e}")
    return tids[inverse.ravel()]


def _pdf(ctx_dep: khg.ContextDependency, left, centre, right, pdf_class) -> int:
    ok, pdf = ctx_dep.compute([int(left), int(centre), int(right)], int(pdf_class))
    if not ok:
        raise AsrserError(f"the tree has no pdf for phone {centre} class {pdf_class} in context "
                          f"({left}, {right})")
    return pdf
