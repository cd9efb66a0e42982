"""The CTC model and its config (conf/ctc.yaml): conv subsampling x4 over fbank, then Conformer or BLSTM
blocks (`block:` in the yaml), a linear CTC head over the tokens (blank = 0).

Every block output is a layer of the encoder view (`layers`), layer 0 being the front end's output, so that
layer embeddings of any depth come from one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from ..config import from_mapping, load_config, written_options

BLANK = 0


@dataclass
class CtcTrainingConfig:
    learning_rate: float = 2.0e-3       # AdamW peak rate, reached after warmup_steps, then decayed by 1/sqrt(step)
    warmup_steps: int = 200
    weight_decay: float = 1.0e-3
    batch_frames: int = 12000           # input (10 ms) frames per batch, padding included
    max_epochs: int = 20
    min_epochs: int = 3
    patience: int = 3                   # stop after this many epochs without a better dev PER
    grad_clip: float = 5.0
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    spec_augment: bool = False          # two frequency masks (<= 8 bins) and two time masks (<= 20 frames)


@dataclass
class CtcConfig:
    """The network (input dim, front end channels, block kind, width, depth) and its training."""

    block: Literal["conformer", "blstm"] = "conformer"
    input_dim: int = 40
    subsampling_channels: int = 32
    width: int = 144                    # model dimension (BLSTM: units per direction x 2)
    num_blocks: int = 6
    heads: int = 4
    ff_mult: int = 4
    conv_kernel: int = 15
    dropout: float = 0.1
    training: CtcTrainingConfig = field(default_factory=CtcTrainingConfig)

    def __post_init__(self):
        if self.block == "blstm" and self.width % 2:
            raise ValueError(f"width {self.width}: a BLSTM needs an even width (two directions)")
        if self.block == "conformer" and self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        if self.num_blocks < 1:
            raise ValueError("num_blocks must be at least 1")

    @classmethod
    def from_yaml(cls, path, **training_overrides) -> "CtcConfig":
        config = load_config(cls, path, "CTC config")
        for k, v in training_overrides.items():
            setattr(config.training, k, v)
        return config

    @classmethod
    def from_checkpoint(cls, options: dict, source: str) -> "CtcConfig":
        return from_mapping(cls, options, source)

    def checkpoint_options(self) -> dict:
        return written_options(self)


def subsampled_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after the front end's two stride-2 convolutions (kernel 3, padding 1): ceil(ceil(T/2)/2)."""
    return ((lengths + 1) // 2 + 1) // 2


def _beyond(lengths: torch.Tensor, t: int, device) -> torch.Tensor:
    """(B, t) True at the frames beyond each length."""
    return torch.arange(t, device=device)[None, :] >= lengths.to(device)[:, None]


class Subsampling(nn.Module):
    """Two Conv2d (3x3, stride 2, ReLU) over (time, frequency), then a linear map to the model width. The first
    convolution's frames beyond an utterance's length are zeroed, so that a padded batch gives each utterance
    what it gives alone (the input's padding zeroed as well)."""

    def __init__(self, input_dim: int, channels: int, width: int):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, channels, 3, 2, 1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, 3, 2, 1), nn.ReLU())
        freq = ((input_dim + 1) // 2 + 1) // 2
        self.out = nn.Linear(channels * freq, width)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, F) -> (B, T', width)."""
        if lengths is not None:
            x = x.masked_fill(_beyond(lengths, x.shape[1], x.device)[:, :, None], 0.0)
        y = self.conv1(x.unsqueeze(1))                             # (B, C, ceil(T/2), F')
        if lengths is not None:
            y = y.masked_fill(_beyond((lengths + 1) // 2, y.shape[2], y.device)[:, None, :, None], 0.0)
        y = self.conv2(y)
        b, c, t, f = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, c * f))


class FeedForward(nn.Module):
    def __init__(self, width: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width * mult), nn.SiLU(),
                                 nn.Dropout(dropout), nn.Linear(width * mult, width), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class ConvModule(nn.Module):
    """Conformer convolution: pointwise + GLU, depthwise over time (padding masked out), norm, SiLU, pointwise."""

    def __init__(self, width: int, kernel: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.pointwise_in = nn.Conv1d(width, 2 * width, 1)
        self.depthwise = nn.Conv1d(width, width, kernel, padding=kernel // 2, groups=width)
        self.mid_norm = nn.LayerNorm(width)         # per frame: no batch statistics, nothing across time
        self.pointwise_out = nn.Conv1d(width, width, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pad_mask):
        y = nn.functional.glu(self.pointwise_in(self.norm(x).transpose(1, 2)), dim=1)
        y = y.masked_fill(pad_mask.unsqueeze(1), 0.0)
        y = self.mid_norm(self.depthwise(y).transpose(1, 2)).transpose(1, 2)
        y = self.pointwise_out(nn.functional.silu(y))
        return self.dropout(y.transpose(1, 2))


class ConformerBlock(nn.Module):
    """Gulati et al. (2020): half FF, self-attention, convolution, half FF, LayerNorm. Positions: the
    depthwise convolution and a sinusoidal encoding added after the front end (no relative positions)."""

    def __init__(self, c: CtcConfig):
        super().__init__()
        self.ff1, self.ff2 = FeedForward(c.width, c.ff_mult, c.dropout), FeedForward(c.width, c.ff_mult, c.dropout)
        self.att_norm = nn.LayerNorm(c.width)
        self.att = nn.MultiheadAttention(c.width, c.heads, dropout=c.dropout, batch_first=True)
        self.att_dropout = nn.Dropout(c.dropout)
        self.conv = ConvModule(c.width, c.conv_kernel, c.dropout)
        self.norm = nn.LayerNorm(c.width)

    def forward(self, x, pad_mask):
        x = x + 0.5 * self.ff1(x)
        y = self.att_norm(x)
        y, _ = self.att(y, y, y, key_padding_mask=pad_mask, need_weights=False)
        x = x + self.att_dropout(y)
        x = x + self.conv(x, pad_mask)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class BlstmBlock(nn.Module):
    """A bidirectional LSTM layer (width/2 units each way) with dropout; padding is packed away."""

    def __init__(self, c: CtcConfig):
        super().__init__()
        self.lstm = nn.LSTM(c.width, c.width // 2, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x, pad_mask):
        lengths = (~pad_mask).sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.dropout(y)


def sinusoidal_positions(length: int, width: int, device) -> torch.Tensor:
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    rates = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-9.210340371976184 / width))
    pe = torch.zeros(length, width, device=device)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * rates), torch.cos(pos * rates)
    return pe


class CtcModel(nn.Module):
    """fbank (B, T, input_dim) normalised -> CTC log-probabilities (B, T', tokens + 1) over blank + tokens."""

    def __init__(self, config: CtcConfig, num_tokens: int):
        super().__init__()
        self.config, self.num_tokens = config, num_tokens
        self.front = Subsampling(config.input_dim, config.subsampling_channels, config.width)
        self.front_dropout = nn.Dropout(config.dropout)
        block = ConformerBlock if config.block == "conformer" else BlstmBlock
        self.blocks = nn.ModuleList(block(config) for _ in range(config.num_blocks))
        self.head = nn.Linear(config.width, num_tokens + 1)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return ("subsampling", *(f"{self.config.block}_{i}" for i in range(1, len(self.blocks) + 1)))

    def layers(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Every layer's output (front end, then each block), each (B, T', width), and the lengths T'."""
        out_lengths = subsampled_lengths(lengths)
        x = self.front(feats, lengths)
        t = x.shape[1]
        pad_mask = _beyond(out_lengths, t, x.device)
        if self.config.block == "conformer":
            x = x + sinusoidal_positions(t, x.shape[2], x.device).to(x.dtype)
        outputs = [x]
        x = self.front_dropout(x)
        for block in self.blocks:
            x = block(x, pad_mask)
            outputs.append(x)
        return outputs, out_lengths

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs, out_lengths = self.layers(feats, lengths)
        return torch.log_softmax(self.head(outputs[-1]).float(), dim=-1), out_lengths


@dataclass
class TrainedCtc:
    """A trained model read from final.pt with what it needs to run on new data: its tokens, the training
    frames' normalisation and the text of the fbank options it was trained on."""

    model: CtcModel
    tokens: list[str]
    mean: "torch.Tensor"
    std: "torch.Tensor"
    feature_conf: str

    @classmethod
    def load(cls, path) -> "TrainedCtc":
        from pathlib import Path

        from ..errors import AsrserError
        from ..nnet.train import load_checkpoint

        ckpt = load_checkpoint(Path(path))
        if ckpt.get("kind") != "ctc" or "config" not in ckpt:
            raise AsrserError(f"{path}: not a trained CTC model (use the final.pt of ctc_train.py)")
        model = CtcModel(CtcConfig.from_checkpoint(ckpt["config"], str(path)), len(ckpt["tokens"]))
        model.load_state_dict(ckpt["model"])
        return cls(model.eval(), list(ckpt["tokens"]), ckpt["mean"], ckpt["std"], ckpt["feature_conf"])
