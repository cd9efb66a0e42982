"""The job runner: parallelism, per-job logs, failure propagation, argument integrity."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from asrser.runner import JobsFailed, parse_job_array, run_jobs


def runner(runner_cmd, *args):
    return subprocess.run([*runner_cmd.split(), *map(str, args)], capture_output=True, text=True)


def test_jobs_run_in_parallel_with_own_logs(tmp_path, runner_cmd):
    script = "import time,sys; time.sleep(1.0); print('job', sys.argv[1])"
    start = time.time()
    out = runner(runner_cmd, "JOB=1:2", tmp_path / "log/sleep.JOB.log", sys.executable, "-c", script, "JOB")
    elapsed = time.time() - start
    assert out.returncode == 0, out.stderr
    assert elapsed < 1.9, f"two 1 s jobs with --max-jobs 2 took {elapsed:.1f} s: not parallel"
    for j in (1, 2):
        log = (tmp_path / f"log/sleep.{j}.log").read_text()
        assert f"job {j}\n" in log
        assert "# Ended (code 0)" in log


def test_max_jobs_bounds_parallelism(tmp_path):
    cmd = f"{Path(sys.executable).parent / 'asrser-run'} --max-jobs 1"
    start = time.time()
    out = runner(cmd, "JOB=1:2", tmp_path / "s.JOB.log", sys.executable, "-c", "import time; time.sleep(0.5)")
    assert out.returncode == 0
    assert time.time() - start >= 1.0


def test_failure_names_job_and_log_with_last_lines(tmp_path, runner_cmd):
    script = "import sys; j=int(sys.argv[1]); print('working on', j); sys.exit(3 if j == 2 else 0)"
    out = runner(runner_cmd, "JOB=1:3", tmp_path / "log/x.JOB.log", sys.executable, "-c", script, "JOB")
    assert out.returncode != 0
    assert "1 of 3 jobs failed: job 2 exited with code 3" in out.stderr
    assert str(tmp_path / "log/x.2.log") in out.stderr
    assert "working on 2" in out.stderr
    assert "# Ended (code 3)" in (tmp_path / "log/x.2.log").read_text()


def test_arguments_with_spaces_and_quotes_arrive_intact(tmp_path, runner_cmd):
    tricky = ["a b", "it's", '"quoted"', "$HOME", "semi;colon", "*"]
    script = "import sys, json; print(json.dumps(sys.argv[1:]))"
    out = runner(runner_cmd, tmp_path / "args.log", sys.executable, "-c", script, *tricky)
    assert out.returncode == 0, out.stderr
    import json
    printed = [line for line in (tmp_path / "args.log").read_text().splitlines() if line.startswith("[")]
    assert json.loads(printed[0]) == tricky


def test_missing_command_is_reported(tmp_path, runner_cmd):
    out = runner(runner_cmd, tmp_path / "m.log", "no-such-program-xyz")
    assert out.returncode != 0
    assert "cannot execute 'no-such-program-xyz'" in (tmp_path / "m.log").read_text()


def test_job_range_requires_job_in_log_name():
    with pytest.raises(ValueError, match="must contain JOB"):
        parse_job_array(["JOB=1:2", "exp/log/x.log", "true"])


def test_run_jobs_raises_with_report(tmp_path, runner_cmd):
    with pytest.raises(JobsFailed, match=r"job 1 exited with code 1; its log is .*f\.1\.log"):
        run_jobs(runner_cmd, tmp_path / "f.JOB.log", [sys.executable, "-c", "raise SystemExit(1)"], n_jobs=1)
