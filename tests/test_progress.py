"""Progress display: a redrawn bar on a terminal only; captured logs get whole lines."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from helpers import REPO, STEPS

LOOP = ("from asrser.progress import bar\n"
        "for _ in bar(range(5), desc='work', unit='step', every=0): pass\n")


def test_a_log_file_gets_one_line_per_update_and_no_carriage_returns(tmp_path):
    log = tmp_path / "job.log"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-c", LOOP], stderr=f, check=True)
    text = log.read_text()
    assert "\r" not in text
    lines = text.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"work: {i}/5 step ({20 * i}%)" for i in (1, 2, 3, 4, 5, 5)]


def test_a_terminal_gets_the_redrawn_bar():
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))   # a 0-column pty gets no bar
    proc = subprocess.Popen([sys.executable, "-c", LOOP], stderr=secondary)
    os.close(secondary)
    out = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:          # the terminal closes with the process
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(primary)
    assert b"\r" in out and b"5/5" in out


def test_a_stage_program_writes_whole_lines_to_a_captured_log(tmp_path):
    """The corpus generator's progress, as `./run.sh > log 2>&1` captures it."""
    env = dict(os.environ, PATH=f"{STEPS}:{Path(sys.executable).parent}:{os.environ['PATH']}")
    out = subprocess.run([sys.executable, str(REPO / "local/make_mini_timit.py"), "--size", "tiny", "--nj", "1",
                          tmp_path / "corpus"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stderr
    assert "mini-TIMIT (tiny): " in out.stderr and " utt (100%)" in out.stderr


def test_every_progress_display_goes_through_asrser_progress():
    """tqdm is used in one place, which decides between a bar and log lines."""
    users = [str(p.relative_to(REPO)) for d in ("asrser", "steps_py", "local", "egs") for p in (REPO / d).rglob("*.py")
             if "tqdm" in p.read_text() and p != REPO / "asrser/progress.py"]
    assert users == []
