"""The paper's protocol: of 10 speakers, 2 are a fixed validation set; leave-one-speaker-out over the other 8
(train on 7, test on 1)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AsrserError


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
