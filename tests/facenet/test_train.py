"""FaceNet SER training (asrser.facenet.train) on synthetic image caches: segment -> utterance aggregation,
learning a pattern, fine-tuning from a pre-trained net with another class count, resume after a kill, and the
errors of a fold without utterances, an utterance without images and a mismatched pre-trained net.

The image cache is written here in the format of asrser.facenet.images (images.npy, segments, images.json);
the net is the real Inception-ResNet-v1 at its narrowest, on 80 x 80 images."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from asrser.config import from_mapping, read_config
from asrser.errors import AsrserError, DataError
from asrser.facenet import train
from asrser.facenet.images import ImageConfig
from asrser.facenet.inception_resnet import InceptionResNetConfig, InceptionResNetV1
from asrser.facenet.train import (FacenetConfig, FacenetTrainingConfig, pretrain_facenet, train_facenet_fold,
                                  utterance_posteriors)
from asrser.ser.folds import write_folds
from helpers import REPO, run_step

SIZE = 80        # image side: the smallest the net's stem and reductions take is 75


@pytest.fixture(autouse=True)
def one_thread():
    """Trainings of a few seconds: one thread (the thread count is part of what makes runs identical)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------- the image cache and a tiny Inception-ResNet-v1

def write_image_cache(image_dir: Path, images: dict[str, list[np.ndarray]]) -> None:
    """utt -> its segment images (uint8 SIZE x SIZE) as an image cache of asrser.facenet.images (images.npy,
    segments with one row per image, utterances sorted, and images.json), read back by ImageSet.read."""
    image_dir.mkdir(parents=True)
    rows = [(utt, i, image) for utt in sorted(images) for i, image in enumerate(images[utt])]
    np.save(image_dir / "images.npy", np.stack([image for _, _, image in rows]).astype(np.uint8))
    (image_dir / "segments").write_text("".join(f"{utt}-{i * 100:06d} {utt} {i:.2f} {i + 1:.2f}\n"
                                                for utt, i, _ in rows))
    (image_dir / "images.json").write_text(json.dumps({"config": asdict(ImageConfig(size=SIZE)),
                                                       "utterances": len(images)}))


def tiny_net(width: float = 0.0625) -> InceptionResNetConfig:
    """The real net, as narrow as it goes (1-2 channels per branch) with a small embedding: seconds to train."""
    return InceptionResNetConfig(width=width, embedding_dim=16, dropout=0.1)


# ---------------------------------------------------------------------------------------- synthetic experiments

def synthetic_experiment(root: Path, emotions: tuple[str, ...] = ("ang", "sad"), speakers: int = 4,
                         per_speaker: int = 8, seed: int = 0, drop_labels_of: str | None = None
                         ) -> tuple[Path, Path]:
    """(image dir, folds dir): utterances of `speakers` speakers with balanced emotions, 1 to 3 segment
    images each; emotion e lights band e of the image's rows (over noise), the pattern a net must find.
    Folds by speaker (rotating validation). drop_labels_of: a speaker whose labels the folds then lack."""
    rng = np.random.default_rng(seed)
    data = root / "data"
    data.mkdir(parents=True)
    band = SIZE // len(emotions)
    images, utt2spk, utt2emo = {}, [], []
    for s in range(speakers):
        spk = f"spk{s}"
        for n in range(per_speaker):
            utt = f"{spk}-u{n:02d}"
            e = n % len(emotions)
            segs = []
            for _ in range(int(rng.integers(1, 4))):
                image = rng.integers(0, 120, (SIZE, SIZE))
                image[e * band:(e + 1) * band] += 120
                segs.append(image.astype(np.uint8))
            images[utt] = segs
            utt2spk.append(f"{utt} {spk}\n")
            utt2emo.append(f"{utt} {emotions[e]}\n")
    (data / "utt2spk").write_text("".join(utt2spk))
    (data / "utt2emo").write_text("".join(utt2emo))
    image_dir, folds = root / "images", root / "folds"
    write_image_cache(image_dir, images)
    write_folds(data, folds, "speaker")
    if drop_labels_of:
        kept = [line for line in utt2emo if not line.startswith(f"{drop_labels_of}-")]
        (folds / "utt2emo").write_text("".join(kept))
    return image_dir, folds


