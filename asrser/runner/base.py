"""The backend interface: run a list of jobs, each writing its own log, and report exit codes."""

from __future__ import annotations

import abc
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
    returncode: int


class Backend(abc.ABC):
    def __init__(self, max_jobs: int):
        if max_jobs < 1:
            raise ValueError(f"--max-jobs must be at least 1, got {max_jobs}")
        self.max_jobs = max_jobs

    @abc.abstractmethod
    def run(self, jobs: list[Job]) -> list[JobResult]:
        """Run every job to completion (or failure) and return their results in job order."""
