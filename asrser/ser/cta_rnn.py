"""CTA-RNN (Chen & Zhang, Interspeech 2022): utterance-level SER over the stacked layer embeddings of an ASR
encoder (asrser.encoders.store), with channel-wise attention over the layers and feature channels, a recurrent
layer, temporal attention over its frames, and a classifier; and the ablations that replace one part each.

Variants (`variant:` in conf/cta_rnn.yaml, or --variant):

    variant        layers combined by                          utterance pooling
    last           the last layer alone                         masked mean over frames
    weighted_sum   learned softmax layer weights (SUPERB)       masked mean over frames
    channel        channel attention (per utterance)            masked mean over frames
    temporal       learned softmax layer weights                temporal attention
    cta            channel attention (per utterance)            temporal attention

Only the paper's abstract is known; every choice below is ours, with its reason:

1. Layers are the channels. The input of an utterance is its (L, T, D) stack of layer outputs (layer 0 = the
   encoder's front end); the channel map is the L x D grid of (layer, feature) cells.
2. Channel attention = squeeze-and-excitation over that map, per utterance: squeeze = the masked mean over the
   valid frames of every cell (L x D values); excitation = one hidden layer (ReLU, `squeeze_bottleneck` units)
   feeding two heads: a softmax over the L layers (layer weights a_l, a distribution) and sigmoid gates g_ld
   (scaled to (0, 2)) for every cell. The fused frame is x_td = sum_l a_l g_ld x_ltd. Why: SE is the standard
   channel attention, the per-utterance squeeze lets the layer choice follow the utterance, and the softmax
   head gives per-layer weights that are a distribution one can report and compare with SUPERB's.
3. Both heads start at zero weights: at the start a_l = 1/L and g_ld = 1, the plain mean of the layers, the
   same start as the weighted sum (so `channel` vs `weighted_sum` differs only by what is learnt).
4. Reported layer weights (layer_weights.tsv, the figure): the channel attention's mass per layer, a_l summed
   over its cells' gates, sum_d a_l g_ld, normalised to sum to 1 over the layers; for the learned weighted sum,
   its softmax weights; for `last`, 1 on the last layer.
5. Recurrent layer: one bidirectional GRU (`rnn: gru | lstm`, `hidden` units per direction) over the fused
   frames. Its backward direction runs over each utterance reversed within its own length, so padding never
   reaches an utterance's outputs and they do not depend on its batch (what packed sequences do, without
   their cost: measured 1.7x slower on CPU).
6. Temporal attention = attentive pooling over the RNN's outputs (Mirsamadi et al. 2017): a frame score
   v^T tanh(W h_t), softmax over the valid frames only, utterance vector = sum_t w_t h_t. After the RNN, not
   before: each frame's score then sees its context. Without it, the masked mean over frames.
7. Classifier: dropout, Linear(2 hidden, hidden), ReLU, dropout, Linear to the classes.
8. Ablations change one part each against the SUPERB downstream (`weighted_sum`): `channel` replaces the
   static weights by channel attention, `temporal` the mean pooling by temporal attention, `cta` both; `last`
   drops the layer combination. Same RNN, classifier, normalisation and training for all.
9. Normalisation: mean and variance per layer and feature over the frames of the fold's training utterances,
   not per utterance. Why: the layers of a deep encoder live on very different scales (residual streams grow
   with depth), which the layer weights must not have to undo; per-utterance normalisation would remove each
   utterance's mean, the squeeze that channel attention reads and a carrier of arousal. The statistics are
   stored in final.pt with the weights.
10. Loss: cross-entropy with class weights inversely proportional to the training utterances per class
   (normalised to mean 1), not re-sampling. Why: UA (mean recall) is the target metric, and its optimum is
   the class-balanced decision; weighting uses every utterance once per epoch, without the extra variance of
   repeated and dropped utterances.
11. Optimiser: AdamW (learning rate, weight decay in the config), gradient-norm clipping (RNN); mini-batches
   of `batch_size` utterances padded to their longest with a frame mask; the order of each epoch is a
   permutation seeded by (seed, epoch) and the dropout by seed and epoch, so a run resumed after epoch e equals
   an uninterrupted one.
12. Early stopping on the fold's validation UA (WA breaks no ties: the earliest best epoch wins): training
   stops after `patience` epochs without a better validation UA (once `min_epochs` are done) or at
   `max_epochs`; final.pt holds the best epoch's weights.
13. Precision: bf16 autocast where the CPU or GPU supports it (precision: auto); the RNN, the softmaxes and the
   pooling run in float32 (autocast leaves recurrent layers alone on CPU, and a bf16 softmax over hundreds of
   frames is coarse). The fast preset sets fp32: on a CPU with AVX-512 BF16, autocast made this small model
   about 30% slower (casts cost more than the small matrix products gain).
14. Test utterances: those of the fold's test groups (a cross-corpus fold tests on every group of the other
   corpus); predictions of the validation and the test utterances are written (roles valid, test), the layer
   weights of the test utterances.
15. Frame pooling (`frame_pooling: n`, 2 in the fast preset): each run of n embedding frames is averaged once
   when the fold is loaded; the recurrent layer's cost is proportional to the frames, and 0.08 s steps still
   resolve syllables. 1 (none) for real corpora.
16. The learned softmax layer weights (weighted_sum, temporal) get `layer_weights_lr_scale` (10) times the
   learning rate and no weight decay: under Adam one logit per layer moves at most about the learning rate
   per step, so within the few hundred steps of a fold they stayed near uniform (measured), whereas the
   attention's layer scores sum over its hidden units; weight decay would pull them back to uniform.
"""

