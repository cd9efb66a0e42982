"""cmd.sh: the job runners of the recipes (train_cmd, decode_cmd, cuda_cmd), local or Slurm."""

import os
import subprocess

from helpers import REPO, STEPS


def commands(backend: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ASRSER_BACKEND"}
    if backend is not None:
        env["ASRSER_BACKEND"] = backend
    return subprocess.run(["bash", "-c", f'. "{REPO}/cmd.sh" && echo "$train_cmd|$decode_cmd|$cuda_cmd"'],
                          capture_output=True, text=True, env={**env, "PATH": f"/nonexistent:{env['PATH']}"})


def test_cmd_sh_chooses_the_backend():
    local = commands(None)
    assert local.returncode == 0, local.stderr
    assert all(cmd.startswith("asrser-run --backend local --max-jobs ") for cmd in local.stdout.strip().split("|"))
    slurm = commands("slurm").stdout.strip().split("|")
    assert slurm[0] == "asrser-run --backend slurm --mem 2G" and slurm[1] == "asrser-run --backend slurm --mem 4G"
    assert slurm[2].startswith("asrser-run --backend slurm ")
    wrong = commands("sge")
    assert wrong.returncode == 1 and wrong.stderr.strip() == (
        "cmd.sh: unknown backend 'sge' (ASRSER_BACKEND): local or slurm")


def test_a_data_parallel_training_asks_the_runner_for_its_gpus_and_cpus():
    def resources(*args: int) -> str:
        script = f'. "{STEPS}/recipe.sh" && echo $(training_resources {" ".join(map(str, args))})'
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert resources(0, 1, 1) == ""                      # one process: cuda_cmd's own choice
    assert resources(2, 1, 1) == "--gpu 2 --num-threads 2"
    assert resources(0, 4, 1) == "--gpu 0 --num-threads 4"
    assert resources(1, 1, 3) == "--gpu 1 --num-threads 1 --nodes 3"
