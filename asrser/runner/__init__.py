"""Parallel jobs with Kaldi run.pl semantics behind a backend interface.

    asrser-run [--backend local] [--max-jobs N] [JOB=1:N] LOG COMMAND [ARG ...]

runs COMMAND once per job index with every "JOB" in LOG and the arguments replaced by the index, each
job's output in its own log. The command is executed directly, never through a shell, so arguments with
spaces or quotes arrive as they were given. When a job fails, the runner exits non-zero and prints the
failing job's log path and its last lines. Backends are chosen by name (cmd.sh sets it); a cluster backend
subclasses Backend and registers itself in BACKENDS.
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

from .base import Backend, Job, JobResult
from .local import LocalBackend

BACKENDS: dict[str, type[Backend]] = {"local": LocalBackend}

_JOB_SPEC = re.compile(r"^([A-Z][A-Z0-9_]*)=(\d+):(\d+)$")


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
        return [Job(i, [a.replace(self.var, str(i)) for a in self.argv_template],
                    Path(self.log_template.replace(self.var, str(i))))
                for i in range(self.first, self.last + 1)]


def parse_job_array(args: list[str]) -> JobArray:
    """Parse `[JOB=a:b] LOG COMMAND ARGS...` as Kaldi's run.pl does."""
    var, first, last = None, 1, 1
    if args and (m := _JOB_SPEC.match(args[0])):
        var, first, last = m.group(1), int(m.group(2)), int(m.group(3))
        if first > last:
            raise ValueError(f"empty job range {args[0]}")
        args = args[1:]
    if len(args) < 2:
        raise ValueError("expected a log file and a command")
    log = args[0]
    if var is not None and var not in log:
        raise ValueError(f"the log file {log} must contain {var} so that each job has its own log")
    return JobArray(var, first, last, log, args[1:])


def tail(path: Path, n: int = 20) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log was written)"
    return "\n".join("    " + line for line in lines[-n:])


def failure_report(results: list[JobResult], n_lines: int = 20) -> str:
    """One paragraph naming the failed jobs, with the first failure's log path and its last lines."""
    failed = [r for r in results if r.returncode != 0]
    first = failed[0]
    which = "the job" if first.job.index is None else f"job {first.job.index}"
    others = "" if len(failed) == 1 else (
        " Other failed jobs: " + ", ".join(str(r.job.index) for r in failed[1:]) + ".")
    return (f"{len(failed)} of {len(results)} jobs failed: {which} exited with code {first.returncode}; "
            f"its log is {first.job.log}.{others}\nLast lines of {first.job.log}:\n{tail(first.job.log, n_lines)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="asrser-run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local", choices=sorted(BACKENDS))
    parser.add_argument("--max-jobs", type=int, default=os.cpu_count() or 1,
                        help="at most this many jobs at once (default: the number of CPUs)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="[JOB=a:b] LOG COMMAND [ARG ...]")
    opts = parser.parse_args(argv)
    try:
        array = parse_job_array(opts.rest)
    except ValueError as e:
        parser.error(str(e))
    backend = BACKENDS[opts.backend](max_jobs=opts.max_jobs)
    results = backend.run(array.jobs())
    if any(r.returncode != 0 for r in results):
        print(f"asrser-run: {failure_report(results)}", file=sys.stderr)
        return 1
    return 0


class JobsFailed(RuntimeError):
    """Raised by run_jobs; its message is the runner's report (failed job, log path, last lines)."""


def run_jobs(cmd: str, log: str | os.PathLike, argv: list, n_jobs: int | str | None = None) -> None:
    """Run `argv` through the runner command `cmd` (as cmd.sh sets it), as jobs 1..n_jobs when given (or a
    range spelled "JOB=a:b").

    Used by the stage programs to fan out; "JOB" in `log` and `argv` is replaced by the job index.
    """
    spec = [] if n_jobs is None else [n_jobs if isinstance(n_jobs, str) else f"JOB=1:{n_jobs}"]
    proc = subprocess.run(shlex.split(cmd) + spec + [str(log)] + [str(a) for a in argv],
                          stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise JobsFailed(proc.stderr.strip().removeprefix("asrser-run: ") or
                         f"{cmd} exited with code {proc.returncode}")


__all__ = ["Backend", "BACKENDS", "Job", "JobResult", "JobsFailed", "LocalBackend", "main", "run_jobs",
           "parse_job_array", "failure_report"]
