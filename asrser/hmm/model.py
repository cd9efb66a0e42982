"""The HMM of an acoustic model: Kaldi's TransitionModel (topology, transition probabilities, transition-id
-> pdf) and the phonetic-context tree, from the wheels, kept on disk in Kaldi's own formats.

A model file is Kaldi's: the TransitionModel, then what the model family adds (a GMM system's final.mdl: its
AmDiagGmm, `gmm.model.AcousticModel`), binary by default; the tree is Kaldi's `tree` file beside it, as in
Kaldi's exp dirs. A hybrid net decodes and aligns with the HMM of the system whose states it predicts, read
from that system's final.mdl as Kaldi's tools read the TransitionModel at the head of any model file (a model
of Kaldi's own, GMM or nnet, included).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np

from ..errors import DataError
from ..fileio import atomic_write
from ..kaldi_format import read_transition_model, read_tree, write_tree
from ..kaldi_format.hmm import TransitionModel as KaldiTransitionModel
from ..kaldi_format.stream import Writer


@dataclass
class HmmModel:
    """Transition model + tree. The tree is read from the `tree` file beside the model (Kaldi's layout); a
    model without one can decode and score, and says which file is missing when a graph needs the tree."""
    trans_model: khg.TransitionModel
    tree: khg.ContextDependency | None
    path: Path | None = field(default=None, compare=False, repr=False, kw_only=True)   # the file it was read from

    @property
    def tid2pdf(self) -> np.ndarray:
        return np.asarray(self.trans_model.transition_id_to_pdf_array(), dtype=np.int64)

    @property
    def num_transition_ids(self) -> int:
        return int(self.trans_model.num_transition_ids)

    def require_tree(self) -> khg.ContextDependency:
        """The tree, or an error naming the tree file that is missing (graphs and tree conversion need it)."""
        if self.tree is None:
            where = tree_path(self.path) if self.path is not None else "tree"
            raise DataError(where, f"file does not exist: the model {self.path}'s decision tree is needed here")
        return self.tree

    def save(self, path: str | os.PathLike, binary: bool = True) -> None:
        """The model file in Kaldi's format: the transition model, then what a subclass adds (`_write_body`)."""
        w = Writer(binary)
        w.header()
        KaldiTransitionModel.from_wheel(self.trans_model).write(w)
        self._write_body(w)
        with atomic_write(path, "wb", encoding=None) as f:
            f.write(w.getvalue())

    def _write_body(self, w: Writer) -> None:
        """What a subclass stores after the transition model (a GMM system: its GMMs)."""

    @classmethod
    def load(cls, path: str | os.PathLike):
        """The HMM of any Kaldi model file (its transition model; what follows is not read) with the tree
        beside it, when there is one."""
        path = Path(path)
        transitions = read_transition_model(path)
        return cls(_to_wheel(transitions, path), load_tree(path, transitions.num_pdfs), path=path)

    def write_tree(self, path: str | os.PathLike, binary: bool = True) -> None:
        """The tree in Kaldi's format (readable by Kaldi's tree-info, draw-tree)."""
        write_tree(path, self.require_tree(), binary)


def tree_path(model_path: str | os.PathLike) -> Path:
    """Kaldi keeps a model's tree beside it: <exp>/tree for <exp>/final.mdl, <exp>/3.mdl, ..."""
    return Path(model_path).parent / "tree"


def load_tree(model_path: Path, num_pdfs: int) -> khg.ContextDependency | None:
    """The tree beside a model, checked against the model's pdf count, or None without one."""
    path = tree_path(model_path)
    return read_tree(path, num_pdfs) if path.exists() else None


def _to_wheel(transitions: KaldiTransitionModel, path: Path) -> khg.TransitionModel:
    try:
        return transitions.to_wheel()
    except RuntimeError as e:   # the wheels' own checks, should anything pass ours
        raise DataError(path, f"the wheels refuse the transition model: {str(e).strip().splitlines()[-1]}") from None


def check_lang(lang, model: HmmModel) -> None:
    """Kaldi's utils/lang/check_phones_compatible.sh: the lang dir's phones (phones.txt without <eps> and the
    disambiguation symbols) must be the phones of the model's topology, and the same names as the phones.txt
    its training copied beside the model (when there is one); otherwise an error naming both."""
    from ..lang import read_symbol_table

    phones_txt = lang.path / "phones.txt"
    lang_phones = sorted(i for p, i in lang.phones.items() if i != 0 and not p.startswith("#"))
    model_phones = sorted(int(p) for p in model.trans_model.phones)
    if lang_phones != model_phones:
        raise DataError(phones_txt, f"{len(lang_phones)} phones ({_id_ranges(lang_phones)}), but the topology of "
                                    f"{model.path or 'the model'} has {len(model_phones)} ({_id_ranges(model_phones)}):"
                                    " not the lang dir of this model")
    trained_with = model.path.parent / "phones.txt" if model.path is not None else None
    if trained_with is not None and trained_with.exists() and trained_with.resolve() != phones_txt.resolve():
        theirs = read_symbol_table(trained_with)
        differ = sorted(p for p in set(theirs) | set(lang.phones) if theirs.get(p) != lang.phones.get(p))
        if differ:
            raise DataError(phones_txt, f"does not match {trained_with}, the phones the model was trained with "
                                        f"(e.g. {differ[0]!r}: id {lang.phones.get(differ[0])} here, "
                                        f"{theirs.get(differ[0])} there)")


def _id_ranges(ids: list[int]) -> str:
    """1-47, 49 for [1, ..., 47, 49]."""
    parts, start = [], None
    for i, x in enumerate(ids):
        if start is None:
            start = x
        if i + 1 == len(ids) or ids[i + 1] != x + 1:
            parts.append(f"{start}" if start == x else f"{start}-{x}")
            start = None
    return "ids " + ", ".join(parts) if parts else "none"