def small_config(**training) -> FacenetConfig:
    tc = dict(learning_rate=1e-2, finetune_learning_rate=5e-3, batch_size=8, eval_batch_size=16, max_epochs=8,
              min_epochs=8, patience=3, seed=1, precision="fp32")
    return FacenetConfig(model=tiny_net(), training=FacenetTrainingConfig(**{**tc, **training}))


def read_predictions(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:]]


# ----------------------------------------------------------------------------------------------------- tests

def test_utterance_posteriors_are_the_mean_of_each_utterances_segments():
    posteriors = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.4, 0.6], [0.7, 0.3]], dtype=np.float32)
    utts, mean = utterance_posteriors(posteriors, ["b", "a", "b", "a", "c"])
    assert utts == ["a", "b", "c"]
    # a: rows 1 and 3, b: rows 0 and 2, c: row 4
    expected = np.array([[(0.2 + 0.4) / 2, (0.8 + 0.6) / 2], [(0.9 + 0.5) / 2, (0.1 + 0.5) / 2], [0.7, 0.3]])
    np.testing.assert_allclose(mean, expected, rtol=1e-6)
    # the decision: a -> class 1, b -> class 0, though b's second segment alone would tie
    assert mean.argmax(1).tolist() == [1, 0, 0]


def test_image_batches_are_standardised_pixels_in_file_order_rows():
    images = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2) * 17
    x = train.image_batch(images, np.array([1, 3]), torch.device("cpu"), 1, False)
    assert x.shape == (2, 1, 2, 2) and x.dtype == torch.float32
    np.testing.assert_allclose(x[:, 0].numpy(), (images[[1, 3]] - 127.5) / 128)
    rgb = train.image_batch(images, np.array([2]), torch.device("cpu"), 3, True)
    assert rgb.shape == (1, 3, 2, 2) and all(torch.equal(rgb[:, c], rgb[:, 0]) for c in range(3))


def test_a_small_run_learns_the_pattern_and_writes_its_outputs(tmp_path):
    image_dir, folds = synthetic_experiment(tmp_path)
    out = tmp_path / "fold1"
    train_facenet_fold(image_dir, folds, 1, out, small_config(), device="cpu", progress=False)
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 8 and history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert all(h["train_images_per_second"] > 0 for h in history)
    assert {h["train_images"] for h in history} == {sum(len(r) for r in train_rows(image_dir, folds, 1))}
    rows = read_predictions(out / "predictions.tsv")
    test = [r for r in rows if r["role"] == "test"]
    assert {r["role"] for r in rows} == {"valid", "test"} and {r["speaker"] for r in test} == {"spk0"}
    assert {r["fold"] for r in rows} == {"spk0"} and len(test) == 8
    assert sum(r["label"] == r["predicted"] for r in test) / len(test) > 0.75      # chance: 0.5
    posteriors = (out / "posteriors.tsv").read_text().splitlines()
    assert posteriors[0].split("\t") == ["role", "utt", "ang", "sad"] and len(posteriors) == len(rows) + 1
    ckpt = torch.load(out / "final.pt", weights_only=True)
    best = max(history, key=lambda h: h["valid_ua"])
    assert ckpt["system"] == "facenet" and ckpt["classes"] == ["ang", "sad"] and ckpt["best_epoch"] == best["epoch"]
    description = json.loads((out / "description.json").read_text())
    assert "waveform images" in description["system"] and "from scratch" in description["system"]
    assert (out / "train.done").exists() and not (out / "checkpoint.pt").exists()


