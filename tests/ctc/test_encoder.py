"""A trained CTC model as a layer encoder: waveform in, every layer out, 40 ms frames; bad input named."""

import numpy as np
import pytest

from asrser.ctc.encoder import load_ctc_encoder
from asrser.ctc.model import CtcConfig, CtcModel
from asrser.ctc.train import _write_final, CtcState
from asrser.errors import AsrserError
from asrser.nnet.train import save_checkpoint
from helpers import REPO, synth_speechlike


def tiny_model(tmp_path, block="conformer"):
    """final.pt of an untrained model written as training writes it (what the encoder reads)."""
    config = CtcConfig(block=block, width=24, num_blocks=3, heads=2, subsampling_channels=4, conv_kernel=5)
    model = CtcModel(config, 5)
    save_checkpoint(tmp_path / "epoch_1.pt", {"model": model.state_dict()})
    state = CtcState(epoch=1, best_per=50.0, best_epoch=1,
                     history=[{"epoch": 1, "loss": 1.0, "valid_per": 50.0}])
    _write_final(tmp_path, state, config, ["a", "b", "c", "d", "e"], np.zeros(40, np.float32) + 5,
                 np.ones(40, np.float32), REPO / "conf/fbank.conf")
    return tmp_path / "final.pt"


@pytest.mark.parametrize("block", ["conformer", "blstm"])
def test_layer_outputs_of_a_waveform(tmp_path, block):
    encoder = load_ctc_encoder(tiny_model(tmp_path, block), device="cpu")
    assert encoder.layer_names == ("subsampling", f"{block}_1", f"{block}_2", f"{block}_3")
    assert (encoder.dim, encoder.sample_rate, encoder.frame_shift) == (24, 16000, pytest.approx(0.04))
    assert encoder.name.startswith("ctc:")
    samples = synth_speechlike(1.0, seed=3).astype(np.float32) / 32768.0       # 98 fbank frames
    layers = encoder.layers(samples)
    assert layers.shape == (4, 25, 24) and layers.dtype == np.float32
    assert np.isfinite(layers).all()
    assert np.array_equal(layers, encoder.layers(samples))                      # the same input, the same output
    assert not np.allclose(layers[0], layers[-1])


def test_not_a_ctc_model_is_named(tmp_path):
    save_checkpoint(tmp_path / "other.pt", {"model": {}})
    with pytest.raises(AsrserError, match="other.pt: not a trained CTC model"):
        load_ctc_encoder(tmp_path / "other.pt", device="cpu")


def test_stereo_samples_are_refused(tmp_path):
    encoder = load_ctc_encoder(tiny_model(tmp_path), device="cpu")
    with pytest.raises(AsrserError, match="expected mono samples"):
        encoder.layers(np.zeros((2, 16000), np.float32))
