"""CTC training: AdamW with warm-up and inverse-square-root decay over length-bucketed batches, bf16 autocast
where supported (the nets' select_device / autocast_dtype), a checkpoint per epoch and exact resumption after a
kill (the batch order and dropout of epoch e are seeded by (seed, e)), greedy phone error rate on the dev set
each epoch, early stopping after `patience` epochs without a better one; final.pt = the best epoch's weights
with the config, the tokens and the training frames' normalisation, so that the file alone decodes and encodes
new audio (with the fbank options stored in it)."""

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

from ..errors import AsrserError
from ..fileio import Stamp, atomic_write
from ..nnet.train import autocast_dtype, load_checkpoint, save_checkpoint, select_device
from ..progress import bar as progress_bar
from .data import Utterances, lang_tokens, mean_std
from .model import BLANK, CtcConfig, CtcModel

log = logging.getLogger(__name__)

TRAINING_OUTPUTS = ("final.pt", "history.json", "training.png", "train.done")


@dataclass
class CtcState:
    """Where a run stands after an epoch (each epoch checkpoint holds it)."""

    epoch: int = 0
    step: int = 0
    best_per: float = math.inf
    best_epoch: int = 0
    history: list[dict] = field(default_factory=list)


def greedy_tokens(log_probs: np.ndarray) -> list[int]:
    """Best token per frame, repeats merged, blanks removed (1-based token ids)."""
    best = log_probs.argmax(-1)
    keep = np.r_[True, best[1:] != best[:-1]] & (best != BLANK)
    return [int(t) for t in best[keep]]


def token_error_rate(refs: list[np.ndarray], hyps: list[list[int]]) -> float:
    """Edit distance % of the hypotheses against the references (on the model's own tokens)."""
    import kaldialign

    errors = sum(kaldialign.edit_distance(list(r), h)["total"] for r, h in zip(refs, hyps))
    return 100.0 * errors / max(sum(len(r) for r in refs), 1)


def run_model(model: CtcModel, data: Utterances, mean: np.ndarray, std: np.ndarray, device: torch.device,
              dtype: torch.dtype | None, batch_frames: int):
    """(utterance index, (T', tokens + 1) log-probabilities) for every utterance, in batches, in eval mode."""
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        for idx in data.batches(batch_frames):
            x, lengths, _, _ = data.padded(idx, mean, std)
            log_probs, out_lengths = model(torch.from_numpy(x).to(device), torch.from_numpy(lengths).to(device))
            log_probs = log_probs.float().cpu().numpy()
            for row, i in enumerate(idx):
                yield int(i), log_probs[row, :int(out_lengths[row])]


def evaluate(model: CtcModel, data: Utterances, mean, std, device, dtype, batch_frames: int) -> tuple[float, float]:
    """(mean CTC loss per utterance, greedy token error rate %) on a labelled set."""
    hyps: list[list[int]] = [[] for _ in data.utts]
    loss_sum = 0.0
    for i, log_probs in run_model(model, data, mean, std, device, dtype, batch_frames):
        hyps[i] = greedy_tokens(log_probs)
        loss_sum += float(torch.nn.functional.ctc_loss(
            torch.from_numpy(log_probs).unsqueeze(1), torch.from_numpy(data.labels[i]).unsqueeze(0),
            torch.tensor([len(log_probs)]), torch.tensor([len(data.labels[i])]), blank=BLANK, reduction="sum",
            zero_infinity=True))
    return loss_sum / len(data.utts), token_error_rate(data.labels, hyps)