from __future__ import annotations

import csv
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

from ..config import from_mapping, load_config, written_options
from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write, read_key_value
from ..nnet.train import autocast_dtype, load_checkpoint, save_checkpoint, select_device
from ..progress import bar as progress_bar
from .classes import CLASSES_FILE, LABELS_FILE
from .folds import GROUPS_FILE, fold_utterances, read_fold_plan
from .metrics import unweighted_accuracy, weighted_accuracy, write_predictions
from .training import CHECKPOINT, EarlyStopping, class_weights, optimisation_step

log = logging.getLogger(__name__)

VARIANTS = ("last", "weighted_sum", "channel", "temporal", "cta")
LAYER_MIX = {"last": "last", "weighted_sum": "static", "channel": "channel", "temporal": "static", "cta": "channel"}
POOLING = {"last": "mean", "weighted_sum": "mean", "channel": "mean", "temporal": "attention", "cta": "attention"}
DESCRIPTIONS = {"last": "last layer only", "weighted_sum": "learned softmax layer weights (SUPERB)",
                "channel": "channel attention only", "temporal": "temporal attention only",
                "cta": "channel and temporal attention"}
LAYER_WEIGHTS = "layer_weights.tsv"
DESCRIPTION = "description.json"      # what score_folds puts in results.json
OUTPUTS = ("final.pt", "history.json", "predictions.tsv", LAYER_WEIGHTS, DESCRIPTION)


@dataclass
class CtaModelConfig:
    rnn: Literal["gru", "lstm"] = "gru"
    hidden: int = 128                 # units per direction
    rnn_layers: int = 1
    squeeze_bottleneck: int = 64      # the channel attention's hidden units
    attention_dim: int = 64           # the temporal attention's hidden units
    dropout: float = 0.2
    frame_pooling: int = 1            # average each run of n embedding frames first (n x the frame shift)

    def __post_init__(self):
        if self.frame_pooling < 1:
            raise ValueError(f"frame_pooling must be at least 1, not {self.frame_pooling}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout}")
        if min(self.hidden, self.rnn_layers, self.squeeze_bottleneck, self.attention_dim) < 1:
            raise ValueError("hidden, rnn_layers, squeeze_bottleneck and attention_dim must be positive")


