"""The Slurm backend on a real one-node cluster (Debian's slurm-wlm, installed and started here as root by
tools/slurm_one_node.py; skipped with the reason otherwise): job arrays, failures named as locally, cancelling,
and stage programs whose outputs through Slurm equal the local backend's. Also its config, without a cluster."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asrser.errors import AsrserError
from asrser.runner import Resources
from asrser.runner.slurm import DEFAULT_CONFIG, SlurmConfig, spool_prefix
from helpers import REPO, run_step

BIN = Path(sys.executable).parent
LOCAL = f"{BIN / 'asrser-run'} --backend local --max-jobs 2"
SLURM = f"{BIN / 'asrser-run'} --backend slurm"


# -- without a cluster -------------------------------------------------------------------------------------

def test_options_map_to_sbatch_options_through_the_config(tmp_path):
    builtin = SlurmConfig.load(None)
    assert builtin.sbatch_options(Resources()) == ["sbatch", "--export=ALL"]
    assert builtin.sbatch_options(Resources(mem="4G", num_threads=2, gpu=1, time="1:00:00", nodes=2)) == [
        "sbatch", "--export=ALL", "--mem=4G", "--cpus-per-task=2", "--gres=gpu:1", "--time=1:00:00", "--nodes=2",
        "--ntasks-per-node=1"]
    conf = tmp_path / "slurm.conf"
    conf.write_text("command sbatch --export=ALL --partition=cpu   # every job\n"
                    "option gpu=* --gres=gpu:$0 --partition=gpu\noption mem=* --mem-per-cpu=$0\n")
    user = SlurmConfig.load(conf)
    assert user.sbatch_options(Resources(mem="2G", gpu=2)) == [
        "sbatch", "--export=ALL", "--partition=cpu", "--mem-per-cpu=2G", "--gres=gpu:2", "--partition=gpu"]
    conf.write_text("option gpu=1 --gres=gpu:1\nsbatch -p x\n")
    with pytest.raises(AsrserError, match=rf"^{re.escape(str(conf))}:2: cannot parse 'sbatch -p x'"):
        SlurmConfig.load(conf)


def test_the_shipped_config_documents_the_built_in_settings():
    """conf/slurm.conf sets nothing itself; its comment block lists the built-in lines, which must not drift."""
    lines = (REPO / "conf/slurm.conf").read_text().splitlines()
    assert all(not line.strip() or line.startswith("#") for line in lines)
    documented = [line[4:] for line in lines if line.startswith("#   ")]
    assert documented[:len(DEFAULT_CONFIG.splitlines())] == DEFAULT_CONFIG.splitlines()


def test_each_call_keeps_its_scripts_in_a_q_dir_beside_its_logs():
    assert spool_prefix("exp/mono/log/acc.1.JOB.log", "JOB") == Path("exp/mono/log/q/acc.1")
    assert spool_prefix("exp/convnet/log/fold.JOB.log", "JOB") == Path("exp/convnet/log/q/fold")
    assert spool_prefix("exp/foldJOB/log/train.log", "JOB") == Path("exp/q/fold.log.train")
    assert spool_prefix("train.log", None) == Path("q/train")


# -- on a one-node cluster ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-node Slurm cluster for this module's tests (SLURM_CONF points at it), torn down afterwards."""
    from slurm_one_node import ClusterError, OneNodeCluster, install

    if os.geteuid() != 0:
        pytest.skip("the one-node Slurm cluster needs root (slurmd starts jobs as their users)")
    try:
        install()
    except ClusterError as e:
        pytest.skip(str(e))
    one_node = OneNodeCluster(tmp_path_factory.mktemp("slurm"))
    try:
        one_node.start()
    except ClusterError as e:
        pytest.fail(f"the one-node Slurm cluster did not start: {e}")
    previous = os.environ.get("SLURM_CONF")
    os.environ.update(one_node.env)
    yield one_node
    one_node.stop()
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous


