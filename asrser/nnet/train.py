"""Frame classifier training: shuffled mini-batches of spliced windows, cross-entropy, SGD with momentum or
RMSProp, validation frame error rate (FER) each epoch with newbob learning-rate halving and early stopping,
a checkpoint per epoch and exact resumption after a kill (the shuffle and dropout randomness of epoch e are
seeded by (seed, e), so a resumed run equals an uninterrupted one).

Speed: bf16 autocast and channels_last where the CPU (AVX-512 BF16 / AMX) or GPU supports bf16; batches are
gathered by numpy index arithmetic, with no per-frame Python. Multi-process data parallel under torchrun
(gloo on CPU, NCCL on CUDA, one GPU per process): every batch is the single-process run's batch, each rank
taking every world-size-th frame of it, so the gradient steps are the same but for batch normalisation (each
rank normalises its own share), dropout masks and the order of the gradient reduction.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import written_options
from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write
from ..progress import bar as progress_bar
from .data import FrameData, frame_files
from .model import LayeredNet, NetConfig, TrainingConfig

log = logging.getLogger(__name__)

# What a training run writes besides its epoch checkpoints (removed with them when the record changes).
TRAINING_OUTPUTS = ("final.pt", "history.json", "training.png", "train.done", "class_counts")
CLASS_COUNTS = "class_counts"       # training frames per class, the priors of decoding (Kaldi text vector)


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and int(os.environ.get("WORLD_SIZE", 1)) > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))      # one GPU per process
        torch.cuda.set_device(device)
    return device


def bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    if precision == "fp32" or (precision == "auto" and not bf16_supported(device)):
        return None
    return torch.bfloat16


def save_checkpoint(path: Path, payload: dict) -> None:
    with atomic_write(path, "wb", encoding=None) as f:
        torch.save(payload, f)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which
        raise AsrserError(f"{path}: cannot load checkpoint ({e})") from None


def load_model(path: str | os.PathLike) -> LayeredNet:
    """A trained network from final.pt (or any epoch checkpoint)."""
    ckpt = load_checkpoint(Path(path))
    if "config" not in ckpt:
        raise AsrserError(f"{path}: not a trained network (use its final.pt)")
    model = LayeredNet(NetConfig.from_checkpoint(ckpt["config"], path), int(ckpt["num_classes"]))
    model.load_state_dict(ckpt["model"])
    return model.eval()


def copy_layers(model: LayeredNet, source: str | os.PathLike, num_layers: int) -> None:
    """Transfer learning: the first num_layers layers of a trained network (its weights and BatchNorm
    statistics) into model; the others keep their fresh initialisation. The output layer is never copied."""
    last = len(model.layers) - 1
    if not 0 <= num_layers <= last:
        raise AsrserError(f"the number of transferred layers must be 0..{last} (layer {last + 1}, the output "
                          f"layer, is always new), got {num_layers}")
    ckpt = load_checkpoint(Path(source))
    if "config" not in ckpt:
        raise AsrserError(f"{source}: not a trained network (use its final.pt)")
    theirs = ckpt["config"]
    if (theirs["context"], theirs["dim"]) != (model.config.context, model.config.dim):
        raise AsrserError(f"{source}: input of {2 * theirs['context'] + 1} frames x {theirs['dim']} does not match "
                          f"this network's {model.config.window} x {model.config.dim}")
    own = model.state_dict()
    wanted = {k for k in own if int(k.split(".")[1]) < num_layers}
    for key in sorted(wanted):
        if key not in ckpt["model"] or ckpt["model"][key].shape != own[key].shape:
            layer = int(key.split(".")[1]) + 1
            found = tuple(ckpt["model"][key].shape) if key in ckpt["model"] else "nothing"
            raise AsrserError(f"{source}: layer {layer} does not match this network's ({key}: "
                              f"{tuple(own[key].shape)} expected, {found} found)")
    model.load_state_dict({k: ckpt["model"][k] for k in wanted}, strict=False)


def frame_error_rate(model: nn.Module, data: FrameData, device: torch.device, dtype: torch.dtype | None,
                     batch_size: int = 2048, stride: int = 1) -> float:
    """FER % over the frames with targets (every stride-th of them)."""
    model.eval()
    wrong, total = 0, 0
    frames = np.flatnonzero(data.targets >= 0)[::stride]
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for i in range(0, len(frames), batch_size):
            idx = frames[i:i + batch_size]
            x = data.input_batch(idx, device)
            pred = model(x).argmax(1).cpu().numpy()
            wrong += int((pred != data.targets[idx]).sum())
            total += len(idx)
    return 100.0 * wrong / max(total, 1)


@dataclass
class TrainingState:
    """Where a training run stands after an epoch; each epoch checkpoint holds it, and a resumed run goes on
    from it. lr is the rate of the next epoch."""

    epoch: int = 0
    lr: float = 0.0
    halvings: int = 0
    best_fer: float = math.inf
    best_epoch: int = 0
    history: list[dict] = field(default_factory=list)

    def newbob(self, epoch: int, fer: float, tc: TrainingConfig) -> bool:
        """After epoch `epoch` with validation FER `fer`: keep the best epoch, halve the learning rate when the
        FER improved on the best so far by less than tc.halving_threshold points (from epoch 2 on), and say
        whether to stop: after more than tc.stop_after_halvings halvings, once tc.min_epochs are done.

        Not torch.optim.lr_scheduler.ReduceLROnPlateau(mode="min", factor=0.5, patience=0, threshold_mode="abs"):
        it compares with the best FER among the epochs that improved by more than the threshold (not with the
        best so far), halves also at an improvement of exactly the threshold, and counts no halvings to stop on,
        so it would train other nets."""
        improvement = self.best_fer - fer if math.isfinite(self.best_fer) else math.inf
        if fer < self.best_fer:
            self.best_fer, self.best_epoch = fer, epoch
        if epoch >= 2 and improvement < tc.halving_threshold:
            self.halvings += 1
            self.lr /= 2
        self.epoch = epoch
        return self.halvings > tc.stop_after_halvings and epoch >= tc.min_epochs


def rank_batches(order: np.ndarray, batch_size: int, rank: int, world: int) -> list[np.ndarray]:
    """The frames of each training step of process `rank` of `world`: the whole batches of `order`, as one
    process takes them, each shared out (frames rank, rank + world, ... of it), so that the ranks together
    take the same batches as a single process."""
    share = batch_size // world
    mine = order[:len(order) // batch_size * batch_size][rank::world]
    return [mine[i:i + share] for i in range(0, len(mine), share)]


def train_net(train_dir: str | os.PathLike, valid_dir: str | os.PathLike, out_dir: str | os.PathLike,
              config: NetConfig, num_classes: int, transfer_from: str | os.PathLike | None = None,
              frozen_layers: int = 0, device: str = "auto", progress: bool = True) -> list[dict]:
    """Train into out_dir (epoch_<n>.pt, final.pt = best validation FER, history.json, train.done, and what
    decoding needs: class_counts, global_cmvn.stats, cmvn_opts, classes.txt, see write_decoding_files); resumes
    after a kill. With transfer_from, the first frozen_layers layers are copied from that network and kept
    constant. A finished net is up to date while its frames, config, classes and transfer source are the same;
    when any of them changed, the net is trained again from scratch with a warning naming what changed. An
    interrupted run is resumed only with its own record: another one is an error naming what changed.
    Returns the per-epoch history."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tc = config.training
    rank, world, dev = _join_process_group(device)
    if tc.batch_size % world:
        raise AsrserError(f"batch_size {tc.batch_size} cannot be shared equally by {world} processes")
    dtype = autocast_dtype(dev, tc.precision)
    stamp = _training_record(out_dir, train_dir, valid_dir, config, num_classes, transfer_from, frozen_layers,
                             rank, world)
    if stamp.is_current(out_dir / "final.pt"):
        log.info("%s is up to date", out_dir / "final.pt")
        if rank == 0 and not (out_dir / CLASS_COUNTS).exists():      # a net trained before nets kept them
            write_decoding_files(out_dir, train_dir, num_classes)
        return json.loads((out_dir / "history.json").read_text())
    if rank == 0:
        stamp.resume_or_start_fresh([*out_dir.glob("epoch_*.pt"), *(out_dir / n for n in TRAINING_OUTPUTS)],
                                    keep_interrupted=True)
    if world > 1:
        torch.distributed.barrier()         # no rank looks for checkpoints before rank 0 has removed stale ones
    train, valid = FrameData(train_dir, config.context), FrameData(valid_dir, config.context)
    for name, frames, data in (("training", train_dir, train), ("validation", valid_dir, valid)):
        if not (data.targets >= 0).any():      # the validation FER would read 0% and steer the learning rate
            raise DataError(Path(frames) / "targets.npy", f"no frame has a target: the {name} frames need the "
                                                          "alignments of their utterances")
    if train.targets.max() >= num_classes:
        raise AsrserError(f"{train_dir}: target {int(train.targets.max())} >= number of classes {num_classes}")
    model = _initial_model(config, num_classes, transfer_from, frozen_layers).to(dev)
    model = model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, tc)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    state = _resume(out_dir, model, opt, tc)
    stop = False
    while not stop and state.epoch < tc.max_epochs:
        epoch = state.epoch + 1
        loss, seen, seconds = _train_epoch(net, opt, train, epoch, state.lr, tc, dev, dtype, rank, world, out_dir,
                                           progress)
        if world > 1:
            loss, seen = _share_epoch_outcome(model, loss, seen, dev)
        fer = frame_error_rate(model, valid, dev, dtype, stride=tc.valid_stride)
        record = {"epoch": epoch, "loss": loss / max(seen, 1), "valid_fer": fer, "lr": state.lr,
                  "frames_per_second": seen / seconds, "seconds": seconds}
        state.history.append(record)
        if rank == 0:
            log.info("%s epoch %d: loss %.4f, validation FER %.2f%%, lr %g, %.0f frames/s", out_dir.name, epoch,
                     record["loss"], fer, state.lr, record["frames_per_second"])
        stop = state.newbob(epoch, fer, tc)
        if rank == 0:
            save_checkpoint(out_dir / f"epoch_{epoch}.pt", {"model": model.state_dict(),
                                                            "optimizer": opt.state_dict(), "state": asdict(state)})
    if rank == 0:
        _write_final(out_dir, state, config, num_classes)
        write_decoding_files(out_dir, train_dir, num_classes)
        stamp.write()
    return state.history


