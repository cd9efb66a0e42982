"""Completion stamps and output dirs: a stamp covers the data behind an .scp, a second run on an output dir is
refused with the holder's pid, and temporary files of killed processes are cleaned on the next run."""

import os
import subprocess
import sys
import time
from pathlib import Path

from asrser import fileio
from asrser.fileio import Stamp
from helpers import REPO, run_step


def make_fbank(data_dir: Path, root: Path, runner_cmd: str, dither: str) -> subprocess.CompletedProcess:
    """make_feats.py with conf/fbank.conf but the given dither."""
    conf = root / f"fbank_dither{dither}.conf"
    conf.write_text((REPO / "conf/fbank.conf").read_text().replace("--dither=1.0", f"--dither={dither}"))
    return run_step("make_feats.py", "--feat-type", "fbank", "--config", conf, "--nj", 2, "--cmd", runner_cmd,
                    data_dir, root / "exp/make_fbank", root / "fbank")


def test_features_extracted_again_with_other_options_make_the_stamps_over_feats_scp_stale(data_dir, tmp_path,
                                                                                         runner_cmd):
    make_fbank(data_dir, tmp_path, runner_cmd, "1.0")
    index = (data_dir / "feats.scp").read_bytes()
    downstream = Stamp(tmp_path / "exp/mono/train.done", [data_dir / "feats.scp", data_dir / "text"])
    assert not downstream.is_current()
    downstream.write()
    assert Stamp(downstream.path, [data_dir / "feats.scp", data_dir / "text"]).is_current()
    make_fbank(data_dir, tmp_path, runner_cmd, "0.0")
    assert (data_dir / "feats.scp").read_bytes() == index     # the same index (offsets depend on shapes only)...
    again = Stamp(downstream.path, [data_dir / "feats.scp", data_dir / "text"])
    assert not again.is_current()                              # ...over other data: the stage runs again
    ark = str((tmp_path / "fbank/raw_fbank_data.1.ark").resolve())
    assert again.record["inputs"][ark] != downstream.record["inputs"][ark]


def test_a_files_digest_is_reused_while_its_state_is_unchanged(tmp_path, monkeypatch):
    ark = tmp_path / "feats.ark"
    ark.write_bytes(b"x" * 1000)
    old = time.time() - 60
    os.utime(ark, (old, old))                    # older than the file system's timestamp resolution can blur
    scp = tmp_path / "feats.scp"
    scp.write_text(f"u1 {ark}:10\nu2 {ark}:500\n")
    first = Stamp(tmp_path / "out/x.done", [scp])
    assert set(first.record["inputs"]) == {str(scp), str(ark)}
    first.is_current()
    first.write()
    hashed, digest = [], fileio.file_digest
    monkeypatch.setattr(fileio, "file_digest", lambda *p: hashed.append(Path(p[0]).name) or digest(*p))
    assert Stamp(first.path, [scp]).is_current()
    assert hashed == ["feats.scp"]             # written just now: hashed again; the ark: not read
    os.utime(scp, (old, old))
    hashed.clear()
    assert Stamp(first.path, [scp]).is_current() and hashed == ["feats.scp"]
    hashed.clear()
    assert Stamp(first.path, [scp]).is_current() and hashed == []      # its state was learnt by the last check
    monkeypatch.undo()
    os.utime(ark, (old + 1, old + 1))            # touched, same contents: still current
    assert Stamp(first.path, [scp]).is_current()
    ark.write_bytes(b"y" * 1000)                 # same size, other contents
    assert not Stamp(first.path, [scp]).is_current()


def test_an_index_alone_can_be_digested(tmp_path):
    ark = tmp_path / "feats.ark"
    ark.write_bytes(b"x")
    scp = tmp_path / "feats.scp"
    scp.write_text(f"u1 {ark}:1\nu2 sox in.wav -t wav - |\n")
    assert list(Stamp(tmp_path / "s", [scp], follow_scp=False).record["inputs"]) == [str(scp)]
    assert fileio.scp_files(scp) == [ark]


def test_a_stamp_of_an_earlier_release_is_not_current(tmp_path):
    import json

    source = tmp_path / "in.txt"
    source.write_text("x\n")
    stamp = Stamp(tmp_path / "train.done", [source], lr=0.1)
    assert not stamp.is_current()
    stamp.write()
    assert Stamp(tmp_path / "train.done", [source], lr=0.1).is_current()
    record = json.loads((tmp_path / "train.done").read_text())
    del record["format"]        # as release 1 wrote it (its models were .npz files)
    (tmp_path / "train.done").write_text(json.dumps(record))
    again = Stamp(tmp_path / "train.done", [source], lr=0.1)
    assert not again.is_current()
    assert again.changes(record) == [f"written by an earlier release (output format 1, this release writes "
                                     f"{fileio.OUTPUT_FORMAT})"]
    again.write()


