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
    (["--facenet-config", "nonexistent.yaml"], "--facenet-config nonexistent.yaml: no such file"),
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


TINY_FACENET = """\
base: {base}
model:
  width: 0.0625
  embedding_dim: 16
training:
  images_per_epoch: 64
  eval_batch_size: 64
  max_epochs: 2
  min_epochs: 1
  patience: 1
"""


@pytest.mark.slow
def test_every_stage_on_the_tiny_corpora(tiny_iemocap_data, tmp_path):
    """mini-CASIA (tiny) and the tiny IEMOCAP data dir, waveform images, the narrowest net for two epochs of 64
    images: every system of the table trains, the pre-trained nets are fine-tuned on the other corpus, the
    CTA-RNN recipe's rows join when its folds are the same, and a second run of a stage does nothing."""
    import json
    import shutil

    here = _recipe_dir(tmp_path)
    (here / "tiny.yaml").write_text(TINY_FACENET.format(base=REPO / "conf/fast/facenet.yaml"))
    common = ["--corpus-size", "tiny", "--iemocap-data", str(tiny_iemocap_data), "--kinds", "waveform",
              "--facenet-config", "tiny.yaml", "--device", "cpu", "--baselines", str(tmp_path / "cta_exp")]
    done = subprocess.run(["./run.sh", "--stop-stage", "2", *common], cwd=here, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    # the CTA-RNN recipe's exp: the same IEMOCAP session folds and a CTA-RNN row on them
    cta = tmp_path / "cta_exp"
    shutil.copytree(here / "exp/folds/iemocap_session", cta / "folds/iemocap_session")
    done = subprocess.run(["./run.sh", "--stage", "3", *common], cwd=here, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    shutil.copytree(here / "exp/iemocap_session/waveform_scratch", cta / "iemocap_session/cta")
    done = subprocess.run(["./run.sh", "--stage", "7", *common], cwd=here, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]

    classes = (here / "exp/folds/casia/classes.txt").read_text().split()
    assert classes == ["ang", "fea", "hap", "neu", "sad", "sur"]
    assert len(list((here / "corpora/mini_casia/CASIA").glob("*/*/*.wav"))) == 4 * 6 * 5
    images = json.loads((here / "exp/images/casia_waveform/images.json").read_text())
    assert images["config"]["size"] == 160 and images["images"] >= 120
    table = json.loads((here / "exp/facenet_table.json").read_text())["cells"]
    for system, column in (("waveform_scratch", "casia"), ("waveform_scratch", "iemocap"),
                           ("waveform_from_iemocap", "casia"), ("waveform_from_casia", "iemocap"), ("cta", "iemocap")):
        assert table[system][column] is not None, (system, column)
    assert table["waveform_from_casia"]["casia"] is None and table["spectrogram_scratch"]["casia"] is None
    assert table["waveform_scratch"]["casia"]["utterances"] == 120
    pretrained = torch_load(here / "exp/pretrain/casia_waveform/final.pt")
    finetuned = torch_load(here / "exp/iemocap_session/waveform_from_casia/fold1/final.pt")
    assert pretrained["classes"] == classes and finetuned["classes"] == ["ang", "hap", "neu", "sad"]
    results = (here / "RESULTS.md").read_text()
    assert "| Liu et al. 2021 (real CASIA / IEMOCAP; WA or UA not stated) | 90 | 90 | 68.96 | 68.96 |" in results
    assert (here / "exp/images/casia_waveform.png").exists()

    # resumable: a finished stage does no work again
    before = (here / "exp/casia/waveform_scratch/fold1/final.pt").stat().st_mtime_ns
    done = subprocess.run(["./run.sh", "--stage", "4", "--stop-stage", "4", *common], cwd=here,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (here / "exp/casia/waveform_scratch/fold1/final.pt").stat().st_mtime_ns == before


def torch_load(path: Path) -> dict:
    import torch
    return torch.load(path, weights_only=True)
