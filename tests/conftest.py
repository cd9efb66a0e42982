"""Shared fixtures."""

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_data_dir


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return make_data_dir(tmp_path)


@pytest.fixture
def runner_cmd() -> str:
    return f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"


@pytest.fixture(scope="session")
def tiny_timit(tmp_path_factory) -> Path:
    """The tiny mini-TIMIT, generated once per test session (about 3 s): <dir>/TIMIT/{TRAIN,TEST}/...
    The clean condition: the tests that train on it need a corpus that a tiny model learns."""
    from asrser.synth.mini_timit import generate

    out = tmp_path_factory.mktemp("mini_timit")
    generate(out, "tiny", seed=0, nj=1, progress=False, condition="clean")
    return out / "TIMIT"


@pytest.fixture(scope="session")
def tiny_timit_data(tiny_timit, tmp_path_factory) -> Path:
    """Kaldi data dirs train/dev/test prepared from the tiny mini-TIMIT."""
    from asrser.corpora.timit import prepare_timit

    out = tmp_path_factory.mktemp("timit_data")
    prepare_timit(tiny_timit, out)
    return out


@pytest.fixture(scope="session")
def tiny_iemocap(tmp_path_factory) -> Path:
    """The tiny mini-IEMOCAP, generated once per test session (about 3 s): <dir>/IEMOCAP_full_release/..."""
    from asrser.synth.mini_iemocap import generate

    out = tmp_path_factory.mktemp("mini_iemocap")
    generate(out, "tiny", seed=0, nj=1, progress=False)
    return out / "IEMOCAP_full_release"


@pytest.fixture(scope="session")
def tiny_iemocap_data(tiny_iemocap, tmp_path_factory) -> Path:
    """The 4-class Kaldi data dir prepared from the tiny mini-IEMOCAP (<dir>/iemocap)."""
    from asrser.corpora.iemocap import prepare_iemocap

    out = tmp_path_factory.mktemp("iemocap_data")
    prepare_iemocap(tiny_iemocap, out, print_counts=False)
    return out / "iemocap"


@pytest.fixture(scope="session")
def tiny_msp_improv(tmp_path_factory) -> Path:
    """The tiny mini-MSP-IMPROV, generated once per test session (about 4 s): <dir>/MSP-IMPROV/..."""
    from asrser.synth.mini_msp_improv import generate

    out = tmp_path_factory.mktemp("mini_msp_improv")
    generate(out, "tiny", seed=0, nj=1, progress=False)
    return out / "MSP-IMPROV"


@pytest.fixture(scope="session")
def tiny_casia(tmp_path_factory) -> Path:
    """The tiny mini-CASIA, generated once per test session (about 3 s): <dir>/CASIA/<speaker>/<emotion>/..."""
    from asrser.synth.mini_casia import generate

    out = tmp_path_factory.mktemp("mini_casia")
    generate(out, "tiny", seed=0, nj=1, progress=False)
    return out / "CASIA"


@pytest.fixture
def cpu_load():
    """Busy processes on every core while the test runs: what must not change under load (corpus bytes)."""
    import os

    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield
    for p in burners:
        p.kill()
        p.wait()


def pytest_addoption(parser):
    parser.addoption("--recipes", action="store_true",
                     help="also run the integration tests that run whole recipes on the tiny corpora (about 15 min)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--recipes"):
        return
    skip = pytest.mark.skip(reason="a whole recipe: run with tests/run.sh --recipes")
    for item in items:
        if "recipe" in item.keywords:
            item.add_marker(skip)
