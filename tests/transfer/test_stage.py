"""Transfer learning in the trainer: the first l layers are copied from a trained net and stay constant, the
others train from their fresh initialisation; l = 0 is training from scratch; bad sources and l are named."""

from __future__ import annotations

import kaldiio
import numpy as np
import pytest
import torch

from asrser.errors import AsrserError
from asrser.nnet.data import prepare_frames
from asrser.nnet.model import LayeredNet, NetConfig
from asrser.nnet.train import load_checkpoint, train_net

NET = """
input: {context: 3, dim: 8}
layers:
  - {type: conv, channels: 4, kernel: [3, 3], pool: [1, 2]}
  - {type: conv, channels: 6, kernel: [3, 2], pool: [1, 1]}
  - {type: fc, units: 24, dropout: 0.2}
  - {type: fc, units: 24}
  - {type: fc, units: 24}
  - {type: output}
training: {batch_size: 32, max_epochs: 2, min_epochs: 1, precision: fp32, seed: %d}
"""


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Random 8-dim features with learnable targets (the sign pattern of two features): 2 and 3 classes."""
    root = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(1)
    data = root / "data"
    data.mkdir()
    feats = {f"u{i}": rng.normal(size=(60, 8)).astype(np.float32) for i in range(6)}
    with kaldiio.WriteHelper(f"ark,scp:{root}/feats.ark,{data}/feats.scp") as w:
        for utt, x in feats.items():
            w(utt, x)
    (data / "utt2spk").write_text("".join(f"{u} s1\n" for u in feats))
    (data / "spk2utt").write_text("s1 " + " ".join(feats) + "\n")
    kaldiio.save_mat(str(root / "cmvn.ark"), np.vstack([np.r_[np.zeros(8), 360.0], np.r_[np.full(8, 360.0), 0]]))
    out = {}
    for classes in (2, 3):
        with kaldiio.WriteHelper(f"ark,scp:{root}/t{classes}.ark,{root}/t{classes}.scp") as w:
            for utt, x in feats.items():
                w(utt, ((x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0)) % classes)
        prepare_frames(data, root / f"t{classes}.scp", root / "cmvn.ark", root / f"frames{classes}")
        out[classes] = root / f"frames{classes}"
    return root, out


def _config(root, seed=0):
    path = root / f"net{seed}.yaml"
    path.write_text(NET % seed)
    return NetConfig.from_yaml(path)


def _train(root, frames, out, classes, **kwargs):
    train_net(frames[classes], frames[classes], out, _config(root, kwargs.pop("seed", 0)), classes,
              device="cpu", progress=False, **kwargs)
    return load_checkpoint(out / "final.pt")["model"]


@pytest.fixture(scope="module")
def source(frames, tmp_path_factory):
    root, data = frames
    out = tmp_path_factory.mktemp("source")
    _train(root, data, out, 3, seed=7)
    return out / "final.pt"


@pytest.mark.parametrize("frozen", [2, 4])
def test_frozen_layers_stay_constant_and_the_rest_train(frames, source, tmp_path, frozen):
    root, data = frames
    trained = _train(root, data, tmp_path / "net", 2, transfer_from=source, frozen_layers=frozen)
    src = load_checkpoint(source)["model"]
    fresh = LayeredNet(_config(root), 2)
    fresh.reset_parameters(0)
    for key, value in trained.items():
        layer = int(key.split(".")[1])
        if layer < frozen:
            assert torch.equal(value, src[key]), key              # weights and BatchNorm statistics
        elif key.endswith("weight") and "norm" not in key:
            assert not torch.equal(value, fresh.state_dict()[key]), key     # trained from the fresh start
            if key in src and src[key].shape == value.shape:
                assert not torch.equal(value, src[key]), key


def test_no_constant_layers_is_training_from_scratch(frames, source, tmp_path):
    root, data = frames
    scratch = _train(root, data, tmp_path / "scratch", 2)
    transferred = _train(root, data, tmp_path / "l0", 2, transfer_from=source, frozen_layers=0)
    assert scratch.keys() == transferred.keys()
    assert all(torch.equal(scratch[k], transferred[k]) for k in scratch)


def test_bad_number_of_layers_and_mismatched_source_are_named(frames, source, tmp_path):
    root, data = frames
    with pytest.raises(AsrserError, match=r"must be 0\.\.5 \(layer 6, the output layer, is always new\), got 6"):
        _train(root, data, tmp_path / "a", 2, transfer_from=source, frozen_layers=6)
    with pytest.raises(AsrserError, match="got -1"):
        _train(root, data, tmp_path / "b", 2, transfer_from=source, frozen_layers=-1)
    wider = root / "wider.yaml"
    wider.write_text((NET % 0).replace("channels: 6", "channels: 5"))
    with pytest.raises(AsrserError, match=r"layer 2 does not match this network's \(layers.1.conv.weight: "
                                          r"\(5, 4, 3, 2\) expected, \(6, 4, 3, 2\) found\)"):
        train_net(data[2], data[2], tmp_path / "c", NetConfig.from_yaml(wider), 2, transfer_from=source,
                  frozen_layers=3, device="cpu", progress=False)
    epoch = source.parent / "epoch_1.pt"
    with pytest.raises(AsrserError, match="not a trained network"):
        _train(root, data, tmp_path / "d", 2, transfer_from=epoch, frozen_layers=1)
    with pytest.raises(AsrserError, match="need a network to copy them from"):
        _train(root, data, tmp_path / "e", 2, frozen_layers=1)


@pytest.mark.parametrize("preset", ["conf", "conf/fast", "conf/paper"])
def test_each_presets_asr_and_ser_nets_share_layers_1_to_5(preset):
    from helpers import REPO

    asr = NetConfig.from_yaml(REPO / preset / "convnet.yaml")
    ser = NetConfig.from_yaml(REPO / preset / "convnet_ser.yaml")
    assert asr.layers == ser.layers and len(asr.layers) == 6 and (asr.context, asr.dim) == (ser.context, ser.dim)
    a, s = LayeredNet(asr, 144), LayeredNet(ser, 5)
    shapes = {k: v.shape for k, v in a.state_dict().items() if int(k.split(".")[1]) < 5}
    assert shapes == {k: v.shape for k, v in s.state_dict().items() if int(k.split(".")[1]) < 5}


def test_base_configs_chain_and_cycles_are_named(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\ntraining: {max_epochs: 9}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(AsrserError, match="circular base configs"):
        NetConfig.from_yaml(tmp_path / "a.yaml")
    fast = NetConfig.from_yaml(__import__("helpers").REPO / "conf/fast/convnet_ser.yaml")   # fast SER -> fast -> paper
    assert fast.layers[0].channels == 16 and fast.training.momentum == 0.9 and fast.training.epoch_frames == 20000


def test_transfer_stage_names_bad_layer_ranges_and_missing_sources(source, tmp_path):
    """The layers that can be transferred are counted on the source net (here 6 layers: 0..5), not assumed."""
    from asrser.transfer import stage

    ser = stage.SerTask(tmp_path / "iemocap/data", tmp_path / "iemocap/folds")
    asr = stage.AsrTask(tmp_path / "nc", tmp_path / "graph", tmp_path / "final.mdl", tmp_path / "timit/exp",
                        tmp_path / "timit/data")
    assert stage.transferable_layers(source) == 5 and stage.layer_range(source, None) == range(1, 6)
    assert stage.layer_range(source, (0, 2)) == range(1, 3)
    with pytest.raises(AsrserError, match=r"a range within 0\.\.5 \(the layers of .*final\.pt but its output "
                                          r"layer\), got 1\.\.6"):
        stage.transfer_asr_to_ser(source, ser, "net.yaml", tmp_path / "out", "asrser-run", layers=(1, 6))
    with pytest.raises(AsrserError, match=r"exp/convnet/final.pt is missing: the source net is trained by its "
                                          r"task's recipe"):
        stage.transfer_asr_to_ser(tmp_path / "timit/exp/convnet/final.pt", ser, "net.yaml", tmp_path / "out",
                                  "asrser-run")
    with pytest.raises(AsrserError, match=r"frames_train/frames.done is missing: the ASR frames"):
        stage.transfer_ser_to_asr(source, asr, "net.yaml", tmp_path / "out", "asrser-run")
    with pytest.raises(AsrserError, match=r"iemocap/folds: no prepared folds"):
        stage.transfer_asr_to_ser(source, ser, "net.yaml", tmp_path / "out", "asrser-run")
    assert stage.collect_transfer_results(tmp_path / "timit/exp/convnet", tmp_path / "iemocap/exp/convnet",
                                          tmp_path / "out") == {"ser_to_asr": {}, "asr_to_ser": {}}


def test_the_layers_to_transfer_are_counted_on_the_source_net(frames, tmp_path):
    """A net of 4 layers gives l = 1..3 by default and refuses 4; the count is not the paper's 6."""
    from asrser.transfer import stage

    root, data = frames
    short = root / "short.yaml"
    short.write_text((NET % 0).replace("  - {type: fc, units: 24}\n  - {type: fc, units: 24}\n", ""))
    train_net(data[3], data[3], tmp_path / "short", NetConfig.from_yaml(short), 3, device="cpu", progress=False)
    net = tmp_path / "short/final.pt"
    assert stage.transferable_layers(net) == 3 and stage.layer_range(net, None) == range(1, 4)
    with pytest.raises(AsrserError, match=r"within 0\.\.3 .* got 2\.\.4"):
        stage.layer_range(net, (2, 4))


def test_transfer_asr_rows_report_test_at_the_lm_weight_chosen_on_dev(tmp_path):
    from asrser.transfer import stage
    from helpers import score_deletions

    baseline = tmp_path / "timit/exp/convnet"
    for system in (baseline, tmp_path / "out/ser2asr/l1", tmp_path / "out/ser2asr/l7"):
        score_deletions(system / "decode_dev", {1: 9, 2: 7})           # dev chooses weight 2
        score_deletions(system / "decode_test", {1: 3, 2: 6})          # test alone would choose 1
        for name in ("dev", "test"):
            (system / f"decode_{name}/fer").write_text("%FER 20.00 [ 80 / 400 frames ] 1 utterances with "
                                                       "targets, 0 without\n")
    results = stage.collect_transfer_results(baseline, tmp_path / "iemocap/exp/convnet", tmp_path / "out")
    assert list(results["ser_to_asr"]) == ["baseline", "0", "1", "7"]          # every l run, in order
    for row in ("baseline", "0", "1", "7"):
        assert results["ser_to_asr"][row] == {"fer_dev": 20.0, "fer_test": 20.0, "per_dev": 7.0, "per_test": 6.0}