def test_fine_tuning_takes_all_but_the_head_of_a_net_pretrained_with_other_classes(tmp_path):
    source_images, source_folds = synthetic_experiment(tmp_path / "source", ("ang", "hap", "sad"), seed=3)
    pretrained = tmp_path / "pretrained"
    pretrain_facenet(source_images, source_folds, pretrained, small_config(max_epochs=3, min_epochs=3),
                     device="cpu", progress=False)
    rows = read_predictions(pretrained / "predictions.tsv")
    assert {r["role"] for r in rows} == {"valid"} and {r["speaker"] for r in rows} == {"spk3"}   # the last group
    source = torch.load(pretrained / "final.pt", weights_only=True)
    assert source["model"]["head.weight"].shape == (3, 16)

    torch.manual_seed(0)
    model = InceptionResNetV1(tiny_net(), 2)
    head = model.head.weight.detach().clone()
    train._initialise(model, str(pretrained / "final.pt"))
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in source["model"].items() if not k.startswith("head."))
    assert torch.equal(model.head.weight, head)                 # the new head as built

    image_dir, folds = synthetic_experiment(tmp_path / "target")
    out = tmp_path / "finetuned"
    train_facenet_fold(image_dir, folds, 2, out, small_config(max_epochs=2, min_epochs=2),
                       init=str(pretrained / "final.pt"), device="cpu", progress=False)
    assert torch.load(out / "final.pt", weights_only=True)["model"]["head.weight"].shape == (2, 16)
    assert "pre-trained" in json.loads((out / "description.json").read_text())["system"]

    wider = FacenetConfig(model=tiny_net(0.125), training=small_config().training)
    with pytest.raises(AsrserError, match=r"final\.pt: its net does not match the config's model \(first "
                                          r"difference: conv2d_1a\.conv\.weight, \(2, 1, 3, 3\) there, \(4, 1, 3, 3\) here"):
        train_facenet_fold(image_dir, folds, 2, tmp_path / "wider", wider, init=str(pretrained / "final.pt"),
                           device="cpu", progress=False)


def train_rows(image_dir: Path, folds: Path, k: int) -> list[np.ndarray]:
    """The image rows of fold k's training utterances."""
    from asrser.facenet.images import ImageSet
    from asrser.ser.folds import fold_utterances, read_fold_plan

    plan = read_fold_plan(folds / "folds.json")
    images = ImageSet.read(image_dir)
    return [images.rows(u) for u in fold_utterances(plan, plan.folds[k - 1], k, folds / "folds.json")["train"]]


def test_an_epoch_is_a_seeded_sample_of_images_per_epoch_images(tmp_path):
    image_dir, folds = synthetic_experiment(tmp_path)
    out = tmp_path / "fold1"
    train_facenet_fold(image_dir, folds, 1, out, small_config(images_per_epoch=10, max_epochs=2, min_epochs=2),
                       device="cpu", progress=False)
    history = json.loads((out / "history.json").read_text())
    assert [h["train_images"] for h in history] == [10, 10] and sum(map(len, train_rows(image_dir, folds, 1))) > 10


