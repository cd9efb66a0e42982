"""Inception-ResNet-v1: the shape of every stage at FaceNet's 160x160 input, the parameter count derived by hand from
the block structure, and the import of face weights (round trip, 1-channel from RGB, errors naming the file)."""

import pytest
import torch

from asrser.errors import AsrserError, DataError
from asrser.facenet.face_weights import load_face_weights
from asrser.facenet.inception_resnet import InceptionResNetConfig, InceptionResNetV1

# The CPU preset of conf/fast/facenet.yaml (chosen by benchmarks/bench_facenet.py).
FAST = {"width": 0.125, "embedding_dim": 128}


def net(num_classes=6, **options):
    torch.manual_seed(0)
    return InceptionResNetV1(InceptionResNetConfig(**options), num_classes).eval()


def shapes(model, in_channels=1, batch=2):
    with torch.no_grad():
        outputs = model.block_outputs(torch.rand(batch, in_channels, 160, 160))
    return {name: tuple(t.shape[1:]) for name, t in outputs.items()}


def test_block_shapes_full_net():
    assert shapes(net()) == {"stem": (256, 17, 17), "block35": (256, 17, 17), "reduction_a": (896, 8, 8),
                             "block17": (896, 8, 8), "reduction_b": (1792, 3, 3), "block8": (1792, 3, 3),
                             "embedding": (512,)}


def test_block_shapes_fast_preset():
    # width 1/8: stem 256/8 = 32; mixed_6a 384/8 + 256/8 + 32 = 112; mixed_7a 384/8 + 2 * 256/8 + 112 = 224
    assert shapes(net(**FAST)) == {"stem": (32, 17, 17), "block35": (32, 17, 17), "reduction_a": (112, 8, 8),
                                   "block17": (112, 8, 8), "reduction_b": (224, 3, 3), "block8": (224, 3, 3),
                                   "embedding": (128,)}


def test_forward_embed_and_replace_head():
    model = net(num_classes=6, **FAST)
    x = torch.rand(3, 1, 160, 160)
    with torch.no_grad():
        assert model(x).shape == (3, 6)
        embedding = model.embed(x)
        assert torch.equal(model.head(embedding), model(x))
        model.replace_head(4)
        assert model(x).shape == (3, 4)
        assert torch.equal(model.embed(x), embedding)      # only the head changed


def conv(k_h, k_w, cin, cout):
    """A BasicConv2d's parameters: the kernel (no bias) + BatchNorm's weight and bias."""
    return k_h * k_w * cin * cout + 2 * cout


def test_parameter_count_by_hand():
    stem = (conv(3, 3, 1, 32)          # conv2d_1a: 288 + 64 = 352
            + conv(3, 3, 32, 32)       # conv2d_2a: 9,216 + 64 = 9,280
            + conv(3, 3, 32, 64)       # conv2d_2b: 18,432 + 128 = 18,560
            + conv(1, 1, 64, 80)       # conv2d_3b: 5,120 + 160 = 5,280
            + conv(3, 3, 80, 192)      # conv2d_4a: 138,240 + 384 = 138,624
            + conv(3, 3, 192, 256))    # conv2d_4b: 442,368 + 512 = 442,880
    assert stem == 614_976
    # Block35 on 256 channels: 1x1 | 1x1-3x3 | 1x1-3x3-3x3 (32 each); the projection 96 -> 256 has a bias
    block35 = 3 * conv(1, 1, 256, 32) + 3 * conv(3, 3, 32, 32) + (96 * 256 + 256)
    assert block35 == 3 * 8_256 + 3 * 9_280 + 24_832 == 77_440
    # Reduction-A: 3x3/2 256 -> 384 | 1x1 256 -> 192, 3x3 192 -> 192, 3x3/2 192 -> 256 | max pool
    mixed_6a = conv(3, 3, 256, 384) + conv(1, 1, 256, 192) + conv(3, 3, 192, 192) + conv(3, 3, 192, 256)
    assert mixed_6a == 885_504 + 49_536 + 332_160 + 442_880 == 1_710_080
    # Block17 on 896 = 384 + 256 + 256 channels: 1x1 | 1x1-1x7-7x1 (128 each); projection 256 -> 896
    block17 = 2 * conv(1, 1, 896, 128) + conv(1, 7, 128, 128) + conv(7, 1, 128, 128) + (256 * 896 + 896)
    assert block17 == 2 * 114_944 + 2 * 114_944 + 230_272 == 690_048
    # Reduction-B: three 1x1 896 -> 256, then 3x3/2 256 -> 384 | 3x3/2 256 -> 256 | 3x3 256 -> 256, 3x3/2 | pool
    mixed_7a = 3 * conv(1, 1, 896, 256) + conv(3, 3, 256, 384) + 3 * conv(3, 3, 256, 256)
    assert mixed_7a == 3 * 229_888 + 885_504 + 3 * 590_336 == 3_346_176
    # Block8 on 1792 = 384 + 256 + 256 + 896 channels: 1x1 | 1x1-1x3-3x1 (192 each); projection 384 -> 1792
    block8 = 2 * conv(1, 1, 1792, 192) + conv(1, 3, 192, 192) + conv(3, 1, 192, 192) + (384 * 1792 + 1792)
    assert block8 == 2 * 344_448 + 2 * 110_976 + 689_920 == 1_600_768
    embedding = 1792 * 512 + 2 * 512        # last_linear without bias, last_bn
    head = 512 * 6 + 6
    total = stem + 5 * block35 + mixed_6a + 10 * block17 + mixed_7a + 6 * block8 + embedding + head
    assert total == 23_482_048 + 3_078
    model = net(num_classes=6)
    assert sum(p.numel() for p in model.parameters()) == total
    # the RGB net has 2 x 9 x 32 more kernel weights in conv2d_1a; its 23,482,624 without the head (and
    # 27,910,327 with a classifier of VGGFace2's 8,631 identities) is the count of the FaceNet checkpoints
    rgb = net(num_classes=8631, in_channels=3)
    assert sum(p.numel() for p in rgb.parameters()) == total - head + 2 * 9 * 32 + 512 * 8631 + 8631 == 27_910_327


