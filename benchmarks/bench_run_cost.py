#!/usr/bin/env python3
"""The cost of a run against corpus size: wall time, CPU time and peak memory of every stage of a recipe, per
corpus size, and how each stage's wall time grows with the amount of audio.

For each size a fresh clone of the repository's HEAD (uncommitted changes are not measured) under
<out>/<size>/repo first builds its set-up (tools/setup.sh: Debian packages checked, latdet compiled, the .venv;
row "setup"), then runs `<recipe>/run.sh --corpus-size SIZE --stage N --stop-stage N` for every stage that the
recipe's `--help` lists, in order, each under `/usr/bin/time -v`. One TSV row per stage: wall, user and system
seconds, peak RSS (of the largest single process of the stage, as `time -v` reports it: concurrent jobs are
not summed), the load average when the stage began and ended (the 2-core VM is shared: read the times with
it), and the amount of audio of the embedded corpora the size generated (every recipe's corpora/: hours and
files). A stage that fails ends that size (the later ones need its outputs); its row keeps the exit code.

The plot (<out>/run_cost.png) draws each stage's wall time against the hours of audio on log-log axes with the
least-squares exponent of the power law (time ~ hours^k, fitted over the sizes measured); stages with k > 1.2
grow faster than linearly and are named in the printout. The x axis counts all the embedded corpora of a size;
a stage whose own corpus does not grow with the size (mini-CASIA is the same at default and full) shows a
smaller exponent than its data would.

Usage: benchmarks/bench_run_cost.py [--sizes tiny,default,full] [--recipe .|egs/timit/s5] --out DIR
                                    [--nj 2] [-- extra recipe options]
       benchmarks/bench_run_cost.py --from-tsv DIR/run_cost.tsv --out DIR     (re-plot saved measurements)
  e.g. benchmarks/bench_run_cost.py --sizes tiny --out /tmp/cost
       benchmarks/bench_run_cost.py --sizes tiny,default --recipe egs/timit/s5 --out /tmp/cost-timit \\
           -- --nnet-config conf/fast/convnet.yaml --ctc-config conf/fast/ctc.yaml   (as ./run.sh calls it)

Measured: see the README section "The cost of a run".
"""
from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

FIELDS = ["recipe", "size", "stage", "name", "exit", "wall_s", "user_s", "sys_s", "max_rss_mb", "load_start",
          "load_end", "audio_hours", "audio_files"]
SUPERLINEAR = 1.2     # exponents above this are named: cost growing faster than the data
_TIME_FIELDS = {"Elapsed (wall clock) time (h:mm:ss or m:ss)": "wall", "User time (seconds)": "user",
                "System time (seconds)": "sys", "Maximum resident set size (kbytes)": "rss_kb",
                "Exit status": "exit"}


def recipe_stages(repo: Path, recipe: str) -> list[tuple[str, str]]:
    """(number, description) of every stage the recipe's --help lists."""
    out = subprocess.run([f"{recipe}/run.sh", "--help"], cwd=repo, capture_output=True, text=True)
    lines = (out.stdout + out.stderr).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Stages:")
    stages = []
    for line in lines[start + 1:]:
        m = re.match(r"\s+(\d+)\s+(.*)", line)
        if m:
            stages.append((m.group(1), m.group(2).strip()))
    return stages


