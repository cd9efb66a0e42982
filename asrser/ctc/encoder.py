"""A trained CTC model as a layer encoder (asrser.encoders' LayerEncoder protocol): waveform in, the fbank of
the options stored in the model, the training frames' normalisation, and every layer's output out (layer 0 =
the subsampling front end, then each block), one frame per 40 ms (10 ms fbank frames subsampled x4)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..errors import AsrserError
from ..features import FeatureConfig
from ..nnet.train import autocast_dtype, select_device
from .model import TrainedCtc

SUBSAMPLING = 4


class CtcEncoder:
    """The LayerEncoder of a CTC model's final.pt."""

    def __init__(self, path: str | os.PathLike, device: str = "auto", precision: str = "fp32"):
        trained = TrainedCtc.load(path)
        self.name = f"ctc:{path}"
        self.device = select_device(device)
        self.dtype = autocast_dtype(self.device, precision)
        self.model = trained.model.to(self.device).eval()
        self.mean, self.std = trained.mean.numpy(), trained.std.numpy()
        self.features = _feature_config(trained.feature_conf, path)
        if self.features.dim != self.model.config.input_dim:
            raise AsrserError(f"{path}: its fbank options give {self.features.dim} dims, the model reads "
                              f"{self.model.config.input_dim}")
        self.layer_names = self.model.layer_names
        self.dim = self.model.config.width
        self.sample_rate = self.features.sample_rate
        self.frame_shift = self.features.frame_shift * SUBSAMPLING

    def layers(self, samples: np.ndarray) -> np.ndarray:
        """float32 mono samples in [-1, 1] at sample_rate -> (layers, frames, dim) float32."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise AsrserError(f"{self.name}: expected mono samples (one dimension), got shape {samples.shape}")
        feats = self.features.compute(samples * 32768.0)          # fbank options are in 16-bit sample units
        if len(feats) == 0:
            raise AsrserError(f"{self.name}: {len(samples)} samples are too short for one fbank frame")
        x = torch.from_numpy((feats - self.mean) / self.std).unsqueeze(0).to(self.device)
        with torch.no_grad(), torch.autocast(self.device.type, dtype=self.dtype or torch.float32,
                                             enabled=self.dtype is not None):
            outputs, _ = self.model.layers(x, torch.tensor([len(feats)], device=self.device))
        return torch.stack([o[0].float() for o in outputs]).cpu().numpy()


def _feature_config(text: str, source) -> FeatureConfig:
    """The fbank options stored in a model (the text of its conf file), read as make_feats.py reads it."""
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "fbank.conf"
        conf.write_text(text)
        try:
            return FeatureConfig.from_file("fbank", conf)
        except AsrserError as e:
            raise AsrserError(f"{source}: its stored fbank options: {e}") from None


def load_ctc_encoder(path: str | os.PathLike, device: str = "auto") -> CtcEncoder:
    """The LayerEncoder of a trained CTC model (exp/ctc/final.pt)."""
    return CtcEncoder(path, device)
