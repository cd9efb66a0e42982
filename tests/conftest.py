"""Shared fixtures."""

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