def parse_time_v(text: str) -> dict[str, float]:
    """The fields of GNU time -v's report that the TSV keeps (wall clock as seconds)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key in _TIME_FIELDS:
            if _TIME_FIELDS[key] == "wall":      # [h:]mm:ss.ss
                seconds = 0.0
                for part in value.split(":"):
                    seconds = seconds * 60 + float(part)
                values["wall"] = seconds
            else:
                values[_TIME_FIELDS[key]] = float(value)
    return values


def corpus_audio(repo: Path) -> tuple[float, int]:
    """Hours of audio and number of audio files of the embedded corpora generated in the clone (from the file
    sizes: 16 kHz 16-bit mono, NIST SPHERE's 1024-byte or RIFF's 44-byte header)."""
    seconds, files = 0.0, 0
    for corpora in repo.glob("egs/*/s5/corpora"):
        for path in corpora.rglob("*"):
            if path.suffix in (".WAV", ".wav") and path.is_file():
                header = 1024 if path.suffix == ".WAV" else 44
                seconds += max(path.stat().st_size - header, 0) / 2 / 16000
                files += 1
    return seconds / 3600, files


def timed(cmd: list[str], cwd: Path, log: Path) -> dict[str, float]:
    """Run cmd under /usr/bin/time -v, its output to log; the report's fields plus the load averages."""
    report = log.with_suffix(".time")
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log, "w") as out:
        rc = subprocess.run(["/usr/bin/time", "-v", "-o", str(report), *cmd], cwd=cwd, stdout=out,
                            stderr=subprocess.STDOUT).returncode
    values = parse_time_v(report.read_text()) if report.exists() else {}
    values.setdefault("wall", time.perf_counter() - t0)
    values.setdefault("exit", float(rc))
    values.update(load_start=load_start, load_end=os.getloadavg()[0])
    return values


def _stage_commands(repo: Path, recipe: str, size: str, nj: int, extra: list[str]):
    """(number, description, command) of every stage of the recipe, listed when first needed."""
    for number, name in recipe_stages(repo, recipe):
        yield number, name, ["nice", f"{recipe}/run.sh", "--nj", str(nj), "--corpus-size", size, "--stage", number,
                             "--stop-stage", number, *extra]


def measure_size(source: Path, recipe: str, size: str, nj: int, extra: list[str], out: Path,
                 rows: list[dict], tsv: Path) -> None:
    """Clone HEAD of source into out/size/repo and time its set-up and every stage of the recipe."""
    repo, logs = out / size / "repo", out / size / "logs"
    if repo.exists():
        raise SystemExit(f"{repo} exists: give another --out (the measurement needs a fresh clone)")
    logs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(source), str(repo)], check=True)
    # the set-up first: any run.sh (even --help, which lists the stages) builds it on its first call
    setup = ("setup", "set-up: tools/setup.sh (Debian packages checked, latdet, .venv)", ["tools/setup.sh"])
    for number, name, cmd in itertools.chain([setup], _stage_commands(repo, recipe, size, nj, extra)):
        v = timed(cmd, repo, logs / f"stage-{number}.log")
        hours, files = corpus_audio(repo)
        row = dict(recipe=recipe, size=size, stage=number, name=name, exit=int(v["exit"]), wall_s=round(v["wall"], 1),
                   user_s=round(v.get("user", float("nan")), 1), sys_s=round(v.get("sys", float("nan")), 1),
                   max_rss_mb=round(v.get("rss_kb", float("nan")) / 1024, 1), load_start=round(v["load_start"], 2),
                   load_end=round(v["load_end"], 2), audio_hours=round(hours, 4), audio_files=files)
        rows.append(row)
        write_tsv(rows, tsv)    # after every stage: a long or interrupted run keeps what it measured
        print(f"{size:8s} {number:>6s} {row['wall_s']:9.1f} s {row['max_rss_mb']:9.1f} MB  load "
              f"{row['load_start']:.1f}-{row['load_end']:.1f}  exit {row['exit']}  {name[:60]}", flush=True)
        if row["exit"] != 0:
            print(f"{size}: stage {number} failed (see {logs / f'stage-{number}.log'}); the later stages need it",
                  file=sys.stderr)
            break
    # the corpora are generated by some stage: every row of the size gets the final amount of audio
    hours, files = corpus_audio(repo)
    for row in rows:
        if row["size"] == size:
            row.update(audio_hours=round(hours, 4), audio_files=files)
    write_tsv(rows, tsv)


