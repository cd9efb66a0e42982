"""Runs jobs on a Slurm cluster: one `sbatch --array` per call (Kaldi's slurm.pl).

Each call writes, next to its logs in log/q/ (Kaldi's q/ directory): <name>.sh, the batch script;
<name>.jobs.json, the command and log of every job; <name>.<task>.out, what Slurm itself captured (empty unless
the task could not start). A task runs its job through this module's task_main, which frames the job's log as
the local backend does and writes a done-file holding the exit code; the caller waits for the done-files and
asks squeue (sacct needs slurmdbd, which small clusters lack) about tasks that left the queue without one.
Killing the caller cancels the array (scancel). Every node must see the same paths (a shared filesystem) and
the same venv, as Kaldi assumes.

sbatch options come from a config file in the format of Kaldi's conf/queue.conf (default conf/slurm.conf when
it exists; its lines replace the built-in ones below of the same option and value):

    command sbatch --export=ALL          # the submit command and the options every job gets (e.g. -p cpu)
    option mem=* --mem=$0                # --mem 4G -> sbatch --mem=4G ($0 is the value)
    option gpu=0                         # --gpu 0 -> nothing
    option gpu=* --gres=gpu:$0 -p gpu    # --gpu N -> ...
    default gpu=0                        # the value when the option is not given
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..errors import AsrserError
from ..fileio import atomic_write
from .base import Backend, Job, JobResult, Resources
from .local import Children, StopSignals, run_logged, thread_environment

DEFAULT_CONFIG = """\
command sbatch --export=ALL
option mem=* --mem=$0
option num_threads=* --cpus-per-task=$0
default gpu=0
option gpu=0
option gpu=* --gres=gpu:$0
option time=* --time=$0
default nodes=1
option nodes=1
option nodes=* --nodes=$0 --ntasks-per-node=1
"""
OPTION_NAMES = ("mem", "num_threads", "gpu", "time", "nodes")

# squeue states of a task that has ended; any other state (PENDING, RUNNING, COMPLETING, ...) is still active.
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
            "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"}
# States worth naming in a failure report (a plain FAILED is the job's own exit code).
NOTABLE = FINISHED - {"COMPLETED", "FAILED"}


@dataclasses.dataclass
class SlurmConfig:
    """A parsed conf/slurm.conf: the submit command and the sbatch options of each option value."""

    command: list[str]
    options: dict[tuple[str, str], str]      # (name, value or "*") -> sbatch options, "$0" for the value
    defaults: dict[str, str]
    source: str = "the built-in Slurm config"

    @classmethod
    def load(cls, path: str | os.PathLike | None) -> "SlurmConfig":
        config = cls([], {}, {})
        config._read(DEFAULT_CONFIG, "the built-in Slurm config")
        if path is not None:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as e:
                raise AsrserError(f"{path}: cannot read the Slurm config ({e.strerror})") from None
            config._read(text, str(path))
            config.source = str(path)
        return config

    def _read(self, text: str, source: str) -> None:
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            keyword, _, rest = line.partition(" ")
            name, eq, value_and_args = rest.strip().partition("=")
            value, _, args = value_and_args.partition(" ")
            if keyword == "command" and rest.strip():
                self.command = shlex.split(rest)
            elif keyword in ("option", "default") and eq and name in OPTION_NAMES and value:
                if keyword == "default":
                    self.defaults[name] = value
                else:
                    self.options[(name, value)] = args.strip()
            else:
                known = ", ".join(OPTION_NAMES)
                raise AsrserError(f"{source}:{number}: cannot parse {line!r} (expected 'command sbatch ...', "
                                  f"'option NAME=VALUE|* sbatch-options' or 'default NAME=VALUE'; names: {known})")

    def sbatch_options(self, resources: Resources) -> list[str]:
        """The submit command with the options that `resources` map to."""
        args = list(self.command)
        for name in OPTION_NAMES:
            value = getattr(resources, name)
            value = self.defaults.get(name) if value is None else str(value)
            if value is None:
                continue
            mapped = self.options.get((name, value), self.options.get((name, "*")))
            if mapped is None:
                raise AsrserError(f"{self.source} has no line for --{name.replace('_', '-')} {value} "
                                  f"(add 'option {name}=* ...$0...')")
            args += shlex.split(mapped.replace("$0", value))
        return args


def spool_prefix(log_template: str | os.PathLike, var: str | None) -> Path:
    """Where a call keeps its batch script and done-files: <first log dir without the job variable>/q/<name>,
    the name being the rest of the log path without the variable (exp/mono/log/acc.1.JOB.log ->
    exp/mono/log/q/acc.1)."""
    from . import job_pattern

    parts = Path(log_template).parts
    pattern = job_pattern(var) if var else None
    fixed = 0
    while fixed < len(parts) - 1 and not (pattern and pattern.search(parts[fixed])):
        fixed += 1
    rest = ".".join(parts[fixed:])
    if pattern:
        rest = pattern.sub("", rest)
    rest = rest.removesuffix(".log").replace("..", ".").strip(".") or "job"
    return Path(*parts[:fixed], "q", rest) if fixed else Path("q", rest)


class SlurmBackend(Backend):
    """One sbatch job array per call; waits on done-files and squeue; scancel when the caller is stopped."""

    first_poll = 0.05          # seconds between looks for done-files, growing to max_poll
    max_poll = 1.0
    first_squeue = 1.0         # seconds between squeue calls, growing to max_squeue
    max_squeue = 30.0
    grace = 3.0                # seconds a task may be gone from the queue before its done-file shows
    nfs_grace = 60.0           # ... when Slurm says it completed (shared filesystems may show files late)

    def __init__(self, max_jobs: int | None = None, resources: Resources = Resources(),
                 config: str | os.PathLike | None = None):
        super().__init__(max_jobs, resources)
        self.config = SlurmConfig.load(config)

    def run(self, jobs: list[Job], spool: Path | None = None) -> list[JobResult]:
        for tool in ("sbatch", "squeue", "scancel"):
            if shutil.which(self.config.command[0] if tool == "sbatch" else tool) is None:
                raise AsrserError(f"the Slurm backend needs Slurm's {tool} on this machine (package slurm-client)")
        tasks = {job.index if job.index is not None else 1: job for job in jobs}
        first, last = min(tasks), max(tasks)
        spool = (spool or jobs[0].log.parent / "q" / jobs[0].log.stem).absolute()
        spool.parent.mkdir(parents=True, exist_ok=True)
        for stale in spool.parent.glob(f"{spool.name}.done.*"):
            stale.unlink()
        array = f"--array={first}-{last}" + (f"%{self.max_jobs}" if self.max_jobs else "")
        submit = self._write_script(tasks, spool, array)
        array_id = self._submit(submit, f"the job of {jobs[0].log}" if len(jobs) == 1 else
                                f"the {len(jobs)} jobs logged in {jobs[0].log.parent}")
        try:
            with StopSignals():
                results = self._wait(array_id, tasks, spool)
        except BaseException:
            self._cancel(array_id)
            raise
        finally:
            for done in spool.parent.glob(f"{spool.name}.done.{array_id}.*"):
                done.unlink(missing_ok=True)
        return [results[job.index if job.index is not None else 1] for job in jobs]

    def _write_script(self, tasks: dict[int, Job], spool: Path, array: str) -> list[str]:
        """Writes the batch script and the jobs it runs; returns the sbatch command that submits them."""
        jobs_json = spool.with_name(spool.name + ".jobs.json")
        with atomic_write(jobs_json) as f:
            json.dump({"num_threads": self.resources.num_threads,
                       "jobs": {str(t): {"argv": job.argv, "log": str(job.log.absolute())}
                                for t, job in tasks.items()}}, f, indent=1)
        script = spool.with_name(spool.name + ".sh")
        output = str(spool).replace("%", "%%") + ".%a.out"             # %a: the task (Slurm's file name pattern)
        submit = [*self.config.sbatch_options(self.resources), f"--job-name={spool.name}", f"--output={output}",
                  "--open-mode=append", "--parsable", f"--chdir={os.getcwd()}", array, str(script)]
        q = shlex.quote
        logs = " ".join(f"[{t}]={q(str(job.log.absolute()))}" for t, job in tasks.items())
        done = f"{q(str(spool))}.done.$SLURM_ARRAY_JOB_ID.$SLURM_ARRAY_TASK_ID"
        with atomic_write(script) as f:
            f.write(f"""#!/bin/bash
