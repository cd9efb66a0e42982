"""N-gram language models: estimation from text, Stolcke pruning, ARPA files, and G.fst through kaldilm.

Estimation (`estimate`, any order; sentences are padded with <s> and </s>; <s> is a history only, never
predicted, and gets -99 in the ARPA file; </s> is predicted like a word):

- `kn`, interpolated modified Kneser-Ney (Chen & Goodman 1998): per order three discounts D1, D2, D3+ from the
  count-of-counts n1..n4 of that order's counts (Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
  D3+ = 3 - 4Y n4/n3); the highest order counts n-grams, the lower orders count distinct left contexts
  (continuation counts), except n-grams that begin with <s>, which have no left context and keep their counts
  (as SRILM's and KenLM's Kneser-Ney do). When a count-of-count is zero or a discount falls outside (0, j] (tiny
  texts), that order falls back to D = 0.5, 1, 1.5 (KenLM's --discount_fallback), with a warning.
- `wb`, interpolated Witten-Bell: p(w|h) = (c(h w) + T(h) p(w|h')) / (c(h) + T(h)), T(h) the number of distinct
  successors of h. Of order 2 it is the phone bigram of Kaldi's TIMIT recipe (IRSTLM's build-lm -n 2).

Unigrams of both interpolate with the uniform distribution over the vocabulary (every word of the lang's
words.txt and </s>), as KenLM does: a vocabulary word never seen in training keeps a share of the mass that
discounting frees, rather than SRILM's -unk, which gives all unseen mass to <unk> alone. Words of the text
outside the vocabulary are mapped to the lang's OOV word (oov.txt) and counted.

In ARPA backoff form an interpolated model is exact: the explicit probability of a seen n-gram is the
interpolated one, and the backoff weight of a history is its interpolation weight (KN: (D1 N1(h.) + D2 N2(h.) +
D3+ N3+(h.)) / c(h); WB: T(h) / (c(h) + T(h))), because an unseen word's interpolated probability is that
weight times the lower order's.

Pruning (`prune`) is Stolcke's relative-entropy pruning (Stolcke 1998; SRILM's ngram -prune): an n-gram of
order 2 or higher is removed when the model's perplexity would grow by less than the threshold, relatively,
without it (exp(D) - 1 < threshold, D the Kullback-Leibler divergence of the pruned model from the full one,
weighted by the history's probability from the model's own chain rule, <s> having probability 1). Orders are
pruned from the highest down, each n-gram judged against its unpruned history (as SRILM does); an n-gram that
is the history of a kept higher-order n-gram is kept, so that the ARPA file has no orphan; afterwards every
backoff weight is computed again so that each history's distribution sums to one.

ARPA files are read by a validating parser (`read_arpa`): the \\data\\ counts against the sections, the
\\N-grams: headers, every line's field count and numbers, \\end\\. Any error is one DataError naming the file
and line, which keeps kaldilm (which may crash or hang on bad input) from ever seeing a malformed file.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import kaldifst  # noqa: F401  (before kaldilm: import-order deadlock otherwise)
import kaldilm

from .errors import AsrserError, DataError
from .fileio import atomic_write, captured_native_stderr, text_lines
from .lang import BOS, DISAMBIG, EOS, EPS, Lang, read_symbol_table

log = logging.getLogger(__name__)

LOG10_ZERO = -99.0
METHODS = ("kn", "wb")
KN_FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)      # KenLM's --discount_fallback

Ngram = tuple[str, ...]


@dataclass
class NgramLM:
    """A backoff n-gram model: per order (index 0 = unigrams) the explicit probabilities of its n-grams, and
    the backoff weights of the n-grams that are histories (orders below the highest). Probabilities are
    linear; <s> is a unigram of probability 0 (written as -99)."""

    order: int
    probs: list[dict[Ngram, float]]
    backoffs: list[dict[Ngram, float]] = field(default_factory=list)
    discounts: list[tuple[float, float, float]] = field(default_factory=list)   # KN: (D1, D2, D3+) per order

    def __post_init__(self):
        while len(self.backoffs) < self.order:
            self.backoffs.append({})

    def vocabulary(self) -> list[str]:
        """Every word the model predicts (the unigrams but <s>), sorted."""
        return sorted(ng[0] for ng in self.probs[0] if ng[0] != BOS)

    def counts(self) -> list[int]:
        return [len(p) for p in self.probs]

    def prob(self, word: str, history: Iterable[str] = ()) -> float:
        """p(word | history) by backing off; 0 for a word the model does not know. `history` is a sequence of
        words (a single word may be given as a string)."""
        history = (history,) if isinstance(history, str) else tuple(history)
        history = history[max(0, len(history) - self.order + 1):] if self.order > 1 else ()
        weight = 1.0
        while True:
            ngram = (*history, word)
            p = self.probs[len(ngram) - 1].get(ngram)
            if p is not None:
                return weight * p
            if not history:
                return 0.0
            weight *= self.backoffs[len(history) - 1].get(history, 1.0)
            history = history[1:]

    def sentence_log_prob(self, words: list[str]) -> tuple[float, int, int]:
        """Natural-log probability of a sentence and its </s>, the words scored and the words left out (not in
        the model: scored as SRILM does, left out and the history restarted after them)."""
        total, scored, oov = 0.0, 0, 0
        history: list[str] = [BOS]
        for w in [*words, EOS]:
            p = self.prob(w, history)
            if p <= 0.0:
                oov += 1
                history = []
                continue
            total += math.log(p)
            scored += 1
            history.append(w)
        return total, scored, oov

    def perplexity(self, sentences: Iterable[list[str]]) -> float:
        """exp of the mean negative log probability per predicted token (words and </s>; unknown words left
        out), as SRILM's ngram -ppl reports `ppl`."""
        logp, n = 0.0, 0
        for s in sentences:
            lp, scored, _ = self.sentence_log_prob(s)
            logp += lp
            n += scored
        return math.exp(-logp / max(n, 1))

    def write_arpa(self, path: str | os.PathLike) -> None:
        """The ARPA file (log10, 6 decimals; gzipped when the name ends in .gz), written atomically. Unigrams:
        <s> first, then sorted; higher orders sorted; a backoff weight on every n-gram below the highest order
        that does not end in </s>."""
        path = Path(path)
        if path.suffix == ".gz":
            with atomic_write(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                gz.write("".join(self._arpa_lines()).encode("utf-8"))
        else:
            with atomic_write(path) as f:
                f.writelines(self._arpa_lines())

    def _arpa_lines(self) -> Iterator[str]:
        yield "\n\\data\\\n"
        for k, probs in enumerate(self.probs, 1):
            yield f"ngram {k}={len(probs)}\n"
        for k, probs in enumerate(self.probs, 1):
            yield f"\n\\{k}-grams:\n"
            keys = sorted(probs)
            if k == 1 and (BOS,) in probs:
                keys.remove((BOS,))
                keys.insert(0, (BOS,))
            with_backoff = k < self.order
            for ng in keys:
                p = probs[ng]
                line = (f"{LOG10_ZERO}" if p <= 0.0 else f"{math.log10(p):.6f}") + "\t" + " ".join(ng)
                if with_backoff and ng[-1] != EOS:
                    line += f"\t{math.log10(self.backoffs[k - 1].get(ng, 1.0)):.6f}"
                yield line + "\n"
        yield "\n\\end\\\n"


# -- counting -------------------------------------------------------------------------------------------------------
def ngram_counts(sentences: Iterable[list[str]], order: int) -> list[Counter[Ngram]]:
    """Counts of every n-gram of order 1..order ending at a predicted position of <s> w1 .. wn </s>."""
    counts: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for words in sentences:
        seq = (BOS, *words, EOS)
        for i in range(1, len(seq)):
            for k in range(1, min(order, i + 1) + 1):
                counts[k - 1][seq[i - k + 1:i + 1]] += 1
    return counts


def _by_history(counts: dict[Ngram, float]) -> dict[Ngram, dict[str, float]]:
    grouped: dict[Ngram, dict[str, float]] = defaultdict(dict)
    for ng, c in counts.items():
        grouped[ng[:-1]][ng[-1]] = c
    return grouped


def kn_discounts(counts: Iterable[int], order: int) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts of one order's counts (KenLM's fallback when
    they are undefined or out of range)."""
    n = Counter(c for c in counts if 1 <= c <= 4)
    n1, n2, n3, n4 = (n[i] for i in range(1, 5))
    if min(n1, n2, n3, n4) > 0:
        y = n1 / (n1 + 2 * n2)
        d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
        if all(0 < dj <= j for j, dj in enumerate(d, 1)):
            return d
    log.warning("order %d: modified Kneser-Ney discounts undefined or out of range (count-of-counts n1..n4 = "
                "%d %d %d %d: too little text); using %s", order, n1, n2, n3, n4,
                " ".join(f"{d:g}" for d in KN_FALLBACK_DISCOUNTS))
    return KN_FALLBACK_DISCOUNTS


def _kn_counts(raw: list[Counter[Ngram]]) -> list[dict[Ngram, int]]:
    """The highest order's counts as they are; below it, each n-gram's number of distinct left contexts, or
    its own count for n-grams beginning with <s> (they have no left context)."""
    order = len(raw)
    adjusted: list[dict[Ngram, int]] = [dict() for _ in range(order)]
    adjusted[-1] = dict(raw[-1])
    for k in range(order - 1):
        continuation: Counter[Ngram] = Counter(ng[1:] for ng in raw[k + 1])
        adjusted[k] = {ng: (c if ng[0] == BOS else continuation[ng]) for ng, c in raw[k].items()}
    return adjusted


def estimate(sentences: list[list[str]], vocabulary: Iterable[str], order: int = 3, method: str = "kn"
             ) -> NgramLM:
    """An interpolated n-gram model of `order` from word sequences (without <s>, </s>) over `vocabulary`
    (</s> added, <s> never predicted); method `kn` (modified Kneser-Ney) or `wb` (Witten-Bell). Every word of
    the sentences must be in the vocabulary (map them first: `read_text`)."""
    if order < 1:
        raise AsrserError(f"n-gram order must be at least 1, got {order}")
    if method not in METHODS:
        raise AsrserError(f"unknown LM method {method!r} ({' or '.join(METHODS)})")
    vocab = set(vocabulary) | {EOS}
    vocab.discard(BOS)
    for words in sentences:
        unknown = [w for w in words if w not in vocab]
        if unknown:
            raise AsrserError(f"word {unknown[0]!r} is not in the vocabulary")
    raw = ngram_counts(sentences, order)
    if not raw[0]:
        raise AsrserError("no training sentences")
    counts: list[dict[Ngram, int]] = _kn_counts(raw) if method == "kn" else [dict(c) for c in raw]
    lm = NgramLM(order, [dict() for _ in range(order)])
    uniform = 1.0 / len(vocab)
    for k in range(1, order + 1):
        discounts = kn_discounts(counts[k - 1].values(), k) if method == "kn" else None
        if discounts:
            lm.discounts.append(discounts)
        for history, followers in sorted(_by_history(counts[k - 1]).items()):
            total, distinct = sum(followers.values()), len(followers)
            if discounts:
                n = Counter(min(c, 3) for c in followers.values())
                gamma = sum(discounts[j - 1] * n[j] for j in (1, 2, 3)) / total
                explicit = {w: max(c - discounts[min(c, 3) - 1], 0.0) / total for w, c in followers.items()}
            else:
                gamma = distinct / (total + distinct)
                explicit = {w: c / (total + distinct) for w, c in followers.items()}
            if k == 1:     # the unigrams: every vocabulary word, interpolated with the uniform distribution
                for w in sorted(vocab):
                    lm.probs[0][(w,)] = (explicit.get(w, 0.0) + gamma * uniform if discounts
                                         else (followers.get(w, 0) + distinct * uniform) / (total + distinct))
                continue
            for w in sorted(followers):
                lower = lm.prob(w, history[1:])
                lm.probs[k - 1][(*history, w)] = (
                    explicit[w] + gamma * lower if discounts
                    else (followers[w] + distinct * lower) / (total + distinct))
            lm.backoffs[k - 2][history] = gamma
    lm.probs[0][(BOS,)] = 0.0
    return lm


# -- pruning --------------------------------------------------------------------------------------------------------
def _history_prob(lm: NgramLM, history: Ngram) -> float:
    """P(history) by the model's chain rule; a leading <s> has probability 1."""
    p, start = 1.0, 0
    if history and history[0] == BOS:
        start = 1
    for i in range(start, len(history)):
        p *= lm.prob(history[i], history[:i])
    return p


