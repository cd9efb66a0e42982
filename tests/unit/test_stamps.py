"""Completion stamps cover the data behind an .scp, and digest each file once."""

import os
import subprocess
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
