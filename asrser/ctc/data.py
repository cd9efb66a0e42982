"""What the CTC trainer reads: a data dir's fbank (feats.scp) and transcripts (text) as token ids over the
lang's words (on a phone lang, the 48 phones), all held in memory, batched by length."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fileio import read_key_value, read_matrix, read_table
from ..lang import read_symbol_table

NOT_TOKENS = ("<eps>", "<s>", "</s>")       # words.txt entries that are no units of a transcript


def lang_tokens(lang_dir: str | os.PathLike) -> list[str]:
    """The CTC tokens of a lang dir: its words (a phone lang's words are its phones) in id order, without
    <eps>, the sentence boundaries and the disambiguation symbols. Token i is the net's output i + 1."""
    words = read_symbol_table(Path(lang_dir) / "words.txt")
    return [w for w, _ in sorted(words.items(), key=lambda kv: kv[1])
            if w not in NOT_TOKENS and not w.startswith("#")]


@dataclass
class Utterances:
    """Feature matrices, their lengths and token-id sequences (1-based: 0 is the blank), in utterance order."""

    utts: list[str]
    feats: list[np.ndarray]
    labels: list[np.ndarray]

    @classmethod
    def load(cls, data_dir: str | os.PathLike, tokens: list[str], need_text: bool = True) -> "Utterances":
        """Every utterance of <data_dir>/feats.scp with its transcript; a word of text that is not a token is
        an error naming the file and line, an utterance without transcript one naming the utterance."""
        data_dir = Path(data_dir)
        token_id = {t: i + 1 for i, t in enumerate(tokens)}
        texts: dict[str, np.ndarray] = {}
        text_path = data_dir / "text"
        if need_text:
            for n, fields in read_table(text_path, min_fields=1):
                unknown = [w for w in fields[1:] if w not in token_id]
                if unknown:
                    raise DataError(text_path, f"{fields[0]}: {unknown[0]!r} is not one of the model's "
                                               f"{len(tokens)} tokens (the lang's words)", n)
                texts[fields[0]] = np.array([token_id[w] for w in fields[1:]], dtype=np.int64)
        scp = data_dir / "feats.scp"
        if not scp.exists():
            raise DataError(scp, "file does not exist (make the fbank features of the data dir first)")
        utts, feats, labels = [], [], []
        for utt, rxspec in read_key_value(scp).items():
            if need_text and utt not in texts:
                raise DataError(text_path, f"no transcript for utterance {utt} of {scp}")
            utts.append(utt)
            feats.append(np.asarray(read_matrix(rxspec, scp, utt), dtype=np.float32))
            labels.append(texts.get(utt, np.zeros(0, dtype=np.int64)))
        if not utts:
            raise DataError(scp, "no features listed")
        return cls(utts, feats, labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(f) for f in self.feats])

    def batches(self, batch_frames: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """Utterance indices grouped by length so that each batch holds at most batch_frames padded frames
        (an utterance longer than that alone); with rng, the batches in a random order and the utterances of
        equal length shuffled (a seeded generator: the same batches for the same seed)."""
        lengths = self.lengths
        jitter = rng.random(len(lengths)) if rng is not None else np.zeros(len(lengths))
        order = np.lexsort((jitter, lengths))
        batches, current = [], []
        for i in order:
            if current and (len(current) + 1) * lengths[i] > batch_frames:
                batches.append(np.array(current))
                current = []
            current.append(i)
        if current:
            batches.append(np.array(current))
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def padded(self, idx: np.ndarray, mean: np.ndarray, std: np.ndarray):
        """(feats (B, T, D) normalised and zero-padded, lengths (B,), labels concatenated, label lengths (B,))
        as numpy arrays."""
        lengths = np.array([len(self.feats[i]) for i in idx])
        x = np.zeros((len(idx), lengths.max(), self.feats[idx[0]].shape[1]), dtype=np.float32)
        for row, i in enumerate(idx):
            x[row, :lengths[row]] = (self.feats[i] - mean) / std
        labels = [self.labels[i] for i in idx]
        return x, lengths, np.concatenate(labels), np.array([len(l) for l in labels])


def mean_std(feats: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Global mean and standard deviation of the training frames (float64 sums), std floored."""
    total = sum(f.sum(0, dtype=np.float64) for f in feats)
    squares = sum((f.astype(np.float64) ** 2).sum(0) for f in feats)
    n = sum(len(f) for f in feats)
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - mean ** 2, 1e-8))
    return mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32)