def pruning_deltas(lm: NgramLM, order: int, keep: set[Ngram] = frozenset()) -> dict[Ngram, float]:
    """For every n-gram of `order` (2 or more) not in `keep`: the relative growth of the model's perplexity
    were it removed alone, exp(D) - 1 (Stolcke 1998; SRILM's pruning criterion)."""
    deltas: dict[Ngram, float] = {}
    for history, followers in _by_history(lm.probs[order - 1]).items():
        p_history = _history_prob(lm, history)
        backoff = lm.backoffs[order - 2].get(history, 1.0)
        lower = {w: lm.prob(w, history[1:]) for w in followers}
        numerator = 1.0 - sum(followers.values())     # the mass left to unseen words
        denominator = 1.0 - sum(lower.values())
        for w, p in followers.items():
            ngram = (*history, w)
            if ngram in keep:
                continue
            new_backoff = (numerator + p) / (denominator + lower[w])
            divergence = p * (math.log(p) - math.log(lower[w]) - math.log(new_backoff))
            if numerator > 0.0 and backoff > 0.0:
                divergence -= numerator * (math.log(new_backoff) - math.log(backoff))
            deltas[ngram] = math.expm1(p_history * divergence)
    return deltas


def recompute_backoffs(lm: NgramLM, orders: Iterable[int] | None = None) -> None:
    """The backoff weight of every history of n-grams of `orders` (default all) from its explicit n-grams:
    (1 - sum p(w|h)) / (1 - sum p(w|h')), so that each history's distribution sums to one. Lower orders first:
    a history's weight depends on the orders below."""
    for k in sorted(orders) if orders is not None else range(2, lm.order + 1):
        grouped = _by_history(lm.probs[k - 1])
        for history in list(lm.backoffs[k - 2]):
            followers = grouped.get(history, {})
            if not followers:
                lm.backoffs[k - 2][history] = 1.0
                continue
            numerator = 1.0 - sum(followers.values())
            denominator = 1.0 - sum(lm.prob(w, history[1:]) for w in followers)
            lm.backoffs[k - 2][history] = max(numerator, 0.0) / denominator if denominator > 0.0 else 1.0


