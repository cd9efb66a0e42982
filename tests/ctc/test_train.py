"""CTC training on a tiny spelled problem: the loss falls and greedy decoding recovers the transcripts; a run
killed after an epoch resumes to the same model as an uninterrupted one; bad transcripts name the file."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from asrser.ctc.data import Utterances, lang_tokens
from asrser.ctc.model import CtcConfig, CtcTrainingConfig, TrainedCtc
from asrser.ctc.train import greedy_tokens, run_model, train_ctc
from asrser.errors import DataError
from ctc_problems import TOKENS, spelled_data_dir, write_lang_words
from helpers import REPO, STEPS


def tiny_config(**training) -> CtcConfig:
    options = dict(learning_rate=3e-3, warmup_steps=20, batch_frames=1500, max_epochs=15, min_epochs=15,
                   patience=100, precision="fp32")
    options.update(training)
    return CtcConfig(width=48, num_blocks=1, heads=2, subsampling_channels=8, conv_kernel=5, dropout=0.0,
                     training=CtcTrainingConfig(**options))


def write_yaml(path, config: CtcConfig):
    import yaml

    path.write_text(yaml.safe_dump(config.checkpoint_options()))
    return path


def test_loss_falls_and_greedy_decoding_recovers_the_labels(tmp_path):
    train = spelled_data_dir(tmp_path / "train", 40, seed=1)
    dev = spelled_data_dir(tmp_path / "dev", 12, seed=2)
    lang = write_lang_words(tmp_path / "lang")
    history = train_ctc(train, dev, lang, tmp_path / "exp", tiny_config(), REPO / "conf/fbank.conf",
                        device="cpu", progress=False)
    assert history[-1]["loss"] < history[0]["loss"] / 5
    assert min(h["valid_per"] for h in history) == 0.0
    assert json.loads((tmp_path / "exp/history.json").read_text()) == history
    assert (tmp_path / "exp/training.png").stat().st_size > 0
    trained = TrainedCtc.load(tmp_path / "exp/final.pt")
    assert trained.tokens == TOKENS == lang_tokens(lang)
    data = Utterances.load(dev, TOKENS)
    for i, log_probs in run_model(trained.model, data, trained.mean.numpy(), trained.std.numpy(),
                                  torch.device("cpu"), None, 4000):
        assert greedy_tokens(log_probs) == data.labels[i].tolist(), data.utts[i]
    # done: a second call trains nothing
    mtime = (tmp_path / "exp/final.pt").stat().st_mtime_ns
    train_ctc(train, dev, lang, tmp_path / "exp", tiny_config(), REPO / "conf/fbank.conf", device="cpu",
              progress=False)
    assert (tmp_path / "exp/final.pt").stat().st_mtime_ns == mtime


def _train_command(config, train, dev, lang, out):
    return [sys.executable, str(STEPS / "ctc_train.py"), "--config", str(config), "--device", "cpu",
            str(train), str(dev), str(lang), str(out)]


def test_a_killed_run_resumes_to_the_uninterrupted_model(tmp_path):
    train = spelled_data_dir(tmp_path / "train", 60, seed=1)
    dev = spelled_data_dir(tmp_path / "dev", 10, seed=2)
    lang = write_lang_words(tmp_path / "lang")
    config = write_yaml(tmp_path / "ctc.yaml", tiny_config(max_epochs=3, min_epochs=3))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = subprocess.run(_train_command(config, train, dev, lang, tmp_path / "whole"), env=env,
                           capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    killed = subprocess.Popen(_train_command(config, train, dev, lang, tmp_path / "killed"), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (tmp_path / "killed/epoch_1.pt").exists():
        assert killed.poll() is None, "training ended before its first checkpoint"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed/train.done").exists()
    again = subprocess.run(_train_command(config, train, dev, lang, tmp_path / "killed"), env=env,
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "resuming after epoch" in again.stderr
    a = TrainedCtc.load(tmp_path / "whole/final.pt").model.state_dict()
    b = TrainedCtc.load(tmp_path / "killed/final.pt").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (json.loads((tmp_path / "whole/history.json").read_text())[-1]["valid_loss"] ==
            json.loads((tmp_path / "killed/history.json").read_text())[-1]["valid_loss"])


def test_a_transcript_word_that_is_no_token_names_the_line(tmp_path):
    train = spelled_data_dir(tmp_path / "train", 4, seed=1)
    lines = (train / "text").read_text().splitlines()
    lines[2] = lines[2].split()[0] + " aa zz"
    (train / "text").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train/text:3: .*'zz' is not one of the model's 4 tokens"):
        Utterances.load(train, TOKENS)
