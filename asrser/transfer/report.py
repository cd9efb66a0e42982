"""Transfer-learning results beside the paper's (Fayek, Lech & Cavedon 2016, the two transfer tables).

Results are error rates in percent, one row per number l of layers kept constant from the source task's net
("baseline": trained from scratch on the target task). Rows not run yet are shown as "–", so the report can be
written while the experiments are still running.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..errors import AsrserError
from ..fileio import atomic_write

ROWS = ("baseline", "5", "4", "3", "2", "1", "0")
LAYER_ROWS = ("0", "1", "2", "3", "4", "5")

# direction -> (title, what is transferred, ((metric key, metric label), ...))
DIRECTIONS = {
    "ser_to_asr": (
        "SER → ASR",
        "The first l layers of the SER net are kept constant; the rest is trained on TIMIT phone recognition.",
        (("fer_dev", "FER dev"), ("fer_test", "FER test"), ("per_dev", "PER dev"), ("per_test", "PER test"))),
    "asr_to_ser": (
        "ASR → SER",
        "The first l layers of the ASR net are kept constant; the rest is trained on IEMOCAP emotion recognition.",
        (("e_dev", "E dev"), ("e_test", "E test"), ("ue_dev", "UE dev"), ("ue_test", "UE test"))),
}

# The paper's slides, tables "Transfer Learning Performance SER to ASR" and "... ASR to SER" (percent).
PAPER: dict[str, dict[str, dict[str, float]]] = {
    "ser_to_asr": {
        "baseline": {"fer_dev": 30.53, "fer_test": 31.61, "per_dev": 18.71, "per_test": 20.18},
        "5": {"fer_dev": 71.09, "fer_test": 71.64, "per_dev": 61.15, "per_test": 61.82},
        "4": {"fer_dev": 53.26, "fer_test": 53.92, "per_dev": 42.96, "per_test": 44.13},
        "3": {"fer_dev": 40.29, "fer_test": 40.97, "per_dev": 28.81, "per_test": 30.48},
        "2": {"fer_dev": 31.75, "fer_test": 32.87, "per_dev": 20.08, "per_test": 21.85},
        "1": {"fer_dev": 30.83, "fer_test": 32.01, "per_dev": 18.99, "per_test": 20.94},
        "0": {"fer_dev": 30.62, "fer_test": 31.65, "per_dev": 18.73, "per_test": 20.57},
    },
    "asr_to_ser": {
        "baseline": {"e_dev": 44.63, "e_test": 46.44, "ue_dev": 46.34, "ue_test": 48.96},
        "5": {"e_dev": 52.55, "e_test": 59.20, "ue_dev": 62.50, "ue_test": 64.03},
        "4": {"e_dev": 51.94, "e_test": 53.34, "ue_dev": 56.21, "ue_test": 56.18},
        "3": {"e_dev": 50.22, "e_test": 52.01, "ue_dev": 54.18, "ue_test": 54.37},
        "2": {"e_dev": 47.39, "e_test": 48.50, "ue_dev": 47.72, "ue_test": 49.82},
        "1": {"e_dev": 46.37, "e_test": 48.36, "ue_dev": 47.61, "ue_test": 50.57},
        "0": {"e_dev": 45.26, "e_test": 46.97, "ue_dev": 46.60, "ue_test": 48.95},
    },
}


def _normalise(results: dict) -> dict[str, dict[str, dict[str, float]]]:
    """Results with string row keys and float values, None values dropped; unknown names are an error so
    that a misspelt key does not silently show up as a missing row."""
    unknown = set(results) - set(DIRECTIONS)
    if unknown:
        raise AsrserError(f"transfer results: unknown direction(s) {sorted(unknown)}; expected {list(DIRECTIONS)}")
    clean: dict[str, dict[str, dict[str, float]]] = {}
    for direction, (_, _, metrics) in DIRECTIONS.items():
        names = {key for key, _ in metrics}
        clean[direction] = {}
        for row, values in (results.get(direction) or {}).items():
            row = str(row).lower()
            if row not in ROWS:
                raise AsrserError(f"transfer results: {direction} has unknown row {row!r}; expected {list(ROWS)}")
            bad = set(values) - names
            if bad:
                raise AsrserError(f"transfer results: {direction} row {row} has unknown metric(s) {sorted(bad)}")
            try:
                clean[direction][row] = {k: float(v) for k, v in values.items() if v is not None}
            except (TypeError, ValueError) as e:
                raise AsrserError(f"transfer results: {direction} row {row}: {e}") from None
    return clean


def _cell(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.2f}"


def transfer_tables_markdown(results: dict, corpus_note: str | None = None) -> str:
    """The paper's two tables with our value and the paper's side by side for every metric."""
    ours = _normalise(results)
    lines = []
    if corpus_note:
        lines += [(f"Our numbers are on {corpus_note}; the paper's come from the real TIMIT and IEMOCAP, "
                   "a different corpus, so only the trend over l is comparable, not the values."), ""]
    lines += [("Error rates in percent. FER/PER: frame/phone error rate (PER at the LM weight chosen on dev); "
               "E/UE: weighted/unweighted emotion error rate. Baseline: trained from scratch on the target task; "
               "l = 0: nothing copied from the source net, so with the same seed it is the baseline net."), ""]
    for direction, (title, what, metrics) in DIRECTIONS.items():
        header = ["No. constant layers (l)"]
        header += [f"{label} ({who})" for _, label in metrics for who in ("ours", "paper")]
        lines += [f"### {title}", "", what, "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in ROWS:
            mine, paper = ours[direction].get(row, {}), PAPER[direction][row]
            cells = [_cell(v) for key, _ in metrics for v in (mine.get(key), paper[key])]
            lines.append(f"| {'Baseline' if row == 'baseline' else row} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_transfer(results: dict, out_png: str | os.PathLike) -> None:
    """Error rate against the number of constant layers, one panel per direction, as the paper's figures:
    our curves solid, our baselines dashed, the paper's curves faint and dotted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    from ..plots import _save

    ours = _normalise(results)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    fig, axes = plt.subplots(1, len(DIRECTIONS), figsize=(11, 4.2))
    for ax, (direction, (title, _, metrics)) in zip(axes, DIRECTIONS.items()):
        handles, labels = [], []
        for colour, (key, label) in zip(colours, metrics):
            points = [(int(r), ours[direction][r][key]) for r in LAYER_ROWS if key in ours[direction].get(r, {})]
            if points:
                ax.plot(*zip(*points), "o-", color=colour)
            baseline = ours[direction].get("baseline", {}).get(key)
            if baseline is not None:
                ax.axhline(baseline, color=colour, linestyle="--", linewidth=1)
            ax.plot([int(r) for r in LAYER_ROWS], [PAPER[direction][r][key] for r in LAYER_ROWS], ":",
                    color=colour, alpha=0.45, linewidth=1.2)
            handles.append(Line2D([], [], color=colour, marker="o"))
            labels.append(f"{label} (ours)")
        # the legend names every metric even when some have no results yet
        handles += [Line2D([], [], color="grey", linestyle="--", linewidth=1),
                    Line2D([], [], color="grey", linestyle=":", alpha=0.6, linewidth=1.2)]
        labels += ["baseline (ours)", "paper"]
        ax.legend(handles, labels, fontsize=8, loc="upper left")
        ax.set_xticks(range(len(LAYER_ROWS)))
        ax.set_xlabel("No. constant layers (l)")
        ax.set_ylabel("error rate")
        ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
        ax.grid(alpha=0.3)
        ax.set_title(f"Transfer {title}")
    fig.tight_layout()
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    _save(fig, out_png)
    plt.close(fig)


def write_transfer_report(results: dict, out_md: str | os.PathLike, out_json: str | os.PathLike,
                          out_png: str | os.PathLike, corpus_note: str | None = None) -> None:
    """The markdown tables (with the figure linked), a JSON of ours and the paper's numbers, and the figure."""
    out_md, out_png = Path(out_md), Path(out_png)
    plot_transfer(results, out_png)
    with atomic_write(out_json) as f:
        json.dump({"units": "percent", "corpus_note": corpus_note, "ours": _normalise(results), "paper": PAPER},
                  f, indent=1)
        f.write("\n")
    figure = os.path.relpath(out_png.resolve(), out_md.resolve().parent)
    with atomic_write(out_md) as f:
        f.write(transfer_tables_markdown(results, corpus_note))
        f.write(f"\n![Transfer learning between ASR and SER]({figure})\n")
