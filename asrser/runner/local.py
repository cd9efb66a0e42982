"""Runs jobs as child processes of this machine, at most max_jobs at a time (Kaldi's run.pl)."""

from __future__ import annotations

import datetime
import os
import shlex
import signal
import subprocess
import time

from .base import Backend, Job, JobResult

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _now() -> str:
    return datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Y")


class LocalBackend(Backend):
    poll_seconds = 0.02

    def _environment(self, n_parallel: int) -> dict[str, str]:
        # Parallel jobs share the cores: unless the user set thread counts, give each job its share so
        # that N numpy/torch jobs do not each start one thread per core.
        env = dict(os.environ)
        threads = str(max(1, (os.cpu_count() or 1) // n_parallel))
        for var in _THREAD_VARS:
            env.setdefault(var, threads)
        return env

    def _start(self, job: Job, env: dict[str, str]) -> tuple[subprocess.Popen | None, object, float]:
        job.log.parent.mkdir(parents=True, exist_ok=True)
        log = open(job.log, "w", encoding="utf-8")
        command = shlex.join(job.argv).replace("\n", "\\n")     # one header line, even if an argument has a newline
        log.write(f"# {command}\n# Started at {_now()}\n#\n")
        log.flush()
        try:
            proc = subprocess.Popen(job.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env)
        except OSError as e:   # command not found, not executable
            log.write(f"asrser-run: cannot execute {job.argv[0]!r}: {e}\n")
            proc = None
        return proc, log, time.time()

    @staticmethod
    def _finish(log, code: int, started: float) -> None:
        elapsed = time.time() - started
        log.write(f"# Accounting: time={elapsed:.0f} threads=1\n"
                  f"# Ended (code {code}) at {_now()}, elapsed time {elapsed:.0f} seconds\n")
        log.close()

    def run(self, jobs: list[Job]) -> list[JobResult]:
        env = self._environment(min(self.max_jobs, len(jobs)))
        pending = list(jobs)
        running: list[tuple[Job, subprocess.Popen, object, float]] = []
        codes: dict[int, int] = {}
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

        def stop_children(signum, frame):
            for _, proc, _, _ in running:
                proc.terminate()
            raise SystemExit(128 + signum)

        for s in previous:
            signal.signal(s, stop_children)
        try:
            while pending or running:
                while pending and len(running) < self.max_jobs:
                    job = pending.pop(0)
                    proc, log, started = self._start(job, env)
                    if proc is None:
                        self._finish(log, 127, started)
                        codes[id(job)] = 127
                    else:
                        running.append((job, proc, log, started))
                still = []
                for job, proc, log, started in running:
                    code = proc.poll()
                    if code is None:
                        still.append((job, proc, log, started))
                    else:
                        self._finish(log, code, started)
                        codes[id(job)] = code
                if len(still) == len(running) and running:
                    time.sleep(self.poll_seconds)
                running = still
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return [JobResult(job, codes[id(job)]) for job in jobs]