def train_ctc(train_dir: str | os.PathLike, dev_dir: str | os.PathLike, lang_dir: str | os.PathLike,
              out_dir: str | os.PathLike, config: CtcConfig, feature_conf: str | os.PathLike,
              device: str = "auto", progress: bool = True) -> list[dict]:
    """Train on <train_dir> (feats.scp of fbank made with feature_conf, text over the lang's words), validate
    on <dev_dir>; out_dir gets epoch_<n>.pt, final.pt, history.json, training.png and train.done. Up to date
    while its inputs and config are the same; resumes an interrupted run with the same record; returns the
    per-epoch history."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tc = config.training
    dev = select_device(device)
    dtype = autocast_dtype(dev, tc.precision)
    train_dir, dev_dir = Path(train_dir), Path(dev_dir)
    stamp = Stamp(out_dir / "train.done",
                  [train_dir / "feats.scp", train_dir / "text", dev_dir / "feats.scp", dev_dir / "text",
                   Path(lang_dir) / "words.txt", Path(feature_conf)],
                  config=config.checkpoint_options(), threads=torch.get_num_threads())
    if stamp.is_current(out_dir / "final.pt"):
        log.info("%s is up to date", out_dir / "final.pt")
        return json.loads((out_dir / "history.json").read_text())
    stamp.resume_or_start_fresh([*out_dir.glob("epoch_*.pt"), *(out_dir / n for n in TRAINING_OUTPUTS)],
                                keep_interrupted=True)
    tokens = lang_tokens(lang_dir)
    train, valid = Utterances.load(train_dir, tokens), Utterances.load(dev_dir, tokens)
    for name, data in (("training", train), ("dev", valid)):
        if data.feats[0].shape[1] != config.input_dim:
            raise AsrserError(f"{name} features have {data.feats[0].shape[1]} dims, the config's input_dim is "
                              f"{config.input_dim}")
    mean, std = mean_std(train.feats)
    torch.manual_seed(tc.seed)
    model = CtcModel(config, len(tokens)).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.learning_rate, weight_decay=tc.weight_decay)
    state = _resume(out_dir, model, opt)
    since_best = state.epoch - state.best_epoch
    while state.epoch < tc.max_epochs and not (since_best >= tc.patience and state.epoch >= tc.min_epochs):
        epoch = state.epoch + 1
        loss, frames, seconds = _train_epoch(model, opt, train, mean, std, epoch, state, tc, dev, dtype,
                                             out_dir.name, progress)
        valid_loss, per = evaluate(model, valid, mean, std, dev, dtype, tc.batch_frames)
        record = {"epoch": epoch, "loss": loss, "valid_loss": valid_loss, "valid_per": per,
                  "lr": opt.param_groups[0]["lr"], "frames_per_second": frames / seconds, "seconds": seconds}
        state.history.append(record)
        log.info("%s epoch %d: loss %.3f, dev loss %.3f, dev greedy PER (%d tokens) %.2f%%, %.0f frames/s",
                 out_dir.name, epoch, loss, valid_loss, len(tokens), per, record["frames_per_second"])
        if per < state.best_per:
            state.best_per, state.best_epoch = per, epoch
        state.epoch = epoch
        since_best = epoch - state.best_epoch
        save_checkpoint(out_dir / f"epoch_{epoch}.pt", {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                                        "state": asdict(state)})
    _write_final(out_dir, state, config, tokens, mean, std, feature_conf)
    stamp.write()
    return state.history


def _resume(out_dir: Path, model: CtcModel, opt: torch.optim.Optimizer) -> CtcState:
    done = sorted(int(p.stem.split("_")[1]) for p in out_dir.glob("epoch_*.pt"))
    if not done:
        return CtcState()
    ckpt = load_checkpoint(out_dir / f"epoch_{done[-1]}.pt")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    state = CtcState(**ckpt["state"])
    log.info("resuming after epoch %d", state.epoch)
    return state


def learning_rate(step: int, tc) -> float:
    """Linear warm-up to the peak over warmup_steps, then peak * sqrt(warmup / step) (Noam-style)."""
    step = max(step, 1)
    return tc.learning_rate * min(step / tc.warmup_steps, math.sqrt(tc.warmup_steps / step))


def spec_augment(x: torch.Tensor, lengths: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Two frequency masks of up to 8 bins and two time masks of up to 20 frames per utterance (seeded)."""
    b, t, f = x.shape
    x = x.clone()
    for row in range(b):
        for _ in range(2):
            width = int(torch.randint(0, 9, (1,), generator=gen))
            start = int(torch.randint(0, max(f - width, 1), (1,), generator=gen))
            x[row, :, start:start + width] = 0.0
            width = int(torch.randint(0, 21, (1,), generator=gen))
            start = int(torch.randint(0, max(int(lengths[row]) - width, 1), (1,), generator=gen))
            x[row, start:start + width, :] = 0.0
    return x


