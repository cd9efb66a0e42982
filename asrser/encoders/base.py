"""What every encoder offers the embedding extraction: a waveform in, the outputs of all its layers out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class LayerEncoder(Protocol):
    """A pre-trained speech encoder seen as a stack of layers.

    `layers(samples)` takes one utterance as float32 mono samples in [-1, 1] at `sample_rate` (the scale of
    soundfile and of Hugging Face models; `asrser.audio.read_audio`'s 16-bit integer scale divided by 32768),
    and returns float32 (layers, frames, dim), one entry per name of `layer_names`: layer 0 what the first
    block receives (the front end's output), layer k the k-th block's output. Frame t starts at
    t * frame_shift seconds. Audio too short for one frame gives zero frames or an AsrserError saying so (the
    extraction names the utterance either way).
    """

    name: str                       # e.g. "ctc:exp/ctc/final.pt", "hf:/models/wavlm-base-plus"
    layer_names: tuple[str, ...]
    dim: int
    frame_shift: float              # seconds
    sample_rate: int                # what layers() expects

    def layers(self, samples: np.ndarray) -> np.ndarray: ...
