"""Training FaceNet SER: Inception-ResNet-v1 (asrser.facenet.inception_resnet) over the segment images of an
image cache (asrser.facenet.images) on the SER folds (asrser.ser.folds), from scratch, from a net pre-trained
on another corpus (pretrain_facenet's final.pt) or from face weights; and pre-training on a whole corpus.

Only the paper's abstract is known; every choice of this trainer, with its reason:

1. Examples: every segment image of a training utterance is a training example with the utterance's label
   (the abstract feeds the images to FaceNet end to end, with no utterance-level model on top).
2. Decisions are per utterance: the mean of its segments' softmax posteriors, argmax (utterance_posteriors).
   Posteriors rather than logits: a segment's vote is bounded, so one extreme segment does not decide.
3. Input: the uint8 pixels scaled as (p - 127.5) / 128, FaceNet's fixed image standardisation, which face
   weights expect; a 3-channel net (face weights as they are) sees the grey image in every channel.
4. Loss: cross-entropy with class weights inversely proportional to the training images per class (mean 1;
   asrser.ser.training.class_weights), not re-sampling: UA (mean recall) is the target metric.
5. Optimiser: AdamW (or SGD with momentum: `optimizer`), `learning_rate` from scratch; from pre-trained weights
   (a corpus's final.pt or face weights) the whole net is fine-tuned at `finetune_learning_rate` with a new
   classifier head for this corpus's classes (seeded), since the classes differ between corpora.
6. Early stopping on the fold's validation UA (utterance decisions; the earliest best epoch wins): stop after
   `patience` epochs without a better UA once `min_epochs` are done, or at `max_epochs`; final.pt holds the
   best epoch's weights.
7. Mini-batches of `batch_size` images in an order seeded by (seed, epoch), dropout seeded by seed and epoch,
   state checkpointed after every epoch: a run resumed after a kill equals an uninterrupted one. A last batch
   of a single image joins the one before (BatchNorm needs two examples).
8. Validation once per epoch in inference mode, `eval_batch_size` images at a time; images are gathered
   from the cache's memory map per batch (only the fold's rows are ever read).
9. Pre-training (pretrain_facenet): every group of the corpus (speaker or session) but the last (sorted)
   trains, the last validates (early stopping); nothing is tested.
10. No augmentation: the images of a segment are fixed.
11. Precision: bf16 autocast where supported (`precision: auto`), the softmax and the loss in float32.
12. An epoch is every training image, or a seeded sample of `images_per_epoch` of them (the fast preset's
    budget on CPU, as the frame ConvNet's fast preset budgets frames): validation then comes more often.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..config import from_mapping, read_config, written_options
from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write, read_key_value
from ..nnet.train import autocast_dtype, load_checkpoint, save_checkpoint, select_device
from ..progress import bar as progress_bar
from ..ser.classes import CLASSES_FILE, LABELS_FILE
from ..ser.folds import GROUPS_FILE, fold_utterances, read_fold_plan
from ..ser.metrics import unweighted_accuracy, weighted_accuracy, write_predictions
from ..ser.training import CHECKPOINT, EarlyStopping, class_weights, optimisation_step
from .face_weights import load_face_weights
from .images import ImageConfig, ImageSet
from .inception_resnet import InceptionResNetConfig, InceptionResNetV1

log = logging.getLogger(__name__)

SYSTEM = "facenet"                    # final.pt's `system`
HEAD = "head."                        # the classifier's parameters: not taken over from a pre-trained net
FACE_PREFIX = "face:"                 # init=face:PATH: face weights (asrser.facenet.face_weights)
DESCRIPTION = "description.json"      # what score_folds puts in results.json
POSTERIORS = "posteriors.tsv"
OUTPUTS = ("final.pt", "history.json", "predictions.tsv", POSTERIORS, DESCRIPTION)
IMAGE_FILES = ("images.npy", "segments", "images.json")
# FaceNet's fixed image standardisation (p - 127.5) / 128 of every pixel value, looked up: one pass over a
# batch (measured 8x faster than converting and scaling the batch with torch on CPU)
STANDARDISED = ((np.arange(256) - 127.5) / 128).astype(np.float32)


@dataclass
class FacenetTrainingConfig:
    optimizer: Literal["adamw", "sgd"] = "adamw"
    learning_rate: float = 1.0e-3     # from scratch
    finetune_learning_rate: float = 3.0e-4   # from pre-trained weights (init)
    momentum: float = 0.9             # sgd only
    weight_decay: float = 1.0e-4
    batch_size: int = 64              # segment images
    eval_batch_size: int = 256        # images per forward pass of validation and test
    images_per_epoch: int = 0         # a seeded sample of the training images per epoch; 0: all of them
    max_epochs: int = 30
    min_epochs: int = 5
    patience: int = 5                 # epochs without a better validation UA before stopping
    grad_clip: float = 0.0            # max gradient norm; 0: none
    class_weights: Literal["balanced", "none"] = "balanced"
    augmentation: Literal["none"] = "none"
    channels_last: bool = False       # NHWC tensors (faster convolutions on some CPUs)
    num_threads: int = 0              # torch threads while training; 0: torch's default
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"

    def __post_init__(self):
        if min(self.batch_size, self.eval_batch_size, self.max_epochs, self.patience) < 1:
            raise ValueError("batch_size, eval_batch_size, max_epochs and patience must be positive")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 (BatchNorm)")
        if self.num_threads < 0 or self.min_epochs < 0 or self.images_per_epoch < 0:
            raise ValueError("num_threads, min_epochs and images_per_epoch cannot be negative")


@dataclass
class FacenetConfig:
    """conf/facenet.yaml: the sections images (asrser.facenet.images.ImageConfig), model
    (asrser.facenet.inception_resnet.InceptionResNetConfig) and training."""

    images: ImageConfig = field(default_factory=ImageConfig)
    model: InceptionResNetConfig = field(default_factory=InceptionResNetConfig)
    training: FacenetTrainingConfig = field(default_factory=FacenetTrainingConfig)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "FacenetConfig":
        doc = read_config(path, "FaceNet config")
        sections = {"images": ImageConfig, "model": InceptionResNetConfig, "training": FacenetTrainingConfig}
        for key in doc:
            if key not in sections:
                source, line = doc.key_at[key]
                raise DataError(source, f"unknown section {key!r} (known: {', '.join(sections)})", line)
        return cls(**{name: from_mapping(section, doc.get(name, {}), str(path)) for name, section in sections.items()})

    def trained_options(self) -> dict:
        """The options a training depends on (model and training as their file wrote them; the image options
        are the image cache's, an input of its own)."""
        return {"model": written_options(self.model), "training": written_options(self.training)}


def utterance_posteriors(posteriors: np.ndarray, segment_utts) -> tuple[list[str], np.ndarray]:
    """(utterances in sorted order, the mean of each one's segment posteriors (U, C)) from the posteriors of
    segments (N, C) and the utterance of each segment (N)."""
    utts, inverse = np.unique(np.asarray(segment_utts, dtype=str), return_inverse=True)
    counts = np.bincount(inverse, minlength=len(utts)).astype(np.float64)
    sums = np.stack([np.bincount(inverse, weights=posteriors[:, c], minlength=len(utts))
                     for c in range(posteriors.shape[1])], 1)
    return [str(u) for u in utts], (sums / counts[:, None]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------- data

@dataclass
class RoleImages:
    """The images of one role's utterances: the utterances' class indices (labels), their cache rows (grouped
    by utterance, in the utterances' order), and the utterance (index into utts) and class index of every row."""

    utts: list[str]
    labels: np.ndarray
    rows: np.ndarray
    row_utts: np.ndarray
    targets: np.ndarray

    @classmethod
    def gather(cls, image_set: ImageSet, image_dir: Path, utts: list[str], labels: list[int], what: str) -> "RoleImages":
        known = set(image_set.utts)
        missing = [u for u in utts if u not in known]
        if missing:
            raise AsrserError(f"{image_dir}: {len(missing)} utterance(s) of {what} have no images, e.g. "
                              f"{missing[0]} (make the images of their data dir)")
        per_utt = [np.asarray(image_set.rows(u), dtype=np.int64) for u in utts]
        counts = np.array([len(r) for r in per_utt])
        row_utts = np.repeat(np.arange(len(utts)), counts)
        labels = np.asarray(labels, dtype=np.int64)
        return cls(list(utts), labels, np.concatenate(per_utt), row_utts, labels[row_utts])


def image_batch(images: np.ndarray, rows: np.ndarray, device: torch.device, in_channels: int,
                channels_last: bool) -> torch.Tensor:
    """The standardised float images (B, in_channels, H, W) of cache rows (read in file order: rows sorted)."""
    x = torch.from_numpy(STANDARDISED[images[rows]]).to(device).unsqueeze(1)
    if in_channels != 1:
        x = x.expand(-1, in_channels, -1, -1)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def segment_posteriors(model: nn.Module, images: np.ndarray, rows: np.ndarray, device: torch.device,
                       dtype: torch.dtype | None, tc: FacenetTrainingConfig, in_channels: int) -> np.ndarray:
    """Softmax posteriors (N, C) of the images of cache rows, in inference mode, eval_batch_size at a time."""
    model.eval()
    out: list[np.ndarray] = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for start in range(0, len(rows), tc.eval_batch_size):
            x = image_batch(images, rows[start:start + tc.eval_batch_size], device, in_channels, tc.channels_last)
            out.append(torch.softmax(model(x).float(), 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def decide(model: nn.Module, images: np.ndarray, role: RoleImages, device: torch.device,
           dtype: torch.dtype | None, tc: FacenetTrainingConfig, in_channels: int) -> np.ndarray:
    """Utterance posteriors (U, C) of a role, in the order of role.utts."""
    posteriors = segment_posteriors(model, images, role.rows, device, dtype, tc, in_channels)
    _, mean = utterance_posteriors(posteriors, np.asarray(role.utts)[role.row_utts])
    order = np.argsort(np.argsort(np.asarray(role.utts, dtype=str)))     # sorted position of each utterance
    return mean[order]


# ------------------------------------------------------------------------------------------------------ training

def train_facenet_fold(image_dir: str | os.PathLike, folds_dir: str | os.PathLike, k: int,
                       out_dir: str | os.PathLike, config: FacenetConfig, init: str | None = None,
                       device: str = "auto", progress: bool = True) -> Path:
    """Train fold k (1-based) of <folds_dir>/folds.json on the images of image_dir, with early stopping on
    its validation UA; init: None (from scratch), a pre-trained final.pt, or face:PATH. Writes
    <out_dir>/{final.pt, history.json, predictions.tsv, posteriors.tsv, description.json, train.done}; resumes
    after a kill from checkpoint.pt; a finished fold with the same inputs and config is left as it is.
    Returns the predictions' path."""
    folds_json = Path(folds_dir) / "folds.json"
    plan = read_fold_plan(folds_json)
    if not 1 <= k <= len(plan.folds):
        raise AsrserError(f"{folds_json}: no fold {k} (there are {len(plan.folds)})")
    fold = plan.folds[k - 1]
    utts = fold_utterances(plan, fold, k, folds_json)
    return _train(image_dir, folds_json, plan, utts, fold.test, f"fold {k}", out_dir, config, init, device,
                  progress)


def pretrain_facenet(image_dir: str | os.PathLike, folds_dir: str | os.PathLike, out_dir: str | os.PathLike,
                     config: FacenetConfig, device: str = "auto", progress: bool = True,
                     init: str | None = None) -> Path:
    """Pre-train on the whole corpus of a folds dir: every group but the last (sorted) trains, the last
    validates (early stopping); no test. Writes what train_facenet_fold writes (predictions of the validation
    utterances only); <out_dir>/final.pt is the init of fine-tuning. init as train_facenet_fold's (e.g. face
    weights before a corpus). Returns the predictions' path."""
    folds_json = Path(folds_dir) / "folds.json"
    plan = read_fold_plan(folds_json)
    groups = sorted(set(plan.groups[u] for u in plan.labels if u in plan.groups))
    if len(groups) < 2:
        raise AsrserError(f"{folds_json}: pre-training needs at least 2 groups (training and validation), found "
                          f"{len(groups)}")
    utts = {"train": sorted(u for u in plan.labels if plan.groups.get(u) in set(groups[:-1])),
            "valid": sorted(u for u in plan.labels if plan.groups.get(u) == groups[-1])}
    return _train(image_dir, folds_json, plan, utts, "all", "the whole corpus", out_dir, config, init, device,
                  progress)


def _train(image_dir, folds_json: Path, plan, utts: dict[str, list[str]], fold_name: str, what: str, out_dir,
           config: FacenetConfig, init: str | None, device: str, progress: bool) -> Path:
    image_dir, out_dir, folds_dir = Path(image_dir), Path(out_dir), folds_json.parent
    init_file = _init_file(init)
    utt2spk_file = _speaker_file(folds_json)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = Stamp(out_dir / "train.done",
                  [*(image_dir / name for name in IMAGE_FILES), folds_json, folds_dir / CLASSES_FILE,
                   folds_dir / LABELS_FILE, folds_dir / GROUPS_FILE, *filter(None, (utt2spk_file, init_file))],
                  config=config.trained_options(), fold=fold_name, init=init or "")
    predictions = out_dir / "predictions.tsv"
    if stamp.is_current(*(out_dir / name for name in OUTPUTS)):
        log.info("%s is up to date", predictions)
        return predictions
    stamp.resume_or_start_fresh([out_dir / CHECKPOINT, *(out_dir / name for name in OUTPUTS)], keep_interrupted=True)
    speakers = read_key_value(utt2spk_file) if utt2spk_file else plan.groups

    tc, classes = config.training, plan.classes
    class_index = {c: i for i, c in enumerate(classes)}
    image_set = ImageSet.read(image_dir)
    images = image_set.images
    roles = {role: RoleImages.gather(image_set, image_dir, found, [class_index[plan.labels[u]] for u in found],
                                     f"{what} of {folds_json}") for role, found in utts.items()}
    dev = select_device(device)
    dtype = autocast_dtype(dev, tc.precision)
    threads = torch.get_num_threads()
    if tc.num_threads:
        torch.set_num_threads(tc.num_threads)
    try:
        state, model = _fit(images, roles, classes, out_dir, config, init, dev, dtype, progress)
    finally:
        torch.set_num_threads(threads)

    in_channels = config.model.in_channels
    rows, posterior_rows = [], []
    for role in ("valid", "test"):
        if role not in roles:
            continue
        posteriors = decide(model, images, roles[role], dev, dtype, tc, in_channels)
        for utt, p in zip(roles[role].utts, posteriors):
            rows.append({"fold": fold_name, "role": role, "utt": utt, "speaker": speakers.get(utt, plan.groups[utt]),
                         "label": plan.labels[utt], "predicted": classes[int(p.argmax())]})
            posterior_rows.append((role, utt, p))
    write_predictions(predictions, rows)
    with atomic_write(out_dir / POSTERIORS) as f:
        f.write("\t".join(["role", "utt", *classes]) + "\n")
        f.writelines("\t".join([role, utt, *(f"{v:.6f}" for v in p)]) + "\n" for role, utt, p in posterior_rows)
    with atomic_write(out_dir / "history.json") as f:
        json.dump(state.history, f, indent=1)
    with atomic_write(out_dir / DESCRIPTION) as f:
        json.dump(describe(config, image_set.config, init), f, indent=1)
    stamp.write()
    (out_dir / CHECKPOINT).unlink()
    test = [r for r in rows if r["role"] == "test"]
    log.info("%s: best validation UA %.1f%% at epoch %d; test %s, %d of %d utterances right", out_dir,
             100 * state.best_ua, state.best_epoch, fold_name, sum(r["label"] == r["predicted"] for r in test),
             len(test))
    return predictions


def _fit(images: np.ndarray, roles: dict[str, RoleImages], classes: tuple[str, ...], out_dir: Path,
         config: FacenetConfig, init: str | None, dev: torch.device, dtype: torch.dtype | None, progress: bool
         ) -> tuple[EarlyStopping, nn.Module]:
    """Train with early stopping (resuming from out_dir's checkpoint); writes final.pt; returns the state and
    the model with the best epoch's weights."""
    tc = config.training
    in_channels = config.model.in_channels
    torch.manual_seed(tc.seed)
    model = InceptionResNetV1(config.model, len(classes))
    resuming = (out_dir / CHECKPOINT).exists()
    if init and not resuming:
        _initialise(model, init)
    model.to(dev)
    if tc.channels_last:
        model.to(memory_format=torch.channels_last)
    lr = tc.finetune_learning_rate if init else tc.learning_rate
    opt = (torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=tc.weight_decay) if tc.optimizer == "adamw"
           else torch.optim.SGD(model.parameters(), lr=lr, momentum=tc.momentum, weight_decay=tc.weight_decay))
    train, valid = roles["train"], roles["valid"]
    weights = class_weights(train.targets, len(classes), tc.class_weights)
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(dev))

    state, best_model = EarlyStopping(), None
    if resuming:
        ckpt = load_checkpoint(out_dir / CHECKPOINT)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        state, best_model = EarlyStopping(**ckpt["state"]), ckpt["best_model"]
        log.info("%s: resuming after epoch %d", out_dir, state.epoch)
    while not state.finished(tc.max_epochs, tc.min_epochs, tc.patience):
        epoch = state.epoch + 1
        start = time.perf_counter()
        loss, seen = _train_epoch(model, opt, loss_fn, images, train, epoch, tc, dev, dtype, in_channels,
                                  f"{out_dir.name} epoch {epoch}", progress)
        trained = time.perf_counter()
        predicted = decide(model, images, valid, dev, dtype, tc, in_channels).argmax(1)
        ua, wa = unweighted_accuracy(valid.labels, predicted), weighted_accuracy(valid.labels, predicted)
        end = time.perf_counter()
        state.history.append({"epoch": epoch, "loss": loss, "valid_ua": ua, "valid_wa": wa,
                              "seconds": end - start, "train_images": seen,
                              "train_images_per_second": seen / (trained - start),
                              "valid_images_per_second": len(valid.rows) / max(end - trained, 1e-9)})
        if state.record(epoch, ua):
            best_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log.info("%s epoch %d: loss %.4f, validation UA %.1f%% WA %.1f%%, %.1f s", out_dir.name, epoch, loss,
                 100 * ua, 100 * wa, end - start)
        save_checkpoint(out_dir / CHECKPOINT, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                               "state": asdict(state), "best_model": best_model})
    model.load_state_dict(best_model)
    save_checkpoint(out_dir / "final.pt", {
        "system": SYSTEM, "config": config.trained_options(), "classes": list(classes), "model": best_model,
        "best_epoch": state.best_epoch, "valid_ua": state.best_ua})
    return state, model


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, loss_fn: nn.Module, images: np.ndarray,
                 train: RoleImages, epoch: int, tc: FacenetTrainingConfig, dev: torch.device,
                 dtype: torch.dtype | None, in_channels: int, desc: str, progress: bool) -> tuple[float, int]:
    """One pass over the training images (or images_per_epoch of them) in an order seeded by (seed, epoch): the
    mean loss and the number of images."""
    order = np.random.default_rng([tc.seed, epoch]).permutation(len(train.rows))
    if tc.images_per_epoch:
        order = order[:tc.images_per_epoch]
    torch.manual_seed(tc.seed * 1000 + epoch)
    batches = [order[i:i + tc.batch_size] for i in range(0, len(order), tc.batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:       # BatchNorm needs two examples
        batches[-2:] = [np.concatenate(batches[-2:])]
    model.train()
    total, seen = 0.0, 0
    for idx in progress_bar(batches, desc=desc, unit="batch", enabled=progress, mininterval=2):
        idx = np.sort(idx)                               # the cache's rows in file order
        x = image_batch(images, train.rows[idx], dev, in_channels, tc.channels_last)
        y = torch.from_numpy(train.targets[idx]).to(dev)
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        optimisation_step(model, opt, loss, tc.grad_clip, desc)
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1), seen


# ---------------------------------------------------------------------------------------------------- init, files

def _init_file(init: str | None) -> Path | None:
    """The file an init names (a final.pt, or face weights after face:); it must exist."""
    if not init:
        return None
    path = Path(init[len(FACE_PREFIX):] if init.startswith(FACE_PREFIX) else init)
    if not path.is_file():
        raise AsrserError(f"{path}: no such file (the init: a pre-trained final.pt or {FACE_PREFIX}<face weights>)")
    return path


def _initialise(model: nn.Module, init: str) -> None:
    """Weights from face weights (face:PATH) or from a pre-trained final.pt of this trainer: all but the
    classifier head, which stays as built (seeded) for this corpus's classes."""
    if init.startswith(FACE_PREFIX):
        load_face_weights(model, init[len(FACE_PREFIX):])
        return
    ckpt = load_checkpoint(Path(init))
    if ckpt.get("system") != SYSTEM:
        raise AsrserError(f"{init}: not a trained FaceNet SER net (give its final.pt, or {FACE_PREFIX}PATH for face "
                          f"weights)")
    own = model.state_dict()
    source = {k: v for k, v in ckpt["model"].items() if not k.startswith(HEAD)}
    for name in (*own, *source):
        if name.startswith(HEAD):
            continue
        if name not in own or name not in source or own[name].shape != source[name].shape:
            have = tuple(source[name].shape) if name in source else "none"
            want = tuple(own[name].shape) if name in own else "none"
            raise AsrserError(f"{init}: its net does not match the config's model (first difference: {name}, "
                              f"{have} there, {want} here)")
    own.update(source)
    model.load_state_dict(own)


def _speaker_file(folds_json: Path) -> Path | None:
    """utt2spk of the data dir the folds were made from (folds.json's `data`), when it is there: the speaker
    column of the predictions (else the fold group stands in)."""
    data = json.loads(folds_json.read_text()).get("data")
    path = Path(data) / "utt2spk" if data else None
    return path if path is not None and path.is_file() else None


def describe(config: FacenetConfig, images: ImageConfig, init: str | None) -> dict:
    """The system's description in results.json (images: the image cache's config)."""
    kind, seconds, width = images.kind, images.segment_seconds, config.model.width
    start = ("from scratch" if not init else f"face weights {init[len(FACE_PREFIX):]}"
             if init.startswith(FACE_PREFIX) else f"pre-trained {init}")
    return {"system": f"FaceNet SER ({kind} images, {start})",
            "features": f"{kind} images of {seconds} s segments",
            "classifier": f"Inception-ResNet-v1 width {width}; utterance = mean "
                          f"segment posterior; {config.training.class_weights} class weights, early stopping on "
                          f"validation UA",
            "init": init or ""}
