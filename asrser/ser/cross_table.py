"""The within- and cross-corpus SER table of the CTA-RNN experiment (egs/cta_rnn/s5): one row per system (the
CTA-RNN ablations, the Fayek ConvNet, eGeMAPS + SVM), WA and UA per protocol (IEMOCAP leave one session out,
IEMOCAP's Fayek speaker folds, MSP-IMPROV leave one session out, and each cross-corpus direction).

Every cell is recomputed from the test rows of a system's saved predictions (`<exp>/<protocol>/<system>/
predictions.tsv`, all folds; a cross-corpus column takes the rows of its direction's fold), over the classes of
the protocol's folds (`<folds-root>/<protocol>/classes.txt`). A system or protocol not run yet is a dash.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import atomic_write
from .classes import read_classes
from .metrics import read_predictions, scores

log = logging.getLogger(__name__)

# (directory under each protocol's exp dir, row name)
SYSTEMS = (("last", "last layer"), ("weighted_sum", "weighted sum of layers"),
           ("channel", "channel attention"), ("temporal", "temporal attention"),
           ("cta", "CTA-RNN (channel + temporal attention)"), ("convnet", "Fayek ConvNet (frame-level)"),
           ("egemaps_svm", "eGeMAPS + SVM"))
PROTOCOLS = ("iemocap_session", "iemocap_speaker", "msp_session", "cross")
DASH = "–"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    protocol: str              # the protocol's directory under the exp dir (and under the folds root)
    fold: str | None = None    # None: every fold's test rows; else the rows of this fold (a direction)


COLUMNS = (Column("iemocap_session", "IEMOCAP (leave one session out)", "iemocap_session"),
           Column("iemocap_speaker", "IEMOCAP (Fayek speaker folds)", "iemocap_speaker"),
           Column("msp_session", "MSP-IMPROV (leave one session out)", "msp_session"),
           Column("iemocap_to_msp", "IEMOCAP -> MSP-IMPROV", "cross", "iemocap->msp_improv"),
           Column("msp_to_iemocap", "MSP-IMPROV -> IEMOCAP", "cross", "msp_improv->iemocap"))


def _test_rows(exp_dir: Path, folds_root: Path, protocol: str, system: str) -> list[dict] | None:
    """The test rows of <exp>/<protocol>/<system>/predictions.tsv, checked against the protocol's classes;
    None when the file (or the protocol's folds) does not exist yet."""
    path = exp_dir / protocol / system / "predictions.tsv"
    if not path.is_file() or not (folds_root / protocol / "classes.txt").is_file():
        return None
    return [r for r in read_predictions(path, read_classes(folds_root / protocol)) if r["role"] == "test"]


def _score(rows: list[dict]) -> dict | None:
    if not rows:
        return None
    return scores(np.array([r["label"] for r in rows]), np.array([r["predicted"] for r in rows]))


def cross_table(exp_dir: str | os.PathLike, folds_root: str | os.PathLike | None = None,
                systems: tuple[tuple[str, str], ...] = SYSTEMS, columns: tuple[Column, ...] = COLUMNS) -> dict:
    """{"columns", "systems", "cells": {system: {column: scores | None}}, "folds": {protocol: {system:
    {fold: scores}}}}: the pooled cells and every fold's test scores, from the saved predictions."""
    exp_dir = Path(exp_dir)
    folds_root = Path(folds_root) if folds_root is not None else exp_dir / "folds"
    protocols = list(dict.fromkeys(c.protocol for c in columns))
    rows = {(p, s): _test_rows(exp_dir, folds_root, p, s) for p in protocols for s, _ in systems}
    cells: dict[str, dict[str, dict | None]] = {}
    for system, _ in systems:
        cells[system] = {}
        for column in columns:
            found = rows[column.protocol, system]
            if found is not None and column.fold is not None:
                found = [r for r in found if r["fold"] == column.fold]
                if not found:
                    log.warning("%s: no test rows of fold %s", exp_dir / column.protocol / system / "predictions.tsv",
                                column.fold)
            cells[system][column.key] = _score(found) if found is not None else None
    per_fold: dict[str, dict[str, dict[str, dict]]] = {}
    for protocol in protocols:
        per_fold[protocol] = {}
        for system, _ in systems:
            found = rows[protocol, system]
            if found is None:
                continue
            folds = list(dict.fromkeys(r["fold"] for r in found))
            per_fold[protocol][system] = {f: _score([r for r in found if r["fold"] == f]) for f in folds}
    return {"columns": [{"key": c.key, "title": c.title, "protocol": c.protocol, "fold": c.fold} for c in columns],
            "systems": [{"key": s, "name": n} for s, n in systems], "cells": cells, "folds": per_fold}


def _pct(s: dict | None, key: str) -> str:
    return DASH if s is None else f"{100 * s[key]:.1f}"


def format_cross_table(table: dict, extra_rows: tuple[str, ...] = ()) -> str:
    """Markdown: the WA/UA table (systems by protocol; extra_rows, e.g. a paper's figures, as given below the
    systems), then one per-fold table per protocol."""
    columns, systems = table["columns"], table["systems"]
    lines = ["| system | " + " | ".join(f"{c['title']} WA % | UA %" for c in columns) + " |",
             "|---|" + "---:|---:|" * len(columns)]
    for s in systems:
        cells = table["cells"][s["key"]]
        lines.append(f"| {s['name']} | " + " | ".join(f"{_pct(cells[c['key']], 'wa')} | {_pct(cells[c['key']], 'ua')}"
                                                      for c in columns) + " |")
    lines += list(extra_rows)
    counts = {c["title"]: next((cells[c["key"]]["utterances"] for cells in table["cells"].values()
                                if cells[c["key"]] is not None), None) for c in columns}
    lines += ["", "Test utterances per column: " + "; ".join(f"{t} {DASH if n is None else n}"
                                                              for t, n in counts.items()) + "."]
    names = {s["key"]: s["name"] for s in systems}
    for protocol, by_system in table["folds"].items():
        if not by_system:
            continue
        folds = list(dict.fromkeys(f for per in by_system.values() for f in per))
        lines += ["", f"### {protocol}: WA / UA % per fold (test)", "",
                  "| system | " + " | ".join(folds) + " |", "|---|" + "---:|" * len(folds)]
        for system, per in by_system.items():
            lines.append(f"| {names[system]} | " + " | ".join(
                f"{_pct(per.get(f), 'wa')} / {_pct(per.get(f), 'ua')}" for f in folds) + " |")
    return "\n".join(lines) + "\n"


def write_cross_table(exp_dir: str | os.PathLike, out_md: str | os.PathLike,
                      folds_root: str | os.PathLike | None = None, systems: tuple[tuple[str, str], ...] = SYSTEMS,
                      columns: tuple[Column, ...] = COLUMNS, extra_rows: tuple[str, ...] = ()) -> dict:
    """<out_md> (markdown) and the same figures as JSON beside it (<out_md> with .json)."""
    table = cross_table(exp_dir, folds_root, systems, columns)
    out_md = Path(out_md)
    with atomic_write(out_md) as f:
        f.write(format_cross_table(table, extra_rows))
    with atomic_write(out_md.with_suffix(".json")) as f:
        json.dump(table, f, indent=1)
        f.write("\n")
    filled = sum(v is not None for cells in table["cells"].values() for v in cells.values())
    log.info("%s: %d of %d cells", out_md, filled, len(table["systems"]) * len(table["columns"]))
    return table