def write_decoding_files(out_dir: Path, train_dir: str | os.PathLike, num_classes: int) -> None:
    """What decoding new audio with the net needs beside final.pt (its weights and config), so that the net's
    dir is all a decoder reads: class_counts (the training frames per class, whose share is each class's
    prior; Kaldi's analyze-counts text vector) and the training frames' normalisation stats and class table."""
    from ..kaldi_format import write_kaldi_vector
    from .data import CLASS_TABLE, NORMALISATION_STATS, SPEAKER_CMVN_OPTS, class_counts, copy_or_remove

    train_dir = Path(train_dir)
    counts = class_counts(np.load(train_dir / "targets.npy"), num_classes)
    write_kaldi_vector(out_dir / CLASS_COUNTS, counts.astype(np.float32), binary=False)
    for name in (NORMALISATION_STATS, SPEAKER_CMVN_OPTS, CLASS_TABLE):
        copy_or_remove(train_dir / name, out_dir / name)


def _join_process_group(device: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device); under torchrun, joins the process group (gloo on CPU, NCCL on CUDA)."""
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    dev = select_device(device)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return rank, world, dev


def _share_epoch_outcome(model: nn.Module, loss: float, seen: int, dev: torch.device) -> tuple[float, int]:
    """After a data-parallel epoch: every rank takes rank 0's batch-norm running statistics (they differ after
    the last step), so that all validate alike and take the same learning-rate and stopping decisions; the
    summed loss and frames of all ranks."""
    for buffer in model.buffers():
        torch.distributed.broadcast(buffer, 0)
    sums = torch.tensor([loss, seen], dtype=torch.float64, device=dev)
    torch.distributed.all_reduce(sums)
    return float(sums[0]), int(sums[1])


def _training_record(out_dir: Path, train_dir, valid_dir, config: NetConfig, num_classes: int, transfer_from,
                     frozen_layers: int, rank: int, world: int) -> Stamp:
    """The record of everything the trained net depends on: the frames (contents), the whole config including
    the training options, the classes, the transferred layers and their source (contents), the world size
    (each rank takes its share of every batch). A run with another record starts again (as the GMM stages):
    resuming it from these checkpoints would mix two configs, and keeping its final.pt would report a net
    trained on something else."""
    return Stamp(out_dir / "train.done", [*frame_files(train_dir), *frame_files(valid_dir),
                                          *([Path(transfer_from)] if transfer_from else [])],
                 exclusive=rank == 0, input={"context": config.context, "dim": config.dim},
                 layers=written_options(config.layers), training=asdict(config.training), num_classes=num_classes,
                 frozen_layers=frozen_layers, world_size=world)


def _initial_model(config: NetConfig, num_classes: int, transfer_from, frozen_layers: int) -> LayeredNet:
    """The net before its first epoch: seeded initial weights, the first frozen_layers layers copied from
    transfer_from and kept constant."""
    model = LayeredNet(config, num_classes)
    model.reset_parameters(config.training.seed)
    if transfer_from:
        copy_layers(model, transfer_from, frozen_layers)
        log.info("layers 1-%d copied from %s and kept constant", frozen_layers, transfer_from)
    elif frozen_layers:
        raise AsrserError("constant layers need a network to copy them from (transfer_from)")
    model.freeze(frozen_layers)
    return model


def _optimizer(model: LayeredNet, tc: TrainingConfig) -> torch.optim.Optimizer:
    """SGD with momentum or RMSProp over the trainable parameters, with each layer's weight decay."""
    params = [g | {"params": [p for p in g["params"] if p.requires_grad]} for g in model.parameter_groups()]
    params = [g for g in params if g["params"]]
    if tc.optimizer == "sgd":
        return torch.optim.SGD(params, lr=tc.learning_rate, momentum=tc.momentum)
    if tc.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=tc.learning_rate, momentum=tc.momentum)
    raise AsrserError(f"unknown optimizer {tc.optimizer!r} (sgd or rmsprop)")


