"""SER reports: a system's results.json (from metrics.summarize plus a description) printed as a fold table,
its pooled confusion matrix as a PNG, and every <exp>/<system>/results.json collected into RESULTS.md."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..fileio import atomic_write
from .folds import FoldPlan, read_fold_plan

log = logging.getLogger(__name__)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def format_report(result: dict) -> str:
    """Per-fold and pooled WA/UA of the test group and the validation groups, and the test confusion over the
    result's classes."""
    lines = [f"{result.get('system', '')}: {result.get('features', '')}, {result.get('classifier', '')}",
             f"{'fold (test)':14s}{'utts':>6s}{'WA %':>7s}{'UA %':>7s}{'valid WA %':>12s}{'valid UA %':>12s}"]
    for f in result["folds"]:
        t, v = f.get("test", {}), f.get("valid", {})
        lines.append(f"{f['speaker']:14s}{t.get('utterances', 0):6d}{_pct(t.get('wa')):>7s}{_pct(t.get('ua')):>7s}"
                     f"{_pct(v.get('wa')):>12s}{_pct(v.get('ua')):>12s}")
    t, v = result.get("test", {}), result.get("valid", {})
    lines.append(f"{'pooled':14s}{t.get('utterances', 0):6d}{_pct(t.get('wa')):>7s}{_pct(t.get('ua')):>7s}"
                 f"{_pct(v.get('wa')):>12s}{_pct(v.get('ua')):>12s}")
    if "confusion" in t:
        classes = result["classes"]
        lines.append("test confusion (rows true, columns predicted):")
        lines.append(f"{'':6s}" + "".join(f"{c:>6s}" for c in classes) + f"{'recall':>8s}")
        for k, (c, row) in enumerate(zip(classes, t["confusion"])):
            lines.append(f"{c:6s}" + "".join(f"{n:6d}" for n in row) + f"{100 * row[k] / max(1, sum(row)):7.1f}%")
    return "\n".join(lines)


def write_results(path: str | os.PathLike, result: dict) -> None:
    """results.json, confusion.png beside it, and the report on stdout."""
    from ..plots import plot_confusion

    path = Path(path)
    print(format_report(result))
    if "confusion" in result.get("test", {}):
        plot_confusion(result["test"]["confusion"], result["classes"], path.parent / "confusion.png",
                       f"{path.parent.name}: the test utterances of {len(result['folds'])} folds")
    with atomic_write(path) as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    t = result.get("test", {})
    log.info("%s: test WA %s%%, UA %s%% (pooled over %d folds)", path, _pct(t.get("wa")), _pct(t.get("ua")),
             len(result["folds"]))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("s" if n != 1 else "")


def protocol_sentence(plan: FoldPlan) -> str:
    """What the folds are, in one sentence: the number of classes, speaker or session folds (or the
    cross-corpus directions), and the validation (fixed or rotating)."""
    kind, first = plan.fold_by, plan.folds[0]
    if kind == "corpus":
        directions = ", ".join(f.test for f in plan.folds)
        return (f"Speech emotion recognition, {len(plan.classes)} classes, across corpora ({directions}): each "
                f"direction trains on the sessions of one corpus but its last, stops early on that last session "
                f"and tests every session of the other corpus.")
    if plan.validation:
        validation = f"stops early on the {_count(len(first.validation), 'validation ' + kind)}"
    else:
        validation = (f"stops early on the next {kind} (the validation {kind} rotates with the test {kind}, so "
                      f"every {kind} is tested once)")
    return (f"Speech emotion recognition, {len(plan.classes)} classes, leave one {kind} out: each fold trains on "
            f"{_count(len(first.train), kind)}, {validation} and tests the held-out one.")


def collect_ser_results(folds_json: str | os.PathLike, exp_dir: str | os.PathLike, out: str | os.PathLike,
                        title: str) -> list[dict]:
    """<exp_dir>/*/results.json -> RESULTS.md, the protocol described from the folds (<folds-dir>/folds.json
    and the classes beside it)."""
    exp_dir, out = Path(exp_dir), Path(out)
    plan = read_fold_plan(folds_json)
    rows = [{"dir": p.parent.name, **json.loads(p.read_text())} for p in sorted(exp_dir.glob("*/results.json"))]
    with atomic_write(out) as f:
        f.write(f"# {title}\n\n{protocol_sentence(plan)} E = 1 - WA "
                "(weighted accuracy, the share of utterances right) and UE = 1 - UA (unweighted accuracy, the mean "
                "per-class recall), as the paper reports them; pooled over the folds' predictions "
                "(`predictions.tsv`).\n\n")
        f.write("| system | E valid % | E test % | UE valid % | UE test % | WA test % | UA test % | "
                "UA test, fold mean % | test utterances |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for r in rows:
            t, v = r.get("test", {}), r.get("valid", {})
            f.write(f"| {r['dir']} | {_pct(v.get('e'))} | {_pct(t.get('e'))} | {_pct(v.get('ue'))} | "
                    f"{_pct(t.get('ue'))} | {_pct(t.get('wa'))} | {_pct(t.get('ua'))} | "
                    f"{_pct(t.get('ua_mean_over_folds'))} | {t.get('utterances', 0)} |\n")
        for r in rows:
            f.write(f"\n## {r['dir']}: {r.get('system', '')}\n\n{r.get('features', '')}; {r.get('classifier', '')}"
                    f"\n\n| fold (test {plan.fold_by}) | test utterances | WA % | UA % | valid WA % | valid UA % |\n"
                    "|---|---:|---:|---:|---:|---:|\n")
            for fold in r["folds"]:
                t, v = fold.get("test", {}), fold.get("valid", {})
                f.write(f"| {fold['speaker']} | {t.get('utterances', 0)} | {_pct(t.get('wa'))} | {_pct(t.get('ua'))} "
                        f"| {_pct(v.get('wa'))} | {_pct(v.get('ua'))} |\n")
            if "confusion" in r.get("test", {}):
                classes = r["classes"]
                f.write("\nTest confusion, pooled (rows: true class, columns: predicted)\n\n| | "
                        + " | ".join(classes) + " |\n|---|" + "---:|" * len(classes) + "\n")
                for name, counts in zip(classes, r["test"]["confusion"]):
                    f.write(f"| {name} | " + " | ".join(str(n) for n in counts) + " |\n")
                png = exp_dir / r["dir"] / "confusion.png"
                if png.exists():
                    f.write(f"\n![{r['dir']} confusion]({os.path.relpath(png, out.parent)})\n")
    return rows
