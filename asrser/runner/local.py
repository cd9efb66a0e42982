"""Runs jobs as child processes of this machine, at most max_jobs at a time (Kaldi's run.pl).

Each job runs in a worker thread of a concurrent.futures pool that waits on its process; --gpu N gives every
running job N GPUs of its own (CUDA_VISIBLE_DEVICES), handed out from a pool of free ones as jobs finish.
"""

from __future__ import annotations

import datetime
import os
import queue
import shlex
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

from ..errors import AsrserError
from .base import Backend, Job, JobResult

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _now() -> str:
    return datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Y")


def thread_environment(env: dict[str, str], threads: int, override: bool) -> dict[str, str]:
    """env with the thread counts of numpy/torch (OpenMP, MKL, OpenBLAS) set to `threads`; with override=False
    the counts the user set stay (the default share of the cores is only a default), and the first of them
    also stands for the libraries the user left unset: mixed counts (OMP at 1, MKL at the share) change a net's
    floating-point sums as another thread count does."""
    env = dict(env)
    if not override:
        threads = next((env[var] for var in THREAD_VARS if var in env), threads)
    for var in THREAD_VARS:
        if override or var not in env:
            env[var] = str(threads)
    return env


def visible_gpus(environ: dict[str, str] | os._Environ = os.environ) -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES when set (up to an invalid entry, where CUDA
    stops reading it), else every GPU the NVIDIA driver lists."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        devices = []
        for d in environ["CUDA_VISIBLE_DEVICES"].split(","):
            d = d.strip()
            if not d or d.startswith("-") or d == "NoDevFiles":
                break
            devices.append(d)
        return devices
    driver = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(driver.iterdir())))] if driver.is_dir() else []


def run_logged(job: Job, env: dict[str, str], start: Callable[..., subprocess.Popen | None] = subprocess.Popen,
               host_line: str = "") -> int:
    """Run one job with its output in its log, framed as Kaldi's run.pl frames it (the command, start time,
    accounting, exit code); returns the exit code (127 when the command cannot be executed). `start` may
    return None to refuse starting (the runner is being stopped)."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "w", encoding="utf-8") as log:
        command = shlex.join(job.argv).replace("\n", "\\n")   # one header line, even if an argument has a newline
        log.write(f"# {command}\n{host_line}# Started at {_now()}\n#\n")
        log.flush()
        started = time.time()
        try:
            proc = start(job.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            if proc is None:
                log.write("asrser-run: not started: the runner was stopped\n")
                code = 128 + signal.SIGTERM
            else:
                code = proc.wait()
        except OSError as e:   # command not found, not executable
            log.write(f"asrser-run: cannot execute {job.argv[0]!r}: {e}\n")
            code = 127
        elapsed = time.time() - started
        log.write(f"# Accounting: time={elapsed:.0f} threads={env.get(THREAD_VARS[0], 1)}\n"
                  f"# Ended (code {code}) at {_now()}, elapsed time {elapsed:.0f} seconds\n")
    return code


class Children:
    """The running child processes, so that a stop can terminate them and no new one starts after it."""

    def __init__(self):
        self._lock = threading.RLock()      # stop() may run in a signal handler while start() holds it
        self._running: set[subprocess.Popen] = set()
        self.stopped = False

    def start(self, argv, **kwargs) -> subprocess.Popen | None:
        with self._lock:
            if self.stopped:
                return None
            proc = subprocess.Popen(argv, **kwargs)
            self._running.add(proc)
            if self.stopped:                     # stopped by a signal handler while it was starting
                proc.terminate()
            return proc

    def forget(self, proc: subprocess.Popen | None) -> None:
        with self._lock:
            self._running.discard(proc)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for proc in self._running:
                proc.terminate()


class StopSignals:
    """While active (in the main thread only), SIGTERM, SIGINT and SIGHUP raise SystemExit(128 + signal) so
    that the runner can stop its jobs before it exits; the previous handlers are restored afterwards."""

    def __enter__(self):
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self.previous[s] = signal.signal(s, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)


class LocalBackend(Backend):
    def _gpu_slots(self, n_jobs: int) -> list[str] | None:
        """CUDA_VISIBLE_DEVICES of each concurrent job with --gpu N: N GPUs of its own, or None without --gpu."""
        per_job = self.resources.gpu
        if not per_job:
            return None
        gpus = visible_gpus()
        if len(gpus) < per_job:
            raise AsrserError(f"--gpu {per_job}: {socket.gethostname()} has {len(gpus) or 'no'} GPU"
                              f"{'' if len(gpus) == 1 else 's'} (CUDA_VISIBLE_DEVICES or the NVIDIA driver)")
        return [",".join(gpus[i:i + per_job]) for i in range(0, len(gpus) - per_job + 1, per_job)]

    def run(self, jobs: list[Job], spool: Path | None = None) -> list[JobResult]:
        if self.resources.nodes > 1:
            raise AsrserError(f"--nodes {self.resources.nodes}: the local backend runs jobs on this machine only "
                              "(use the Slurm backend)")
        slots = self._gpu_slots(len(jobs))
        workers = min(self.max_jobs or os.cpu_count() or 1, len(jobs), len(slots) if slots else len(jobs))
        # Parallel jobs share the cores: unless the user set thread counts (or --num-threads), give each job its
        # share so that N numpy/torch jobs do not each start one thread per core.
        threads = self.resources.num_threads
        env = thread_environment(dict(os.environ), threads or max(1, (os.cpu_count() or 1) // workers),
                                 override=threads is not None)
        free_slots: queue.SimpleQueue[str] = queue.SimpleQueue()
        for slot in slots or []:
            free_slots.put(slot)
        children = Children()

        def run_one(job: Job) -> int:
            slot = free_slots.get() if slots else None
            started: list[subprocess.Popen | None] = []

            def start(argv, **kwargs):
                started.append(children.start(argv, **kwargs))
                return started[-1]
            try:
                job_env = env if slot is None else {**env, "CUDA_VISIBLE_DEVICES": slot}
                return run_logged(job, job_env, start)
            finally:
                children.forget(started[0] if started else None)
                if slot is not None:
                    free_slots.put(slot)

        # A pool of threads, each waiting on one job's process, instead of a polling loop; a stop signal
        # terminates the running jobs, and no queued job starts after it.
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asrser-job")
        try:
            with StopSignals():
                futures = [pool.submit(run_one, job) for job in jobs]
                # Wake up twice a second: Python runs a signal's handler in the main thread only when that thread
                # runs bytecode, and a stop signal the kernel hands to a job's thread would otherwise wait for
                # the main thread's blocking result() (seen under load: SIGTERM left the jobs running).
                while wait(futures, timeout=0.5).not_done:
                    pass
                codes = [f.result() for f in futures]
        except BaseException:
            children.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        return [JobResult(job, code) for job, code in zip(jobs, codes)]
