"""How alike the ASR and SER nets' features are, layer by layer: linear CKA between their activations on the same
frames (Kornblith et al. 2019) and pictures of the first conv layer's kernels (the paper's "learned features").

CKA uses the feature-space form ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) of column-centred activations, which
grows with the number of features squared rather than frames squared, computed over column blocks so that
neither a features x features matrix nor a float64 copy of a whole layer is held in memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..errors import AsrserError
from ..nnet.model import ConvBlock, LayeredNet

# float64 values per column block of activations, and at most per product of two blocks (128 MB)
_BLOCK_ENTRIES = 1 << 24


class _Centred:
    """An activation matrix whose column-centred float64 version is produced block by block."""

    def __init__(self, x: np.ndarray):
        if x.ndim != 2:
            raise AsrserError(f"CKA needs (examples, features) matrices, got shape {x.shape}")
        self.x = x
        self.mean = x.mean(axis=0, dtype=np.float64)
        self.step = max(1, min(_BLOCK_ENTRIES // max(len(x), 1), math.isqrt(_BLOCK_ENTRIES)))

    def blocks(self) -> Iterator[np.ndarray]:
        for start in range(0, self.x.shape[1], self.step):
            stop = start + self.step
            yield self.x[:, start:stop].astype(np.float64) - self.mean[start:stop]


def _cross_norm_sq(a: _Centred, b: _Centred) -> float:
    """||B^T A||_F^2 of the centred matrices."""
    total = 0.0
    for block_a in a.blocks():
        for block_b in b.blocks():
            total += float(np.square(block_b.T @ block_a).sum())
    return total


def _cka(a: _Centred, b: _Centred, norm_a: float, norm_b: float) -> float:
    # A layer with constant output (e.g. all ReLUs dead on these frames) has no CKA with anything.
    if norm_a == 0.0 or norm_b == 0.0:
        return math.nan
    return _cross_norm_sq(a, b) / (norm_a * norm_b)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between activations (n_examples, features_a) and (n_examples, features_b): 1 for the same
    representation up to rotation and scale, near 0 for unrelated ones."""
    a, b = _Centred(np.asarray(x)), _Centred(np.asarray(y))
    if len(a.x) != len(b.x):
        raise AsrserError(f"CKA needs the same examples on both sides, got {len(a.x)} and {len(b.x)}")
    return _cka(a, b, math.sqrt(_cross_norm_sq(a, a)), math.sqrt(_cross_norm_sq(b, b)))


