"""Inception-ResNet-v1, FaceNet's usual backbone (Szegedy et al. 2016, as FaceNet implementations use it), with a
width multiplier for a narrower net of the same block structure.

At a 160x160 input: stem of 3x3 convolutions -> 256x17x17; 5 x Block35 (residual scale 0.17); Reduction-A
(mixed_6a) -> 896x8x8; 10 x Block17 (0.10); Reduction-B (mixed_7a) -> 1792x3x3; 5 x Block8 (0.20) and one Block8
without the final ReLU; global average pool, dropout, a linear map to the embedding (no bias) with BatchNorm1d;
then the classifier `head`. Every convolution but the blocks' residual projections is Conv2d without bias +
BatchNorm (eps 1e-3) + ReLU, as FaceNet's. The module names follow the widely used PyTorch FaceNet checkpoints
(conv2d_1a ... repeat_1, mixed_6a, repeat_2, mixed_7a, repeat_3, block8, last_linear, last_bn) so that
face_weights.load_face_weights can import them; only the face classifier (`logits` there) is named `head` here.

`width` scales every channel count of the standard net (1.0 = FaceNet's); the concatenations' widths follow from
the scaled branches, so any width gives a consistent net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import from_mapping

BN_EPS = 1e-3     # TensorFlow's default, which FaceNet's weights were trained with


@dataclass
class InceptionResNetConfig:
    """The yaml section `model:` of a FaceNet config."""
    in_channels: int = 1           # 1: the grey segment image; 3 for face weights used as they are
    width: float = 1.0             # multiplier on every channel count (1.0 = FaceNet's net)
    embedding_dim: int = 512
    dropout: float = 0.6           # before the embedding's linear map
    repeats: list[int] = field(default_factory=lambda: [5, 10, 5])   # Block35, Block17, Block8 (+ the last Block8)

    def __post_init__(self):
        if self.in_channels < 1 or self.embedding_dim < 1:
            raise ValueError("in_channels and embedding_dim must be positive")
        if not self.width > 0:
            raise ValueError(f"width must be positive, not {self.width}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout}")
        if len(self.repeats) != 3 or min(self.repeats) < 0:
            raise ValueError(f"repeats must be three counts (Block35, Block17, Block8), not {self.repeats}")

    @classmethod
    def from_dict(cls, section: dict, source: str = "model config") -> "InceptionResNetConfig":
        """The config from a `model:` section (e.g. of a checkpoint's stored config); unknown or mistyped options
        are errors naming source."""
        return from_mapping(cls, section, source)

    def channels(self, standard: int) -> int:
        """A channel count of the standard net, scaled by width."""
        return max(1, round(standard * self.width))


class BasicConv2d(nn.Module):
    """Conv2d (no bias) + BatchNorm + ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class _Residual(nn.Module):
    """x + scale * (1x1 projection of the concatenated branches), then ReLU (unless relu=False)."""
    scale: float
    relu: nn.Module | None

    def merge(self, x: torch.Tensor, branches: list[torch.Tensor]) -> torch.Tensor:
        out = torch.add(x, self.conv2d(torch.cat(branches, 1)), alpha=self.scale)
        return self.relu(out) if self.relu is not None else out


class Block35(_Residual):
    """The 17x17 block: 1x1 | 1x1-3x3 | 1x1-3x3-3x3 (32 channels each at width 1)."""

    def __init__(self, channels: int, c: InceptionResNetConfig, scale: float):
        super().__init__()
        b = c.channels(32)
        self.scale = scale
        self.branch0 = BasicConv2d(channels, b, 1)
        self.branch1 = nn.Sequential(BasicConv2d(channels, b, 1), BasicConv2d(b, b, 3, padding=1))
        self.branch2 = nn.Sequential(BasicConv2d(channels, b, 1), BasicConv2d(b, b, 3, padding=1),
                                     BasicConv2d(b, b, 3, padding=1))
        self.conv2d = nn.Conv2d(3 * b, channels, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.merge(x, [self.branch0(x), self.branch1(x), self.branch2(x)])


class Block17(_Residual):
    """The 8x8 block: 1x1 | 1x1-1x7-7x1 (128 channels each at width 1)."""

    def __init__(self, channels: int, c: InceptionResNetConfig, scale: float):
        super().__init__()
        b = c.channels(128)
        self.scale = scale
        self.branch0 = BasicConv2d(channels, b, 1)
        self.branch1 = nn.Sequential(BasicConv2d(channels, b, 1), BasicConv2d(b, b, (1, 7), padding=(0, 3)),
                                     BasicConv2d(b, b, (7, 1), padding=(3, 0)))
        self.conv2d = nn.Conv2d(2 * b, channels, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.merge(x, [self.branch0(x), self.branch1(x)])


class Block8(_Residual):
    """The 3x3 block: 1x1 | 1x1-1x3-3x1 (192 channels each at width 1); the net's last one has no ReLU."""

    def __init__(self, channels: int, c: InceptionResNetConfig, scale: float, relu: bool = True):
        super().__init__()
        b = c.channels(192)
        self.scale = scale
        self.branch0 = BasicConv2d(channels, b, 1)
        self.branch1 = nn.Sequential(BasicConv2d(channels, b, 1), BasicConv2d(b, b, (1, 3), padding=(0, 1)),
                                     BasicConv2d(b, b, (3, 1), padding=(1, 0)))
        self.conv2d = nn.Conv2d(2 * b, channels, 1)
        self.relu = nn.ReLU(inplace=True) if relu else None

    def forward(self, x):
        return self.merge(x, [self.branch0(x), self.branch1(x)])


class Mixed6a(nn.Module):
    """Reduction-A, 17x17 -> 8x8: 3x3/2 (384) | 1x1 (192)-3x3 (192)-3x3/2 (256) | maxpool 3/2."""

    def __init__(self, channels: int, c: InceptionResNetConfig):
        super().__init__()
        self.branch0 = BasicConv2d(channels, c.channels(384), 3, stride=2)
        self.branch1 = nn.Sequential(BasicConv2d(channels, c.channels(192), 1),
                                     BasicConv2d(c.channels(192), c.channels(192), 3, padding=1),
                                     BasicConv2d(c.channels(192), c.channels(256), 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)
        self.out_channels = c.channels(384) + c.channels(256) + channels

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Mixed7a(nn.Module):
    """Reduction-B, 8x8 -> 3x3: 1x1 (256)-3x3/2 (384) | 1x1-3x3/2 (256) | 1x1-3x3-3x3/2 (256) | maxpool 3/2."""

    def __init__(self, channels: int, c: InceptionResNetConfig):
        super().__init__()
        r = c.channels(256)
        self.branch0 = nn.Sequential(BasicConv2d(channels, r, 1), BasicConv2d(r, c.channels(384), 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(channels, r, 1), BasicConv2d(r, r, 3, stride=2))
        self.branch2 = nn.Sequential(BasicConv2d(channels, r, 1), BasicConv2d(r, r, 3, padding=1),
                                     BasicConv2d(r, r, 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)
        self.out_channels = c.channels(384) + 2 * r + channels

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class InceptionResNetV1(nn.Module):
    """(B, in_channels, H, W) images -> (B, num_classes) logits; embed() gives the embedding before the head."""

    def __init__(self, config: InceptionResNetConfig, num_classes: int):
        super().__init__()
        self.config = c = config
        ch = c.channels
        self.conv2d_1a = BasicConv2d(c.in_channels, ch(32), 3, stride=2)
        self.conv2d_2a = BasicConv2d(ch(32), ch(32), 3)
        self.conv2d_2b = BasicConv2d(ch(32), ch(64), 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(ch(64), ch(80), 1)
        self.conv2d_4a = BasicConv2d(ch(80), ch(192), 3)
        self.conv2d_4b = BasicConv2d(ch(192), ch(256), 3, stride=2)
        n35, n17, n8 = c.repeats
        self.repeat_1 = nn.Sequential(*(Block35(ch(256), c, 0.17) for _ in range(n35)))
        self.mixed_6a = Mixed6a(ch(256), c)
        width_17 = self.mixed_6a.out_channels
        self.repeat_2 = nn.Sequential(*(Block17(width_17, c, 0.10) for _ in range(n17)))
        self.mixed_7a = Mixed7a(width_17, c)
        width_8 = self.mixed_7a.out_channels
        self.repeat_3 = nn.Sequential(*(Block8(width_8, c, 0.20) for _ in range(n8)))
        self.block8 = Block8(width_8, c, 1.0, relu=False)
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(c.dropout)
        self.last_linear = nn.Linear(width_8, c.embedding_dim, bias=False)
        self.last_bn = nn.BatchNorm1d(c.embedding_dim, eps=BN_EPS)
        self.feature_channels = width_8
        self.head = nn.Linear(c.embedding_dim, num_classes)

    def _stages(self):
        stem = nn.Sequential(self.conv2d_1a, self.conv2d_2a, self.conv2d_2b, self.maxpool_3a, self.conv2d_3b,
                             self.conv2d_4a, self.conv2d_4b)
        return [("stem", stem), ("block35", self.repeat_1), ("reduction_a", self.mixed_6a),
                ("block17", self.repeat_2), ("reduction_b", self.mixed_7a),
                ("block8", nn.Sequential(self.repeat_3, self.block8))]

    def _embedding(self, features: torch.Tensor) -> torch.Tensor:
        pooled = self.avgpool_1a(features).flatten(1)
        return self.last_bn(self.last_linear(self.dropout(pooled)))

    def block_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of each stage by name: stem, block35, reduction_a, block17, reduction_b, block8, embedding."""
        outputs = {}
        for name, stage in self._stages():
            x = outputs[name] = stage(x)
        outputs["embedding"] = self._embedding(x)
        return outputs

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, embedding_dim): the BatchNorm'd embedding, before the classifier head."""
        for _, stage in self._stages():
            x = stage(x)
        return self._embedding(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def replace_head(self, num_classes: int) -> None:
        """A fresh classifier for num_classes (e.g. after pre-training on a corpus with other classes)."""
        self.head = nn.Linear(self.config.embedding_dim, num_classes).to(self.last_linear.weight.device)