@dataclass
class CtaTrainingConfig:
    learning_rate: float = 1.0e-3
    weight_decay: float = 1.0e-4
    batch_size: int = 32              # utterances
    max_epochs: int = 40
    min_epochs: int = 5
    patience: int = 6                 # epochs without a better validation UA before stopping
    grad_clip: float = 5.0            # max gradient norm; 0: none
    class_weights: Literal["balanced", "none"] = "balanced"
    layer_weights_lr_scale: float = 10.0  # the learned softmax layer weights' learning rate / learning_rate
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"

    def __post_init__(self):
        if self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("batch_size, max_epochs and patience must be positive")


@dataclass
class CtaConfig:
    variant: Literal["last", "weighted_sum", "channel", "temporal", "cta"] = "cta"
    model: CtaModelConfig = field(default_factory=CtaModelConfig)
    training: CtaTrainingConfig = field(default_factory=CtaTrainingConfig)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "CtaConfig":
        return load_config(cls, path, "CTA-RNN config")


# ---------------------------------------------------------------------------------------------------------- model

class ChannelAttention(nn.Module):
    """Squeeze-and-excitation over the L x D map of (layer, feature) channels, per utterance: layer weights
    (softmax over layers) and cell gates (sigmoid); returns the fused frames (B, T, D) and each layer's share of
    the attention mass (B, L)."""

    def __init__(self, layers: int, dim: int, bottleneck: int):
        super().__init__()
        self.layers, self.dim = layers, dim
        self.squeeze = nn.Linear(layers * dim, bottleneck)
        self.layer_scores = nn.Linear(bottleneck, layers)
        self.cell_gates = nn.Linear(bottleneck, layers * dim)
        for head in (self.layer_scores, self.cell_gates):     # start: the plain mean of the layers
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frames = mask.sum(1).clamp(min=1).to(x.dtype)
        squeezed = (x * mask[:, None, :, None].to(x.dtype)).sum(2) / frames[:, None, None]       # (B, L, D)
        hidden = torch.relu(self.squeeze(squeezed.flatten(1)))
        layer_weights = torch.softmax(self.layer_scores(hidden).float(), -1)                       # (B, L)
        gates = 2 * torch.sigmoid(self.cell_gates(hidden).float()).view(-1, self.layers, self.dim)
        cells = layer_weights[:, :, None] * gates                                                  # (B, L, D)
        fused = torch.einsum("bld,bltd->btd", cells, x.float())
        mass = cells.sum(2)
        return fused, mass / mass.sum(1, keepdim=True)


class TemporalAttention(nn.Module):
    """Attentive pooling: a score per frame, softmax over the valid frames, the weighted sum of the frames."""

    def __init__(self, dim: int, attention_dim: int):
        super().__init__()
        self.project = nn.Linear(dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.score(torch.tanh(self.project(h))).squeeze(-1).float().masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, 1)
        return (weights[..., None] * h.float()).sum(1), weights


def reverse_within_lengths(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, T, ...) with each utterance's valid frames in reverse order and its padding left where it is (its
    own inverse)."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = mask.sum(1, keepdim=True)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return torch.gather(x, 1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


