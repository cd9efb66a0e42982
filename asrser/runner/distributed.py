"""Data-parallel training processes: torchrun on this machine, or one torchrun per node through srun inside a
Slurm job (which is how a job of the Slurm backend with --nodes N trains on N machines).

A stage program that trains with --nproc N calls launch(its own command line, N); the processes it starts see
RANK and WORLD_SIZE and train, the trainer (asrser.nnet.train) doing the rest. Each process gets its share of
the job's threads, so that N processes do not each start one per core.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import uuid

from ..errors import AsrserError
from .local import THREAD_VARS, thread_environment


def is_rank() -> bool:
    """Whether this process is one of the processes that launch() started."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def in_slurm_job() -> bool:
    return "SLURM_JOB_ID" in os.environ and shutil.which("srun") is not None


def job_nodes() -> int:
    """The number of machines of the Slurm job this process runs in (1 outside Slurm)."""
    return int(os.environ.get("SLURM_JOB_NUM_NODES", 1)) if in_slurm_job() else 1


def _threads_per_process(nproc: int) -> int:
    total = int(os.environ.get(THREAD_VARS[0], 0)) or len(os.sched_getaffinity(0))
    return max(1, total // nproc)


def launch(argv: list[str], nproc: int) -> None:
    """Run the Python program `argv` (its path and arguments) as nproc processes on each node of this job;
    AsrserError when one of them fails (its own error is in the output above)."""
    env = thread_environment(dict(os.environ), _threads_per_process(nproc), override=True)
    if not in_slurm_job():
        os.environ.update(env)
        run_on_node(argv, nproc)
        return
    nodes = job_nodes()
    head = subprocess.run(["scontrol", "show", "hostnames", os.environ["SLURM_JOB_NODELIST"]], capture_output=True,
                          text=True).stdout.split()
    head = head[0] if head else socket.gethostname()
    with socket.socket() as s:          # this job runs on the first node of its allocation: a free port there
        s.bind(("", 0))
        port = s.getsockname()[1]
    cpus = [f"--cpus-per-task={os.environ['SLURM_CPUS_PER_TASK']}"] if "SLURM_CPUS_PER_TASK" in os.environ else []
    command = ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1", *cpus, "--kill-on-bad-exit=1",
               sys.executable, "-c", "from asrser.runner.distributed import node_main; node_main()",
               str(nodes), str(nproc), f"{head}:{port}", os.environ["SLURM_JOB_ID"], *argv]
    code = subprocess.run(command, env=env, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        raise AsrserError(f"the training processes on {nodes} node{'s' if nodes > 1 else ''} failed "
                          f"(srun exited with code {code}; the error is above)")


def run_on_node(argv: list[str], nproc: int, nodes: int = 1, endpoint: str = "localhost:0",
                run_id: str | None = None) -> None:
    """torchrun's launcher on this node: nproc processes of the Python program `argv`, meeting the other nodes'
    at `endpoint` (c10d rendezvous; localhost:0 on one node is torchrun --standalone). A failed process is an
    AsrserError naming it, not torchrun's traceback."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)    # its failure report is ours
    config = LaunchConfig(min_nodes=nodes, max_nodes=nodes, nproc_per_node=nproc, rdzv_backend="c10d",
                          rdzv_endpoint=endpoint, run_id=run_id or str(uuid.uuid4()), max_restarts=0)
    try:
        elastic_launch(config, sys.executable)(*argv)
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()      # the first to fail; torchrun then stops the others
        raise AsrserError(f"training process {rank} on {socket.gethostname()} exited with code {failure.exitcode} "
                          "(its error is above)") from None


def node_main() -> None:
    """What srun runs on each node: NODES NPROC ENDPOINT RUN_ID PROGRAM [ARG ...]."""
    nodes, nproc, endpoint, run_id, *argv = sys.argv[1:]
    try:
        run_on_node(argv, int(nproc), int(nodes), endpoint, run_id)
    except AsrserError as e:
        print(f"ERROR (torchrun): {e}", file=sys.stderr)
        sys.exit(1)