# A Slurm job array of asrser-run: task N runs job N of {q(str(jobs_json))} and writes its exit code to a
# done-file. Submitted with:
#   {shlex.join(submit)}
python={q(sys.executable)}
declare -A logs=({logs})
log=${{logs[$SLURM_ARRAY_TASK_ID]}}
done_file={done}
if [ ! -x "$python" ]; then
  mkdir -p "$(dirname "$log")"
  echo "asrser-run: cannot execute $python on $(hostname): every node needs the toolkit and its venv" \\
    "at the same path (a filesystem shared by all nodes)" > "$log"
  echo 127 > "$done_file.tmp" && mv "$done_file.tmp" "$done_file"
  exit 127
fi
exec "$python" -c 'import sys; from asrser.runner.slurm import task_main; sys.exit(task_main())' \\
  {q(str(jobs_json))} "$SLURM_ARRAY_TASK_ID" "$done_file"
""")
        script.chmod(0o755)
        return submit

    @staticmethod
    def _submit(argv: list[str], what: str) -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        said = " ".join((proc.stderr or proc.stdout).split())
        if proc.returncode != 0:
            raise AsrserError(f"sbatch refused {what} ({said or f'code {proc.returncode}'}); it was called as: "
                              f"{shlex.join(argv)}")
        array_id = proc.stdout.strip().split(";")[0]
        if not array_id.isdigit():
            raise AsrserError(f"sbatch did not print a job id (it said {said!r}); it was called as: {shlex.join(argv)}")
        return array_id

    @staticmethod
    def task_states(array_id: str) -> dict[int, str] | None:
        """{task: state} of the array's tasks that squeue still knows; None when squeue cannot say."""
        proc = subprocess.run(["squeue", "--noheader", "--array", "--states=all", f"--jobs={array_id}",
                               "--format=%K %T"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            return {} if "Invalid job id" in proc.stderr else None
        states = {}
        for line in proc.stdout.splitlines():
            task, _, state = line.strip().partition(" ")
            if task.isdigit():
                states[int(task)] = state.strip()
        return states

    def _wait(self, array_id: str, tasks: dict[int, Job], spool: Path) -> dict[int, JobResult]:
        results: dict[int, JobResult] = {}
        gone_since: dict[int, float] = {}
        poll, squeue_every = self.first_poll, self.first_squeue
        next_squeue = time.monotonic() + squeue_every
        prefix = f"{spool.name}.done.{array_id}."
        while True:
            # one directory listing per look (it also refreshes what a shared filesystem shows)
            for name in os.listdir(spool.parent):
                if name.startswith(prefix) and name[len(prefix):].isdigit():
                    task = int(name[len(prefix):])
                    if task in tasks and task not in results:
                        results[task] = JobResult(tasks[task], _read_code(spool.parent / name))
            if len(results) == len(tasks):
                break
            now = time.monotonic()
            if now >= next_squeue:
                squeue_every = min(squeue_every * 1.5, self.max_squeue)
                next_squeue = now + squeue_every
                states = self.task_states(array_id)
                for task in sorted(set(tasks) - set(results)):
                    state = None if states is None else states.get(task, "GONE")
                    if state is None or state not in FINISHED | {"GONE"}:
                        gone_since.pop(task, None)
                        continue
                    since = gone_since.setdefault(task, now)
                    if now - since > (self.nfs_grace if state == "COMPLETED" else self.grace):
                        results[task] = self._unfinished(array_id, task, tasks[task], spool, state)
                if gone_since:
                    next_squeue = min(next_squeue, now + self.first_squeue)
            time.sleep(poll)
            poll = min(poll * 1.2, self.max_poll)
        failed = [t for t, r in results.items() if r.returncode != 0 and not r.detail]
        if failed:
            # a task writes its done-file before it leaves the queue: wait (briefly) for its final state
            deadline = time.monotonic() + self.grace
            while (states := self.task_states(array_id) or {}) and time.monotonic() < deadline and \
                    any(states.get(t, "GONE") not in FINISHED | {"GONE"} for t in failed):
                time.sleep(0.1)
            for t in failed:
                if states.get(t) in NOTABLE:
                    results[t].detail = f"Slurm job {array_id}_{t}: {states[t]}"
        return results

    @staticmethod
    def _unfinished(array_id: str, task: int, job: Job, spool: Path, state: str) -> JobResult:
        """A task that left the queue without a done-file: killed (time or memory limit, scancel --signal=KILL,
        node failure) or unable to start (a directory or the venv missing on its node)."""
        how = "no longer known to squeue" if state == "GONE" else state
        slurm_output = Path(f"{spool}.{task}.out")
        if not job.log.exists() and slurm_output.exists():
            job = dataclasses.replace(job, log=slurm_output)
        return JobResult(job, None, f"Slurm job {array_id}_{task}: {how}, without writing its done-file")

    def _cancel(self, array_id: str, wait: float = 30.0) -> None:
        """scancel the array and wait (at most `wait` seconds) until its tasks have ended, so that a re-run does
        not meet them still writing."""
        subprocess.run(["scancel", array_id], capture_output=True, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            states = self.task_states(array_id)
            if states is not None and all(s in FINISHED for s in states.values()):
                return
            time.sleep(0.2)


def _read_code(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except ValueError:
        return 1


def task_main(argv: list[str] | None = None) -> int:
    """One array task: run job <task> of <jobs.json> with its log framed as locally, then write <done-file>."""
    jobs_json, task, done_file = argv if argv is not None else sys.argv[1:]
    spec = json.loads(Path(jobs_json).read_text())
    entry = spec["jobs"][task]
    job = Job(int(task), entry["argv"], Path(entry["log"]))
    threads = spec["num_threads"]
    env = thread_environment(dict(os.environ), threads or int(os.environ.get("SLURM_CPUS_PER_TASK", 1)),
                             override=threads is not None)
    children = Children()

    def stop(signum, frame):      # scancel: the job gets the signal too; wait for it, then record its code
        children.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    where = f"# Running on {socket.gethostname()} as Slurm job {os.environ.get('SLURM_ARRAY_JOB_ID')}_{task}\n"
    code = run_logged(job, env, children.start, host_line=where)
    with atomic_write(done_file) as f:
        f.write(f"{code}\n")
    return 0 if code == 0 else 1
