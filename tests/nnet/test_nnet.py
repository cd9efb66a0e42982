"""The ConvNet of the paper's table, frame data with on-the-fly splicing, priors, bad input."""

import json

import kaldiio
import numpy as np
import pytest
import torch

from asrser.errors import AsrserError, DataError
from asrser.features import splice
from asrser.nnet.data import FrameData, class_log_priors, global_mean_std, prepare_frames
from asrser.nnet.model import LayeredNet, NetConfig
from helpers import REPO


def test_convnet_matches_the_papers_table():
    config = NetConfig.from_yaml(REPO / "conf" / "convnet.yaml")
    net = LayeredNet(config, 144)
    assert len(net.layers) == 6                                   # numbered 1..6 as in the table
    assert net(torch.zeros(3, 1, 31, 40)).shape == (3, 144)
    conv1 = 64 * 5 * 4 + 2 * 64                                   # no bias before BatchNorm
    conv2 = 128 * 64 * 3 * 3 + 2 * 128
    flat = 128 * 5 * 8                                            # 31x40 -> 27x37 -> 13x18 -> 11x16 -> 5x8
    fc = flat * 1024 + 2 * 1024 + 2 * (1024 * 1024 + 2 * 1024)
    assert sum(p.numel() for p in net.parameters()) == conv1 + conv2 + fc + 1024 * 144 + 144
    assert 40e6 < net.flops_per_frame() < 47e6
    decays = sorted({g["weight_decay"] for g in net.parameter_groups()})
    assert decays == [0.0, 1e-3]                                  # L2 on the conv layers only
    net.reset_parameters(0)
    w = net.layers[2].linear.weight
    assert w.std().item() == pytest.approx((2.0 / flat) ** 0.5, rel=0.02)


@pytest.mark.parametrize("bf16", [False, True])
def test_conv_block_is_the_tables_conv_batchnorm_relu_pool_to_the_bit(bf16):
    """The block pools before its ReLU (faster); outputs and every gradient are those of the table's order."""
    from asrser.nnet.model import ConvBlock, ConvLayer

    torch.manual_seed(0)
    block = ConvBlock(1, ConvLayer(channels=8, kernel=[5, 4])).to(memory_format=torch.channels_last)
    with torch.no_grad():
        block.norm.weight.uniform_(-1.0, 1.0)        # negative scales too: the pool is not moved past them
    x = torch.randn(16, 1, 31, 40).contiguous(memory_format=torch.channels_last)
    results = []
    for forward in (block, lambda x: block.pool(torch.relu(block.norm(block.conv(x))))):
        block.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = forward(x)
        y.backward(torch.randn(y.shape, generator=torch.Generator().manual_seed(1)))
        results.append([y.detach().clone()] + [p.grad.clone() for p in block.parameters()])
    assert (results[0][0] == 0).float().mean() > 0.03                  # the ReLU was at work
    for ours, table in zip(*results):
        assert torch.equal(ours, table)


def test_freezing_keeps_layers_and_batchnorm_statistics():
    net = LayeredNet(NetConfig.from_yaml(REPO / "conf" / "convnet.yaml"), 5)
    net.freeze(2)
    net.train()
    before = net.layers[0].norm.running_mean.clone()
    net(torch.randn(8, 1, 31, 40))
    assert torch.equal(before, net.layers[0].norm.running_mean)
    assert not any(p.requires_grad for p in net.layers[1].parameters())
    assert all(p.requires_grad for p in net.layers[2].parameters())


def test_malformed_network_config_is_named(tmp_path):
    bad = tmp_path / "net.yaml"
    bad.write_text("input: {context: 2, dim: 4}\nlayers:\n  - {type: lstm}\n  - {type: output}\n")
    with pytest.raises(AsrserError, match="net.yaml:3: layers.1: unknown type 'lstm'"):
        NetConfig.from_yaml(bad)


