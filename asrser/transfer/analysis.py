"""How alike the ASR and SER nets' features are, layer by layer: linear CKA between their activations on the same
frames (Kornblith et al. 2019) and pictures of the first conv layer's kernels (the paper's "learned features").

CKA is computed from the centred Gram matrices K = Xc Xc^T of the frames (frames x frames): with a few
thousand frames and layers thousands of features wide (the paper's first conv layer has 14,976) this is far
cheaper than the feature-space form, and each layer's Gram is built once for all layer pairs. Layers are
converted to float64 in column blocks, so no float64 copy of a whole layer is held in memory.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import AsrserError
from ..nnet.model import ConvBlock, LayeredNet

# float64 values per column block of activations (128 MB)
_BLOCK_ENTRIES = 1 << 24


def _normalised_gram(x: np.ndarray) -> np.ndarray | None:
    """K / ||K||_F for K = Xc Xc^T of the column-centred activations; None when the layer's output is constant
    on these frames (e.g. dead ReLUs), which has no CKA with anything."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise AsrserError(f"CKA needs (examples, features) matrices, got shape {x.shape}")
    mean = x.mean(axis=0, dtype=np.float64)
    gram = np.zeros((len(x), len(x)))
    step = max(1, _BLOCK_ENTRIES // max(len(x), 1))
    for start in range(0, x.shape[1], step):
        block = x[:, start:start + step].astype(np.float64) - mean[start:start + step]
        gram += block @ block.T
    norm = np.linalg.norm(gram)
    return gram / norm if norm > 0 else None


def _cka(a: np.ndarray | None, b: np.ndarray | None) -> float:
    return math.nan if a is None or b is None else float(np.vdot(a, b))


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA between activations (n_examples, features_a) and (n_examples, features_b): 1 for the same
    representation up to rotation and scale, near 0 for unrelated ones."""
    if len(x) != len(y):
        raise AsrserError(f"CKA needs the same examples on both sides, got {len(x)} and {len(y)}")
    return _cka(_normalised_gram(x), _normalised_gram(y))


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

    Costs about N^2 x (sum of layer widths) multiply-adds per net and N^2 per layer pair: seconds for a few
    thousand windows of the paper's net."""
    side_a = [_normalised_gram(x) for x in layer_activations(net_a, windows)]
    side_b = [_normalised_gram(y) for y in layer_activations(net_b, windows)]
    return np.array([[_cka(a, b) for b in side_b] for a in side_a])


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
