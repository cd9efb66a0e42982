"""Networks built from a YAML layer list (conf/convnet.yaml): numbered layers so that transfer learning can
freeze "the first l layers" by the paper's numbering.

The config is typed (asrser.config): each layer type is a dataclass with its options, conv (ConvLayer: Conv2d +
BatchNorm + ReLU + max-pool), fc (FcLayer: Linear + BatchNorm + ReLU + dropout) and output (OutputLayer: Linear
to the number of classes; softmax is in the loss), so that a misspelt or missing option is an error naming the
file and line. Weights start from N(0, sqrt(2/fan_in)).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import nn

from ..config import from_mapping, load_config, written_options
from ..errors import DataError


@dataclass
class TrainingConfig:
    optimizer: Literal["sgd", "rmsprop"] = "sgd"
    learning_rate: float = 0.02
    momentum: float = 0.9
    batch_size: int = 256
    max_epochs: int = 12
    min_epochs: int = 3
    halving_threshold: float = 0.5
    stop_after_halvings: int = 4
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    epoch_frames: int = 0          # frames drawn per epoch; 0: every training frame
    valid_stride: int = 1          # validate on every n-th frame (neighbouring windows overlap 30 of 31 frames)


def _check_pair(layer, name: str) -> None:
    value = getattr(layer, name)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name}: expected [time, frequency], two positive integers, found {value}")


@dataclass(kw_only=True)
class ConvLayer:
    """Conv2d (no bias) + BatchNorm + ReLU + max-pool (computed as max-pool then ReLU: the same function)."""

    type: Literal["conv"] = "conv"
    channels: int
    kernel: list[int]                                               # [time, frequency]
    pool: list[int] = field(default_factory=lambda: [2, 2])         # max-pool size and stride
    l2: float = 0.0                                                 # weight decay of the kernels

    def __post_init__(self):
        _check_pair(self, "kernel")
        _check_pair(self, "pool")


@dataclass(kw_only=True)
class FcLayer:
    """Linear (no bias) + BatchNorm + ReLU + dropout."""

    type: Literal["fc"] = "fc"
    units: int
    dropout: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout}")


@dataclass(kw_only=True)
class OutputLayer:
    """Linear to the number of classes (sized to the targets; softmax is in the loss)."""

    type: Literal["output"] = "output"
    l2: float = 0.0


Layer = ConvLayer | FcLayer | OutputLayer


@dataclass
class InputConfig:
    context: int          # frames each side of the centre frame
    dim: int              # feature dimension


@dataclass
class NetConfig:
    """A network config file (conf/convnet.yaml): input, numbered layers, training options."""

    input: InputConfig
    layers: list[Layer]
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self):
        if not self.layers or self.layers[-1].type != "output":
            raise ValueError("the last layer must be of type output")
        for n, (before, layer) in enumerate(zip(self.layers, self.layers[1:]), 2):
            if layer.type == "conv" and before.type != "conv":
                raise ValueError(f"layer {n}: a conv layer cannot follow a fully-connected one")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides) -> "NetConfig":
        """A config file; `base: other.yaml` (relative to it, itself possibly with a base) supplies what the
        file does not set (see asrser.config). Overrides replace training options."""
        config = load_config(cls, path, "network config")
        if overrides:
            config.training = replace(config.training, **overrides)
        return config

    @classmethod
    def from_checkpoint(cls, saved: dict, source: str | os.PathLike) -> "NetConfig":
        """The network a checkpoint's config describes (checkpoint_options; the training options are not kept)."""
        try:
            options = {"input": {"context": saved["context"], "dim": saved["dim"]}, "layers": saved["layers"]}
        except (KeyError, TypeError):
            raise DataError(source, "not a trained network: no input and layers in its config") from None
        return from_mapping(cls, options, str(source))

    def checkpoint_options(self) -> dict:
        """What final.pt keeps of the config: the input and the layers as the file wrote them."""
        return {"context": self.context, "dim": self.dim, "layers": written_options(self.layers)}

    @property
    def context(self) -> int:
        return self.input.context

    @property
    def dim(self) -> int:
        return self.input.dim

    @property
    def window(self) -> int:
        return 2 * self.context + 1


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, spec: ConvLayer):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, spec.channels, tuple(spec.kernel), bias=False)
        self.norm = nn.BatchNorm2d(spec.channels)
        self.pool = nn.MaxPool2d(tuple(spec.pool), stride=tuple(spec.pool))
        self.l2 = spec.l2

    def forward(self, x):
        # ReLU after the max-pool: max and ReLU commute exactly (the same values and, through the pool's
        # indices, the same gradients), and the ReLU then touches a quarter of the largest activation of the
        # net, which with BatchNorm bounds the training speed more than the matrix products do.
        return torch.relu(self.pool(self.norm(self.conv(x))))


