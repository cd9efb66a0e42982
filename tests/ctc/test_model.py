"""The CTC model: layer outputs and their lengths after the x4 subsampling, both block kinds, the presets."""

import pytest
import torch

from asrser.ctc.model import CtcConfig, CtcModel, subsampled_lengths
from helpers import REPO


@pytest.mark.parametrize("block", ["conformer", "blstm"])
def test_layers_and_lengths_after_subsampling(block):
    config = CtcConfig(block=block, width=32, num_blocks=2, heads=2, subsampling_channels=4, conv_kernel=5)
    model = CtcModel(config, num_tokens=48).eval()
    lengths = torch.tensor([100, 37, 1])
    feats = torch.randn(3, 100, 40)
    outputs, out_lengths = model.layers(feats, lengths)
    assert out_lengths.tolist() == [25, 10, 1]                    # ceil(ceil(T/2)/2)
    assert len(outputs) == 3 == len(model.layer_names)            # front end + 2 blocks
    assert model.layer_names == ("subsampling", f"{block}_1", f"{block}_2")
    assert all(o.shape == (3, 25, 32) for o in outputs)
    log_probs, _ = model(feats, lengths)
    assert log_probs.shape == (3, 25, 49)                          # 48 tokens + blank
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 25), atol=1e-4)
    # padding does not leak into an utterance's outputs: alone it gives the same
    alone, _ = model(feats[1:2, :37], lengths[1:2])
    assert torch.allclose(alone[0], log_probs[1, :10], atol=1e-4)


def test_subsampled_lengths_match_the_convolutions():
    model = CtcModel(CtcConfig(width=16, num_blocks=1, heads=2, subsampling_channels=2), 3)
    for t in range(1, 30):
        assert model.front(torch.zeros(1, t, 40)).shape[1] == subsampled_lengths(torch.tensor(t)).item()


@pytest.mark.parametrize("preset", ["conf/ctc.yaml", "conf/fast/ctc.yaml"])
def test_presets_load(preset):
    config = CtcConfig.from_yaml(REPO / preset)
    assert config.input_dim == 40 and config.block == "conformer"


def test_bad_config_names_the_file(tmp_path):
    from asrser.errors import DataError

    bad = tmp_path / "ctc.yaml"
    bad.write_text("block: transformer\n")
    with pytest.raises(DataError, match="ctc.yaml"):
        CtcConfig.from_yaml(bad)
