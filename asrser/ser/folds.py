"""SER folds over the speakers (utt2spk) or the sessions (utt2sess) of a data dir: each fold tests one group
(speaker or session), stops training early on validation groups and trains on the rest.

Cross-corpus folds (fold by corpus) over a combined data dir (utt2corpus and utt2sess): the groups are the
sessions of every corpus (`<corpus>:<session>`), and there is one fold per direction A->B: it tests every
session of B, stops early on A's last session and trains on A's other sessions.

Validation: a fixed set of groups for every fold (the paper's protocol on IEMOCAP: 2 validation speakers,
leave one speaker out over the other 8), or, when a corpus has no natural validation set, rotation: with the
groups sorted g_0 .. g_{n-1}, fold k tests g_k, validates on g_{k+1 mod n} and trains on the rest, so that
every group is tested once.

The folds stage writes to the folds dir: folds.json (the folds and their utterance counts), classes.txt and
utt2emo (asrser.ser.classes: the mapped labels of the kept utterances), utt2group (the group of each kept
utterance); every later step reads them from there.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import AsrserError, DataError
from ..fileio import atomic_write, read_key_value, write_key_value
from .classes import mapped_labels, read_classes, read_labels, write_classes

GROUP_FILES = {"speaker": "utt2spk", "session": "utt2sess"}
CORPUS_FILE = "utt2corpus"
FOLD_BY = ("speaker", "session", "corpus")
GROUPS_FILE = "utt2group"
DIRECTION = "->"


@dataclass(frozen=True)
class Fold:
    """A fold's groups by role. `test` names the fold (the fold column of predictions.tsv); `test_groups` are
    the groups it tests: its one test group when left out (the default), every session of the target corpus
    for a cross-corpus direction (then `test` is the direction, e.g. iemocap->msp_improv)."""

    test: str
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test_groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.test_groups:
            object.__setattr__(self, "test_groups", (self.test,))


def make_folds(groups: list[str], validation: list[str] | tuple[str, ...] = (),
               utterance_counts: dict[str, int] | None = None, kind: str = "speaker") -> list[Fold]:
    """One fold per non-validation group with a fixed validation set; with none, one fold per group, validated
    on the next group (rotation). Every group has exactly one role per fold (checked)."""
    groups = sorted(set(groups))
    unknown = sorted(set(validation) - set(groups))
    if unknown:
        raise AsrserError(f"validation {kind}(s) {', '.join(unknown)} are not in the data ({', '.join(groups)})")
    if utterance_counts is not None:
        empty = [g for g in groups if utterance_counts.get(g, 0) == 0]
        if empty:
            raise AsrserError(f"{kind}(s) {', '.join(empty)} have no utterances: their folds would be empty")
    if validation:
        rest = [g for g in groups if g not in validation]
        if len(rest) < 2:
            raise AsrserError(f"leave-one-{kind}-out needs at least 2 non-validation {kind}s, found {len(rest)}")
        folds = [Fold(test=g, train=tuple(r for r in rest if r != g), validation=tuple(sorted(validation)))
                 for g in rest]
    else:
        if len(groups) < 3:
            raise AsrserError(f"leave-one-{kind}-out with rotating validation needs at least 3 {kind}s (test, "
                              f"validation, training), found {len(groups)}")
        n = len(groups)
        folds = [Fold(test=g, train=tuple(groups[j] for j in range(n) if j not in (k, (k + 1) % n)),
                      validation=(groups[(k + 1) % n],)) for k, g in enumerate(groups)]
    check_folds(folds, groups, kind)
    return folds


def corpus_group(corpus: str, session: str) -> str:
    """The group of a session of a corpus in cross-corpus folds (sessions of two corpora may share names)."""
    return f"{corpus}:{session}"


def make_corpus_folds(sessions: dict[str, list[str]] | dict[str, tuple[str, ...]]) -> list[Fold]:
    """Cross-corpus folds over two corpora (corpus -> its sessions): one per direction A->B, testing every
    session of B, validated on A's last session (sorted) and trained on A's other sessions."""
    corpora = sorted(sessions)
    if len(corpora) != 2:
        raise AsrserError(f"cross-corpus folds need exactly 2 corpora, found {len(corpora)} "
                          f"({', '.join(corpora) or 'none'})")
    groups = {c: sorted({corpus_group(c, s) for s in sessions[c]}) for c in corpora}
    few = [c for c in corpora if len(groups[c]) < 2]
    if few:
        raise AsrserError(f"cross-corpus folds need at least 2 sessions in each training corpus (training and "
                          f"validation), {', '.join(few)} has {len(groups[few[0]])}")
    folds = [Fold(test=f"{a}{DIRECTION}{b}", train=tuple(groups[a][:-1]), validation=(groups[a][-1],),
                  test_groups=tuple(groups[b])) for a, b in ((corpora[0], corpora[1]), (corpora[1], corpora[0]))]
    check_folds(folds, [g for c in corpora for g in groups[c]], "session")
    return folds


def check_folds(folds: list[Fold], groups: list[str], kind: str = "speaker") -> None:
    """Every group tested at most once (exactly once under rotation, never a fixed validation group), and in
    each fold the test, validation and training groups are disjoint and cover every group."""
    tested = Counter(g for f in folds for g in f.test_groups)
    twice = sorted(g for g, n in tested.items() if n > 1)
    if twice:
        raise AsrserError(f"{kind}(s) {', '.join(twice)} tested in more than one fold")
    for k, f in enumerate(folds, 1):
        roles = [f.test_groups, f.validation, f.train]
        if not f.train or not f.validation:
            raise AsrserError(f"fold {k} (test {f.test}) has no training or no validation {kind}")
        if sum(map(len, roles)) != len({g for r in roles for g in r}) or \
                {g for r in roles for g in r} != set(groups):
            raise AsrserError(f"fold {k} (test {f.test}): the test, validation and training {kind}s overlap or "
                              f"leave some out")
    fixed = {g for f in folds for g in f.validation} if len({f.validation for f in folds}) == 1 else set()
    untested = sorted(set(groups) - set(tested) - fixed)
    if untested:
        raise AsrserError(f"{kind}(s) {', '.join(untested)} are never tested")


def write_folds(data_dir: str | os.PathLike, folds_dir: str | os.PathLike, fold_by: str = "speaker",
                validation: list[str] | tuple[str, ...] = (), class_map: str | os.PathLike | None = None
                ) -> list[Fold]:
    """<folds_dir>/{folds.json, classes.txt, utt2emo, utt2group}: the classes of <data_dir>'s utt2emo (through
    the class map), and the folds over its speakers or sessions (fold_by), counting the kept utterances."""
    if fold_by not in FOLD_BY:
        raise AsrserError(f"folds are by {', '.join(FOLD_BY[:-1])} or {FOLD_BY[-1]}, not {fold_by!r}")
    data_dir, folds_dir = Path(data_dir), Path(folds_dir)
    labels = mapped_labels(data_dir / "utt2emo", class_map)
    if fold_by == "corpus":
        if validation:
            raise AsrserError("cross-corpus folds choose their validation session (the training corpus's last "
                              "one): give no validation groups")
        utt2corpus = _utterance_groups(data_dir / CORPUS_FILE, labels, "corpus")
        utt2sess = _utterance_groups(data_dir / GROUP_FILES["session"], labels, "corpus")
        groups = {u: corpus_group(utt2corpus[u], utt2sess[u]) for u in labels}
        sessions: dict[str, set[str]] = {}
        for u in labels:
            sessions.setdefault(utt2corpus[u], set()).add(utt2sess[u])
        folds = make_corpus_folds({c: sorted(s) for c, s in sessions.items()})
    else:
        groups = _utterance_groups(data_dir / GROUP_FILES[fold_by], labels, fold_by)
        folds = make_folds(list(set(groups.values())), validation, Counter(groups.values()), fold_by)
    counts = Counter(groups.values())
    classes = write_classes(folds_dir, labels)
    write_key_value(folds_dir / GROUPS_FILE, groups)
    with atomic_write(folds_dir / "folds.json") as f:
        json.dump({"data": str(data_dir), "fold_by": fold_by, "class_map": str(class_map or ""),
                   "classes": list(classes), "validation": sorted(validation),
                   f"{'session' if fold_by == 'corpus' else fold_by}_utterances": dict(counts),
                   "folds": [asdict(fold) for fold in folds]}, f, indent=1)
    return folds


def _utterance_groups(group_file: Path, labels: dict[str, str], fold_by: str) -> dict[str, str]:
    """The group (group_file's value) of every labelled utterance; a missing file or utterance is an error."""
    if not group_file.exists():
        raise AsrserError(f"{group_file}: no such file (folds by {fold_by} need it)")
    utt2group = read_key_value(group_file)
    missing = [u for u in labels if u not in utt2group]
    if missing:
        raise DataError(group_file, f"{len(missing)} labelled utterances of utt2emo have no entry, "
                                    f"e.g. {missing[0]}")
    return {u: utt2group[u] for u in labels}


def read_folds(path: str | os.PathLike) -> list[Fold]:
    try:
        doc = json.loads(Path(path).read_text())
        return [Fold(f["test"], tuple(f["train"]), tuple(f["validation"]), tuple(f.get("test_groups", ())))
                for f in doc["folds"]]
    except FileNotFoundError:
        raise AsrserError(f"{path}: no fold list (run the folds stage first)") from None
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise AsrserError(f"{path}: malformed fold list ({e})") from None


@dataclass
class FoldPlan:
    """What the folds stage wrote, as later steps read it."""

    folds: list[Fold]
    fold_by: str                  # speaker | session | corpus
    validation: tuple[str, ...]   # the fixed validation groups; empty: rotation
    classes: tuple[str, ...]
    labels: dict[str, str]        # utt -> class, the kept utterances
    groups: dict[str, str]        # utt -> speaker, session or corpus:session


def read_fold_plan(folds_json: str | os.PathLike) -> FoldPlan:
    """The folds of <folds-dir>/folds.json with the classes, labels and groups written beside it."""
    folds_json = Path(folds_json)
    folds = read_folds(folds_json)
    doc = json.loads(folds_json.read_text())
    folds_dir = folds_json.parent
    if not (folds_dir / GROUPS_FILE).exists():
        raise AsrserError(f"{folds_dir / GROUPS_FILE}: missing (run the folds stage again)")
    return FoldPlan(folds, doc.get("fold_by", "speaker"), tuple(doc.get("validation", ())), read_classes(folds_dir), read_labels(folds_dir),
                    read_key_value(folds_dir / GROUPS_FILE))


def fold_utterances(plan: FoldPlan, fold: Fold, k: int, folds_json: str | os.PathLike) -> dict[str, list[str]]:
    """The labelled utterances of each role of fold k (train, valid, test; sorted); a role without utterances
    is an error naming the fold list."""
    groups = {"train": set(fold.train), "valid": set(fold.validation), "test": set(fold.test_groups)}
    utts = {role: sorted(u for u in plan.labels if plan.groups.get(u) in g) for role, g in groups.items()}
    empty = [role for role, found in utts.items() if not found]
    if empty:
        raise AsrserError(f"{folds_json}: fold {k} (test {fold.test}) has no utterances for {', '.join(empty)}")
    return utts


def fold_listing(folds: list[Fold], counts: dict[str, int] | None = None) -> str:
    """One line per fold: test group(s), training groups, validation groups (with utterance counts)."""
    def name(s: str) -> str:
        return f"{s}({counts[s]})" if counts else s

    def tested(f: Fold) -> str:
        return name(f.test) if f.test_groups == (f.test,) else f"{f.test}: {' '.join(map(name, f.test_groups))}"
    return "\n".join(f"fold {k}: test {tested(f)} | train {' '.join(map(name, f.train))} | validation "
                     f"{' '.join(map(name, f.validation))}" for k, f in enumerate(folds, 1))
