"""tools/setup.sh: a venv is reused only in the checkout it was built in.

The checkouts here hold tools/setup.sh and pyproject.toml; the interpreter is a stand-in that records what
setup asks of it (create a venv, pip install), so no packages are installed.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import REPO

# Acts as python3 (version check, -m venv) and as the venv's python (-m pip), logging each request.
FAKE_PYTHON = r"""#!/usr/bin/env bash
case "$1 $2" in
  "-c "*) exit 0 ;;
  "-m venv")
    shift 2; [ "$1" != --clear ] || { echo "venv --clear $2" >> "$FAKE_PYTHON_LOG"; rm -rf "$2"; shift; }
    mkdir -p "$1/bin"; cp "$0" "$1/bin/python"; echo "venv $1" >> "$FAKE_PYTHON_LOG" ;;
  "-m pip") echo "pip ${@: -1}" >> "$FAKE_PYTHON_LOG" ;;
esac
"""


LATDET_LIB = "liblatdet.so.1"


@pytest.fixture
def checkout(tmp_path):
    root = tmp_path.resolve() / "a"
    (root / "tools").mkdir(parents=True)
    for script in ("setup.sh", "install_debian.sh"):
        shutil.copy(REPO / "tools" / script, root / "tools" / script)
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "asrser/kaldi_format").mkdir(parents=True)
    for name in ("latdet.cc", LATDET_LIB):      # the library after its source: built, not to be rebuilt
        shutil.copy(REPO / "asrser/kaldi_format" / name, root / "asrser/kaldi_format" / name)
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return root


def setup(root: Path) -> list[str]:
    """Run root/tools/setup.sh; return what it asked the interpreter to do."""
    log = root.parent / "python.log"
    log.unlink(missing_ok=True)
    env = dict(os.environ, ASRSER_PYTHON=str(root.parent / "python3"), FAKE_PYTHON_LOG=str(log))
    out = subprocess.run([str(root / "tools/setup.sh")], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return log.read_text().splitlines() if log.exists() else []


def test_a_set_up_checkout_takes_the_fast_path(checkout):
    assert setup(checkout) == [f"venv {checkout}/.venv", f"pip {checkout}[test]"]
    start = time.perf_counter()
    assert setup(checkout) == []
    assert time.perf_counter() - start < 5.0   # about 0.3 s on 2 busy cores (2.7 s at load 9); on every recipe start


def test_a_copied_checkout_rebuilds_its_venv(checkout):
    setup(checkout)
    copy = checkout.parent / "b"
    shutil.copytree(checkout, copy, symlinks=True)
    assert setup(copy) == [f"venv --clear {copy}/.venv", f"venv {copy}/.venv", f"pip {copy}[test]"]
    assert setup(copy) == []
    assert setup(checkout) == []            # the original is still in place and still fine


def test_a_moved_checkout_rebuilds_its_venv(checkout):
    setup(checkout)
    moved = checkout.parent / "moved"
    checkout.rename(moved)
    assert setup(moved) == [f"venv --clear {moved}/.venv", f"venv {moved}/.venv", f"pip {moved}[test]"]


def test_setup_builds_the_compiled_determiniser_when_missing_or_older_than_its_source(checkout):
    import ctypes

    lib = checkout / "asrser/kaldi_format" / LATDET_LIB
    lib.unlink()
    setup(checkout)
    assert ctypes.CDLL(str(lib)).latdet_abi_version() == 1
    built = lib.stat().st_mtime_ns
    setup(checkout)
    assert lib.stat().st_mtime_ns == built
    source = checkout / "asrser/kaldi_format/latdet.cc"
    os.utime(source, ns=(built + 10**9, built + 10**9))
    setup(checkout)
    assert lib.stat().st_mtime_ns > built


def run_install_debian(tmp_path: Path, *packages: str, uid: int) -> subprocess.CompletedProcess:
    """tools/install_debian.sh as user `uid` (a stand-in `id` on PATH: no package is installed by the test)."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (fake_bin / "id").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}")
    return subprocess.run([str(REPO / "tools/install_debian.sh"), *packages], env=env, capture_output=True,
                          text=True)


def test_install_debian_is_silent_when_the_packages_are_installed(tmp_path):
    out = run_install_debian(tmp_path, "sctk", "espeak-ng", uid=1000)
    assert (out.returncode, out.stderr) == (0, "")


def test_install_debian_names_missing_packages_when_not_root(tmp_path):
    out = run_install_debian(tmp_path, "sctk", "asrser-no-such-package", uid=1000)
    assert out.returncode == 1
    assert "missing Debian packages: asrser-no-such-package\n" in out.stderr
    assert "apt-get install --no-install-recommends asrser-no-such-package" in out.stderr
