"""The HMM of an acoustic model: Kaldi's TransitionModel (topology, transition probabilities, transition-id
-> pdf) and the phonetic-context tree, from the wheels.

A GMM system's final.mdl holds the HMM followed by its GMMs (`gmm.model.AcousticModel` adds them). A hybrid
net decodes and aligns with the HMM of the system whose states it predicts, read from that system's
final.mdl as Kaldi's tools read the TransitionModel at the head of any model file.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np

from ..errors import AsrserError
from ..fileio import atomic_write

MODEL_FORMAT = "asrser-gmm-hmm-1"


@dataclass
class HmmModel:
    """Transition model + tree (Kaldi keeps the tree apart, in exp/<system>/tree; here it travels with the
    model as well)."""
    trans_model: khg.TransitionModel
    tree: khg.ContextDependency

    @property
    def tid2pdf(self) -> np.ndarray:
        return np.asarray(self.trans_model.transition_id_to_pdf_array(), dtype=np.int64)

    def save(self, path: str | os.PathLike) -> None:
        """The model file: the HMM, then what a subclass adds (`_arrays`)."""
        with atomic_write(path, "wb", encoding=None) as f:
            np.savez(f, format=np.array(MODEL_FORMAT),
                     trans_model=np.frombuffer(pickle.dumps(self.trans_model), dtype=np.uint8),
                     tree=np.frombuffer(pickle.dumps(self.tree), dtype=np.uint8), **self._arrays())

    def _arrays(self) -> dict[str, np.ndarray]:
        """What a subclass stores after the HMM."""
        return {}

    @classmethod
    def _fields(cls, stored) -> dict:
        """A subclass's own fields, from the stored arrays."""
        return {}

    @classmethod
    def load(cls, path: str | os.PathLike):
        """The model of a final.mdl (HmmModel: its HMM alone, whatever follows it)."""
        try:
            z = np.load(path, allow_pickle=False)
            if str(z["format"]) != MODEL_FORMAT:
                raise ValueError("unknown format")
            return cls(pickle.loads(z["trans_model"].tobytes()), pickle.loads(z["tree"].tobytes()),
                       **cls._fields(z))
        except (OSError, ValueError, KeyError) as e:
            raise AsrserError(f"{path}: not an asrser GMM-HMM model ({e})") from None

    def write_tree(self, path: str | os.PathLike) -> None:
        """The tree in Kaldi's binary format (readable by Kaldi's tree-info, draw-tree)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        self.tree.write(True, str(tmp))
        os.replace(tmp, path)
