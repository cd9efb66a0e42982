"""Kaldi's own file formats, both ways, without Kaldi.

What a stage calls (everything names the file and what was expected on bad input, and writes atomically):

- `final.mdl`: load_gmm_model(path) -> (wheels' TransitionModel, DiagGmms); save_gmm_model(path, trans_model,
  gmms, binary=True); read_gmm_model / write_gmm_model / copy_gmm_model for the file-level GmmModel.
- the transition model at the head of any model file: read_transition_model(path).
- `tree`: read_tree(path, num_pdfs) -> wheels' ContextDependency; write_tree(path, tree, binary=True).
- `ali.N.gz`: write_int_vectors(path, items), read_int_vectors(path), read_alignment_dir(dir) (every job of a
  directory, through its num_jobs); write_num_jobs / read_num_jobs.
- `final.occs`, `final.mat`: write_kaldi_vector / read_kaldi_vector, write_kaldi_matrix / read_kaldi_matrix.
- a hybrid net's outputs for latgen-faster-mapped: write_loglikelihoods(path, items, num_pdfs), or
  ArchiveWriter.write_matrix(key, loglikelihood_matrix(key, values, num_pdfs)) one utterance at a time.
- `lat.N.gz`: determinize_lattice(raw_lattice, lattice_beam, acoustic_scale, max_mem).lattice -> CompactLattice;
  write_lattices(path, items) / read_lattices(path); best_paths(lattices, lm_weights) or
  CompactLattice.best_path(acoustic_scale=1/LMWT) for scoring without decoding again.
- `HCLG.fst` as Kaldi's mkgraph.sh writes it (a ConstFst): read_graph(path) -> wheels' StdVectorFst.
- streaming: ArchiveWriter(path) with write_int_vector / write_matrix / write_entry(key,
  encode_compact_lattice(clat)).
"""

from .gmm import GmmModel, copy_gmm_model, load_gmm_model, read_gmm_model, save_gmm_model, write_gmm_model
from .graph import read_graph
from .hmm import Topology, TransitionModel, read_transition_model
from .lattice import (BestPath, CompactLattice, best_paths, determinize_lattice, encode_compact_lattice,
                      read_lattices, write_lattices)
from .stream import KaldiFormatError
from .tables import (ArchiveWriter, read_alignment_dir, read_int_vectors, read_kaldi_matrix, read_kaldi_vector,
                     loglikelihood_matrix, read_matrices, read_num_jobs, write_int_vectors, write_kaldi_matrix, write_kaldi_vector,
                     write_loglikelihoods, write_matrices, write_num_jobs)
from .tree import ContextDependency, read_tree, write_tree

__all__ = [
    "ArchiveWriter", "BestPath", "CompactLattice", "ContextDependency", "GmmModel", "KaldiFormatError", "Topology",
    "TransitionModel", "best_paths", "copy_gmm_model", "determinize_lattice", "encode_compact_lattice",
    "load_gmm_model", "loglikelihood_matrix", "read_alignment_dir", "read_gmm_model", "read_graph", "read_int_vectors", "read_kaldi_matrix",
    "read_kaldi_vector", "read_lattices", "read_matrices", "read_num_jobs", "read_transition_model", "read_tree",
    "save_gmm_model",
    "write_gmm_model", "write_int_vectors", "write_kaldi_matrix", "write_kaldi_vector", "write_lattices",
    "write_loglikelihoods", "write_matrices", "write_num_jobs", "write_tree",
]
