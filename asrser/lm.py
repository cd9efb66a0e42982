"""Phone n-gram language models: interpolated Witten-Bell bigram estimated from training transcripts,
written as ARPA and compiled to G.fst with kaldilm (as Kaldi's TIMIT recipe does with IRSTLM's build-lm -n 2).

Unigrams interpolate the maximum-likelihood estimate with a uniform distribution over the vocabulary, so
phones absent from training keep a non-zero probability; bigrams interpolate with the unigram. In ARPA
backoff form the weight of history h is T(h) / (c(h) + T(h)), T(h) being the number of distinct successors.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import kaldifst  # noqa: F401  (before kaldilm: import-order deadlock otherwise)
import kaldilm

from .errors import DataError
from .fileio import atomic_write, captured_native_stderr, text_lines
from .lang import BOS, DISAMBIG, EOS, Lang

log = logging.getLogger(__name__)

LOG10_ZERO = -99.0


@dataclass
class BigramLM:
    unigram: dict[str, float]                    # P(w); BOS absent (never predicted)
    bigram: dict[str, dict[str, float]]          # P(w | h) for seen (h, w)
    backoff: dict[str, float]                    # alpha(h)
    training_perplexity: float = float("nan")

    def prob(self, word: str, history: str) -> float:
        seen = self.bigram.get(history, {})
        if word in seen:
            return seen[word]
        return self.backoff.get(history, 1.0) * self.unigram.get(word, 0.0)

    def vocabulary(self) -> list[str]:
        return sorted(self.unigram)

    def log_prob_sentence(self, words: list[str]) -> float:
        total, h = 0.0, BOS
        for w in [*words, EOS]:
            total += math.log(self.prob(w, h))
            h = w
        return total

    def perplexity(self, sentences: Iterable[list[str]]) -> float:
        logp, n = 0.0, 0
        for s in sentences:
            logp += self.log_prob_sentence(s)
            n += len(s) + 1
        return math.exp(-logp / n)

    def write_arpa(self, path: str | os.PathLike) -> None:
        histories = sorted(self.backoff)
        n_bigrams = sum(len(v) for v in self.bigram.values())
        with atomic_write(path) as f:
            f.write(f"\n\\data\\\nngram 1={len(self.unigram) + 1}\nngram 2={n_bigrams}\n\n\\1-grams:\n")
            f.write(f"{LOG10_ZERO}\t{BOS}\t{math.log10(self.backoff[BOS]):.6f}\n")
            for w in self.vocabulary():
                line = f"{math.log10(self.unigram[w]):.6f}\t{w}"
                if w in self.backoff and w in histories:
                    line += f"\t{math.log10(self.backoff[w]):.6f}"
                f.write(line + "\n")
            f.write("\n\\2-grams:\n")
            for h in sorted(self.bigram):
                for w in sorted(self.bigram[h]):
                    f.write(f"{math.log10(self.bigram[h][w]):.6f}\t{h} {w}\n")
            f.write("\n\\end\\\n")


def witten_bell_bigram(sentences: Iterable[list[str]], vocabulary: Iterable[str]) -> BigramLM:
    """Estimate the bigram from word sequences (without <s>, </s>) over `vocabulary` (+ </s>)."""
    vocab = set(vocabulary) | {EOS}
    vocab.discard(BOS)
    unigram_counts: Counter[str] = Counter()
    pair_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for words in sentences:
        unknown = [w for w in words if w not in vocab]
        if unknown:
            raise ValueError(f"word {unknown[0]!r} is not in the vocabulary")
        seq = [BOS, *words, EOS]
        for h, w in zip(seq, seq[1:]):
            unigram_counts[w] += 1
            pair_counts[h][w] += 1
    total = sum(unigram_counts.values())
    if total == 0:
        raise ValueError("no training sentences")
    types = len(unigram_counts)
    uniform = 1.0 / len(vocab)
    unigram = {w: (unigram_counts[w] + types * uniform) / (total + types) for w in vocab}
    bigram: dict[str, dict[str, float]] = {}
    backoff: dict[str, float] = {}
    for h, followers in pair_counts.items():
        count, distinct = sum(followers.values()), len(followers)
        lam = distinct / (count + distinct)
        bigram[h] = {w: (c + distinct * unigram[w]) / (count + distinct) for w, c in followers.items()}
        backoff[h] = lam
    for w in vocab - {EOS}:
        backoff.setdefault(w, 1.0)
    backoff.setdefault(BOS, 1.0)
    return BigramLM(unigram, bigram, backoff)


def read_arpa(path: str | os.PathLike) -> BigramLM:
    """Read a unigram/bigram ARPA file (for checking and rescoring); DataError names bad lines."""
    unigram: dict[str, float] = {}
    bigram: dict[str, dict[str, float]] = defaultdict(dict)
    backoff: dict[str, float] = {}
    section = None
    for n, line in text_lines(path):
        line = line.strip()
        if not line or line.startswith("ngram ") or line == "\\data\\":
            continue
        if line.startswith("\\"):
            section = line
            continue
        fields = line.split()
        try:
            if section == "\\1-grams:":
                p, w = float(fields[0]), fields[1]
                if w != BOS:
                    unigram[w] = 10 ** p
                backoff[w] = 10 ** float(fields[2]) if len(fields) > 2 else 1.0
            elif section == "\\2-grams:":
                bigram[fields[1]][fields[2]] = 10 ** float(fields[0])
            else:
                raise ValueError
        except (ValueError, IndexError):
            raise DataError(path, f"cannot parse ARPA line {line!r}", n) from None
    return BigramLM(unigram, dict(bigram), backoff)


def make_lang_test(lang_dir: str | os.PathLike, arpa: str | os.PathLike, out_dir: str | os.PathLike) -> None:
    """Copy a lang dir and add G.fst compiled from the ARPA LM (Kaldi's format_lm.sh)."""
    lang_dir, out_dir = Path(lang_dir), Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(lang_dir, tmp)
    with captured_native_stderr() as messages:
        kaldilm.arpa2fst(input_arpa=str(arpa), output_fst=str(tmp / "G.fst"), disambig_symbol=DISAMBIG,
                         read_symbol_table=str(lang_dir / "words.txt"), max_arpa_warnings=0)
    for line in messages:
        if "[W]" in line or "[E]" in line or "WARNING" in line or "ERROR" in line:
            log.warning("arpa2fst: %s", line)
    shutil.copy(arpa, tmp / "lm.arpa")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def train_phone_lm(text_path: str | os.PathLike, lang: Lang, arpa_out: str | os.PathLike) -> BigramLM:
    """Witten-Bell bigram over the lang's words from a Kaldi `text` file."""
    sentences = []
    vocab = [w for w in lang.words if w not in ("<eps>", DISAMBIG, BOS, EOS)]
    for n, line in text_lines(text_path):
        if not line.strip():
            raise DataError(text_path, "empty line", n)
        utt, *words = line.split()
        bad = [w for w in words if w not in lang.words or w in ("<eps>", DISAMBIG, BOS, EOS)]
        if bad:
            raise DataError(text_path, f"utterance {utt}: {bad[0]!r} is not a word of {lang.path}", n)
        sentences.append(words)
    lm = witten_bell_bigram(sentences, vocab)
    lm.training_perplexity = lm.perplexity(sentences)
    lm.write_arpa(arpa_out)
    return lm
