"""Small CTC problems with real files: fbank-like data dirs whose frames spell their transcript, a words.txt."""

from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np

TOKENS = ["sil", "aa", "b", "d"]


def write_lang_words(lang: Path, tokens=TOKENS) -> Path:
    """A lang dir holding only words.txt (what the trainer reads): <eps>, the tokens, #0, <s>, </s>."""
    lang.mkdir(parents=True, exist_ok=True)
    words = ["<eps>", *tokens, "#0", "<s>", "</s>"]
    (lang / "words.txt").write_text("".join(f"{w} {i}\n" for i, w in enumerate(words)))
    return lang


def spelled_data_dir(root: Path, utts: int, seed: int, dim: int = 40, tokens=TOKENS) -> Path:
    """A data dir (feats.scp, text) whose utterances are 3-7 tokens, each token a run of 9-14 frames of its own
    noisy pattern: a problem a small CTC model learns in a few hundred steps."""
    rng = np.random.default_rng(seed)
    patterns = np.random.default_rng(123).normal(0, 2, (len(tokens), dim)).astype(np.float32)
    root.mkdir(parents=True, exist_ok=True)
    texts = []
    with kaldiio.WriteHelper(f"ark,scp:{root / 'feats.ark'},{root / 'feats.scp'}") as writer:
        for u in range(utts):
            labels = [int(rng.integers(len(tokens)))]
            while len(labels) < int(rng.integers(3, 8)):
                nxt = int(rng.integers(len(tokens)))
                if nxt != labels[-1]:
                    labels.append(nxt)
            frames = [patterns[t] + rng.normal(0, 0.5, (int(rng.integers(9, 15)), dim)) for t in labels]
            utt = f"spk{u % 3}_u{u:03d}"
            writer(utt, np.concatenate(frames).astype(np.float32))
            texts.append(f"{utt} {' '.join(tokens[t] for t in labels)}\n")
    (root / "text").write_text("".join(texts))
    return root
