"""PNG figures for results: PER per system and set, neural-net training curves."""

from __future__ import annotations

import os
from pathlib import Path

from .fileio import temp_name


def _save(fig, out: str | os.PathLike) -> None:
    out = Path(out)
    tmp = temp_name(out).with_suffix(".png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, out)


def plot_error_rates(rows: list[dict], out: str | os.PathLike, title: str, ylabel: str = "PER %") -> None:
    """Grouped bars: one group per system, one bar per set (rows: system, set, per: the error rate, and
    optionally sd: a standard deviation, drawn as an error bar)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(dict.fromkeys(r["system"] for r in rows))
    sets = list(dict.fromkeys(r["set"] for r in rows))
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(systems), 3.2))
    width = 0.8 / max(len(sets), 1)
    for k, name in enumerate(sets):
        found = [next((r for r in rows if r["system"] == s and r["set"] == name), {}) for s in systems]
        values = [r.get("per", 0.0) for r in found]
        spread = [r.get("sd") or 0.0 for r in found] if any(r.get("sd") for r in found) else None
        bars = ax.bar([i + k * width for i in range(len(systems))], values, width, label=name, yerr=spread,
                      capsize=3 if spread else 0)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks([i + width * (len(sets) - 1) / 2 for i in range(len(systems))], systems)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)   # outside: never over a bar's label
    _save(fig, out)
    plt.close(fig)


def plot_training(history: list[dict], out: str | os.PathLike, title: str, *, loss_label: str = "cross-entropy",
                  error_key: str = "valid_fer", error_label: str = "validation FER %") -> None:
    """Training loss and a validation error rate (by default the FER) per epoch."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(epochs, [h["loss"] for h in history], "o-", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel(loss_label)
    ax2 = ax.twinx()
    ax2.plot(epochs, [h[error_key] for h in history], "s--", color="tab:red", label=error_label)
    ax2.set_ylabel(error_label.split()[-2] + " %" if error_label.endswith("%") else error_label)
    fig.legend(loc="upper right")
    ax.set_title(title)
    _save(fig, out)
    plt.close(fig)


def _annotated_heatmap(values, texts, text_colours, rows: list[str], columns: list[str], axes: tuple[str, str],
                       title: str, colorbar: str, out: str | os.PathLike, figsize: tuple[float, float],
                       rotate_columns: bool = False, **imshow) -> None:
    """A heatmap with a text in every cell (texts[i][j], in text_colours[i][j]), labelled rows and columns."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    image = ax.imshow(values, **imshow)
    for i in range(len(rows)):
        for j in range(len(columns)):
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=7 if rotate_columns else 8,
                    color=text_colours[i][j])
    if rotate_columns:
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
    else:
        ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label=colorbar)
    _save(fig, out)
    plt.close(fig)


def plot_layer_weights(weights, emotions: list[str], layers: list[str], out: str | os.PathLike, title: str) -> None:
    """Heatmap of the mean weight of each layer (columns) for each emotion (rows), the values in the cells."""
    import numpy as np

    weights = np.asarray(weights, dtype=float)
    _annotated_heatmap(weights, [[f"{w:.2f}" for w in row] for row in weights],
                       [["black" if w > 0.6 * weights.max() else "white" for w in row] for row in weights],
                       emotions, layers, ("layer", "emotion"), title, "mean weight", out,
                       (1.6 + 0.7 * len(layers), 1.0 + 0.5 * len(emotions)), rotate_columns=True,
                       cmap="viridis", vmin=0, aspect="auto")


def plot_confusion(matrix: list[list[int]], classes: list[str], out: str | os.PathLike, title: str) -> None:
    """Row-normalised confusion matrix (recall % per true class) with the counts in each cell."""
    import numpy as np

    counts = np.asarray(matrix, dtype=float)
    recall = 100 * counts / np.maximum(counts.sum(1, keepdims=True), 1)
    _annotated_heatmap(recall, [[f"{r:.0f}%\n({int(c)})" for r, c in zip(rr, cc)] for rr, cc in zip(recall, counts)],
                       [["white" if r > 60 else "black" for r in row] for row in recall], classes, classes,
                       ("predicted", "true"), title, "% of the true class", out,
                       (1.2 + 0.9 * len(classes), 0.9 + 0.8 * len(classes)), cmap="Blues", vmin=0, vmax=100)


def plot_image_grid(examples: dict[str, list], out: str | os.PathLike, title: str) -> None:
    """A grid of greyscale images (uint8 arrays): one row per label (examples: label -> images), as the nets
    see them (white = 255)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max((len(images) for images in examples.values()), default=1) or 1
    fig, axes = plt.subplots(len(examples) or 1, columns, figsize=(1.1 * columns + 0.6, 1.1 * len(examples) + 0.5),
                             squeeze=False)
    for row, (label, images) in zip(axes, examples.items()):
        for k, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if k < len(images):
                ax.imshow(images[k], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            else:
                ax.axis("off")
        row[0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    _save(fig, out)
    plt.close(fig)
