"""The backend interface: run a list of jobs, each writing its own log, and report exit codes."""

from __future__ import annotations

import abc
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Job:
    index: int | None          # None for a single job without a JOB=a:b range
    argv: list[str]
    log: Path


@dataclass
class JobResult:
    job: Job
    returncode: int | None     # None: the job ended without an exit code (e.g. killed with its runner)
    detail: str = ""           # what the backend knows beyond the exit code, e.g. "Slurm job 45_2: CANCELLED"


@dataclass(frozen=True)
class Resources:
    """What every job of one call asks for (Kaldi's queue options). None: not asked for (the backend's default)."""

    mem: str | None = None             # memory of one job, e.g. 4G
    num_threads: int | None = None     # CPU threads of one job
    gpu: int = 0                       # GPUs of one job (each job sees only its own)
    time: str | None = None            # time limit of one job, as sbatch --time takes it (e.g. 4:00:00)
    nodes: int = 1                     # machines of one job (multi-node training)


class Backend(abc.ABC):
    def __init__(self, max_jobs: int | None = None, resources: Resources = Resources()):
        if max_jobs is not None and max_jobs < 1:
            raise ValueError(f"--max-jobs must be at least 1, got {max_jobs}")
        self.max_jobs = max_jobs
        self.resources = resources

    @abc.abstractmethod
    def run(self, jobs: list[Job], spool: Path | None = None) -> list[JobResult]:
        """Run every job to completion (or failure) and return their results in job order. `spool` is where a
        queueing backend may keep its scripts and done-files for this call (a path prefix, e.g.
        exp/mono/log/q/acc.1)."""


def describe_exit(code: int | None) -> str:
    """'exited with code 3', 'was killed by SIGTERM' for a negative (signal) code, 'did not finish' for None."""
    if code is None:
        return "did not finish"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"
