"""Parallel jobs with Kaldi run.pl / slurm.pl semantics behind a backend interface.

    asrser-run [--backend local|slurm] [--max-jobs N] [--num-threads N] [--gpu N] [--mem SIZE] [--time LIMIT]
               [--nodes N] [--config conf/slurm.conf] [--] [JOB=1:N] LOG COMMAND [ARG ...]

runs COMMAND once per job index with "JOB" in LOG and the arguments replaced by the index, each job's
output in its own log. JOB is replaced where it stands as a name of its own (exp/log/x.JOB.log, split4/JOB,
--job=JOB, foldJOB), not inside a longer name (JOBS_dir, SLURM_JOB_ID stay as they are). The command is
executed directly, never through a shell, so arguments with spaces or quotes arrive as they were given; a
LOG that begins with "-" follows "--". When a job fails, the runner exits non-zero and prints the
failing job's log path and its last lines.

Backends (cmd.sh chooses): local runs the jobs on this machine, at most --max-jobs at once (default: the
number of CPUs); slurm submits one job array per call (--max-jobs is the array's throttle, default none).
What a job asks for: --num-threads (local: the thread count of numpy/torch in each job; slurm: its CPUs),
--gpu (local: each running job sees only its own GPUs through CUDA_VISIBLE_DEVICES; slurm: a GPU request),
--mem, --time and --nodes (slurm only; locally --mem and --time are accepted and not enforced, as run.pl
does, and --nodes above 1 is an error). How they map to sbatch options, and the partition, is set in
conf/slurm.conf (see asrser.runner.slurm). A cluster backend subclasses Backend and registers in BACKENDS.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..cli import non_negative_int, positive_int
from ..errors import AsrserError
from .base import Backend, Job, JobResult, Resources, describe_exit
from .local import LocalBackend
from .slurm import SlurmBackend, spool_prefix

BACKENDS: dict[str, type[Backend]] = {"local": LocalBackend, "slurm": SlurmBackend}

_JOB_SPEC = re.compile(r"^([A-Z][A-Z0-9_]*)=(\d+):(\d+)$")
# What Kaldi's run.pl warns about as a "suspicious first argument": a range that does not parse.
_ALMOST_A_JOB_SPEC = re.compile(r"^\w+=.*:")


def job_pattern(var: str) -> re.Pattern:
    """Where the job variable `var` is replaced: as a name of its own. Kaldi's run.pl replaces every
    occurrence (s/JOB/1/g), which turns JOBS_dir into 1S_dir; here the variable must not be continued by a
    letter, digit or underscore, nor be the tail of a longer capitalised name (SLURM_JOB, NOJOB). A lower-case
    or punctuation prefix is a boundary, so per-job directories such as foldJOB or l.JOB still work."""
    return re.compile(rf"(?<![A-Z0-9]){re.escape(var)}(?![A-Za-z0-9_])")


@dataclass
class JobArray:
    """A parsed invocation: the job indices and the templates they are substituted into."""

    var: str | None
    first: int
    last: int
    log_template: str
    argv_template: list[str]

    def jobs(self) -> list[Job]:
        if self.var is None:
            return [Job(None, list(self.argv_template), Path(self.log_template))]
        pattern = job_pattern(self.var)
        return [Job(i, [pattern.sub(str(i), a) for a in self.argv_template],
                    Path(pattern.sub(str(i), self.log_template)))
                for i in range(self.first, self.last + 1)]


def parse_job_array(args: list[str]) -> JobArray:
    """Parse `[JOB=a:b] LOG COMMAND ARGS...` as Kaldi's run.pl does (ValueError for what it cannot run)."""
    var, first, last = None, 1, 1
    if args and (m := _JOB_SPEC.match(args[0])):
        var, first, last = m.group(1), int(m.group(2)), int(m.group(3))
        if first > last:
            raise ValueError(f"empty job range {args[0]}")
        args = args[1:]
    elif args and _ALMOST_A_JOB_SPEC.match(args[0]):
        raise ValueError(f"invalid job range {args[0]!r}: expected NAME=FIRST:LAST with a capitalised NAME and "
                         "two numbers, e.g. JOB=1:4")
    if len(args) < 2:
        raise ValueError("expected a log file and a command")
    log = args[0]
    if "\n" in log:
        raise ValueError(f"the log file name {log!r} contains a newline")
    if var is not None and not job_pattern(var).search(log):
        raise ValueError(f"the log file {log} must contain {var} so that each job has its own log")
    return JobArray(var, first, last, log, args[1:])


def tail(path: Path, n: int = 20) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log was written)"
    return "\n".join("    " + line for line in lines[-n:])