def test_config_from_yaml_section():
    config = InceptionResNetConfig.from_dict({"width": 0.25, "embedding_dim": 128, "repeats": [1, 2, 1]})
    assert (config.width, config.embedding_dim, config.repeats, config.in_channels) == (0.25, 128, [1, 2, 1], 1)
    with pytest.raises(DataError, match="conf.yaml: unknown option 'widht'"):
        InceptionResNetConfig.from_dict({"widht": 0.25}, "conf.yaml")
    with pytest.raises(DataError, match="repeats must be three counts"):
        InceptionResNetConfig.from_dict({"repeats": [5, 10]}, "conf.yaml")


# ------------------------------------------------------------------------------------------------- face weights

SMALL = {"repeats": [1, 1, 1]}      # the full width (as face weights need) with one block of each kind: quicker


def face_state_dict(tmp_path, **options):
    """A state dict in the FaceNet checkpoints' naming (classifier `logits` over 20 identities), trained BatchNorm
    statistics included, saved as the checkpoints are: a plain dict of tensors."""
    face = net(num_classes=20, in_channels=3, **SMALL, **options)
    with torch.no_grad():
        for module in face.modules():
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
    state = {("logits." + k[len("head."):] if k.startswith("head.") else k): v
             for k, v in face.state_dict().items()}
    path = tmp_path / "vggface2.pt"
    torch.save(state, path)
    return face, state, path


def test_face_weights_round_trip(tmp_path):
    face, state, path = face_state_dict(tmp_path)
    model = net(num_classes=4, in_channels=3, **SMALL)
    head_before = model.head.weight.clone()
    assert load_face_weights(model, path) == len(state) - 2        # all but logits.weight and logits.bias
    for name, tensor in model.state_dict().items():
        if not name.startswith("head."):
            assert torch.equal(tensor, state[name]), name
    assert torch.equal(model.head.weight, head_before)             # the classifier is not imported
    x = torch.rand(2, 3, 160, 160)
    with torch.no_grad():
        assert torch.equal(model.embed(x), face.embed(x))


def test_face_weights_into_grey_net_equal_rgb_net_on_replicated_grey(tmp_path):
    face, _, path = face_state_dict(tmp_path)
    grey_model = net(num_classes=4, in_channels=1, **SMALL)
    load_face_weights(grey_model, path)
    assert grey_model.conv2d_1a.conv.weight.shape == (32, 1, 3, 3)
    grey = torch.rand(2, 1, 160, 160)
    with torch.no_grad():
        expected = face.embed(grey.expand(-1, 3, -1, -1))
        got = grey_model.embed(grey)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_face_weights_errors_name_file_and_tensor(tmp_path):
    _, state, path = face_state_dict(tmp_path)
    with pytest.raises(DataError, match=r"vggface2\.pt: face weights fit only the full net \(width 1.0\)"):
        load_face_weights(net(width=0.5, **SMALL), path)
    with pytest.raises(DataError, match=r"nowhere\.pt: no such face weights file"):
        load_face_weights(net(**SMALL), tmp_path / "nowhere.pt")
    with pytest.raises(DataError, match=r"vggface2\.pt: tensor last_linear\.weight has shape \(512, 1792\), the "
                                        r"net expects \(128, 1792\)"):
        load_face_weights(net(embedding_dim=128, **SMALL), path)
    with pytest.raises(DataError, match=r"deeper\.pt: tensor repeat_2\.1\.branch0\.conv\.weight has no "
                                        r"counterpart in the net"):
        load_face_weights(net(**SMALL), _saved(tmp_path, "deeper.pt", net(in_channels=3, repeats=[1, 2, 1])))
    missing = dict(state)
    del missing["mixed_6a.branch0.bn.running_var"]
    with pytest.raises(DataError, match=r"missing\.pt: tensor mixed_6a\.branch0\.bn\.running_var is missing"):
        load_face_weights(net(**SMALL), _saved(tmp_path, "missing.pt", missing))
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(AsrserError, match=r"broken\.pt: cannot load checkpoint"):
        load_face_weights(net(**SMALL), tmp_path / "broken.pt")


def _saved(tmp_path, name, state_or_model):
    state = state_or_model.state_dict() if isinstance(state_or_model, torch.nn.Module) else state_or_model
    torch.save(state, tmp_path / name)
    return tmp_path / name