def _train_epoch(model: CtcModel, opt, train: Utterances, mean, std, epoch: int, state: CtcState, tc,
                 dev: torch.device, dtype, name: str, progress: bool) -> tuple[float, int, float]:
    """One pass in a seeded batch order: (mean CTC loss per utterance, input frames, seconds)."""
    rng = np.random.default_rng([tc.seed, epoch])
    torch.manual_seed(tc.seed * 1000 + epoch)
    gen = torch.Generator().manual_seed(tc.seed * 1000 + epoch)
    model.train()
    total, utts, frames, start = 0.0, 0, 0, time.perf_counter()
    bar = progress_bar(train.batches(tc.batch_frames, rng), desc=f"{name} epoch {epoch}", unit="batch",
                       enabled=progress, mininterval=2)
    for i, idx in enumerate(bar):
        x, lengths, labels, label_lengths = train.padded(idx, mean, std)
        x, lengths = torch.from_numpy(x), torch.from_numpy(lengths)
        if tc.spec_augment:
            x = spec_augment(x, lengths, gen)
        state.step += 1
        for g in opt.param_groups:
            g["lr"] = learning_rate(state.step, tc)
        with torch.autocast(dev.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            log_probs, out_lengths = model(x.to(dev), lengths.to(dev))
        loss = torch.nn.functional.ctc_loss(log_probs.float().transpose(0, 1), torch.from_numpy(labels).to(dev),
                                            out_lengths, torch.from_numpy(label_lengths).to(dev), blank=BLANK,
                                            reduction="sum", zero_infinity=True) / len(idx)
        if not torch.isfinite(loss):
            raise AsrserError(f"{name}: loss is {loss.item()} at epoch {epoch}, batch {i}; stopped (the last good "
                              f"checkpoint is epoch_{epoch - 1}.pt)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        total += float(loss.detach()) * len(idx)
        utts += len(idx)
        frames += int(lengths.sum())
        if (i + 1) % 10 == 0:
            bar.set_postfix(loss=f"{total / utts:.2f}")
    return total / max(utts, 1), frames, time.perf_counter() - start


def _write_final(out_dir: Path, state: CtcState, config: CtcConfig, tokens: list[str], mean, std,
                 feature_conf) -> None:
    """final.pt (the best epoch's weights, config, tokens, normalisation and fbank options), history.json and
    training.png."""
    from ..plots import plot_training

    best = load_checkpoint(out_dir / f"epoch_{state.best_epoch}.pt")
    with atomic_write(out_dir / "history.json") as f:
        json.dump(state.history, f, indent=1)
    save_checkpoint(out_dir / "final.pt", {
        "kind": "ctc", "model": best["model"], "config": config.checkpoint_options(), "tokens": tokens,
        "mean": torch.from_numpy(mean), "std": torch.from_numpy(std),
        "feature_conf": Path(feature_conf).read_text(), "best_epoch": state.best_epoch,
        "valid_per": state.best_per})
    plot_training(state.history, out_dir / "training.png", f"{out_dir.name}: training",
                  loss_label="CTC loss", error_key="valid_per", error_label="dev greedy PER %")
    log.info("%s: best dev greedy PER %.2f%% at epoch %d", out_dir, state.best_per, state.best_epoch)
