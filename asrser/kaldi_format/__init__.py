"""Kaldi's own file formats, both ways, without Kaldi.

What a stage calls (everything names the file and what was expected on bad input, and writes atomically):

- `final.mdl`: load_gmm_model(path) -> (wheels' TransitionModel, DiagGmms); save_gmm_model(path, trans_model,
  gmms, binary=True); read_gmm_model / write_gmm_model / copy_gmm_model for the file-level GmmModel.
- `tree`: read_tree(path, num_pdfs) -> wheels' ContextDependency; write_tree(path, tree, binary=True).
"""

from .gmm import GmmModel, copy_gmm_model, load_gmm_model, read_gmm_model, save_gmm_model, write_gmm_model
from .hmm import Topology, TransitionModel
from .stream import KaldiFormatError
from .tree import ContextDependency, read_tree, write_tree

__all__ = ["ContextDependency", "GmmModel", "KaldiFormatError", "Topology", "TransitionModel", "copy_gmm_model",
           "load_gmm_model", "read_gmm_model", "read_tree", "save_gmm_model", "write_gmm_model", "write_tree"]
