"""SER result tables: every <exp>/<system>/results.json (leave-one-speaker-out UA/WA, confusion matrix) into a
RESULTS.md with one row per system and its per-fold table."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..fileio import atomic_write


def collect_ser_results(exp_dir: str | os.PathLike, out: str | os.PathLike, title: str) -> list[dict]:
    exp_dir = Path(exp_dir)
    rows = []
    for path in sorted(exp_dir.glob("*/results.json")):
        r = json.loads(path.read_text())
        rows.append({"system": path.parent.name, **r})
    with atomic_write(out) as f:
        f.write(f"# {title}\n\nSpeech emotion recognition, {rows[0]['protocol'] if rows else ''}: unweighted "
                "accuracy (UA, mean per-class recall) and weighted accuracy (WA), pooled over the folds.\n\n")
        f.write("| system | utterances | UA % | WA % | UA % fold mean | features / classifier |\n")
        f.write("|---|---:|---:|---:|---:|---|\n")
        for r in rows:
            o = r["overall"]
            f.write(f"| {r['system']} | {r['utterances']} | {100 * o['ua']:.1f} | {100 * o['wa']:.1f} | "
                    f"{100 * o['ua_mean_over_folds']:.1f} | {r.get('features', '')}; {r.get('classifier', '')} |\n")
        for r in rows:
            f.write(f"\n## {r['system']}: per held-out speaker\n\n| speaker | utterances | UA % | WA % |\n"
                    "|---|---:|---:|---:|\n")
            for fold in r["folds"]:
                f.write(f"| {fold['speaker']} | {fold['utterances']} | {100 * fold['ua']:.1f} | "
                        f"{100 * fold['wa']:.1f} |\n")
            c = r["confusion"]
            f.write("\nConfusion (rows: true class, columns: predicted)\n\n| | " + " | ".join(c["classes"])
                    + " |\n|---|" + "---:|" * len(c["classes"]) + "\n")
            for name, row in zip(c["classes"], c["matrix"]):
                f.write(f"| {name} | " + " | ".join(str(v) for v in row) + " |\n")
    return rows
