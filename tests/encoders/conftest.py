"""Tiny randomly initialised wav2vec2 / HuBERT / WavLM directories, saved as save_pretrained saves real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)


def save_tiny_encoder(out: Path, model_type: str, do_normalize: bool = True, seed: int = 0,
                      **overrides) -> Path:
    """A 2-block, 32-dim encoder of model_type with its feature extractor in out (the usual 16 kHz, 20 ms
    front end: seven convolutions of stride 320 in all)."""
    import torch
    from transformers import (HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor,
                              Wav2Vec2Model, WavLMConfig, WavLMModel)

    config_class, model_class = {"wav2vec2": (Wav2Vec2Config, Wav2Vec2Model), "hubert": (HubertConfig, HubertModel),
                                 "wavlm": (WavLMConfig, WavLMModel)}[model_type]
    extra = {"num_buckets": 16, "max_bucket_distance": 64} if model_type == "wavlm" else {}
    torch.manual_seed(seed)
    model = model_class(config_class(**{**TINY, **extra, **overrides})).eval()
    model.save_pretrained(out)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=do_normalize,
                             return_attention_mask=False).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory) -> dict[str, Path]:
    """One saved tiny encoder directory per model type (HuBERT's without the extractor's normalisation, as
    hubert-base's own preprocessor_config.json has it)."""
    root = tmp_path_factory.mktemp("hf")
    return {kind: save_tiny_encoder(root / kind, kind, do_normalize=kind != "hubert")
            for kind in ("wav2vec2", "hubert", "wavlm")}