def failure_summary(results: list[JobResult]) -> str:
    """One line naming the failed jobs and the first failure's log."""
    failed = [r for r in results if r.returncode != 0]
    first = failed[0]
    which = "the job" if first.job.index is None else f"job {first.job.index}"
    others = "" if len(failed) == 1 else (
        " (also failed: " + ", ".join(str(r.job.index) for r in failed[1:]) + ")")
    detail = f" ({first.detail})" if first.detail else ""
    return (f"{len(failed)} of {len(results)} jobs failed{others}: {which} {describe_exit(first.returncode)}"
            f"{detail}; its log is {first.job.log}")


def failure_report(results: list[JobResult], n_lines: int = 20) -> str:
    """The first failure's last log lines, then the one-line summary: last, so that it ends the output."""
    log = [r for r in results if r.returncode != 0][0].job.log
    return f"Last lines of {log}:\n{tail(log, n_lines)}\nasrser-run: {failure_summary(results)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="asrser-run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local", choices=sorted(BACKENDS))
    parser.add_argument("--max-jobs", type=positive_int, default=None,
                        help="at most this many jobs at once (default: local, the number of CPUs; slurm, no limit)")
    parser.add_argument("--num-threads", type=positive_int, default=None, help="CPU threads of each job")
    parser.add_argument("--gpu", type=non_negative_int, default=0, help="GPUs of each job (default 0)")
    parser.add_argument("--mem", default=None, help="memory of each job, e.g. 4G (slurm)")
    parser.add_argument("--time", default=None, help="time limit of each job, e.g. 4:00:00 (slurm)")
    parser.add_argument("--nodes", type=positive_int, default=1, help="machines of each job (slurm; default 1)")
    parser.add_argument("--config", default=None,
                        help="the Slurm config (default conf/slurm.conf when it exists, else built-in defaults)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="[--] [JOB=a:b] LOG COMMAND [ARG ...]")
    opts, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unknown option {unknown[0]} (a log file whose name begins with '-' must follow '--')")
    rest = opts.rest[1:] if opts.rest[:1] == ["--"] else opts.rest
    try:
        array = parse_job_array(rest)
    except ValueError as e:
        parser.error(str(e))
    resources = Resources(mem=opts.mem, num_threads=opts.num_threads, gpu=opts.gpu, time=opts.time,
                          nodes=opts.nodes)
    try:
        if opts.backend == "slurm":
            config = opts.config or ("conf/slurm.conf" if os.path.exists("conf/slurm.conf") else None)
            backend = SlurmBackend(opts.max_jobs, resources, config)
        else:
            backend = BACKENDS[opts.backend](opts.max_jobs, resources)
        results = backend.run(array.jobs(), spool_prefix(array.log_template, array.var))
    except AsrserError as e:
        print(f"asrser-run: {e}", file=sys.stderr)
        return 1
    if any(r.returncode != 0 for r in results):
        print(failure_report(results), file=sys.stderr)
        return 1
    return 0


class JobsFailed(AsrserError):
    """Raised by run_jobs. `summary` is one line naming the failed job and its log, `details` the last lines
    of that log; cli.run prints the details, then the summary as the closing ERROR line."""

    def __init__(self, summary: str, details: str = ""):
        self.summary, self.details = summary, details
        super().__init__(summary if not details else f"{summary}\n{details}")


def run_jobs(cmd: str, log: str | os.PathLike, argv: list, n_jobs: int | str | None = None) -> None:
    """Run `argv` through the runner command `cmd` (as cmd.sh sets it), as jobs 1..n_jobs when given (or a
    range spelled "JOB=a:b").

    Used by the stage programs to fan out; "JOB" in `log` and `argv` is replaced by the job index.
    """
    spec = [] if n_jobs is None else [n_jobs if isinstance(n_jobs, str) else f"JOB=1:{n_jobs}"]
    end_of_options = ["--"] if str(log).startswith("-") else []
    proc = subprocess.run(shlex.split(cmd) + end_of_options + spec + [str(log)] + [str(a) for a in argv],
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        # the runner's report ends with its summary line; what comes before are the log's last lines
        *details, summary = proc.stderr.strip().splitlines() or [f"{cmd} exited with code {proc.returncode}"]
        raise JobsFailed(summary.removeprefix("asrser-run: "), "\n".join(details))


__all__ = ["Backend", "BACKENDS", "Job", "JobResult", "JobsFailed", "LocalBackend", "Resources", "SlurmBackend",
           "main", "run_jobs", "parse_job_array", "job_pattern", "failure_report", "failure_summary"]
