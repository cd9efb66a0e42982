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
    """Each job logs when it began and ended its 1 s of work: the intervals overlap when the jobs ran at the
    same time, however long the machine takes to start them (a wall-clock bound failed under load)."""
    script = "import time,sys; t=time.time(); time.sleep(1.0); print('job', sys.argv[1], t, time.time())"
    out = runner(runner_cmd, "JOB=1:2", tmp_path / "log/sleep.JOB.log", sys.executable, "-c", script, "JOB")
    assert out.returncode == 0, out.stderr
    spans = []
    for j in (1, 2):
        log = (tmp_path / f"log/sleep.{j}.log").read_text()
        assert "# Ended (code 0)" in log
        line = next(line for line in log.splitlines() if line.startswith(f"job {j} "))
        spans.append(tuple(map(float, line.split()[2:])))
    assert max(begin for begin, _ in spans) < min(end for _, end in spans), f"jobs ran one after the other: {spans}"


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


def printed_args(log: Path) -> list[str]:
    import json
    return json.loads(next(line for line in log.read_text().splitlines() if line.startswith("[")))


def test_job_is_replaced_only_where_it_stands_as_a_name(tmp_path, runner_cmd):
    """JOB in JOBS_dir or SLURM_JOB_ID is part of another name (Kaldi's run.pl replaces it there too)."""
    words = ["JOB", "split4/JOB", "--job=JOB", "ali.JOB.gz", "foldJOB", "fold_JOB", "exp/JOBS_dir", "SLURM_JOB_ID",
             "NOJOB", "JOB1", "JOBdir"]
    script = "import sys, json; print(json.dumps(sys.argv[1:]))"
    out = runner(runner_cmd, "JOB=1:2", tmp_path / "log/a.JOB.log", sys.executable, "-c", script, *words)
    assert out.returncode == 0, out.stderr
    assert printed_args(tmp_path / "log/a.2.log") == [
        "2", "split4/2", "--job=2", "ali.2.gz", "fold2", "fold_2", "exp/JOBS_dir", "SLURM_JOB_ID", "NOJOB", "JOB1",
        "JOBdir"]


def test_log_name_must_hold_the_job_variable_as_a_name(tmp_path, runner_cmd):
    out = runner(runner_cmd, "JOB=1:2", tmp_path / "JOBS.log", "true")
    assert out.returncode != 0 and "must contain JOB" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_job_range_is_refused_not_taken_for_the_log(tmp_path, runner_cmd):
    """`JOB=1:$(cat missing)` gives `JOB=1:`: run.pl only warns, and the range became a log file name."""
    for spec in ("JOB=1:", "job=1:2", "JOB=a:b"):
        out = subprocess.run([*runner_cmd.split(), spec, "x.JOB.log", "true"], capture_output=True, text=True,
                             cwd=tmp_path)
        assert out.returncode != 0 and f"invalid job range '{spec}'" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_log_name_with_a_newline_is_refused(tmp_path, runner_cmd):
    out = runner(runner_cmd, tmp_path / "a\nb.log", "true")
    assert out.returncode != 0 and "contains a newline" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_arguments_with_newlines_arrive_intact_and_the_header_stays_one_line(tmp_path, runner_cmd):
    script = "import sys, json; print(json.dumps(sys.argv[1:]))"
    out = runner(runner_cmd, tmp_path / "n.log", sys.executable, "-c", script, "a\nb", "dir\n/JOB")
    assert out.returncode == 0, out.stderr
    assert printed_args(tmp_path / "n.log") == ["a\nb", "dir\n/JOB"]
    assert (tmp_path / "n.log").read_text().splitlines()[1].startswith("# Started at")


