"""asrser: Kaldi-style hybrid DNN-HMM ASR and speech emotion recognition, with feature transfer between them."""

# kaldifst, kaldi_hmm_gmm and kaldi_decoder must be loaded before anything else that links its own OpenFst
# (kaldilm, pynini, pywrapfst): loading either of the last two after kaldilm deadlocks the process at import.
import kaldifst as _kaldifst  # noqa: F401
import kaldi_hmm_gmm as _kaldi_hmm_gmm  # noqa: F401
import kaldi_decoder as _kaldi_decoder  # noqa: F401

__version__ = "0.1.0"