def layer_activations(model: LayeredNet, windows: np.ndarray, batch_size: int = 1024) -> list[np.ndarray]:
    """Each layer's output (after its block: pooling, ReLU, dropout as in evaluation), flattened, for windows
    (N, 2*context+1, dim): one (N, features) float32 array per layer."""
    windows = np.asarray(windows, dtype=np.float32)
    expected = (model.config.window, model.config.dim)
    if windows.ndim != 3 or windows.shape[1:] != expected or len(windows) == 0:
        raise AsrserError(f"windows: expected shape (N>0, {expected[0]}, {expected[1]}), got {windows.shape}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for start in range(0, len(windows), batch_size):
                x = torch.from_numpy(windows[start:start + batch_size]).unsqueeze(1).to(device)
                for k, layer in enumerate(model.layers):
                    x = layer(x)
                    flat = x.flatten(1).float().cpu().numpy()
                    if start == 0:
                        outputs.append(np.empty((len(windows), flat.shape[1]), dtype=np.float32))
                    outputs[k][start:start + len(flat)] = flat
    finally:
        model.train(was_training)
    return outputs


def cka_matrix(net_a: LayeredNet, net_b: LayeredNet, windows: np.ndarray) -> np.ndarray:
    """(layers of net_a, layers of net_b) linear CKA between every pair of layers on the same windows.

    Costs about N x (sum of layer widths)^2 multiply-adds per net pair: for the paper's net (layer widths
    14976, 5120, 3 x 1024, classes) some 2 x 10^12 per 2000 windows, minutes on two cores."""
    side_a = [_Centred(x) for x in layer_activations(net_a, windows)]
    side_b = [_Centred(y) for y in layer_activations(net_b, windows)]
    norms_a = [math.sqrt(_cross_norm_sq(a, a)) for a in side_a]
    norms_b = [math.sqrt(_cross_norm_sq(b, b)) for b in side_b]
    return np.array([[_cka(a, b, na, nb) for b, nb in zip(side_b, norms_b)] for a, na in zip(side_a, norms_a)])


def cka_table_markdown(matrix: np.ndarray, names: tuple[str, str] = ("net A", "net B")) -> str:
    """The CKA matrix as a markdown table: rows are names[0]'s layers, columns names[1]'s, numbered from 1."""
    matrix = np.asarray(matrix, dtype=np.float64)
    header = [f"{names[0]} layer \\ {names[1]} layer"] + [str(j) for j in range(1, matrix.shape[1] + 1)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, row in enumerate(matrix, 1):
        lines.append(f"| {i} | " + " | ".join("–" if math.isnan(v) else f"{v:.3f}" for v in row) + " |")
    return "\n".join(lines) + "\n"


def plot_cka(matrix: np.ndarray, out_png: str | os.PathLike, labels_a: str, labels_b: str, title: str) -> None:
    """Heat-map of a CKA matrix with the value in each cell; labels_a/labels_b name the nets of the rows and
    columns (e.g. "ASR net"), whose layers are numbered 1..L."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import _save

    matrix = np.asarray(matrix, dtype=np.float64)
    rows, cols = matrix.shape
    fig, ax = plt.subplots(figsize=(1.6 + 0.75 * cols, 1.2 + 0.65 * rows))
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=1.0)
    for i in range(rows):
        for j in range(cols):
            value = matrix[i, j]
            ax.text(j, i, "–" if math.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if value > 0.6 else "white")
    ax.set_xticks(range(cols), [str(j) for j in range(1, cols + 1)])
    ax.set_yticks(range(rows), [str(i) for i in range(1, rows + 1)])
    ax.set_xlabel(f"{labels_b}: layer")
    ax.set_ylabel(f"{labels_a}: layer")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="linear CKA")
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out_png)
    plt.close(fig)


def _kernel_mosaic(net: LayeredNet) -> tuple[np.ndarray, int, tuple[int, int]]:
    """The first conv layer's kernels tiled into one image, each scaled to [-1, 1] by its largest |weight| and
    drawn mel (up) x time (right), NaN (grey) between tiles; with the kernel count and (time, mel) kernel size."""
    conv = next((layer.conv for layer in net.layers if isinstance(layer, ConvBlock)), None)
    if conv is None:
        raise AsrserError("the net has no conv layer whose kernels could be shown")
    weights = conv.weight.detach().cpu().double().numpy()
    kernels = weights.reshape(-1, *weights.shape[2:])          # input channels > 1: one tile per (out, in) pair
    time, mel = kernels.shape[1:]
    scale = np.abs(kernels).max(axis=(1, 2), keepdims=True)
    kernels = kernels / np.where(scale > 0, scale, 1.0)
    cols = math.ceil(math.sqrt(len(kernels)))
    rows = math.ceil(len(kernels) / cols)
    mosaic = np.full((rows * (mel + 1) - 1, cols * (time + 1) - 1), np.nan)
    for k, kernel in enumerate(kernels):
        top, left = (rows - 1 - k // cols) * (mel + 1), (k % cols) * (time + 1)
        mosaic[top:top + mel, left:left + time] = kernel.T
    return mosaic, len(kernels), (time, mel)


def plot_first_layer_filters(net_a: LayeredNet, net_b: LayeredNet, out_png: str | os.PathLike,
                             titles: tuple[str, str] = ("ASR", "SER")) -> None:
    """The first conv layer's kernels of two nets side by side (the paper's "learned features" figure)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plots import _save

    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.75")
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for ax, net, title in zip(axes, (net_a, net_b), titles):
        mosaic, count, (time, mel) = _kernel_mosaic(net)
        image = ax.imshow(mosaic, cmap=cmap, vmin=-1.0, vmax=1.0, origin="lower", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"time → ({time} frames per kernel)")
        ax.set_ylabel(f"mel band → ({mel} bands per kernel)")
        ax.set_title(f"{title}: first conv layer, {count} kernels")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="weight / max |weight| of the kernel")
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out_png)
    plt.close(fig)