def test_a_log_name_with_a_leading_dash(tmp_path, runner_cmd):
    """After "--" it is a log name (run_jobs adds it); before, an unknown option named as such."""
    out = subprocess.run([*runner_cmd.split(), "-x.log", "true"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode != 0 and "unknown option -x.log" in out.stderr and "'--'" in out.stderr
    proc = subprocess.run([sys.executable, "-c", "import sys; from asrser.runner import run_jobs; "
                           "run_jobs(sys.argv[1], '-y.JOB.log', ['true'], 2)", runner_cmd], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["-y.1.log", "-y.2.log"]


def test_max_jobs_below_one_is_a_usage_error(tmp_path):
    out = subprocess.run([str(Path(sys.executable).parent / "asrser-run"), "--max-jobs", "0", tmp_path / "x.log",
                          "true"], capture_output=True, text=True)
    assert out.returncode == 2 and "--max-jobs: must be at least 1, got 0" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_failed_job_ends_the_output_with_its_log_and_one_line(tmp_path, runner_cmd):
    """A stage program whose job fails: the job log's last lines, then one ERROR line naming the log."""
    failing = [sys.executable, "-c", "import sys; print('ERROR: utterance u7 has no features'); sys.exit(1)"]
    program = tmp_path / "stage_program.py"
    program.write_text("import argparse, sys\nfrom asrser import cli\nfrom asrser.runner import run_jobs\n"
                       f"cli.run(lambda a: run_jobs({runner_cmd!r}, {str(tmp_path / 'log/x.JOB.log')!r}, "
                       f"{failing!r}, 2), argparse.Namespace())\n")
    out = subprocess.run([sys.executable, str(program)], capture_output=True, text=True)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[-1] == (f"ERROR (stage_program.py): 2 of 2 jobs failed (also failed: 2): job 1 exited with code 1; "
                         f"its log is {tmp_path / 'log/x.1.log'}")
    assert "    ERROR: utterance u7 has no features" in lines[:-1]


def test_the_runner_report_ends_with_the_summary(tmp_path, runner_cmd):
    out = runner(runner_cmd, "JOB=1:2", tmp_path / "f.JOB.log", sys.executable, "-c", "raise SystemExit(4)")
    assert out.stderr.strip().splitlines()[-1].startswith("asrser-run: 2 of 2 jobs failed")
    assert out.stderr.strip().splitlines()[-1].endswith(f"its log is {tmp_path / 'f.1.log'}")


def test_num_threads_sets_the_thread_counts_of_each_job(tmp_path, runner_cmd):
    script = "import os; print('threads', os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    out = runner(runner_cmd, "--num-threads", 3, "JOB=1:2", tmp_path / "t.JOB.log", sys.executable, "-c", script)
    assert out.returncode == 0, out.stderr
    assert all("threads 3 3\n" in (tmp_path / f"t.{j}.log").read_text() for j in (1, 2))


def test_gpu_gives_each_running_job_its_own_gpus(tmp_path, runner_cmd):
    """Four jobs, --gpu 1, GPUs 3 and 5 visible: at most two run at once, and jobs that overlap in time never
    share a GPU (the second job of a GPU starts when the first has ended)."""
    import json
    import os
    script = ("import os, sys, time, json; s = time.time(); time.sleep(0.3); "
              "print(json.dumps([os.environ['CUDA_VISIBLE_DEVICES'], s, time.time()]))")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "3,5"}
    out = subprocess.run([*runner_cmd.split(), "--max-jobs", "4", "--gpu", "1", "JOB=1:4", tmp_path / "g.JOB.log",
                          sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    runs = [json.loads(next(line for line in (tmp_path / f"g.{j}.log").read_text().splitlines()
                            if line.startswith("["))) for j in range(1, 5)]
    assert sorted(gpu for gpu, _, _ in runs) == ["3", "3", "5", "5"]
    for i, (gpu, start, end) in enumerate(runs):
        for other, other_start, other_end in runs[i + 1:]:
            if start < other_end and other_start < end:
                assert gpu != other, runs


def test_more_gpus_than_the_machine_has_is_one_line(tmp_path, runner_cmd):
    import os
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"}
    out = subprocess.run([*runner_cmd.split(), "--gpu", "2", tmp_path / "g.log", "true"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "--gpu 2: " in out.stderr and "has 1 GPU (" in out.stderr
    out = runner(runner_cmd, "--nodes", 2, tmp_path / "n.log", "true")
    assert out.returncode == 1 and "the local backend runs jobs on this machine only" in out.stderr


def test_stopping_the_runner_stops_its_jobs_and_starts_no_more(tmp_path, runner_cmd):
    """SIGTERM to the runner: the running jobs are terminated (their logs end with the signal), queued jobs
    never start, and the runner exits with 128 + 15."""
    import signal
    proc = subprocess.Popen([*runner_cmd.split(), "--max-jobs", "2", "JOB=1:4", str(tmp_path / "s.JOB.log"),
                             sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"])
    deadline = time.time() + 30
    # the job's own output line: the log's header echoes the command, whose text holds the word too
    while not all((tmp_path / f"s.{j}.log").exists() and "\nstarted\n" in (tmp_path / f"s.{j}.log").read_text()
                  for j in (1, 2)):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    for j in (1, 2):
        assert "# Ended (code -15)" in (tmp_path / f"s.{j}.log").read_text()
    assert not (tmp_path / "s.3.log").exists() and not (tmp_path / "s.4.log").exists()


def test_a_thread_count_the_user_set_applies_to_every_library():
    """OMP_NUM_THREADS=1 alone used to leave MKL and OpenBLAS at the runner's share of the cores: a job ran
    with mixed counts, and a net trained locally differed from the same training through Slurm or by hand."""
    from asrser.runner.local import thread_environment

    mixed = thread_environment({"OMP_NUM_THREADS": "1"}, 2, override=False)
    assert mixed["OMP_NUM_THREADS"] == mixed["MKL_NUM_THREADS"] == mixed["OPENBLAS_NUM_THREADS"] == "1"
    explicit = thread_environment({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "4"}, 2, override=False)
    assert (explicit["OMP_NUM_THREADS"], explicit["MKL_NUM_THREADS"], explicit["OPENBLAS_NUM_THREADS"]) == ("1", "4", "1")
    assert set(thread_environment({}, 2, override=False)[v] for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")) == {"2"}
    assert thread_environment({"OMP_NUM_THREADS": "1"}, 3, override=True)["MKL_NUM_THREADS"] == "3"


def test_a_stop_signal_the_kernel_gives_a_job_thread_still_stops_the_runner(tmp_path):
    """Python runs signal handlers in the main thread only; a SIGTERM delivered to one of the runner's job threads
    (the kernel may pick any thread) must still stop the jobs at once, not when the main thread's wait ends."""
    script = tmp_path / "stop.py"
    script.write_text(f"""
import signal, sys, threading, time
from pathlib import Path
from asrser.runner.base import Job
from asrser.runner.local import LocalBackend

def kill_a_job_thread():
    log = Path({str(tmp_path)!r}) / "t.1.log"
    while not (log.exists() and "\\nstarted\\n" in log.read_text()):     # the job's output, not the header
        time.sleep(0.05)
    job_thread = next(t for t in threading.enumerate() if t.name.startswith("asrser-job"))
    signal.pthread_kill(job_thread.ident, signal.SIGTERM)

threading.Thread(target=kill_a_job_thread, daemon=True).start()
LocalBackend(max_jobs=1).run([Job(1, [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"],
                                  Path({str(tmp_path)!r}) / "t.1.log")])
""")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=90)
    assert time.monotonic() - start < 30, "the runner waited for its job to end by itself"
    assert proc.returncode == 128 + 15
    assert "# Ended (code -15)" in (tmp_path / "t.1.log").read_text()