def prune(lm: NgramLM, threshold: float) -> int:
    """Stolcke relative-entropy pruning in place (SRILM's -prune THRESHOLD); returns the n-grams removed."""
    if threshold <= 0.0:
        return 0
    removed = 0
    keep: set[Ngram] = set()
    for k in range(lm.order, 1, -1):
        doomed = [ng for ng, delta in pruning_deltas(lm, k, keep).items() if delta < threshold]
        for ng in doomed:
            del lm.probs[k - 1][ng]
        removed += len(doomed)
        grouped = _by_history(lm.probs[k - 1])
        for history in list(lm.backoffs[k - 2]):
            if history not in grouped:
                del lm.backoffs[k - 2][history]
        keep = {ng[:-1] for ng in lm.probs[k - 1]}      # histories of kept n-grams stay
        recompute_backoffs(lm, [k])
    recompute_backoffs(lm)      # the lower orders' pruning changed what the higher histories back off to
    return removed


# -- reading ARPA ---------------------------------------------------------------------------------------------------
def _open_text(path: Path):
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding="utf-8")
        return open(path, encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file does not exist") from None


def _arpa_lines(path: Path) -> Iterator[tuple[int, str]]:
    f = _open_text(path)
    with f:
        try:
            for n, line in enumerate(f, 1):
                yield n, line.rstrip("\n").rstrip("\r")
        except UnicodeDecodeError:
            raise DataError(path, "not UTF-8 text") from None
        except (OSError, EOFError) as e:
            raise DataError(path, f"cannot read: {e}") from None


_NGRAM_COUNT = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION = re.compile(r"^\\(\d+)-grams:$")


def _log_prob(path: Path, n: int, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(path, f"{what} {text!r} is not a number", n) from None
    if math.isnan(value) or value == math.inf:
        raise DataError(path, f"{what} {text!r} is not a log10 value", n)
    return value


def read_arpa(path: str | os.PathLike) -> NgramLM:
    """Read and validate an ARPA file (plain or .gz): \\data\\ with `ngram N=count` lines for orders 1..N, then
    one \\N-grams: section per order in turn holding exactly its count of lines `log10prob w1..wN [log10bow]`
    (the backoff only below the highest order), log probabilities not above 0, no n-gram twice, then \\end\\.
    Any violation is a DataError naming the file and line."""
    path = Path(path)
    lines = _arpa_lines(path)
    declared: list[int] = []
    n = 0
    for n, line in lines:                          # anything before \data\ is a comment
        if line.strip() == "\\data\\":
            break
    else:
        raise DataError(path, "no \\data\\ line: not an ARPA file", n or None)
    section_line = 0
    for n, line in lines:
        line = line.strip()
        if not line:
            continue
        m = _NGRAM_COUNT.match(line)
        if m:
            k, count = int(m.group(1)), int(m.group(2))
            if k != len(declared) + 1:
                raise DataError(path, f"expected 'ngram {len(declared) + 1}=<count>', found {line!r}", n)
            declared.append(count)
            continue
        if line.startswith("ngram"):
            raise DataError(path, f"expected 'ngram {len(declared) + 1}=<count>', found {line!r}", n)
        section_line = n
        break
    else:
        raise DataError(path, "ends inside the \\data\\ section (no n-gram sections, no \\end\\)", n)
    if not declared:
        raise DataError(path, f"expected 'ngram 1=<count>' after \\data\\, found {line!r}", section_line)
    order = len(declared)
    lm = NgramLM(order, [dict() for _ in range(order)])
    k = 0
    pending: tuple[int, str] | None = (section_line, line)     # the next header (or \\end\\) and its line
    while pending is not None:
        n, line = pending
        pending = None
        if line == "\\end\\":
            if k != order:
                raise DataError(path, f"\\end\\ before the \\{k + 1}-grams: section that \\data\\ declares", n)
            break
        m = _SECTION.match(line)
        if not m or int(m.group(1)) != k + 1:
            expected = f"\\{k + 1}-grams:" if k < order else "\\end\\"
            raise DataError(path, f"expected {expected!r}, found {line!r}", n)
        k += 1
        entries = lm.probs[k - 1]
        header_line = n
        for n, line in lines:
            text = line.strip()
            if not text:
                continue
            if text.startswith("\\"):
                pending = (n, text)
                break
            fields = text.split()
            if len(fields) not in (k + 1, k + 2) or (len(fields) == k + 2 and k == order):
                allowed = f"{k + 1}" if k == order else f"{k + 1} or {k + 2}"
                raise DataError(path, f"a {k}-gram line needs {allowed} fields (log10 probability, {k} "
                                      f"word(s){'' if k == order else ', optional log10 backoff'}), found "
                                      f"{len(fields)}: {text!r}", n)
            logp = _log_prob(path, n, fields[0], "log10 probability")
            if logp > 0.0:
                raise DataError(path, f"log10 probability {fields[0]} is above 0", n)
            ngram = tuple(fields[1:k + 1])
            if ngram in entries:
                raise DataError(path, f"{k}-gram {' '.join(ngram)!r} appears twice", n)
            if len(entries) == declared[k - 1]:
                raise DataError(path, f"more {k}-grams than the {declared[k - 1]} that \\data\\ declares", n)
            entries[ngram] = 0.0 if logp <= LOG10_ZERO else 10.0 ** logp
            if len(fields) == k + 2:
                lm.backoffs[k - 1][ngram] = 10.0 ** _log_prob(path, n, fields[-1], "log10 backoff")
        if len(entries) != declared[k - 1]:
            raise DataError(path, f"the \\{k}-grams: section has {len(entries)} n-grams, \\data\\ declares "
                                  f"{declared[k - 1]}", header_line)
        if pending is None:
            raise DataError(path, f"ends without \\end\\ (after the \\{k}-grams: section)", n)
    for n, line in lines:
        if line.strip():
            raise DataError(path, f"text after \\end\\: {line.strip()!r}", n)
    return lm


# -- training text and vocabulary -----------------------------------------------------------------------------------
@dataclass
class LmText:
    """Sentences mapped onto a vocabulary, and what the mapping did."""
    sentences: list[list[str]]
    oov_tokens: int = 0
    oov_types: Counter = field(default_factory=Counter)
    tokens: int = 0


def lang_vocabulary(lang_dir: str | os.PathLike) -> tuple[list[str], str | None]:
    """The words a lang dir's G may predict (words.txt without <eps>, <s>, </s> and #N symbols) and its OOV
    word (oov.txt; None without one)."""
    lang_dir = Path(lang_dir)
    words = [w for w in read_symbol_table(lang_dir / "words.txt")
             if w not in (EPS, BOS, EOS) and not w.startswith("#")]
    oov_file = lang_dir / "oov.txt"
    oov = oov_file.read_text().split()[0] if oov_file.exists() and oov_file.read_text().split() else None
    if oov is not None and oov not in words:
        raise DataError(oov_file, f"OOV word {oov!r} is not in {lang_dir / 'words.txt'}")
    return words, oov


def read_text(path: str | os.PathLike, vocabulary: Iterable[str] | None = None, oov: str | None = None,
              utt_ids: bool = True) -> LmText:
    """Sentences of a Kaldi `text` file (`utt w1 w2 ...`; with utt_ids False, one sentence per line and empty
    lines skipped). With a vocabulary, a word outside it becomes `oov` (counted), or is a DataError naming the
    line when there is no OOV word."""
    vocab = set(vocabulary) if vocabulary is not None else None
    out = LmText([])
    for n, line in text_lines(path):
        fields = line.split()
        if utt_ids and not fields:
            raise DataError(path, "empty line", n)
        if not utt_ids and not fields:
            continue
        words = fields[1:] if utt_ids else fields
        for i, w in enumerate(words):
            if w in (BOS, EOS, EPS) or w.startswith("#") and w[1:].isdigit():
                raise DataError(path, f"{w!r} is a reserved symbol, not a word", n)
            if vocab is not None and w not in vocab:
                if oov is None:
                    raise DataError(path, f"{w!r} is not in the vocabulary and the lang has no OOV word "
                                          "(oov.txt)", n)
                out.oov_tokens += 1
                out.oov_types[w] += 1
                words[i] = oov
        out.tokens += len(words)
        out.sentences.append(words)
    return out


# -- G.fst ----------------------------------------------------------------------------------------------------------
def make_lang_test(lang_dir: str | os.PathLike, arpa: str | os.PathLike, out_dir: str | os.PathLike,
                   arpa_name: str = "lm.arpa") -> NgramLM:
    """Copy a lang dir and add G.fst compiled from the ARPA LM (plain or .gz) by kaldilm with #0 on the backoff
    arcs (Kaldi's format_lm.sh), and the ARPA itself as `arpa_name` (gzipped when it ends in .gz). The ARPA is
    validated first (read_arpa); n-grams with words outside words.txt are left out of G, as Kaldi's arpa2fst
    --read-symbol-table does, and counted in a warning. Returns the model read."""
    lang_dir, out_dir, arpa = Path(lang_dir), Path(out_dir), Path(arpa)
    lm = read_arpa(arpa)
    known = set(read_symbol_table(lang_dir / "words.txt"))
    unknown = sorted({w for ng in lm.probs[0] for w in ng if w not in known})
    if unknown:
        skipped = sum(1 for probs in lm.probs for ng in probs if any(w not in known for w in ng))
        log.warning("%s: %d word(s) not in %s (e.g. %s): %d n-gram(s) left out of G.fst", arpa, len(unknown),
                    lang_dir / "words.txt", ", ".join(unknown[:5]), skipped)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(lang_dir, tmp)
    with tempfile.TemporaryDirectory(dir=tmp) as scratch:
        plain = arpa
        if arpa.suffix == ".gz":        # kaldilm reads plain files only
            plain = Path(scratch) / "lm.arpa"
            with gzip.open(arpa, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
        with captured_native_stderr() as messages:
            kaldilm.arpa2fst(input_arpa=str(plain), output_fst=str(tmp / "G.fst"), disambig_symbol=DISAMBIG,
                             read_symbol_table=str(lang_dir / "words.txt"), max_arpa_warnings=0)
        for line in messages:
            if "[W]" in line or "[E]" in line or "WARNING" in line or "ERROR" in line:
                log.warning("arpa2fst: %s", line)
        if arpa_name.endswith(".gz") and arpa.suffix != ".gz":
            with open(arpa, "rb") as src, gzip.GzipFile(tmp / arpa_name, "wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst)
        elif not arpa_name.endswith(".gz") and arpa.suffix == ".gz":
            shutil.copy(plain, tmp / arpa_name)
        else:
            shutil.copy(arpa, tmp / arpa_name)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return lm


# -- training -------------------------------------------------------------------------------------------------------
@dataclass
class TrainedLm:
    lm: NgramLM
    training_perplexity: float
    text: LmText
    dev_perplexity: float | None = None
    dev_text: LmText | None = None
    pruned: int = 0

    def summary(self) -> str:
        """One line: perplexities and n-gram counts."""
        counts = " ".join(f"{k}-grams {c}" for k, c in enumerate(self.lm.counts(), 1))
        line = (f"order {self.lm.order}, {counts}; training perplexity {self.training_perplexity:.2f} "
                f"({self.text.tokens} words, {self.text.oov_tokens} mapped to the OOV word)")
        if self.dev_perplexity is not None:
            line += (f"; dev perplexity {self.dev_perplexity:.2f} ({self.dev_text.tokens} words, "
                     f"{self.dev_text.oov_tokens} mapped to the OOV word)")
        if self.pruned:
            line += f"; {self.pruned} n-grams pruned"
        return line


def train_lm(text_path: str | os.PathLike, lang_dir: str | os.PathLike, arpa_out: str | os.PathLike,
             order: int = 3, method: str = "kn", prune_threshold: float = 0.0,
             dev_text: str | os.PathLike | None = None, utt_ids: bool = True) -> TrainedLm:
    """Estimate an n-gram model over a lang dir's vocabulary from a text file, prune it, write the ARPA file,
    and measure training (and dev) perplexity. Words outside words.txt become the OOV word (oov.txt)."""
    vocab, oov = lang_vocabulary(lang_dir)
    text = read_text(text_path, vocab, oov, utt_ids)
    if text.oov_tokens:
        log.info("%s: %d of %d words (%d distinct, e.g. %s) not in %s/words.txt, mapped to %s", text_path,
                 text.oov_tokens, text.tokens, len(text.oov_types),
                 ", ".join(w for w, _ in text.oov_types.most_common(5)), lang_dir, oov)
    if not text.sentences:
        raise DataError(text_path, "no sentences")
    lm = estimate(text.sentences, vocab, order, method)
    removed = prune(lm, prune_threshold)
    lm.write_arpa(arpa_out)
    result = TrainedLm(lm, lm.perplexity(text.sentences), text, pruned=removed)
    if dev_text is not None:
        result.dev_text = read_text(dev_text, vocab, oov, utt_ids)
        result.dev_perplexity = lm.perplexity(result.dev_text.sentences)
    return result


def train_phone_lm(text_path: str | os.PathLike, lang: Lang, arpa_out: str | os.PathLike) -> TrainedLm:
    """Witten-Bell phone bigram over the lang's words from a Kaldi `text` file (Kaldi's TIMIT recipe); every
    word of the text must be a word of the lang (phone-as-word: an unknown phone is an error, not an OOV)."""
    vocab = [w for w in lang.words if w not in (EPS, DISAMBIG, BOS, EOS)]
    sentences = []
    for n, line in text_lines(text_path):
        if not line.strip():
            raise DataError(text_path, "empty line", n)
        utt, *words = line.split()
        bad = [w for w in words if w not in lang.words or w in (EPS, DISAMBIG, BOS, EOS)]
        if bad:
            raise DataError(text_path, f"utterance {utt}: {bad[0]!r} is not a word of {lang.path}", n)
        sentences.append(words)
    lm = estimate(sentences, vocab, order=2, method="wb")
    lm.write_arpa(arpa_out)
    return TrainedLm(lm, lm.perplexity(sentences), LmText(sentences, tokens=sum(map(len, sentences))))
