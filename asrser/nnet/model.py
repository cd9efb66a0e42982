"""Networks built from a YAML layer list (conf/convnet.yaml): numbered layers so that transfer learning can
freeze "the first l layers" by the paper's numbering.

Layer types: conv (Conv2d + BatchNorm + ReLU + max-pool), fc (Linear + BatchNorm + ReLU + dropout) and
output (Linear to the number of classes; softmax is in the loss). Weights start from N(0, sqrt(2/fan_in)).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import AsrserError
from ..fileio import read_yaml


@dataclass
class TrainingConfig:
    optimizer: str = "sgd"
    learning_rate: float = 0.02
    momentum: float = 0.9
    batch_size: int = 256
    max_epochs: int = 12
    min_epochs: int = 3
    halving_threshold: float = 0.5
    stop_after_halvings: int = 4
    seed: int = 0
    precision: str = "auto"
    epoch_frames: int = 0          # frames drawn per epoch; 0: every training frame
    valid_stride: int = 1          # validate on every n-th frame (neighbouring windows overlap 30 of 31 frames)


@dataclass
class NetConfig:
    context: int = 15
    dim: int = 40
    layers: list[dict] = field(default_factory=list)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, **overrides) -> "NetConfig":
        """A config file; `base: other.yaml` (relative to it, itself possibly with a base) supplies what the
        file does not set, section by section (training options are merged key by key)."""
        doc = _read_config(Path(path))
        try:
            training = TrainingConfig(**{**doc.get("training", {}), **overrides})
            config = cls(context=int(doc["input"]["context"]), dim=int(doc["input"]["dim"]),
                         layers=list(doc["layers"]), training=training)
        except (KeyError, TypeError) as e:
            raise AsrserError(f"{path}: malformed network config ({e})") from None
        for n, layer in enumerate(config.layers, 1):
            if layer.get("type") not in ("conv", "fc", "output"):
                raise AsrserError(f"{path}: layer {n} has unknown type {layer.get('type')!r}")
        if config.layers[-1]["type"] != "output":
            raise AsrserError(f"{path}: the last layer must be of type output")
        return config

    @property
    def window(self) -> int:
        return 2 * self.context + 1


def _read_config(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if path.resolve() in seen:
        raise AsrserError(f"{path}: circular base configs ({' -> '.join(map(str, seen))})")
    doc = read_yaml(path, "network config")
    if "base" not in doc:
        return doc
    base = _read_config(path.parent / doc.pop("base"), (*seen, path.resolve()))
    return {**base, **doc, "training": {**base.get("training", {}), **doc.get("training", {})}}


class ConvBlock(nn.Module):
    def __init__(self, in_channels: int, spec: dict):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, spec["channels"], tuple(spec["kernel"]), bias=False)
        self.norm = nn.BatchNorm2d(spec["channels"])
        self.pool = nn.MaxPool2d(tuple(spec.get("pool", [2, 2])), stride=tuple(spec.get("pool", [2, 2])))
        self.l2 = float(spec.get("l2", 0.0))

    def forward(self, x):
        return self.pool(torch.relu(self.norm(self.conv(x))))


class FcBlock(nn.Module):
    def __init__(self, in_features: int, spec: dict):
        super().__init__()
        self.linear = nn.Linear(in_features, spec["units"], bias=False)
        self.norm = nn.BatchNorm1d(spec["units"])
        self.dropout = nn.Dropout(float(spec.get("dropout", 0.0)))
        self.l2 = float(spec.get("l2", 0.0))

    def forward(self, x):
        return self.dropout(torch.relu(self.norm(self.linear(x.flatten(1)))))


class OutputLayer(nn.Module):
    def __init__(self, in_features: int, num_classes: int, spec: dict):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)
        self.l2 = float(spec.get("l2", 0.0))

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
            if spec["type"] == "conv":
                if len(shape) != 3:
                    raise AsrserError("a conv layer cannot follow a fully-connected one")
                block = ConvBlock(shape[0], spec)
            elif spec["type"] == "fc":
                block = FcBlock(int(torch.tensor(shape).prod()), spec)
            else:
                block = OutputLayer(int(torch.tensor(shape).prod()), num_classes, spec)
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
            elif isinstance(layer, (FcBlock, OutputLayer)):
                total += 2 * layer.linear.weight.numel()
            x = layer.eval()(x)
        self.train(self.training)
        return total
