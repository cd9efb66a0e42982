"""asrser: Kaldi-style hybrid DNN-HMM ASR and speech emotion recognition, with feature transfer between them."""

# kaldifst must be loaded before anything else that links its own OpenFst (kaldilm, pynini, pywrapfst):
# the other order deadlocks the process at import time.
import kaldifst as _kaldifst  # noqa: F401

__version__ = "0.1.0"