def test_same_config_same_bytes_and_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    image_dir, folds = synthetic_experiment(tmp_path)
    config = small_config(max_epochs=4, min_epochs=4)
    outputs = ("final.pt", "predictions.tsv", "posteriors.tsv")
    for name in ("a", "b"):
        train_facenet_fold(image_dir, folds, 2, tmp_path / name, config, device="cpu", progress=False)
    for f in outputs:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    saved = []
    real_save = train.save_checkpoint

    def killed_after_two_epochs(path, payload):
        real_save(path, payload)
        saved.append(path.name)
        if saved.count("checkpoint.pt") == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(train, "save_checkpoint", killed_after_two_epochs)
    with pytest.raises(KeyboardInterrupt):
        train_facenet_fold(image_dir, folds, 2, tmp_path / "c", config, device="cpu", progress=False)
    assert not (tmp_path / "c" / "final.pt").exists() and (tmp_path / "c" / "checkpoint.pt").exists()
    monkeypatch.setattr(train, "save_checkpoint", real_save)
    train_facenet_fold(image_dir, folds, 2, tmp_path / "c", config, device="cpu", progress=False)
    history = json.loads((tmp_path / "c" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    for f in outputs:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "c" / f).read_bytes(), f
    # done: a second call does no work
    written = (tmp_path / "c" / "final.pt").stat().st_mtime_ns
    train_facenet_fold(image_dir, folds, 2, tmp_path / "c", config, device="cpu", progress=False)
    assert (tmp_path / "c" / "final.pt").stat().st_mtime_ns == written


def test_a_fold_without_utterances_of_a_role_is_an_error_naming_the_fold_list(tmp_path):
    # fold 1 tests spk0 and validates on spk1, whose utterances the folds' labels lack
    image_dir, folds = synthetic_experiment(tmp_path, drop_labels_of="spk1")
    with pytest.raises(AsrserError, match=r"folds\.json: fold 1 \(test spk0\) has no utterances for valid$"):
        train_facenet_fold(image_dir, folds, 1, tmp_path / "out", small_config(), device="cpu", progress=False)
    with pytest.raises(AsrserError, match=r"folds\.json: no fold 5 \(there are 4\)"):
        train_facenet_fold(image_dir, folds, 5, tmp_path / "out", small_config(), device="cpu", progress=False)


def test_an_utterance_without_images_is_an_error_naming_the_image_dir(tmp_path):
    image_dir, folds = synthetic_experiment(tmp_path)
    lines = (folds / "utt2emo").read_text().splitlines(keepends=True)
    (folds / "utt2emo").write_text("".join(sorted(lines + ["spk2-u99 ang\n"])))
    (folds / "utt2group").write_text("".join(sorted((folds / "utt2group").read_text().splitlines(keepends=True)
                                                    + ["spk2-u99 spk2\n"])))
    with pytest.raises(AsrserError, match=r"images: 1 utterance\(s\) of fold 1 of .*folds\.json have no images, "
                                          r"e\.g\. spk2-u99"):
        train_facenet_fold(image_dir, folds, 1, tmp_path / "out", small_config(), device="cpu", progress=False)


def test_configs_training_sections_load_and_a_misspelt_option_names_the_file(tmp_path):
    for name in ("conf/facenet.yaml", "conf/fast/facenet.yaml"):
        doc = read_config(REPO / name)
        assert set(doc) == {"images", "model", "training"}
        tc = from_mapping(FacenetTrainingConfig, doc["training"], name)
        assert tc.class_weights == "balanced" and tc.augmentation == "none"
    fast = from_mapping(FacenetTrainingConfig, read_config(REPO / "conf/fast/facenet.yaml")["training"], "fast")
    assert fast.max_epochs < 30 and fast.batch_size == 64       # the base's batch size, the preset's epochs
    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  learning_rat: 0.1\n")
    with pytest.raises(DataError, match=r"bad\.yaml:2: unknown option 'learning_rat'"):
        from_mapping(FacenetTrainingConfig, read_config(bad)["training"], str(bad))


def test_from_yaml_reads_every_section(tmp_path):
    config = FacenetConfig.from_yaml(REPO / "conf/fast/facenet.yaml")
    assert config.images.size == 160 and config.model.width == 0.125 and config.training.max_epochs == 8
    bad = tmp_path / "bad.yaml"
    bad.write_text("imagez:\n  size: 160\n")
    with pytest.raises(DataError, match=r"bad\.yaml:1: unknown section 'imagez'"):
        FacenetConfig.from_yaml(bad)


def test_the_step_refuses_a_fold_that_is_neither_a_number_nor_all(tmp_path):
    proc = run_step("facenet_train_fold.py", "images", "folds", "0", tmp_path / "out", check=False)
    assert proc.returncode == 2 and "must be at least 1" in proc.stderr