def run(cmd: str, *args, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd.split(), *map(str, args)], cwd=cwd, capture_output=True, text=True, **kwargs)


def payload(log: Path) -> list[str]:
    """A job's output without the runner's framing lines (which name the host, times and Slurm job)."""
    return [line for line in log.read_text().splitlines() if not line.startswith("#")]


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def slurm_job_of(log: Path) -> str:
    """The Slurm job id of an array, from the header of one of its task logs."""
    return re.search(r"as Slurm job (\d+)_", log.read_text()).group(1)


@pytest.mark.slurm
def test_one_array_per_call_with_a_log_per_job(tmp_path, cluster):
    script = "import os, sys; print('job', sys.argv[1], 'threads', os.environ['OMP_NUM_THREADS'])"
    for name, cmd in (("local", LOCAL), ("slurm", SLURM)):
        (tmp_path / name).mkdir()
        start = time.monotonic()
        out = run(cmd, "--max-jobs", 2, "--num-threads", 2, "JOB=1:3", "log/x.JOB.log", sys.executable, "-c", script,
                  "JOB", cwd=tmp_path / name)
        assert out.returncode == 0, out.stderr
        print(f"{name}: 3 jobs in {time.monotonic() - start:.2f} s")
    for j in (1, 2, 3):
        assert payload(tmp_path / f"slurm/log/x.{j}.log") == payload(tmp_path / f"local/log/x.{j}.log") == [
            f"job {j} threads 2"]
    assert "--array=1-3%2 " in (tmp_path / "slurm/log/q/x.sh").read_text()     # --max-jobs: the array's throttle
    assert not list((tmp_path / "slurm/log/q").glob("x.done.*"))                 # the done-files are removed


@pytest.mark.slurm
def test_a_failing_task_is_reported_as_locally(tmp_path, cluster):
    script = "import sys; j = int(sys.argv[1]); print('working on', j); sys.exit(3 if j == 2 else 0)"
    reports = {}
    for name, cmd in (("local", LOCAL), ("slurm", SLURM)):
        (tmp_path / name).mkdir()
        out = run(cmd, "JOB=1:3", "log/x.JOB.log", sys.executable, "-c", script, "JOB", cwd=tmp_path / name)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        reports[name] = out.stderr.strip().splitlines()
        assert "    working on 2" in reports[name]
    assert reports["slurm"][-1] == reports["local"][-1] == (
        "asrser-run: 1 of 3 jobs failed: job 2 exited with code 3; its log is log/x.2.log")


