"""asrser: Kaldi-style hybrid DNN-HMM ASR and speech emotion recognition, with feature transfer between them."""

# kaldifst and kaldi_hmm_gmm must be loaded before anything else that links its own OpenFst (kaldilm,
# pynini, pywrapfst): loading kaldi_hmm_gmm after kaldilm deadlocks the process at import time.
import kaldifst as _kaldifst  # noqa: F401
import kaldi_hmm_gmm as _kaldi_hmm_gmm  # noqa: F401

__version__ = "0.1.0"
