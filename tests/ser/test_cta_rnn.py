"""CTA-RNN and its ablations on a synthetic embedding store whose emotion lives in one layer: masks, every
variant's accuracy and layer weights, determinism, resumption, a store missing utterances, scoring and the
layer-weight figure."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from asrser.encoders.store import EmbeddingMeta, write_embeddings
from asrser.errors import AsrserError, DataError
from asrser.ser import cta_rnn
from asrser.ser.cta_rnn import (VARIANTS, CtaConfig, CtaModelConfig, CtaRnn, CtaTrainingConfig, load_cta_model,
                                mean_layer_weights, pad_batch, train_cta_fold)
from asrser.ser.folds import write_folds

REPO = Path(__file__).resolve().parents[2]
EMOTIONS = ("ang", "hap", "neu", "sad")


@pytest.fixture(autouse=True)
def one_thread():
    """Trainings of a few seconds: one thread (two threads on two busy cores spin-wait, many times slower);
    the thread count is part of what makes runs identical."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def synthetic_experiment(root: Path, informative: int, layers: int = 4, dim: int = 16, sessions: int = 4,
                         per_session: int = 48, frames: tuple[int, int] = (12, 30), strength: float = 1.5,
                         seed: int = 0, skip: int = 0) -> tuple[Path, Path, Path]:
    """(store, data dir, folds dir): utterances of `sessions` sessions (2 speakers each), balanced emotions.
    Layer `informative` carries the emotion (a class direction added to every frame, under unit noise); the
    other layers are noise with a speaker offset; every layer has its own scale (normalisation must undo it).
    The store leaves out the last `skip` utterances."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((len(EMOTIONS), dim))
    directions *= strength / np.linalg.norm(directions, axis=1, keepdims=True) * np.sqrt(dim) / 2
    scales = 1.0 + 3.0 * np.arange(layers)
    data, items = root / "data", []
    data.mkdir(parents=True)
    tables = {"utt2spk": [], "utt2emo": [], "utt2sess": []}
    for s in range(1, sessions + 1):
        for n in range(per_session):
            spk = f"S{s}{'FM'[n % 2]}"
            utt = f"{spk}-u{n:03d}"
            emotion = n // 2 % len(EMOTIONS)
            length = int(rng.integers(*frames, endpoint=True))
            x = rng.standard_normal((layers, length, dim))
            x += rng.standard_normal((layers, 1, dim)) * 0.3           # the speaker's offset, per utterance here
            x[informative] += directions[emotion]
            items.append((utt, (x * scales[:, None, None]).astype(np.float32)))
            for name, value in (("utt2spk", spk), ("utt2emo", EMOTIONS[emotion]), ("utt2sess", f"Ses{s}")):
                tables[name].append(f"{utt} {value}\n")
    for name, lines in tables.items():
        (data / name).write_text("".join(sorted(lines)))
    store = root / "store"
    meta = EmbeddingMeta("synthetic", tuple(f"layer{i}" for i in range(layers)), dim, 0.04)
    write_embeddings(store, sorted(items)[:len(items) - skip], meta)
    folds = root / "folds"
    write_folds(data, folds, "session")
    return store, data, folds


def small_config(variant: str, **training) -> CtaConfig:
    tc = dict(learning_rate=5e-3, batch_size=16, max_epochs=15, min_epochs=8, patience=4, seed=1, precision="fp32")
    return CtaConfig(variant, CtaModelConfig(hidden=16, squeeze_bottleneck=16, attention_dim=16, dropout=0.1),
                     CtaTrainingConfig(**{**tc, **training}))


def test_padding_and_batch_do_not_change_an_utterances_output():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, t, 8)).astype(np.float32) for t in (5, 9, 14)]
    for variant in VARIANTS:
        model = CtaRnn(variant, 3, 8, 4, CtaModelConfig(hidden=6, squeeze_bottleneck=5, attention_dim=4)).eval()
        for p in model.parameters():        # not the start (uniform attention): weights that depend on the input
            torch.nn.init.normal_(p, std=0.5)
        inputs = [a[model.input_layers] for a in arrays]
        x, mask = pad_batch(inputs, torch.device("cpu"))
        assert x.shape == (3, len(model.input_layers), 14, 8) and mask.sum(1).tolist() == [5, 9, 14]
        with torch.no_grad():
            logits, layer_weights, frame_weights = model(x, mask)
            assert logits.shape == (3, 4) and layer_weights.shape == (3, 3) and frame_weights.shape == (3, 14)
            torch.testing.assert_close(layer_weights.sum(1), torch.ones(3))
            torch.testing.assert_close(frame_weights.sum(1), torch.ones(3))
            assert not frame_weights[~mask].any()
            for i, a in enumerate(inputs):           # alone, unpadded: the same outputs
                alone = model(*pad_batch([a], torch.device("cpu")))
                torch.testing.assert_close(alone[0][0], logits[i], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(alone[1][0], layer_weights[i], atol=1e-6, rtol=1e-6)
            x[0, :, 5:] = 1e3                        # garbage in the padding changes nothing
            torch.testing.assert_close(model(x, mask)[0], logits, atol=1e-5, rtol=1e-5)
        if variant == "last":
            assert (layer_weights[:, -1] == 1).all() and layer_weights[:, :-1].sum() == 0
        else:
            assert layer_weights.std(1).min() > 0.01       # not uniform: the test sees the weights' masking


def test_frame_pooling_averages_runs_of_frames():
    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    pooled = cta_rnn.pool_frames(x, 2)
    np.testing.assert_array_equal(pooled[1], [(x[1, 0] + x[1, 1]) / 2, (x[1, 2] + x[1, 3]) / 2, x[1, 4]])
    assert cta_rnn.pool_frames(x, 1) is x


def _read_weights(out: Path) -> np.ndarray:
    return mean_layer_weights([out / "layer_weights.tsv"])[2].mean(0)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_learns_the_emotion_layer(tmp_path, variant):
    informative = 3 if variant == "last" else 1
    store, data, folds = synthetic_experiment(tmp_path, informative)
    out = tmp_path / variant
    train_cta_fold([store], data, folds, 1, out, small_config(variant), device="cpu", progress=False)
    rows = [line.split("\t") for line in (out / "predictions.tsv").read_text().splitlines()]
    assert rows[0] == ["fold", "role", "utt", "speaker", "label", "predicted"]
    test = [r for r in rows[1:] if r[1] == "test"]
    assert {r[1] for r in rows[1:]} == {"valid", "test"} and {r[0] for r in rows[1:]} == {"Ses1"}
    assert len(test) == 48 and all(r[2].startswith("S1") for r in test)
    recalls = [np.mean([r[4] == r[5] for r in test if r[4] == e]) for e in EMOTIONS]
    assert np.mean(recalls) >= 0.85, recalls
    weights = _read_weights(out)
    assert (out / "layer_weights.tsv").read_text().splitlines()[0].split("\t") == \
        ["utt", "label", "layer0", "layer1", "layer2", "layer3"]
    if variant in ("channel", "cta"):      # the per-utterance attention puts most of its mass on the emotion
        assert weights.argmax() == informative and weights[informative] > 0.5, weights
    elif variant in ("weighted_sum", "temporal"):
        assert weights.argmax() == informative, weights
    history = json.loads((out / "history.json").read_text())
    model, ckpt = load_cta_model(out / "final.pt")
    best = max(history, key=lambda h: h["valid_ua"])
    assert ckpt["best_epoch"] == best["epoch"] and ckpt["variant"] == variant
    assert (out / "train.done").exists() and not (out / "checkpoint.pt").exists()


def test_same_config_same_bytes_and_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    store, data, folds = synthetic_experiment(tmp_path, 1, per_session=24)
    config = small_config("cta", max_epochs=5, min_epochs=5)
    outputs = ("final.pt", "predictions.tsv", "layer_weights.tsv")
    for name in ("a", "b"):
        train_cta_fold([store], data, folds, 2, tmp_path / name, config, device="cpu", progress=False)
    for f in outputs:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    saved = []
    real_save = cta_rnn.save_checkpoint

    def killed_after_two_epochs(path, payload):
        real_save(path, payload)
        saved.append(path.name)
        if saved.count("checkpoint.pt") == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cta_rnn, "save_checkpoint", killed_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        train_cta_fold([store], data, folds, 2, tmp_path / "c", config, device="cpu", progress=False)
    assert not (tmp_path / "c" / "final.pt").exists()
    monkeypatch.setattr(cta_rnn, "save_checkpoint", real_save)
    train_cta_fold([store], data, folds, 2, tmp_path / "c", config, device="cpu", progress=False)
    history = json.loads((tmp_path / "c" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    a = torch.load(tmp_path / "a" / "final.pt", weights_only=True)["model"]
    c = torch.load(tmp_path / "c" / "final.pt", weights_only=True)["model"]
    assert a.keys() == c.keys() and all(torch.equal(a[k], c[k]) for k in a)
    for f in outputs:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "c" / f).read_bytes(), f
    # done: a second call does no work
    written = (tmp_path / "c" / "final.pt").stat().st_mtime_ns
    train_cta_fold([store], data, folds, 2, tmp_path / "c", config, device="cpu", progress=False)
    assert (tmp_path / "c" / "final.pt").stat().st_mtime_ns == written


def test_store_missing_utterances_is_one_line_naming_the_scp(tmp_path):
    store, data, folds = synthetic_experiment(tmp_path, 1, per_session=12, skip=3)
    result = subprocess.run([sys.executable, str(REPO / "steps_py" / "cta_train_fold.py"), "--config",
                             str(REPO / "conf" / "fast" / "cta_rnn.yaml"), "--variant", "last", "--device", "cpu",
                             str(store), str(data), str(folds), "4", str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"ERROR (cta_train_fold.py): {store / 'feats.scp'}: 3 utterance(s) of fold 4 of {folds / 'folds.json'} have "
        f"no embeddings, e.g. S4M-u007 (extract them again for this data dir)")
    assert "Traceback" not in result.stderr
    with pytest.raises(AsrserError, match="no fold 9"):
        train_cta_fold([store], data, folds, 9, tmp_path / "out", small_config("cta"))


def test_cross_corpus_stores_score_and_plot(tmp_path):
    """Two stores (as for a fold training on one corpus and testing on another), the fold's test groups, the
    pooled results.json with the CTA-RNN's description, and the layer-weight figure."""
    store, data, folds = synthetic_experiment(tmp_path, 1, per_session=12)
    from asrser.encoders.store import EmbeddingStore
    whole = EmbeddingStore(store)
    meta = whole.meta
    half = whole.utterances[:20]
    write_embeddings(tmp_path / "store_a", [(u, whole.read(u)) for u in half], meta)
    write_embeddings(tmp_path / "store_b", [(u, whole.read(u)) for u in whole.utterances[20:]], meta)
    stores = [tmp_path / "store_a", tmp_path / "store_b"]
    system = tmp_path / "cta"
    config = small_config("cta", max_epochs=2, min_epochs=1)
    from asrser.ser import folds as folds_module
    plan_folds = folds_module.read_folds(folds / "folds.json")
    assert not hasattr(plan_folds[0], "test_groups") or plan_folds[0].test_groups == ("Ses1",)
    for k in (1, 2):
        train_cta_fold(stores, data, folds, k, system / f"fold{k}", config, device="cpu", progress=False)
    result = subprocess.run([sys.executable, str(REPO / "steps_py" / "ser_score.py"), str(folds), str(system)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    import shutil
    shutil.copytree(system, tmp_path / "cta_copy", ignore=shutil.ignore_patterns("results.json", "confusion.png"))
    result = subprocess.run([sys.executable, str(REPO / "steps_py" / "ser_score.py"), str(folds), str(system),
                             str(tmp_path / "cta_copy")], capture_output=True, text=True)     # several systems
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cta_copy" / "results.json").read_text() == (system / "results.json").read_text()
    doc = json.loads((system / "results.json").read_text())
    assert doc["system"].startswith("CTA-RNN (cta") and "4 layers x 16 of synthetic" in doc["features"]
    assert [f["speaker"] for f in doc["folds"]] == ["Ses1", "Ses2"] and doc["test"]["utterances"] == 24
    png = tmp_path / "weights.png"
    result = subprocess.run([sys.executable, str(REPO / "steps_py" / "plot_layer_weights.py"),
                             *map(str, sorted(system.glob("fold*/layer_weights.tsv"))), str(png)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    emotions, layers, weights = mean_layer_weights(sorted(system.glob("fold*/layer_weights.tsv")))
    assert emotions == list(EMOTIONS) and layers == ["layer0", "layer1", "layer2", "layer3"]
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-4)
    broken = tmp_path / "broken.tsv"
    broken.write_text("utt\tlabel\tlayer0\nx\tang\tnot-a-number\n")
    with pytest.raises(DataError, match="broken.tsv:2"):
        mean_layer_weights([broken])
    # an utterance in two stores is ambiguous
    with pytest.raises(DataError, match="also in"):
        train_cta_fold([store, stores[0]], data, folds, 1, tmp_path / "x", config)


def test_configs_load_and_a_misspelt_option_names_the_file(tmp_path):
    full, fast = CtaConfig.from_yaml(REPO / "conf" / "cta_rnn.yaml"), CtaConfig.from_yaml(REPO / "conf" / "fast" /
                                                                                          "cta_rnn.yaml")
    assert full.variant == fast.variant == "cta" and fast.model.hidden < full.model.hidden
    assert fast.training.class_weights == "balanced"
    bad = tmp_path / "bad.yaml"
    bad.write_text("variant: cta\nmodel:\n  hiden: 3\n")
    with pytest.raises(DataError, match=r"bad.yaml:3: unknown option 'hiden'"):
        CtaConfig.from_yaml(bad)
    bad.write_text("variant: attention\n")
    with pytest.raises(DataError, match="expected one of last, weighted_sum"):
        CtaConfig.from_yaml(bad)


def test_one_call_trains_several_variants_each_as_alone(tmp_path):
    """cta_train_fold.py --variant a,b writes each variant where {variant} says, the same bytes as one call per
    variant; several variants without {variant} in the output dir, or an unknown one, are refused."""
    store, data, folds = synthetic_experiment(tmp_path, 1, per_session=8)
    config = tmp_path / "small.yaml"
    config.write_text("model: {hidden: 8, squeeze_bottleneck: 8, attention_dim: 8}\n"
                      "training: {max_epochs: 2, min_epochs: 1, precision: fp32, batch_size: 8}\n")

    def run(variant, out):
        return subprocess.run([sys.executable, str(REPO / "steps_py" / "cta_train_fold.py"), "--config",
                               str(config), "--variant", variant, "--device", "cpu", str(store), str(data),
                               str(folds), "1", str(out)], capture_output=True, text=True,
                              env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})

    result = run("last,cta", tmp_path / "both" / "{variant}" / "fold1")
    assert result.returncode == 0, result.stderr
    for variant in ("last", "cta"):
        assert run(variant, tmp_path / variant).returncode == 0
        for name in ("predictions.tsv", "layer_weights.tsv", "final.pt"):
            assert (tmp_path / "both" / variant / "fold1" / name).read_bytes() == \
                (tmp_path / variant / name).read_bytes(), (variant, name)
    result = run("last,cta", tmp_path / "x")
    assert result.returncode == 1 and "need {variant} in <out-dir>" in result.stderr.splitlines()[-1]
    result = run("last,deep", tmp_path / "{variant}")
    assert result.returncode == 1 and "unknown variant(s) deep" in result.stderr.splitlines()[-1]