def make_frames(tmp_path, lengths=(7, 3, 12), dim=4, target_lengths=None, missing=()):
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    feats = {f"s1-u{i}": rng.normal(size=(n, dim)).astype(np.float32) for i, n in enumerate(lengths)}
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/feats.ark,{data}/feats.scp") as w:
        for utt, x in feats.items():
            w(utt, x)
    (data / "utt2spk").write_text("".join(f"{u} s1\n" for u in feats))
    (data / "spk2utt").write_text("s1 " + " ".join(feats) + "\n")
    target_lengths = target_lengths or lengths
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/t.ark,{tmp_path}/targets.scp") as w:
        for (utt, x), n in zip(feats.items(), target_lengths):
            if utt not in missing:
                w(utt, np.arange(n, dtype=np.int32) % 3)
    all_x = np.concatenate(list(feats.values())).astype(np.float64)
    stats = np.zeros((2, dim + 1))
    stats[0, :dim], stats[1, :dim], stats[0, dim] = all_x.sum(0), (all_x ** 2).sum(0), len(all_x)
    kaldiio.save_mat(str(tmp_path / "cmvn.ark"), stats)
    return data, feats


def test_windows_are_kaldi_splicing_of_normalised_features(tmp_path):
    data, feats = make_frames(tmp_path)
    counts = prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", tmp_path / "frames")
    assert counts == {"utterances": 3, "untargeted": 0, "frames": 22}
    frames = FrameData(tmp_path / "frames", context=2)
    mean, std = global_mean_std(kaldiio.load_mat(str(tmp_path / "cmvn.ark")))
    for i, (utt, x) in enumerate(feats.items()):
        name, idx = frames.utterance(i)
        expected = splice((x - mean) / std, 2, 2).reshape(len(x), 5, -1)  # edge frames repeat
        assert name == utt
        np.testing.assert_allclose(frames.windows(idx), expected, atol=1e-5)
    normalised = np.asarray(frames.feats)
    np.testing.assert_allclose(normalised.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(normalised.std(0), 1, atol=1e-4)


def test_utterances_without_targets_are_kept_untargeted_and_long_mismatches_named(tmp_path):
    """Decoding does not depend on alignments: an utterance without targets keeps its frames, with target -1
    (left out of training and frame error rates), and is counted."""
    data, feats = make_frames(tmp_path, target_lengths=(8, 3, 12), missing=("s1-u1",))
    counts = prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", tmp_path / "frames")
    assert counts == {"utterances": 3, "untargeted": 1, "frames": 22}  # one extra target frame is tolerated
    frames = FrameData(tmp_path / "frames", context=2)
    assert frames.utts == list(feats)
    _, untargeted = frames.utterance(1)
    assert len(untargeted) == len(feats["s1-u1"]) and (frames.targets[untargeted] == -1).all()
    assert (frames.targets[frames.utterance(0)[1]] >= 0).all()
    assert not (tmp_path / "frames" / "feats.npy.tmp").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    data2, _ = make_frames(bad, target_lengths=(7, 3, 9))
    with pytest.raises(AsrserError, match="s1-u2 has 9 targets but 12 feature frames"):
        prepare_frames(data2, bad / "targets.scp", bad / "cmvn.ark", bad / "frames")
    assert not (bad / "frames" / "feats.npy").exists() and not (bad / "frames" / "frames.done").exists()


def test_missing_targets_or_statistics_are_named(tmp_path):
    data, _ = make_frames(tmp_path)
    with pytest.raises(DataError, match=f"^{tmp_path / 'nope.scp'}: file does not exist$"):
        prepare_frames(data, tmp_path / "nope.scp", tmp_path / "cmvn.ark", tmp_path / "frames")
    with pytest.raises(DataError, match=f"^{tmp_path / 'nope.ark'}: file does not exist$"):
        prepare_frames(data, tmp_path / "targets.scp", tmp_path / "nope.ark", tmp_path / "frames")


def test_priors_from_alignment_counts():
    targets = np.array([0, 0, 0, 1, 2, 2, -1])
    log_priors = class_log_priors(targets, 4)
    np.testing.assert_allclose(np.exp(log_priors[:3]), [0.5, 1 / 6, 1 / 3], rtol=1e-5)
    # an unseen class is ruled out of decoding (its log-likelihood log posterior - log prior is about -1e10),
    # not favoured by a floored prior (which made <UNK>'s spoken-noise phone win every frame of a word task)
    log_likelihood = np.log(np.full(4, 0.25, dtype=np.float32)) - log_priors
    assert log_likelihood[3] < -1e9 and np.isfinite(log_likelihood).all()
    assert log_likelihood.argmax() == 1                              # the rarest seen class, as before
    json.dumps(log_priors.tolist())


SMALL_NET = ("input: {context: 2, dim: 4}\nlayers:\n  - {type: fc, units: 16}\n  - {type: output}\n"
             "training: {batch_size: 32, max_epochs: 2, min_epochs: 1, precision: fp32}\n")


def small_net(tmp_path, **overrides) -> NetConfig:
    (tmp_path / "net.yaml").write_text(SMALL_NET)
    return NetConfig.from_yaml(tmp_path / "net.yaml", **overrides)


def same_weights(a, b) -> bool:
    from asrser.nnet.train import load_checkpoint

    a, b = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_trained_net_is_up_to_date_only_for_the_same_options_and_frames(tmp_path, caplog):
    from asrser.nnet.train import train_net

    data, _ = make_frames(tmp_path, lengths=(150, 90, 200))
    frames = tmp_path / "frames"
    prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", frames)
    net = tmp_path / "net"
    first = train_net(frames, frames, net, small_net(tmp_path), 3, progress=False)
    caplog.set_level("INFO")
    assert train_net(frames, frames, net, small_net(tmp_path), 3, progress=False) == first
    assert "final.pt is up to date" in caplog.text
    caplog.clear()
    # another learning rate: trained again, as a fresh run with it would be
    other = train_net(frames, frames, net, small_net(tmp_path, learning_rate=0.005), 3, progress=False)
    assert "up to date" not in caplog.text and other != first
    assert "training.learning_rate changed from 0.02 to 0.005" in caplog.text
    train_net(frames, frames, tmp_path / "fresh", small_net(tmp_path, learning_rate=0.005), 3, progress=False)
    assert same_weights(net / "final.pt", tmp_path / "fresh" / "final.pt")
    caplog.clear()
    # the same options on other training frames (two of the three utterances)
    prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", frames, utts=["s1-u0", "s1-u2"])
    train_net(frames, frames, net, small_net(tmp_path, learning_rate=0.005), 3, progress=False)
    assert "up to date" not in caplog.text and f"other contents of {frames / 'feats.npy'}" in caplog.text


def test_resuming_with_a_changed_config_is_refused_naming_the_option(tmp_path):
    """An interrupted run is resumed only with its own settings: with another config it is an error naming what
    changed, and its checkpoints stay; a finished net with another config is trained again (its test above)."""
    from asrser.errors import AsrserError
    from asrser.nnet.train import train_net

    data, _ = make_frames(tmp_path, lengths=(150, 90, 200))
    frames = tmp_path / "frames"
    prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", frames)
    net = tmp_path / "net"
    train_net(frames, frames, net, small_net(tmp_path), 3, progress=False)
    for name in ("epoch_2.pt", "final.pt", "history.json", "train.done"):       # as if killed after epoch 1
        (net / name).unlink(missing_ok=True)
    with pytest.raises(AsrserError, match=r"interrupted run with other settings \(training.seed changed from 0 "
                                          r"to 7\).*remove"):
        train_net(frames, frames, net, small_net(tmp_path, seed=7), 3, progress=False)
    assert (net / "epoch_1.pt").exists()
    history = train_net(frames, frames, net, small_net(tmp_path), 3, progress=False)     # its own settings: resumes
    assert [h["epoch"] for h in history] == [1, 2]
    train_net(frames, frames, tmp_path / "fresh", small_net(tmp_path), 3, progress=False)
    assert same_weights(net / "epoch_2.pt", tmp_path / "fresh" / "epoch_2.pt")

def test_newbob_halves_on_small_improvements_over_the_best_and_stops_after_n_halvings():
    """The rule of the epoch loop, and why it is not torch's ReduceLROnPlateau (which compares with the last
    improvement larger than the threshold, so the same FERs would give other learning rates)."""
    from asrser.nnet.model import TrainingConfig
    from asrser.nnet.train import TrainingState

    tc = TrainingConfig(learning_rate=0.08, halving_threshold=0.5, stop_after_halvings=2, min_epochs=5)
    state = TrainingState(lr=tc.learning_rate)
    fers = [50.0, 40.0, 39.7, 39.3, 39.5, 38.0, 37.9]
    rates, stops = [], []
    for epoch, fer in enumerate(fers, 1):
        stops.append(state.newbob(epoch, fer, tc))
        rates.append(state.lr)
    assert rates == [0.08, 0.08, 0.04, 0.02, 0.01, 0.01, 0.005]
    assert stops == [False, False, False, False, True, True, True]      # 3 > 2 halvings, from epoch 5 (min_epochs)
    assert (state.best_epoch, state.best_fer, state.halvings, state.epoch) == (7, 37.9, 4, 7)

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=tc.learning_rate)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0, threshold=0.5,
                                                         threshold_mode="abs")
    theirs = []
    for fer in fers:
        plateau.step(fer)
        theirs.append(opt.param_groups[0]["lr"])
    assert theirs != rates and theirs[3] == 0.04          # 39.3 is 0.7 below 40.0, the last large improvement