def write_tsv(rows: list[dict], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        for key in ("wall_s", "user_s", "sys_s", "max_rss_mb", "load_start", "load_end", "audio_hours"):
            row[key] = float(row[key])
        row["exit"], row["audio_files"] = int(row["exit"]), int(row["audio_files"])
    return rows


def exponents(rows: list[dict]) -> dict[str, tuple[float, list[tuple[float, float]]]]:
    """Per stage: the least-squares slope of log(wall) on log(audio hours) over the sizes that ran it
    successfully (nan with fewer than two distinct sizes), and the points."""
    import numpy as np

    points: dict[str, list[tuple[float, float]]] = {}
    for row in rows:
        if row["exit"] == 0 and row["wall_s"] > 0 and row["audio_hours"] > 0:
            points.setdefault(row["stage"], []).append((row["audio_hours"], row["wall_s"]))
    fits = {}
    for stage, xy in points.items():
        x = np.log([h for h, _ in xy])
        k = float(np.polyfit(x, np.log([w for _, w in xy]), 1)[0]) if len(set(x)) > 1 else math.nan
        fits[stage] = (k, xy)
    return fits


def report(rows: list[dict], out: Path) -> None:
    """Print the per-size totals and the exponents; draw the log-log plot."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = {row["stage"]: row["name"] for row in rows}
    for size in dict.fromkeys(row["size"] for row in rows):
        mine = [row for row in rows if row["size"] == size]
        print(f"{size}: {sum(r['wall_s'] for r in mine) / 60:.1f} min wall, "
              f"{sum(r['user_s'] + r['sys_s'] for r in mine) / 60:.1f} min CPU, peak RSS "
              f"{max(r['max_rss_mb'] for r in mine) / 1024:.2f} GB, {mine[0]['audio_hours']:.2f} h of audio in "
              f"{mine[0]['audio_files']} files")
    fits = exponents(rows)
    fig, ax = plt.subplots(figsize=(9, 6))
    for stage, (k, xy) in fits.items():
        xy = sorted(xy)
        label = f"{stage}: k={k:.2f}" if not math.isnan(k) else f"{stage}"
        ax.plot([h for h, _ in xy], [w for _, w in xy], "o-", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hours of audio (all embedded corpora of the size)")
    ax.set_ylabel("wall time of the stage (s)")
    ax.set_title("cost of a run per stage against corpus size (time ~ hours^k)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    png = out / "run_cost.png"
    fig.savefig(png.with_name("run_cost.tmp.png"), dpi=110)
    png.with_name("run_cost.tmp.png").replace(png)
    print(f"plot: {png}")
    fitted = {s: k for s, (k, _) in fits.items() if not math.isnan(k)}
    if not fitted:
        print("exponents: need two or more sizes")
        return
    for stage, k in sorted(fitted.items(), key=lambda kv: -kv[1]):
        print(f"  stage {stage:>6s}  k = {k:5.2f}  {names[stage][:70]}")
    faster = [s for s, k in fitted.items() if k > SUPERLINEAR]
    print(f"faster than linear (k > {SUPERLINEAR}): " + (", ".join(f"stage {s} (k = {fitted[s]:.2f})" for s in faster)
                                                         if faster else "none"))


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="tiny,default,full")
    p.add_argument("--recipe", default=".", help="the recipe whose stages are timed: . (run.sh) or egs/<corpus>/s5")
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--from-tsv", type=Path, help="re-plot saved measurements instead of measuring")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    if a.from_tsv:
        report(read_tsv(a.from_tsv), a.out)
        return
    source = Path(__file__).resolve().parents[1]
    tsv, rows = a.out / "run_cost.tsv", []
    for size in a.sizes.split(","):
        measure_size(source, a.recipe, size, a.nj, extra, a.out, rows, tsv)
    print(f"measurements: {tsv}")
    report(rows, a.out)


if __name__ == "__main__":
    main()