HOLD = """
import sys, time
from asrser.fileio import Stamp
assert not Stamp(sys.argv[1]).is_current()     # a stage that has started writing its output dir
print("holding", flush=True)
time.sleep(120)
"""


def start_holder(stamp: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(stamp)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_second_run_on_an_output_dir_is_refused_with_the_holders_pid(data_dir, tmp_path, runner_cmd):
    holder = start_holder(data_dir / ".fbank.done")        # as if another make_feats.py were writing data_dir
    try:
        proc = run_step("make_feats.py", "--feat-type", "fbank", "--nj", 2, "--cmd", runner_cmd, data_dir,
                        tmp_path / "exp", tmp_path / "fbank", check=False)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert (f"ERROR (make_feats.py): {data_dir} is being written by another process (pid {holder.pid}, -c)"
                in proc.stderr)
        assert not (data_dir / "feats.scp").exists()
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its holder: no stale lock to remove by hand
    run_step("make_feats.py", "--feat-type", "fbank", "--nj", 2, "--cmd", runner_cmd, data_dir, tmp_path / "exp",
             tmp_path / "fbank")
    assert (data_dir / "feats.scp").exists()


def claimed_by_another_process(directory: Path) -> bool:
    check = subprocess.run([sys.executable, "-c", "import sys; from asrser.fileio import claim_dir; "
                            "claim_dir(sys.argv[1])", str(directory)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 or "is being written by another process" in check.stderr, check.stderr
    return check.returncode != 0


def test_the_lock_is_shared_by_the_stamps_of_one_process_until_the_last_is_written(tmp_path):
    out = tmp_path / "exp"
    done, started = Stamp(out / "train.done", x=1), Stamp(out / "train.started", x=1)
    assert not done.is_current() and not started.is_current()
    started.write()                                             # the stage is still running
    assert claimed_by_another_process(out)
    done.write()
    assert not claimed_by_another_process(out)
    assert not Stamp(out / "train.done", x=2).is_current()      # the stage must run (again): locked
    assert claimed_by_another_process(out)
    assert Stamp(out / "train.done", x=1).is_current()          # done (by the earlier record): unlocked
    assert not claimed_by_another_process(out)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporary_files_of_killed_processes_are_removed_on_the_next_run(data_dir, tmp_path, runner_cmd):
    fbank = tmp_path / "fbank"
    fbank.mkdir()
    killed = fbank / f".raw_fbank_data.1.ark.tmp{dead_pid()}"       # fileio.temp_name of a killed job
    killed.write_bytes(b"partial ark of a killed job")
    killed_plot = tmp_path / "exp" / f".training.png.tmp{dead_pid()}.png"
    killed_plot.parent.mkdir()
    killed_plot.write_bytes(b"partial")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = fbank / f".raw_fbank_data.2.ark.tmp{alive.pid}"       # another process still writing
        running.write_bytes(b"being written")
        run_step("make_feats.py", "--feat-type", "fbank", "--nj", 2, "--cmd", runner_cmd, data_dir,
                 tmp_path / "exp", fbank)
        assert not killed.exists() and running.exists()
        assert not Stamp(tmp_path / "exp" / "x.done").is_current()     # any stage's output dir
        assert not killed_plot.exists()
    finally:
        alive.kill()
        alive.wait()


def test_an_up_to_date_copy_of_a_data_dir_ignores_the_sources_stamps_and_lock(data_dir, tmp_path, runner_cmd):
    from asrser.data import copy_data_dir

    make_fbank(data_dir, tmp_path, runner_cmd, "1.0")
    copy = tmp_path / "copy"
    copy_data_dir(data_dir, copy)
    (copy / "feats.scp").write_text("computed for the copy\n")
    (data_dir / ".lock").write_text("pid 12345, make_feats.py\n")      # another run of the source's stage
    copy_data_dir(data_dir, copy)
    assert (copy / "feats.scp").read_text() == "computed for the copy\n"
    assert not list(copy.glob(".*"))


def test_changes_name_the_option_as_the_config_spells_it(tmp_path):
    before = Stamp(tmp_path / "s", training={"learning_rate": 0.02, "seed": 0}, layers=[{"units": 64}],
                   frames=[1, 2])
    after = Stamp(tmp_path / "s", training={"learning_rate": 0.01, "seed": 0}, layers=[{"units": 16}],
                  frames=[1, 2, 3])
    assert after.changes(before.record) == ["frames changed from [1, 2] to [1, 2, 3]",
                                            "layers.1.units changed from 64 to 16",
                                            "training.learning_rate changed from 0.02 to 0.01"]
