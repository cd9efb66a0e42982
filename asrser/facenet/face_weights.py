"""Import of local face-recognition weights (a VGGFace2 or CASIA-WebFace Inception-ResNet-v1 state dict the user
already has, in the naming of the widely used PyTorch FaceNet checkpoints) into InceptionResNetV1: the face-to-speech
transfer the FaceNet SER paper's title names. Nothing is downloaded; the file is read with weights_only=True.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import DataError
from ..nnet.train import load_checkpoint
from .inception_resnet import InceptionResNetV1

FIRST_CONV = "conv2d_1a.conv.weight"
# The face classifier (`logits`, one output per training identity) is never imported; a state dict saved from
# this project's net names its classifier `head`.
CLASSIFIER_PREFIXES = ("logits.", "head.")


def load_face_weights(model: InceptionResNetV1, path: str | os.PathLike) -> int:
    """Copies every tensor but the classifier from the face state dict at path into model (weights and BatchNorm
    statistics); returns the number of tensors imported. The model must have width 1.0 and the checkpoint's
    embedding size. A 1-channel model gets the first convolution's kernels summed over RGB, which computes
    exactly what the 3-channel net computes on the grey image fed as R = G = B. A missing file, an unreadable one,
    a missing, unexpected or misshapen tensor: one DataError naming the file and the first offending tensor."""
    path = Path(path)
    if model.config.width != 1.0:
        raise DataError(path, f"face weights fit only the full net (width 1.0), not width {model.config.width}")
    if not path.is_file():
        raise DataError(path, "no such face weights file")
    saved = load_checkpoint(path)
    if isinstance(saved, dict) and isinstance(saved.get("state_dict"), dict):
        saved = saved["state_dict"]
    if not isinstance(saved, dict) or not all(isinstance(v, torch.Tensor) for v in saved.values()):
        raise DataError(path, "not a state dict of tensors (name -> tensor)")
    saved = {k.removeprefix("module."): v for k, v in saved.items()}        # saved from DataParallel
    saved = {k: v for k, v in saved.items() if not k.startswith(CLASSIFIER_PREFIXES)}

    own = {k: v for k, v in model.state_dict().items() if not k.startswith(CLASSIFIER_PREFIXES)}
    for name in saved:
        if name not in own:
            raise DataError(path, f"tensor {name} has no counterpart in the net (a FaceNet Inception-ResNet-v1 "
                                  f"state dict with the net's repeats is expected)")
    imported = {}
    for name, target in own.items():
        if name not in saved:
            if name.endswith("num_batches_tracked"):      # absent from checkpoints of older torch versions
                continue
            raise DataError(path, f"tensor {name} is missing (not an Inception-ResNet-v1 FaceNet state dict?)")
        tensor = saved[name]
        if name == FIRST_CONV:
            tensor = _first_conv_for(tensor, target.shape[1], path)
        if tensor.shape != target.shape:
            raise DataError(path, f"tensor {name} has shape {tuple(tensor.shape)}, the net expects "
                                  f"{tuple(target.shape)}" + (" (model.embedding_dim must match the checkpoint's)"
                                                              if name.startswith("last_") else ""))
        imported[name] = tensor.to(target.dtype)
    model.load_state_dict(imported, strict=False)
    return len(imported)


def _first_conv_for(kernels: torch.Tensor, in_channels: int, path: Path) -> torch.Tensor:
    """The first convolution's RGB kernels for a net of in_channels inputs: as they are for 3, summed over the
    colours for 1 (conv(w, [g, g, g]) = conv(w_r + w_g + w_b, g))."""
    if kernels.ndim == 4 and kernels.shape[1] == 3 and in_channels == 1:
        return kernels.sum(dim=1, keepdim=True)
    if kernels.ndim == 4 and kernels.shape[1] != in_channels:
        raise DataError(path, f"tensor {FIRST_CONV} has {kernels.shape[1]} input channels; the net's "
                              f"in_channels {in_channels} must be 3 or 1 (grey images)")
    return kernels