def test_each_rank_takes_its_share_of_the_single_process_batches():
    """Data parallel: the ranks' steps together take the batches one process takes (the same frames per step
    and per epoch), so a 2-process run differs from one process only where the maths must (batch norm over
    each rank's share, dropout masks, reduction order)."""
    from asrser.nnet.train import rank_batches

    order = np.random.default_rng(0).permutation(1000)
    single = rank_batches(order, 64, 0, 1)
    assert len(single) == 15 and all(np.array_equal(b, order[64 * i:64 * (i + 1)]) for i, b in enumerate(single))
    shares = [rank_batches(order, 64, rank, 2) for rank in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == 15
    for whole, first, second in zip(single, *shares):
        assert len(first) == len(second) == 32
        assert sorted(np.concatenate([first, second])) == sorted(whole)


@pytest.mark.slow
def test_data_parallel_training_in_processes_of_its_own(tmp_path):
    """--nproc 2: nnet_train.py starts two training processes (gloo on CPU) with torchrun's launcher; rank 0
    writes the checkpoints and final.pt. A process that fails is a one-line error naming it, not torchrun's
    traceback."""
    import os
    import re
    import subprocess
    import sys

    from asrser.nnet.train import load_checkpoint

    data, _ = make_frames(tmp_path, lengths=(150, 90, 200))
    prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", tmp_path / "frames")
    (tmp_path / "net.yaml").write_text(SMALL_NET)
    train = [sys.executable, str(REPO / "steps_py/nnet_train.py"), "--config", str(tmp_path / "net.yaml"), "--nproc",
             "2", str(tmp_path / "frames")]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    run = subprocess.run([*train, str(tmp_path / "frames"), "3", str(tmp_path / "net")], capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert load_checkpoint(tmp_path / "net" / "final.pt")["num_classes"] == 3
    assert (tmp_path / "net" / "epoch_2.pt").exists()
    assert json.loads((tmp_path / "net" / "train.done").read_text())["params"]["world_size"] == 2
    failed = subprocess.run([*train, str(tmp_path / "missing"), "3", str(tmp_path / "net2")], capture_output=True,
                            text=True, env=env, timeout=300)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert f"{tmp_path / 'missing'}: no prepared frames" in failed.stderr
    assert re.fullmatch(r"ERROR \(nnet_train.py\): training process [01] on \S+ exited with code 1 \(its error is "
                        r"above\)", failed.stderr.strip().splitlines()[-1])


def test_frames_without_any_target_are_refused_for_training_and_validation(tmp_path):
    """Validation frames of utterances nobody aligned (e.g. an imported experiment that aligned only the training
    set) would give a validation FER of 0% that steers the learning rate: an error naming them instead."""
    from asrser.nnet.train import train_net

    data, _ = make_frames(tmp_path, lengths=(150, 90, 200))
    prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", tmp_path / "train")
    (tmp_path / "none.scp").write_text("")
    prepare_frames(data, tmp_path / "none.scp", tmp_path / "cmvn.ark", tmp_path / "valid")
    for train, valid, name in (("train", "valid", "validation"), ("valid", "train", "training")):
        with pytest.raises(DataError, match=f"no frame has a target: the {name} frames") as e:
            train_net(tmp_path / train, tmp_path / valid, tmp_path / "net", small_net(tmp_path), 3, progress=False)
        assert str(e.value).startswith(str(tmp_path / "valid" / "targets.npy"))


def test_per_speaker_cmvn_beside_the_stats_normalises_each_speaker_first_and_travels_with_the_frames(tmp_path):
    """compute_global_cmvn.py --cmvn-opts writes cmvn_opts beside the stats, which are then of the per-speaker
    normalised features; prepare_frames applies both (per speaker, then globally) and keeps cmvn_opts with the
    frames; without the option a stale cmvn_opts goes, and the frames are as before."""
    from helpers import run_step

    data, feats = make_frames(tmp_path, lengths=(7, 3, 12, 9))
    feats["s1-u3"] = feats["s1-u3"] + 5.0                       # a second speaker, far from the first
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/feats2.ark,{data}/feats.scp") as w:
        for utt, x in feats.items():
            w(utt, x)
    speaker = {"s1-u0": "a", "s1-u1": "a", "s1-u2": "b", "s1-u3": "b"}
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in speaker.items()))
    (data / "spk2utt").write_text("a s1-u0 s1-u1\nb s1-u2 s1-u3\n")
    stats = tmp_path / "exp" / "global_cmvn.stats"
    run_step("compute_global_cmvn.py", "--cmvn-opts", "--norm-means=true", data, stats)
    assert (tmp_path / "exp" / "cmvn_opts").read_text() == "--norm-means=true --norm-vars=false\n"
    prepare_frames(data, tmp_path / "targets.scp", stats, tmp_path / "frames")
    by_speaker = {s: np.concatenate([feats[u] for u in feats if speaker[u] == s]).mean(0) for s in "ab"}
    centred = np.concatenate([x - by_speaker[speaker[u]] for u, x in feats.items()]).astype(np.float64)
    expected = (centred - centred.mean(0)) / centred.std(0)
    np.testing.assert_allclose(np.load(tmp_path / "frames" / "feats.npy"), expected, atol=1e-4)
    assert (tmp_path / "frames" / "cmvn_opts").exists()

    run_step("compute_global_cmvn.py", data, stats)              # the global normalisation alone again
    assert not (tmp_path / "exp" / "cmvn_opts").exists()
    prepare_frames(data, tmp_path / "targets.scp", stats, tmp_path / "frames")
    assert not (tmp_path / "frames" / "cmvn_opts").exists()
    plain = np.concatenate(list(feats.values())).astype(np.float64)
    np.testing.assert_allclose(np.load(tmp_path / "frames" / "feats.npy"),
                               (plain - plain.mean(0)) / plain.std(0), atol=1e-4)
    bad = run_step("compute_global_cmvn.py", "--cmvn-opts", "--norm-mean=true", data, stats, check=False)
    assert bad.returncode != 0 and "unknown CMVN option '--norm-mean=true'" in bad.stderr


def test_frames_normalised_otherwise_than_the_nets_training_frames_are_refused(tmp_path):
    from asrser.nnet.data import SPEAKER_CMVN_OPTS
    from asrser.nnet.decode import check_same_normalisation

    data, _ = make_frames(tmp_path)
    prepare_frames(data, tmp_path / "targets.scp", tmp_path / "cmvn.ark", tmp_path / "frames")
    net_dir = tmp_path / "net"
    net_dir.mkdir()
    check_same_normalisation(net_dir, tmp_path / "frames")       # a net dir of an older release: nothing to check
    (net_dir / "global_cmvn.stats").write_bytes((tmp_path / "frames" / "global_cmvn.stats").read_bytes())
    check_same_normalisation(net_dir, tmp_path / "frames")
    (net_dir / SPEAKER_CMVN_OPTS).write_text("--norm-means=true\n")
    with pytest.raises(DataError, match="normalised otherwise than the net's training frames"):
        check_same_normalisation(net_dir, tmp_path / "frames")
