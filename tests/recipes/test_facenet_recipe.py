"""The FaceNet SER recipe (egs/facenet/s5): its options and stage list (the stages themselves run in
tests/facenet/test_recipe_stages.py on the tiny corpora)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import REPO

RECIPE = REPO / "egs" / "facenet" / "s5"


def _recipe_dir(tmp_path: Path) -> Path:
    here = tmp_path / "facenet" / "s5"
    here.mkdir(parents=True)
    for name in ("run.sh", "conf", "local"):
        (here / name).symlink_to(RECIPE / name)
    for name in ("path.sh", "cmd.sh"):
        (here / name).write_text(f". {RECIPE / name}\n")
    return here


@pytest.mark.parametrize("args, message", [
    (["--kinds", "waveform mfcc"], "--kinds: unknown image kind 'mfcc' (waveform spectrogram)"),
    (["--casia", "/nonexistent/casia"], "--casia /nonexistent/casia: no such directory"),
    (["--face-weights", "/nonexistent/vggface2.pt"], "--face-weights /nonexistent/vggface2.pt: no such file"),
    (["--config", "nonexistent.yaml"], "--config nonexistent.yaml: no such file"),
    (["--stage", "1", "--iemocap-data", "/nonexistent/iemocap", "--casia", "/"],
     "--iemocap-data /nonexistent/iemocap: no utt2emo"),
    (["--stage", "6", "--stop-stage", "6"], "stage 6 needs exp/pretrain/iemocap_waveform/final.pt, which stage 5 makes"),
])
def test_misuse_is_one_line(tmp_path, args, message):
    here = _recipe_dir(tmp_path)
    (here / "exp/folds/casia").mkdir(parents=True)
    (here / "exp/folds/casia/folds.json").write_text('{"folds": [{"test": "a", "train": ["b"], "validation": ["c"]}]}')
    done = subprocess.run(["./run.sh", *args], cwd=here, capture_output=True, text=True)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


def test_help_lists_the_stages():
    done = subprocess.run([str(RECIPE / "run.sh"), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--face-weights PT" in done.stdout
    assert "5  pre-training on the whole of each corpus" in done.stdout and "7  RESULTS.md" in done.stdout
