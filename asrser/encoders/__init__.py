"""Pre-trained speech encoders as sources of layer embeddings (the toolkit's CTC encoder, local Hugging Face
wav2vec2 / HuBERT / WavLM directories) and the Kaldi archives that hold their embeddings."""

from .base import LayerEncoder
from .registry import load_encoder

__all__ = ["LayerEncoder", "load_encoder"]
