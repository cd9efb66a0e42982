"""A local Hugging Face wav2vec2 / HuBERT / WavLM directory as a LayerEncoder, read through `transformers`.

Strictly offline: the directory must hold the model (`config.json`, the weights) and its feature extractor's
settings (`preprocessor_config.json`: sampling rate, normalisation); nothing is ever downloaded, and a hub name
is refused like any directory that does not exist. A directory that is not such an encoder is one error naming
it and what it holds.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import AsrserError

log = logging.getLogger(__name__)

# model_type in config.json -> what users call it. Their base models share one interface (AutoModel gives the
# bare encoder; output_hidden_states gives the input of the first transformer block and every block's output).
SPEECH_ENCODERS = {"wav2vec2": "wav2vec2", "hubert": "HuBERT", "wavlm": "WavLM"}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# Parameters a pre-trained checkpoint may lack without changing the encoder's output: the learnt mask vector is
# used only by training-time masking, which evaluation never applies.
UNUSED_AT_INFERENCE = ("masked_spec_embed",)


def _go_offline() -> None:
    """Before transformers (and huggingface_hub) are imported: both read these when they load."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _listing(directory: Path, limit: int = 6) -> str:
    names = sorted(p.name for p in directory.iterdir())
    if not names:
        return "it is empty"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return "it holds " + ", ".join(names[:limit]) + more


def check_encoder_dir(directory: str | os.PathLike) -> dict:
    """The config.json of a local wav2vec2 / HuBERT / WavLM directory, or AsrserError naming the directory and
    what was found instead (no directory, no config, another kind of model, no weights, no feature extractor)."""
    d = Path(directory)
    kinds = "/".join(SPEECH_ENCODERS.values())
    if not d.is_dir():
        what = "a file" if d.exists() else "no such directory"
        raise AsrserError(f"{d}: {what}; expected a local {kinds} model directory (the toolkit never downloads: "
                          f"save the model with save_pretrained and give its directory)")
    config_path = d / "config.json"
    if not config_path.is_file():
        raise AsrserError(f"{d}: not a Hugging Face model directory (no config.json; {_listing(d)})")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AsrserError(f"{config_path}: not valid JSON ({e})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in SPEECH_ENCODERS:
        arch = ", ".join(config.get("architectures") or []) if isinstance(config, dict) else ""
        found = f"a {model_type!r} model" if model_type else "no model_type"
        raise AsrserError(f"{d}: config.json describes {found}{f' ({arch})' if arch else ''}, not a speech "
                          f"encoder of a kind read here ({', '.join(SPEECH_ENCODERS)})")
    if not any((d / name).is_file() for name in WEIGHT_FILES):
        expected = " or ".join(WEIGHT_FILES[::2])
        raise AsrserError(f"{d}: {SPEECH_ENCODERS[model_type]} config.json but no weights ({expected}; "
                          f"{_listing(d)})")
    if not (d / "preprocessor_config.json").is_file():
        raise AsrserError(f"{d}: no preprocessor_config.json (the feature extractor's sampling rate and "
                          f"normalisation, which the model was trained with; save it with the model's "
                          f"Wav2Vec2FeatureExtractor.save_pretrained)")
    return config


class HFEncoder:
    """A wav2vec2 / HuBERT / WavLM model and its feature extractor; layers() as LayerEncoder describes it."""

    def __init__(self, directory: str | os.PathLike, device: str = "auto", name: str | None = None):
        config = check_encoder_dir(directory)
        self.directory = Path(directory)
        self.model_type = config["model_type"]
        self.name = name or f"hf:{directory}"
        _go_offline()
        import torch
        import transformers
        from transformers import AutoModel, Wav2Vec2FeatureExtractor

        from ..nnet.train import select_device

        transformers.logging.set_verbosity_error()      # unused head weights of a fine-tuned checkpoint: expected
        try:
            self.extractor = Wav2Vec2FeatureExtractor.from_pretrained(self.directory, local_files_only=True)
            model, info = AutoModel.from_pretrained(self.directory, local_files_only=True, dtype=torch.float32,
                                                    output_loading_info=True)
        except Exception as e:      # a user's files: transformers and safetensors raise many kinds on bad ones
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise AsrserError(f"{self.directory}: cannot load the {SPEECH_ENCODERS[self.model_type]} model "
                              f"({first})") from None
        missing = [k for k in info.get("missing_keys", ()) if not k.endswith(UNUSED_AT_INFERENCE)]
        if missing:
            raise AsrserError(f"{self.directory}: the weights lack {len(missing)} of the encoder's parameters, e.g. "
                              f"{sorted(missing)[0]} (not this model's weights, or a cut file)")
        self.device = select_device(device)
        self.model = model.to(self.device).eval()
        cfg = model.config
        self.sample_rate = int(self.extractor.sampling_rate)
        self.dim = int(cfg.hidden_size)
        self.layer_names = ("frontend",) + tuple(f"block{k}" for k in range(1, cfg.num_hidden_layers + 1))
        self.hop = int(np.prod(cfg.conv_stride))
        self.frame_shift = self.hop / self.sample_rate
        # The shortest input giving one frame: the conv front end's receptive field.
        self.min_samples = 1 + sum((k - 1) * int(np.prod(cfg.conv_stride[:i]))
                                   for i, k in enumerate(cfg.conv_kernel))

    def num_frames(self, num_samples: int) -> int:
        return int(self.model._get_feat_extract_output_lengths(num_samples))

    def layers(self, samples: np.ndarray) -> np.ndarray:
        import torch

        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples (1-D), got shape {samples.shape}")
        if samples.size < self.min_samples:
            return np.zeros((len(self.layer_names), 0, self.dim), dtype=np.float32)
        # The extractor's own processing (zero mean, unit variance when its do_normalize says so).
        inputs = self.extractor(samples, sampling_rate=self.sample_rate, return_tensors="np")
        values = torch.from_numpy(np.ascontiguousarray(inputs["input_values"], dtype=np.float32)).to(self.device)
        with torch.inference_mode():
            out = self.model(values, output_hidden_states=True)
        return torch.stack(out.hidden_states)[:, 0].float().cpu().numpy()


def load_hf_encoder(directory: str | os.PathLike, device: str = "auto", name: str | None = None) -> HFEncoder:
    return HFEncoder(directory, device, name)