class MaskedBiRnn(nn.Module):
    """A bidirectional GRU or LSTM over padded batches whose outputs at an utterance's frames do not depend on
    its padding: the backward direction runs over each utterance reversed within its own length (what packed
    sequences do, without their cost on CPU); outputs (B, T, 2 hidden), zero at the padding."""

    def __init__(self, kind: str, dim: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        rnn = nn.GRU if kind == "gru" else nn.LSTM
        self.forward_rnns = nn.ModuleList(rnn(dim if i == 0 else 2 * hidden, hidden, batch_first=True)
                                          for i in range(layers))
        self.backward_rnns = nn.ModuleList(rnn(dim if i == 0 else 2 * hidden, hidden, batch_first=True)
                                           for i in range(layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask[..., None].to(x.dtype)
        for i, (forward_rnn, backward_rnn) in enumerate(zip(self.forward_rnns, self.backward_rnns)):
            if i:
                x = self.dropout(x)
            ahead, _ = forward_rnn(x)
            back, _ = backward_rnn(reverse_within_lengths(x, mask))
            x = torch.cat([ahead, reverse_within_lengths(back, mask)], -1) * keep
        return x


class CtaRnn(nn.Module):
    """The model of one variant over inputs (B, L_in, T, D) with a frame mask (B, T); L_in is 1 for `last`
    (only the last layer is read), the store's L otherwise. forward -> (logits, layer weights (B, L), frame
    weights (B, T))."""

    def __init__(self, variant: str, layers: int, dim: int, num_classes: int, mc: CtaModelConfig):
        super().__init__()
        if variant not in VARIANTS:
            raise AsrserError(f"unknown CTA-RNN variant {variant!r} (one of {', '.join(VARIANTS)})")
        self.variant, self.layers, self.dim = variant, layers, dim
        self.mix, self.pooling = LAYER_MIX[variant], POOLING[variant]
        if self.mix == "static":
            self.layer_logits = nn.Parameter(torch.zeros(layers))
        elif self.mix == "channel":
            self.channel = ChannelAttention(layers, dim, mc.squeeze_bottleneck)
        self.rnn = MaskedBiRnn(mc.rnn, dim, mc.hidden, mc.rnn_layers, mc.dropout)
        if self.pooling == "attention":
            self.temporal = TemporalAttention(2 * mc.hidden, mc.attention_dim)
        self.classifier = nn.Sequential(nn.Dropout(mc.dropout), nn.Linear(2 * mc.hidden, mc.hidden), nn.ReLU(),
                                        nn.Dropout(mc.dropout), nn.Linear(mc.hidden, num_classes))

    @property
    def input_layers(self) -> list[int]:
        """The store's layers the model reads."""
        return [self.layers - 1] if self.mix == "last" else list(range(self.layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = x.shape[0]
        if self.mix == "last":
            fused = x[:, 0].float()
            layer_weights = torch.zeros(batch, self.layers, device=x.device)
            layer_weights[:, -1] = 1.0
        elif self.mix == "static":
            weights = torch.softmax(self.layer_logits.float(), 0)
            fused = torch.einsum("l,bltd->btd", weights, x.float())
            layer_weights = weights.expand(batch, -1)
        else:
            fused, layer_weights = self.channel(x, mask)
        lengths = mask.sum(1)
        with torch.autocast(x.device.type, enabled=False):    # recurrent layers in float32
            h = self.rnn(fused.float(), mask)
        if self.pooling == "attention":
            pooled, frame_weights = self.temporal(h, mask)
        else:
            frame_weights = mask.float() / lengths[:, None].clamp(min=1)
            pooled = (h * frame_weights[..., None]).sum(1)
        return self.classifier(pooled), layer_weights, frame_weights


# ----------------------------------------------------------------------------------------------------------- data

class Embeddings:
    """The utterances of one or more embedding stores (e.g. one per corpus), read as (L, T, D) arrays; the
    stores must agree on layers and dimension, and an utterance may be in one store only."""

    def __init__(self, store_dirs: list[str | os.PathLike]):
        from ..encoders.store import EmbeddingStore

        if not store_dirs:
            raise AsrserError("no embedding store given")
        self.stores = [EmbeddingStore(d) for d in store_dirs]
        first = self.stores[0]
        self.meta = first.meta
        self.owner: dict[str, EmbeddingStore] = {}
        for store in self.stores:
            if (store.meta.layers, store.meta.dim) != (first.meta.layers, first.meta.dim):
                raise AsrserError(f"{store.dir}: {store.meta.layers} layers x {store.meta.dim} dims, but "
                                  f"{first.dir} has {first.meta.layers} x {first.meta.dim}: the stores of one "
                                  f"training must come from one encoder")
            for utt in store.utterances:
                if utt in self.owner:
                    raise DataError(store.scp, f"utterance {utt} is also in {self.owner[utt].scp}: which "
                                               f"embeddings to use is ambiguous")
                self.owner[utt] = store

    def require(self, utts: list[str], what: str) -> None:
        missing = [u for u in utts if u not in self.owner]
        if not missing:
            return
        if len(self.stores) == 1:
            self.stores[0].require(missing, what)
        raise AsrserError(f"{', '.join(str(s.scp) for s in self.stores)}: {len(missing)} utterance(s) of {what} "
                          f"have no embeddings in any of these stores, e.g. {missing[0]} (extract them again)")

    def read(self, utt: str, layers: list[int]) -> np.ndarray:
        return self.owner[utt].read(utt, layers)

    def files(self) -> list[Path]:
        return [p for s in self.stores for p in (s.scp, s.dir / "embeddings.json")]


def normalisation_stats(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (floored) per layer and feature, (L, D) each, over all frames of arrays."""
    frames = sum(a.shape[1] for a in arrays)
    total = sum(a.sum(1, dtype=np.float64) for a in arrays)
    mean = total / frames
    square = sum(np.square(a - mean[:, None].astype(np.float32), dtype=np.float64).sum(1) for a in arrays)
    std = np.sqrt(square / frames)
    return mean.astype(np.float32), np.maximum(std, 1e-5).astype(np.float32)


def pool_frames(x: np.ndarray, n: int) -> np.ndarray:
    """(L, T, D) -> (L, ceil(T / n), D): the mean of each run of n frames (the last run may be shorter)."""
    if n == 1:
        return x
    whole = x.shape[1] // n * n
    runs = [x[:, :whole].reshape(x.shape[0], -1, n, x.shape[2]).mean(2)]
    if whole < x.shape[1]:
        runs.append(x[:, whole:].mean(1, keepdims=True))
    return np.concatenate(runs, 1).astype(np.float32, copy=False)


def pad_batch(arrays: list[np.ndarray], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Arrays (L, T_i, D) -> zero-padded (B, L, T_max, D) and the frame mask (B, T_max)."""
    longest = max(a.shape[1] for a in arrays)
    layers, dim = arrays[0].shape[0], arrays[0].shape[2]
    x = np.zeros((len(arrays), layers, longest, dim), dtype=np.float32)
    mask = np.zeros((len(arrays), longest), dtype=bool)
    for i, a in enumerate(arrays):
        x[i, :, :a.shape[1]] = a
        mask[i, :a.shape[1]] = True
    return torch.from_numpy(x).to(device), torch.from_numpy(mask).to(device)


# -------------------------------------------------------------------------------------------------------- training

@dataclass
class FoldData:
    """One fold's utterances per role (train, valid, test), their labels (class indices) and inputs."""

    utts: dict[str, list[str]]
    targets: dict[str, np.ndarray]
    inputs: dict[str, list[np.ndarray]]


def predict(model: CtaRnn, inputs: list[np.ndarray], device: torch.device, dtype: torch.dtype | None,
            batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class indices, layer weights (N, L)) of the inputs, batched by length (the outputs do not
    depend on the batches)."""
    model.eval()
    order = sorted(range(len(inputs)), key=lambda i: (inputs[i].shape[1], i))
    predicted = np.zeros(len(inputs), dtype=np.int64)
    layer_weights = np.zeros((len(inputs), model.layers), dtype=np.float32)
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, mask = pad_batch([inputs[i] for i in idx], device)
            logits, weights, _ = model(x, mask)
            predicted[idx] = logits.float().argmax(1).cpu().numpy()
            layer_weights[idx] = weights.float().cpu().numpy()
    return predicted, layer_weights


def load_cta_model(path: str | os.PathLike) -> tuple[CtaRnn, dict]:
    """A trained model from final.pt (eval mode) and the checkpoint's other entries (classes, normalisation)."""
    ckpt = load_checkpoint(Path(path))
    if ckpt.get("system") != "cta_rnn":
        raise AsrserError(f"{path}: not a trained CTA-RNN (use its final.pt)")
    config = from_mapping(CtaConfig, ckpt["config"], str(path))
    model = CtaRnn(ckpt["variant"], int(ckpt["layers"]), int(ckpt["dim"]), len(ckpt["classes"]), config.model)
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def train_cta_fold(store_dirs: list[str | os.PathLike], data_dir: str | os.PathLike, folds_dir: str | os.PathLike,
                   k: int, out_dir: str | os.PathLike, config: CtaConfig, device: str = "auto",
                   progress: bool = True) -> Path:
    """Train fold k (1-based) of <folds_dir>/folds.json on the embeddings of store_dirs, with early stopping
    on its validation UA; writes <out_dir>/{final.pt, history.json, predictions.tsv, layer_weights.tsv,
    description.json, train.done}. Resumes after a kill from checkpoint.pt; a finished fold with the same
    inputs and config is left as it is. Returns the predictions' path."""
    out_dir, folds_dir, data_dir = Path(out_dir), Path(folds_dir), Path(data_dir)
    folds_json = folds_dir / "folds.json"
    plan = read_fold_plan(folds_json)
    if not 1 <= k <= len(plan.folds):
        raise AsrserError(f"{folds_json}: no fold {k} (there are {len(plan.folds)})")
    fold = plan.folds[k - 1]
    utts = fold_utterances(plan, fold, k, folds_json)
    embeddings = Embeddings(list(store_dirs))
    embeddings.require([u for role in utts.values() for u in role], f"fold {k} of {folds_json}")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = Stamp(out_dir / "train.done", [*embeddings.files(), folds_json, folds_dir / CLASSES_FILE,
                                           folds_dir / LABELS_FILE, folds_dir / GROUPS_FILE,
                                           data_dir / "utt2spk"],
                  variant=config.variant, config=written_options(config), fold=k)
    predictions = out_dir / "predictions.tsv"
    if stamp.is_current(*(out_dir / name for name in OUTPUTS)):
        log.info("%s is up to date", predictions)
        return predictions
    stamp.resume_or_start_fresh([out_dir / CHECKPOINT, *(out_dir / name for name in OUTPUTS)], keep_interrupted=True)
    utt2spk = read_key_value(data_dir / "utt2spk")
    unknown = [u for role in utts.values() for u in role if u not in utt2spk]
    if unknown:
        raise DataError(data_dir / "utt2spk", f"{len(unknown)} utterance(s) of the folds have no speaker, e.g. "
                                              f"{unknown[0]}")

    tc, classes = config.training, plan.classes
    dev = select_device(device)
    dtype = autocast_dtype(dev, tc.precision)
    torch.manual_seed(tc.seed)
    model = CtaRnn(config.variant, embeddings.meta.layers, embeddings.meta.dim, len(classes), config.model)
    model.to(dev)
    layers = model.input_layers
    inputs = {role: [embeddings.read(u, layers) for u in found] for role, found in utts.items()}
    mean, std = normalisation_stats(inputs["train"])
    for arrays in inputs.values():
        for i, a in enumerate(arrays):
            arrays[i] = pool_frames((a - mean[:, None]) / std[:, None], config.model.frame_pooling)
    class_index = {c: i for i, c in enumerate(classes)}
    targets = {role: np.array([class_index[plan.labels[u]] for u in found]) for role, found in utts.items()}
    opt = _optimizer(model, tc)
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(targets["train"], len(classes), tc.class_weights).to(dev))

    state, best_model = EarlyStopping(), None
    if (out_dir / CHECKPOINT).exists():
        ckpt = load_checkpoint(out_dir / CHECKPOINT)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        state, best_model = EarlyStopping(**ckpt["state"]), ckpt["best_model"]
        log.info("%s: resuming after epoch %d", out_dir, state.epoch)
    name = f"{out_dir.name} ({config.variant})"
    while not state.finished(tc.max_epochs, tc.min_epochs, tc.patience):
        epoch = state.epoch + 1
        start = time.perf_counter()
        loss = _train_epoch(model, opt, loss_fn, inputs["train"], targets["train"], epoch, tc, dev, dtype,
                            f"{name} epoch {epoch}", progress)
        predicted, _ = predict(model, inputs["valid"], dev, dtype)
        ua = unweighted_accuracy(targets["valid"], predicted)
        wa = weighted_accuracy(targets["valid"], predicted)
        seconds = time.perf_counter() - start
        state.history.append({"epoch": epoch, "loss": loss, "valid_ua": ua, "valid_wa": wa, "seconds": seconds,
                              "utterances_per_second": len(inputs["train"]) / seconds})
        if state.record(epoch, ua):
            best_model = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log.info("%s epoch %d: loss %.4f, validation UA %.1f%% WA %.1f%%, %.1f s", name, epoch, loss, 100 * ua,
                 100 * wa, seconds)
        save_checkpoint(out_dir / CHECKPOINT, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                               "state": asdict(state), "best_model": best_model})

    model.load_state_dict(best_model)
    save_checkpoint(out_dir / "final.pt", {
        "system": "cta_rnn", "variant": config.variant, "config": written_options(config),
        "classes": list(classes), "layers": embeddings.meta.layers, "dim": embeddings.meta.dim,
        "layer_names": list(embeddings.meta.layer_names), "encoder": embeddings.meta.encoder,
        "normalisation_mean": torch.from_numpy(mean), "normalisation_std": torch.from_numpy(std),
        "model": best_model, "best_epoch": state.best_epoch, "valid_ua": state.best_ua})
    with atomic_write(out_dir / "history.json") as f:
        json.dump(state.history, f, indent=1)
    rows, weight_rows = [], []
    for role in ("valid", "test"):
        predicted, weights = predict(model, inputs[role], dev, dtype)
        for utt, p, w in zip(utts[role], predicted, weights):
            rows.append({"fold": fold.test, "role": role, "utt": utt, "speaker": utt2spk[utt],
                         "label": plan.labels[utt], "predicted": classes[p]})
            if role == "test":
                weight_rows.append((utt, plan.labels[utt], w))
    write_predictions(predictions, rows)
    write_layer_weights(out_dir / LAYER_WEIGHTS, embeddings.meta.layer_names, weight_rows)
    with atomic_write(out_dir / DESCRIPTION) as f:
        json.dump(describe(config, embeddings.meta), f, indent=1)
    stamp.write()
    (out_dir / CHECKPOINT).unlink()
    test = [r for r in rows if r["role"] == "test"]
    log.info("%s: best validation UA %.1f%% at epoch %d; test %s, %d of %d utterances right", out_dir,
             100 * state.best_ua, state.best_epoch, fold.test, sum(r["label"] == r["predicted"] for r in test),
             len(test))
    return predictions


def _optimizer(model: CtaRnn, tc: CtaTrainingConfig) -> torch.optim.Optimizer:
    """AdamW; the static layer weights' logits (weighted_sum, temporal) with tc.layer_weights_lr_scale times
    the learning rate and no weight decay (which would pull them back to uniform weights)."""
    logits = [p for name, p in model.named_parameters() if name == "layer_logits"]
    rest = [p for name, p in model.named_parameters() if name != "layer_logits"]
    groups = [{"params": rest}]
    if logits:
        groups.append({"params": logits, "lr": tc.learning_rate * tc.layer_weights_lr_scale, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=tc.learning_rate, weight_decay=tc.weight_decay)


def _train_epoch(model: CtaRnn, opt: torch.optim.Optimizer, loss_fn: nn.Module, inputs: list[np.ndarray],
                 targets: np.ndarray, epoch: int, tc: CtaTrainingConfig, dev: torch.device,
                 dtype: torch.dtype | None, desc: str, progress: bool) -> float:
    """One pass over the training utterances in an order seeded by (seed, epoch); the mean loss."""
    order = np.random.default_rng([tc.seed, epoch]).permutation(len(inputs))
    torch.manual_seed(tc.seed * 1000 + epoch)
    model.train()
    total, seen = 0.0, 0
    batches = [order[i:i + tc.batch_size] for i in range(0, len(order), tc.batch_size)]
    for idx in progress_bar(batches, desc=desc, unit="batch", enabled=progress, mininterval=2):
        x, mask = pad_batch([inputs[i] for i in idx], dev)
        y = torch.from_numpy(targets[idx]).to(dev)
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits, _, _ = model(x, mask)
        loss = loss_fn(logits.float(), y)
        optimisation_step(model, opt, loss, tc.grad_clip, desc)
        total += float(loss.detach()) * len(idx)
        seen += len(idx)
    return total / max(seen, 1)


def describe(config: CtaConfig, meta) -> dict:
    """The system's description in results.json."""
    mc = config.model
    mix = {"last": "last layer", "static": "learned layer weights", "channel": "channel attention"}
    pooling = {"mean": "mean pooling", "attention": "temporal attention pooling"}
    return {"system": f"CTA-RNN ({config.variant}: {DESCRIPTIONS[config.variant]})",
            "features": f"{meta.layers} layers x {meta.dim} of {meta.encoder}, normalised on each fold's "
                        f"training utterances",
            "classifier": f"{mix[LAYER_MIX[config.variant]]}, Bi{mc.rnn.upper()} {mc.rnn_layers}x{mc.hidden}, "
                          f"{pooling[POOLING[config.variant]]}; {config.training.class_weights} class weights, "
                          f"early stopping on validation UA",
            "variant": config.variant}


# ---------------------------------------------------------------------------------------------- layer weights

def write_layer_weights(path: Path, layer_names: tuple[str, ...] | list[str],
                        rows: list[tuple[str, str, np.ndarray]]) -> None:
    """utt, label and one weight per layer (columns named after the store's layers)."""
    with atomic_write(path) as f:
        f.write("\t".join(["utt", "label", *layer_names]) + "\n")
        for utt, label, weights in rows:
            f.write("\t".join([utt, label, *(f"{w:.6f}" for w in weights)]) + "\n")


def mean_layer_weights(paths: list[str | os.PathLike]) -> tuple[list[str], list[str], np.ndarray]:
    """(emotions in sorted order, layer names, mean weight per emotion and layer) over the rows of the
    layer_weights.tsv files; files with other layers, or a malformed line, are errors naming the file."""
    layer_names: list[str] | None = None
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for path in paths:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f, delimiter="\t")
            header = next(reader, None)
            if not header or header[:2] != ["utt", "label"] or len(header) < 3:
                raise DataError(path, "line 1: expected the columns utt, label and one per layer")
            if layer_names is None:
                layer_names = header[2:]
            elif header[2:] != layer_names:
                raise DataError(path, f"line 1: layers {' '.join(header[2:])}, but the first file has "
                                      f"{' '.join(layer_names)}")
            for line, row in enumerate(reader, 2):
                try:
                    weights = np.array([float(w) for w in row[2:]])
                except ValueError:
                    weights = np.array([])
                if len(row) != len(header) or len(weights) != len(layer_names):
                    raise DataError(path, f"expected {len(header)} tab-separated fields: utt, label and a number "
                                          f"per layer", line)
                sums[row[1]] = sums.get(row[1], 0) + weights
                counts[row[1]] = counts.get(row[1], 0) + 1
    if not counts:
        raise AsrserError(f"no layer weights in {', '.join(map(str, paths))}")
    emotions = sorted(counts)
    return emotions, layer_names, np.stack([sums[e] / counts[e] for e in emotions])