@pytest.mark.slurm
def test_a_cancelled_task_is_named_with_its_log(tmp_path, cluster):
    script = "import sys, time; print('started', flush=True); time.sleep(60 if sys.argv[1] == '2' else 0)"
    caller = subprocess.Popen([*SLURM.split(), "JOB=1:2", "log/c.JOB.log", sys.executable, "-c", script, "JOB"],
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "log/c.2.log"
    wait_for(lambda: log.exists() and "started" in log.read_text(), "job 2 to start")
    array = slurm_job_of(log)
    subprocess.run(["scancel", f"{array}_2"], check=True)
    _, stderr = caller.communicate(timeout=60)
    assert caller.returncode == 1
    assert stderr.strip().splitlines()[-1] == (
        f"asrser-run: 1 of 2 jobs failed: job 2 was killed by SIGTERM (Slurm job {array}_2: CANCELLED); "
        "its log is log/c.2.log")


@pytest.mark.slurm
def test_killing_the_caller_cancels_the_array_and_a_rerun_resumes(tmp_path, cluster):
    """Each job skips what it finished before (as the stage programs do): after the caller is killed, the
    array is gone from the queue, and a re-run does only the unfinished job."""
    script = ("import pathlib, sys, time; out = pathlib.Path('out.' + sys.argv[1])\n"
              "if out.exists(): print('already done'); sys.exit()\n"
              "print('working', flush=True); time.sleep(float(sys.argv[2]) if sys.argv[1] == '2' else 0)\n"
              "out.write_text('done')")
    caller = subprocess.Popen([*SLURM.split(), "JOB=1:2", "log/k.JOB.log", sys.executable, "-c", script, "JOB", "60"],
                              cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "log/k.2.log"
    wait_for(lambda: (tmp_path / "out.1").exists() and log.exists() and "working" in log.read_text(), "job 2")
    array = slurm_job_of(log)
    caller.send_signal(signal.SIGTERM)
    caller.communicate(timeout=60)
    assert caller.returncode == 128 + signal.SIGTERM
    queue = subprocess.run(["squeue", "--noheader", f"--jobs={array}", "--format=%T"], capture_output=True, text=True)
    assert not {"PENDING", "RUNNING", "COMPLETING"} & set(queue.stdout.split()), queue.stdout
    assert "# Ended (code -15)" in log.read_text() and not (tmp_path / "out.2").exists()
    again = run(SLURM, "JOB=1:2", "log/k.JOB.log", sys.executable, "-c", script, "JOB", "0", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert payload(tmp_path / "log/k.1.log") == ["already done"] and (tmp_path / "out.2").exists()


@pytest.mark.slurm
def test_a_node_without_the_venv_is_one_line_naming_the_job_and_its_log(tmp_path, cluster):
    """The runner is started from a venv whose interpreter job 1 removes: job 2 (the array throttled to one
    task at a time) then meets a node without it, as a node without the shared filesystem would."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(BIN.parent / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(BIN.parent / "lib")
    python = venv / "bin/python"
    python.symlink_to(os.path.realpath(sys.executable))
    remove = f"import os; os.remove({str(python)!r}) if os.path.lexists({str(python)!r}) else None"
    out = subprocess.run([str(python), "-c", "import sys; from asrser.runner import main; sys.exit(main())",
                          "--backend", "slurm", "--max-jobs", "1", "JOB=1:2", "log/v.JOB.log",
                          sys.executable, "-c", remove], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        "asrser-run: 1 of 2 jobs failed: job 2 exited with code 127; its log is log/v.2.log")
    assert re.search(rf"cannot execute {re.escape(str(python))} on \S+: every node needs the toolkit and its venv",
                     out.stderr)


@pytest.mark.slurm
def test_a_refused_submission_is_one_line(tmp_path, cluster):
    out = run(SLURM, "--gpu", 1, "JOB=1:2", "log/g.JOB.log", "true", cwd=tmp_path)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("asrser-run: sbatch refused the 2 jobs logged in log (sbatch: error: ")
    assert "--gres=gpu:1" in out.stderr


# -- stage programs through Slurm: the same outputs as through the local backend ---------------------------

SMALL_GMM = "mono: {num_iters: 2, max_iter_inc: 1, total_gauss: 150, realign_iters: [1], seed: 0}\n"
SMALL_NET = ("input: {context: 2, dim: 13}\nlayers:\n  - {type: fc, units: 32}\n  - {type: output}\n"
             "training: {batch_size: 64, max_epochs: 2, min_epochs: 1, precision: fp32, seed: 0}\n")


@pytest.fixture(scope="module")
def local_run(tiny_timit_data, tmp_path_factory):
    """Features, a monophone system and its alignments and frame targets of the tiny test set, local backend."""
    root = tmp_path_factory.mktemp("local_run")
    shutil.copytree(tiny_timit_data / "test", root / "data/test")
    (root / "gmm.yaml").write_text(SMALL_GMM)
    (root / "net.yaml").write_text(SMALL_NET)
    run_step("make_feats.py", "--feat-type", "mfcc", "--config", REPO / "conf/mfcc.conf", "--nj", 2, "--cmd", LOCAL,
             "data/test", "exp/make_mfcc", "mfcc", cwd=root)
    run_step("compute_cmvn_stats.py", "data/test", "mfcc", cwd=root)
    run_step("prepare_lang.py", "--phones-from", "data/test/text", "data/lang", cwd=root)
    run_step("train_mono.py", "--nj", 2, "--cmd", LOCAL, "--config", "gmm.yaml", "data/test", "data/lang", "exp/mono",
             cwd=root)
    run_step("align_si.py", "--nj", 2, "--cmd", LOCAL, "data/test", "data/lang", "exp/mono", "exp/ali", cwd=root)
    run_step("ali_to_targets.py", "exp/ali", "exp/ali/targets", cwd=root)
    run_step("compute_global_cmvn.py", "data/test", "exp/global_cmvn.stats", cwd=root)
    run_step("nnet_prepare_frames.py", "--targets", "exp/ali/targets/targets.scp", "data/test",
             "exp/global_cmvn.stats", "exp/frames", cwd=root)
    return root


@pytest.mark.slurm
@pytest.mark.slow
def test_features_through_slurm_equal_the_local_ones(tmp_path, cluster, local_run):
    shutil.copytree(local_run / "data/test", tmp_path / "data/test",
                    ignore=shutil.ignore_patterns("feats.scp", "cmvn.scp", "split*", ".*"))
    run_step("make_feats.py", "--feat-type", "mfcc", "--config", REPO / "conf/mfcc.conf", "--nj", 2, "--cmd", SLURM,
             "data/test", "exp/make_mfcc", "mfcc", cwd=tmp_path)
    arks = sorted(p.name for p in (local_run / "mfcc").glob("raw_mfcc_test.*.ark"))
    assert len(arks) == 2
    for ark in arks:
        assert (tmp_path / "mfcc" / ark).read_bytes() == (local_run / "mfcc" / ark).read_bytes()
    assert (tmp_path / "exp/make_mfcc/q/make_mfcc_test.sh").exists()       # it did go through sbatch


@pytest.mark.slurm
@pytest.mark.slow
def test_an_alignment_pass_through_slurm_equals_the_local_one(tmp_path, cluster, local_run):
    run_step("align_si.py", "--nj", 2, "--cmd", SLURM, "data/test", "data/lang", "exp/mono", tmp_path / "ali",
             cwd=local_run)
    for job in (1, 2):
        assert (tmp_path / f"ali/ali.{job}.gz").read_bytes() == (local_run / f"exp/ali/ali.{job}.gz").read_bytes()
    assert list((tmp_path / "ali/log/q").glob("*.sh"))


def train_net(cmd: str, root: Path, out: Path) -> None:
    num_classes = (root / "exp/ali/targets/num_classes").read_text().strip()
    out_log = out.parent / f"log/{out.name}.log"
    proc = run(cmd, "--num-threads", 2, out_log, "nnet_train.py", "--config", root / "net.yaml", "--nproc", 2,
               root / "exp/frames", root / "exp/frames", num_classes, out, cwd=root,
               env={**os.environ, "PATH": f"{REPO / 'steps_py'}:{BIN}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slurm
@pytest.mark.slow
def test_two_process_training_through_slurm_equals_the_local_one(tmp_path, cluster, local_run):
    """nnet_train.py --nproc 2 as one job: torchrun locally, srun + torchrun in the Slurm job; same weights."""
    train_net(LOCAL, local_run, tmp_path / "local")
    train_net(SLURM, local_run, tmp_path / "net")
    mine = torch.load(tmp_path / "net/final.pt", weights_only=True)
    theirs = torch.load(tmp_path / "local/final.pt", weights_only=True)
    assert all(torch.equal(mine["model"][k], theirs["model"][k]) for k in theirs["model"])
    histories = [json.loads((d / "history.json").read_text()) for d in (tmp_path / "net", tmp_path / "local")]
    assert [h["valid_fer"] for h in histories[0]] == [h["valid_fer"] for h in histories[1]]
