"""Typed configs (asrser.config): every YAML file of conf/ parsed into dataclasses; a misspelt, missing or
mistyped option is an error naming the file and line."""

from dataclasses import asdict

import pytest
import yaml

from asrser.config import load_config, written_options
from asrser.errors import DataError
from asrser.gmm.train import TrainConfig
from asrser.nnet.model import ConvLayer, FcLayer, NetConfig, OutputLayer
from asrser.ser.frames import VadConfig
from helpers import REPO

NET = """\
input: {context: 2, dim: 4}
layers:
  - {type: conv, channels: 3, kernel: [2, 2], pool: [1, 1]}
  - {type: fc, units: 16, dropout: 0.5}
  - {type: output}
training: {batch_size: 32, max_epochs: 2}
"""


def write(path, text):
    path.write_text(text)
    return path


def test_every_config_of_the_repository_loads():
    for path in sorted((REPO / "conf").rglob("convnet*.yaml")):
        config = NetConfig.from_yaml(path)
        assert isinstance(config.layers[0], ConvLayer) and isinstance(config.layers[-1], OutputLayer), path
    gmm = load_config(dict[str, TrainConfig], REPO / "conf/gmm.yaml")
    assert sorted(gmm) == ["mono", "tri1", "tri2", "tri3"] and gmm["tri2"].mllt_iters == [2, 4, 6, 12]
    assert gmm["tri3"].fmllr_iters == [2, 4, 6, 12] and gmm["tri3"].silence_weight == 0.0
    assert VadConfig.from_yaml(REPO / "conf/vad.yaml") == VadConfig()


@pytest.mark.parametrize("old,new,message,line", [
    # a misspelt option was ignored (the layer kept its default dropout)
    ("dropout: 0.5", "dropuot: 0.5", "unknown option 'dropuot' in layers.2 (known: type, units, dropout, l2)", 4),
    # a missing one was a bare KeyError when the net was built
    ("channels: 3, ", "", "missing option 'channels' in layers.1", 3),
    ("units: 16", "units: many", "layers.2.units: expected an integer, found 'many'", 4),
    ("{type: output}", "{type: lstm}", "layers.3: unknown type 'lstm' (one of conv, fc, output)", 5),
    ("max_epochs: 2", "max_epochs: 2, optimiser: sgd", "unknown option 'optimiser' in training", 6),
    ("batch_size: 32", "optimizer: adam", "training.optimizer: expected one of sgd, rmsprop, found 'adam'", 6),
    ("kernel: [2, 2]", "kernel: [2]", "layers.1: kernel: expected [time, frequency]", 3),
    ("dim: 4", "dim: 4, dim: 5", "option 'dim' is given twice", 1),
])
def test_a_bad_network_option_is_named_with_file_and_line(tmp_path, old, new, message, line):
    path = write(tmp_path / "net.yaml", NET.replace(old, new))
    with pytest.raises(DataError) as err:
        NetConfig.from_yaml(path)
    assert message in err.value.message and err.value.path == str(path)
    assert err.value.line in (line, None if "kernel" in message else line)


def test_net_structure_errors_name_the_file(tmp_path):
    path = write(tmp_path / "net.yaml", NET.replace("  - {type: output}\n", ""))
    with pytest.raises(DataError, match="the last layer must be of type output"):
        NetConfig.from_yaml(path)
    write(path, "input: {context: 2, dim: 4}\nlayers:\n  - {type: fc, units: 2}\n"
                "  - {type: conv, channels: 1, kernel: [1, 1]}\n  - {type: output}\n")
    with pytest.raises(DataError, match="layer 2: a conv layer cannot follow a fully-connected one"):
        NetConfig.from_yaml(path)


def test_a_base_config_supplies_what_a_file_does_not_set_and_errors_name_the_file_that_has_them(tmp_path):
    write(tmp_path / "base.yaml", NET)
    child = write(tmp_path / "child.yaml", "base: base.yaml\ninput: {context: 3}\ntraining: {seed: 7}\n")
    config = NetConfig.from_yaml(child)
    assert (config.context, config.dim) == (3, 4)                        # mappings merged key by key
    assert (config.training.seed, config.training.batch_size, config.training.max_epochs) == (7, 32, 2)
    assert [layer.type for layer in config.layers] == ["conv", "fc", "output"]
    write(tmp_path / "child.yaml", "base: base.yaml\nlayers:\n  - {type: output, l2: 0.1}\ntraining: {sed: 7}\n")
    with pytest.raises(DataError) as err:
        NetConfig.from_yaml(child)
    assert (err.value.path, err.value.line) == (str(child), 4) and "unknown option 'sed' in training" in str(err.value)
    write(tmp_path / "base.yaml", NET.replace("max_epochs: 2", "max_epochs: two"))
    write(tmp_path / "child.yaml", "base: base.yaml\n")
    with pytest.raises(DataError) as err:
        NetConfig.from_yaml(child)
    assert (err.value.path, err.value.line) == (str(tmp_path / "base.yaml"), 6)
    write(tmp_path / "child.yaml", "base: nowhere.yaml\n")
    with pytest.raises(DataError, match="nowhere.yaml does not exist"):
        NetConfig.from_yaml(child)


def test_records_and_checkpoints_hold_the_layers_as_written():
    """The layer options a completion record and final.pt store are those the file gives, as before the configs
    were typed: a finished net stays up to date, and checkpoints written before read back the same."""
    path = REPO / "conf/fast/convnet.yaml"
    config = NetConfig.from_yaml(path)
    as_written = yaml.safe_load(path.read_text())["layers"]
    assert written_options(config.layers) == as_written
    assert as_written[2] == {"type": "fc", "units": 256, "dropout": 0.3} and config.layers[2].l2 == 0.0
    saved = config.checkpoint_options()
    assert saved == {"context": 15, "dim": 40, "layers": as_written}
    again = NetConfig.from_checkpoint(saved, "final.pt")
    assert again.layers == config.layers and again.checkpoint_options() == saved
    assert isinstance(again.layers[2], FcLayer)


def test_gmm_config_sections_are_typed_with_lines(tmp_path):
    path = write(tmp_path / "gmm.yaml", "mono:\n  num_iters: 4\ntri1:\n  num_leaves: 9\n  totgauss: 100\n")
    with pytest.raises(DataError) as err:
        TrainConfig.from_yaml(path, "mono")         # a typo in another section is found as well
    assert err.value.line == 5 and "unknown option 'totgauss' in tri1" in err.value.message
    write(path, "mono:\n  num_iters: 4\n  realign_iters: 3\n")
    with pytest.raises(DataError, match="mono.realign_iters: expected a list, found 3") as err:
        TrainConfig.from_yaml(path, "mono")
    assert err.value.line == 3
    write(path, "mono:\n  num_iters: 4\n")
    with pytest.raises(DataError, match="no section 'tri2' .sections: mono."):
        TrainConfig.from_yaml(path, "tri2")
    write(path, "mono: {beam: 1e-3}\n")
    assert TrainConfig.from_yaml(path, "mono").beam == 0.001      # YAML 1.2's reading of 1e-3, not text


def test_training_options_keep_their_record():
    config = NetConfig.from_yaml(REPO / "conf/convnet.yaml", max_epochs=3)
    assert asdict(config.training)["max_epochs"] == 3 and isinstance(config.training.learning_rate, float)
