"""The paper's protocol: of 10 speakers, 2 are a fixed validation set; leave-one-speaker-out over the other 8
(train on 7, test on 1)."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import AsrserError
from ..fileio import atomic_write, read_key_value


@dataclass(frozen=True)
class Fold:
    test: str
    train: tuple[str, ...]
    validation: tuple[str, ...]


def loso_folds(speakers: list[str], validation: list[str], utterance_counts: dict[str, int] | None = None
               ) -> list[Fold]:
    """One fold per non-validation speaker; every speaker has exactly one role per fold."""
    speakers = sorted(set(speakers))
    unknown = sorted(set(validation) - set(speakers))
    if unknown:
        raise AsrserError(f"validation speaker(s) {', '.join(unknown)} are not in the data "
                          f"({', '.join(speakers)})")
    rest = [s for s in speakers if s not in validation]
    if len(rest) < 2:
        raise AsrserError(f"leave-one-speaker-out needs at least 2 non-validation speakers, found {len(rest)}")
    if utterance_counts is not None:
        empty = [s for s in speakers if utterance_counts.get(s, 0) == 0]
        if empty:
            raise AsrserError(f"speaker(s) {', '.join(empty)} have no utterances: their folds would be empty")
    return [Fold(test=s, train=tuple(r for r in rest if r != s), validation=tuple(sorted(validation)))
            for s in rest]


def write_folds(data_dir: str | os.PathLike, validation: list[str], out: str | os.PathLike) -> list[Fold]:
    """<out> (JSON): the folds over <data_dir>'s speakers (utt2spk), with their utterance counts."""
    utt2spk = read_key_value(Path(data_dir) / "utt2spk")
    counts = Counter(utt2spk.values())
    folds = loso_folds(list(counts), validation, counts)
    with atomic_write(out) as f:
        json.dump({"data": str(data_dir), "validation": sorted(validation), "speaker_utterances": dict(counts),
                   "folds": [asdict(fold) for fold in folds]}, f, indent=1)
    return folds


def read_folds(path: str | os.PathLike) -> list[Fold]:
    try:
        doc = json.loads(Path(path).read_text())
        return [Fold(f["test"], tuple(f["train"]), tuple(f["validation"])) for f in doc["folds"]]
    except FileNotFoundError:
        raise AsrserError(f"{path}: no fold list (run the folds stage first)") from None
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise AsrserError(f"{path}: malformed fold list ({e})") from None


def fold_listing(folds: list[Fold], counts: dict[str, int] | None = None) -> str:
    """One line per fold: test speaker, training speakers, validation speakers (with utterance counts)."""
    def name(s: str) -> str:
        return f"{s}({counts[s]})" if counts else s
    return "\n".join(f"fold {k}: test {name(f.test)} | train {' '.join(map(name, f.train))} | validation "
                     f"{' '.join(map(name, f.validation))}" for k, f in enumerate(folds, 1))