class FcBlock(nn.Module):
    def __init__(self, in_features: int, spec: FcLayer):
        super().__init__()
        self.linear = nn.Linear(in_features, spec.units, bias=False)
        self.norm = nn.BatchNorm1d(spec.units)
        self.dropout = nn.Dropout(spec.dropout)
        self.l2 = spec.l2

    def forward(self, x):
        return self.dropout(torch.relu(self.norm(self.linear(x.flatten(1)))))


class OutputBlock(nn.Module):
    def __init__(self, in_features: int, num_classes: int, spec: OutputLayer):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)
        self.l2 = spec.l2

    def forward(self, x):
        return self.linear(x.flatten(1))


class LayeredNet(nn.Module):
    """Input (batch, 1, 2*context+1, dim) -> logits (batch, classes). layers[i] is the paper's layer i+1."""

    def __init__(self, config: NetConfig, num_classes: int):
        super().__init__()
        self.config, self.num_classes = config, num_classes
        shape = (1, config.window, config.dim)
        blocks = []
        for spec in config.layers:
            if isinstance(spec, ConvLayer):
                block = ConvBlock(shape[0], spec)
            elif isinstance(spec, FcLayer):
                block = FcBlock(int(torch.tensor(shape).prod()), spec)
            else:
                block = OutputBlock(int(torch.tensor(shape).prod()), num_classes, spec)
            with torch.no_grad():
                shape = tuple(block.eval()(torch.zeros(2, *shape)).shape[1:])
            blocks.append(block.train())
        self.layers = nn.ModuleList(blocks)
        self.reset_parameters()

    def reset_parameters(self, seed: int | None = None) -> None:
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                with torch.no_grad():
                    module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                    if module.bias is not None:
                        module.bias.zero_()

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameter_groups(self) -> list[dict]:
        """Per-layer weight decay (the table's L2 on the conv layers); BatchNorm parameters get none."""
        groups = []
        for layer in self.layers:
            decayed = [p for n, p in layer.named_parameters() if "norm" not in n and n.endswith("weight")]
            rest = [p for n, p in layer.named_parameters() if not ("norm" not in n and n.endswith("weight"))]
            groups += [{"params": decayed, "weight_decay": layer.l2}, {"params": rest, "weight_decay": 0.0}]
        return [g for g in groups if g["params"]]

    def freeze(self, num_layers: int) -> None:
        """Keep the first num_layers layers constant (parameters and BatchNorm statistics)."""
        for i, layer in enumerate(self.layers):
            frozen = i < num_layers
            for p in layer.parameters():
                p.requires_grad_(not frozen)
            layer.frozen = frozen

    def train(self, mode: bool = True):
        super().train(mode)
        for layer in self.layers:
            if getattr(layer, "frozen", False):
                layer.eval()      # frozen layers keep their BatchNorm statistics too
        return self

    def flops_per_frame(self) -> int:
        """Multiply-adds x 2 of one forward pass for one input window."""
        total = 0
        x = torch.zeros(1, 1, self.config.window, self.config.dim)
        for layer in self.layers:
            if isinstance(layer, ConvBlock):
                out = layer.conv(x)
                total += 2 * out.numel() * layer.conv.weight[0].numel()
            elif isinstance(layer, (FcBlock, OutputBlock)):
                total += 2 * layer.linear.weight.numel()
            x = layer.eval()(x)
        self.train(self.training)
        return total
