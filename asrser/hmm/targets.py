"""Frame targets for neural nets from alignments: per transition-id a class (monophone HMM states, or the
tree's pdfs as Kaldi's ali-to-pdf), written as Kaldi archives with the class count, the class frequencies and
the class table (classes.txt: what each class is, which a trained net keeps so that it is decoded with the
HMM states it was trained on)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import AsrserError
from ..fileio import Stamp, atomic_write, temp_name
from .align import alignment_archives, read_alignments
from .model import HmmModel
from .phone_sets import base_phone
from .tables import tid_tables

log = logging.getLogger(__name__)

TARGET_TYPES = ("mono-state", "pdf")


def model_phone_names(model: HmmModel) -> dict[int, str] | None:
    """The phone names of a model, from the phones.txt its training copied beside it (None without one)."""
    from ..lang import read_symbol_table

    path = model.path.parent / "phones.txt" if model.path is not None else None
    if path is None or not path.exists():
        return None
    return {i: p for p, i in read_symbol_table(path).items()}


def base_phone_classes(phones: list[int], names: dict[int, str] | None) -> tuple[dict[int, int], list[str]]:
    """Per phone id the index of its base phone (the word-position variants AA_B AA_I AA_E AA_S of AA share
    one), and the base phones' names in index order. Without names every phone is its own base phone, at
    index id - 1 (phone ids count from 1)."""
    if names is None:
        return {p: p - 1 for p in phones}, [str(p) for p in range(1, max(phones, default=0) + 1)]
    bases: dict[str, int] = {}
    for p in sorted(phones):
        bases.setdefault(base_phone(names.get(p, str(p))), len(bases))
    return {p: bases[base_phone(names.get(p, str(p)))] for p in phones}, list(bases)


def monophone_state_classes(model: HmmModel, num_states: int = 3, phones: dict[int, str] | None = None
                            ) -> tuple[np.ndarray, int]:
    """transition-id -> class base_phone_index * num_states + state: 48 x 3 = 144 classes on TIMIT. With
    phone names (`phones`, else the phones.txt beside the model) the word-position variants of a phone are
    one class set (Kaldi's position-dependent phones mapped back to their base phone); without, each phone
    id is its own.

    Phones with more HMM states (silence: 5) are folded onto num_states classes: the first state to class
    0, the last to class num_states-1, the inner states to the middle class(es), as the paper's 3-state
    targets need one class set for every phone."""
    phone, state = tid_tables(model)
    topo = model.trans_model.topo if not callable(model.trans_model.topo) else model.trans_model.topo()
    n_states = {p: n for p, n in zip(topo.phones, [topo.num_pdf_classes(p) for p in topo.phones])}
    base_index, bases = base_phone_classes(list(topo.phones), phones or model_phone_names(model))
    classes = np.zeros(len(phone), dtype=np.int64)
    for tid in range(1, len(phone)):
        n = n_states[int(phone[tid])]
        s = int(state[tid])
        folded = s if n == num_states else (0 if s == 0 else num_states - 1 if s == n - 1 else
                                             1 + (s - 1) * (num_states - 2) // max(n - 2, 1))
        classes[tid] = base_index[int(phone[tid])] * num_states + folded
    return classes, len(bases) * num_states


def target_table(model: HmmModel, targets: str = "mono-state") -> tuple[np.ndarray, int]:
    """transition-id -> frame class for the nets, and the number of classes: monophone HMM states by base
    phone (mono-state) or the tree's leaves (pdf)."""
    if targets == "mono-state":
        return monophone_state_classes(model)
    if targets == "pdf":
        return model.tid2pdf, model.trans_model.num_pdfs
    raise AsrserError(f"unknown target type {targets!r} ({' or '.join(TARGET_TYPES)})")


def class_names(model: HmmModel, targets: str, phones: dict[int, str] | None = None) -> list[str]:
    """The class table of a target type: for mono-state, <base phone>_<k> for the k-th state class of each
    base phone (phone names from `phones`, else the phones.txt beside the model, else the phone ids), for
    pdf, pdf<n>."""
    if targets == "pdf":
        return [f"pdf{n}" for n in range(target_table(model, targets)[1])]
    if targets not in TARGET_TYPES:
        raise AsrserError(f"unknown target type {targets!r} ({' or '.join(TARGET_TYPES)})")
    table, num_classes = monophone_state_classes(model, phones=phones)
    names = [f"class{n}" for n in range(num_classes)]           # classes of phone ids without a phone
    phone, _ = tid_tables(model)
    names_of = phones or model_phone_names(model) or {}
    for tid in range(1, len(table)):
        p = int(phone[tid])
        names[table[tid]] = f"{base_phone(names_of[p]) if p in names_of else p}_{int(table[tid]) % 3}"
    return names


def read_class_table(path: str | os.PathLike) -> list[str]:
    """classes.txt (`name id` per line, ids 0, 1, ... in order)."""
    from ..lang import read_symbol_table

    table = read_symbol_table(path)
    if sorted(table.values()) != list(range(len(table))):
        raise AsrserError(f"{path}: class ids must be 0..{len(table) - 1}, each once")
    return [name for name, _ in sorted(table.items(), key=lambda kv: kv[1])]


def write_class_table(path: str | os.PathLike, names: list[str]) -> None:
    with atomic_write(path) as f:
        f.writelines(f"{name} {n}\n" for n, name in enumerate(names))


class _TargetWriter:
    """targets.ark/.scp (kaldiio, int32 vectors) under temporary names, renamed when complete."""

    def __init__(self, prefix: Path):
        import kaldiio

        self.ark, self.scp = prefix.with_suffix(".ark"), prefix.with_suffix(".scp")
        self._tmp_ark, self._tmp_scp = temp_name(self.ark), temp_name(self.scp)
        self._writer = kaldiio.WriteHelper(f"ark,scp:{self._tmp_ark},{self._tmp_scp}")

    def __call__(self, utt: str, values: np.ndarray) -> None:
        self._writer(utt, np.asarray(values, dtype=np.int32))

    def close(self) -> None:
        self._writer.close()
        # the scp names the temporary ark; point it at the final name before publishing both
        self._tmp_scp.write_text(self._tmp_scp.read_text().replace(str(self._tmp_ark), str(self.ark)))
        os.replace(self._tmp_ark, self.ark)
        os.replace(self._tmp_scp, self.scp)

    def abort(self) -> None:
        self._writer.close()
        for p in (self._tmp_ark, self._tmp_scp):
            p.unlink(missing_ok=True)


def write_targets(ali_dir: str | os.PathLike, out_dir: str | os.PathLike, targets: str = "mono-state") -> int:
    """ali-to-pdf / monophone-state targets for the neural nets from a Kaldi alignment dir (final.mdl, tree,
    ali.*.gz, num_jobs; ours or Kaldi's): <out>/targets.{ark,scp}, num_classes, class_counts, classes.txt."""
    ali_dir, out_dir = Path(ali_dir), Path(out_dir)
    model = HmmModel.load(ali_dir / "final.mdl")
    # "kind": the record's name for the target type since the first release (a new name would redo every run)
    stamp = Stamp(out_dir / "targets.done", [*alignment_archives(ali_dir), ali_dir / "final.mdl"], kind=targets)
    if stamp.is_current():
        return int((out_dir / "num_classes").read_text())
    table, num_classes = target_table(model, targets)
    phones = None
    if (ali_dir / "phones.txt").exists():
        from ..lang import read_symbol_table
        phones = {i: p for p, i in read_symbol_table(ali_dir / "phones.txt").items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = np.zeros(num_classes, dtype=np.int64)
    write = _TargetWriter(out_dir / "targets")
    try:
        for utt, ali in read_alignments(ali_dir, model.num_transition_ids):
            frame_classes = table[ali]
            counts += np.bincount(frame_classes, minlength=num_classes)
            write(utt, frame_classes)
    except BaseException:
        write.abort()
        raise
    write.close()
    with atomic_write(out_dir / "num_classes") as f:
        f.write(f"{num_classes}\n")
    with atomic_write(out_dir / "class_counts") as f:
        f.write(" ".join(map(str, counts)) + "\n")
    write_class_table(out_dir / "classes.txt", class_names(model, targets, phones))
    stamp.write()
    log.info("%s: %s targets, %d classes (%d never seen), %d frames", out_dir, targets, num_classes,
             int((counts == 0).sum()), int(counts.sum()))
    return num_classes