def _resume(out_dir: Path, model: LayeredNet, opt: torch.optim.Optimizer, tc: TrainingConfig) -> TrainingState:
    """The state after the last epoch checkpoint in out_dir (its weights and optimiser state loaded), or the
    start of training."""
    done = sorted(int(p.stem.split("_")[1]) for p in out_dir.glob("epoch_*.pt"))
    if not done:
        return TrainingState(lr=tc.learning_rate)
    ckpt = load_checkpoint(out_dir / f"epoch_{done[-1]}.pt")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    state = TrainingState(**ckpt["state"])
    log.info("resuming after epoch %d (lr %g)", state.epoch, state.lr)
    return state


def _train_epoch(net: nn.Module, opt: torch.optim.Optimizer, train: FrameData, epoch: int, lr: float,
                 tc: TrainingConfig, dev: torch.device, dtype: torch.dtype | None, rank: int, world: int,
                 out_dir: Path, progress: bool) -> tuple[float, int, float]:
    """One pass over the epoch's frames (a permutation seeded by (seed, epoch), cut to tc.epoch_frames, this
    rank's share): (summed loss, frames seen by this rank, seconds)."""
    for g in opt.param_groups:
        g["lr"] = lr
    usable = np.flatnonzero(train.targets >= 0)
    order = usable[np.random.default_rng([tc.seed, epoch]).permutation(len(usable))]
    if tc.epoch_frames:
        order = order[:tc.epoch_frames]
    torch.manual_seed(tc.seed * 1000 + epoch)
    net.train()
    loss_fn = nn.CrossEntropyLoss()
    total_loss, seen, start = 0.0, 0, time.perf_counter()
    bar = progress_bar(rank_batches(order, tc.batch_size, rank, world), desc=f"{out_dir.name} epoch {epoch}",
                       unit="batch", enabled=progress and rank == 0, mininterval=2)
    for i, idx in enumerate(bar):
        x = train.input_batch(idx, dev)
        y = torch.from_numpy(train.targets[idx]).to(dev)
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = loss_fn(net(x), y)
        if not torch.isfinite(loss):
            raise AsrserError(f"{out_dir}: loss is {loss.item()} at epoch {epoch}, batch {i}; "
                              f"stopped (the last good checkpoint is epoch_{epoch - 1}.pt)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total_loss += float(loss.detach()) * len(idx)
        seen += len(idx)
        if (i + 1) % 50 == 0:
            bar.set_postfix(loss=f"{total_loss / seen:.3f}")
    return total_loss, seen, time.perf_counter() - start


def _write_final(out_dir: Path, state: TrainingState, config: NetConfig, num_classes: int) -> None:
    """final.pt (the best epoch's weights with the network's config), history.json and training.png."""
    from ..plots import plot_training

    best = load_checkpoint(out_dir / f"epoch_{state.best_epoch}.pt")
    with atomic_write(out_dir / "history.json") as f:
        json.dump(state.history, f, indent=1)
    save_checkpoint(out_dir / "final.pt", {"model": best["model"], "config": config.checkpoint_options(),
                                           "num_classes": num_classes, "best_epoch": state.best_epoch,
                                           "valid_fer": state.best_fer})
    plot_training(state.history, out_dir / "training.png", f"{out_dir.name}: training")
    log.info("%s: best validation FER %.2f%% at epoch %d", out_dir, state.best_fer, state.best_epoch)
