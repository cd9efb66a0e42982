"""What the SER trainers share (the CTA-RNN over layer embeddings, the FaceNet over segment images): class
weights for the loss, the optimisation step, and early stopping on the validation utterances' UA."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..errors import AsrserError

CHECKPOINT = "checkpoint.pt"          # a trainer's state after its last finished epoch


def class_weights(targets: np.ndarray, num_classes: int, how: str) -> torch.Tensor:
    """Cross-entropy weights: inversely proportional to the examples per class, mean 1 over the classes
    present (a class absent from training gets weight 0); all ones with how='none'."""
    if how == "none":
        return torch.ones(num_classes)
    counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    weights *= (counts > 0).sum() / weights.sum()
    return torch.tensor(weights, dtype=torch.float32)


def optimisation_step(model: nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, grad_clip: float,
                      desc: str) -> None:
    """Back-propagate a batch's loss and step (gradients clipped to grad_clip's norm unless 0); a loss that is
    not finite stops the training with one line (the last finished epoch's checkpoint stays)."""
    if not torch.isfinite(loss):
        raise AsrserError(f"{desc}: loss is {loss.item()}; stopped (the last good state is {CHECKPOINT})")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()


@dataclass
class EarlyStopping:
    """Where a training stands after an epoch (in every checkpoint, as a dict): the best validation UA so far
    (WA breaks no ties: the earliest best epoch wins), and the epochs since it."""

    epoch: int = 0
    best_ua: float = -1.0
    best_epoch: int = 0
    epochs_without_gain: int = 0
    history: list[dict] = field(default_factory=list)

    def record(self, epoch: int, ua: float) -> bool:
        """After epoch `epoch` with validation UA `ua`: True when it is the best so far (keep its weights)."""
        self.epoch = epoch
        if ua > self.best_ua:
            self.best_ua, self.best_epoch, self.epochs_without_gain = ua, epoch, 0
            return True
        self.epochs_without_gain += 1
        return False

    def finished(self, max_epochs: int, min_epochs: int, patience: int) -> bool:
        """At max_epochs, or after `patience` epochs without a better UA once min_epochs are done."""
        return self.epoch >= max_epochs or (self.epoch >= min_epochs and self.epochs_without_gain >= patience)
