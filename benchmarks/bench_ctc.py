#!/usr/bin/env python3
"""CTC model training speed: input (10 ms) frames/s and training FLOP/s as a fraction of this machine's matmul
peak (bf16 and fp32), measured in the same run; fp32 against bf16 autocast. Batches of random fbank of
utterance-like lengths (--seconds each), as the trainer's length-bucketed batches; FLOPs counted by torch's
FlopCounterMode on one training step (forward + backward).

Usage: benchmarks/bench_ctc.py [--config conf/fast/ctc.yaml] [--batches 10] [--seconds 3] [--batch-frames N]
"""
import argparse
import time
from pathlib import Path

import torch

from asrser.ctc.model import BLANK, CtcConfig, CtcModel
from asrser.nnet.train import bf16_supported

REPO = Path(__file__).resolve().parents[1]


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 6) -> float:
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):     # warm-up: thread pool, packing buffers
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def step(model, opt, x, lengths, labels, label_lengths, bf16: bool):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        log_probs, out_lengths = model(x, lengths)
    loss = torch.nn.functional.ctc_loss(log_probs.float().transpose(0, 1), labels, out_lengths, label_lengths,
                                        blank=BLANK, zero_infinity=True)
    opt.zero_grad()
    loss.backward()
    opt.step()


def step_flops(model, opt, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(model, opt, *batch, bf16=False)
    return counter.get_total_flops()


def train_rate(config: CtcConfig, batch, batches: int, bf16: bool) -> float:
    torch.manual_seed(0)
    model = CtcModel(config, 48).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    frames = int(batch[1].sum())
    for _ in range(2):                   # warm-up
        step(model, opt, *batch, bf16=bf16)
    t0 = time.perf_counter()
    for _ in range(batches):
        step(model, opt, *batch, bf16=bf16)
    return frames * batches / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "conf/fast/ctc.yaml"))
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--seconds", type=float, default=3.0, help="utterance length")
    p.add_argument("--batch-frames", type=int, default=None, help="default: the config's")
    a = p.parse_args()
    config = CtcConfig.from_yaml(a.config)
    t = int(a.seconds * 100)
    size = max((a.batch_frames or config.training.batch_frames) // t, 1)
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(1, 49, (size, t // 10), generator=g)
    batch = (torch.randn(size, t, config.input_dim, generator=g), torch.full((size,), t), labels.flatten(),
             torch.full((size,), t // 10))
    model = CtcModel(config, 48)
    flops = step_flops(model, torch.optim.AdamW(model.parameters()), batch) / int(batch[1].sum())
    print(f"{config.block} x {config.num_blocks}, width {config.width}: "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"{flops / 1e6:.1f} MFLOP per trained input frame; batch {size} x {t} frames, "
          f"{torch.get_num_threads()} threads")
    peaks = {"fp32": matmul_peak(torch.float32)}
    modes = [("fp32", False)]
    if bf16_supported(torch.device("cpu")):
        peaks["bf16"] = matmul_peak(torch.bfloat16)
        modes.append(("bf16", True))
    print("matmul peak " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()))
    for name, bf16 in modes:
        rate = train_rate(config, batch, a.batches, bf16)
        print(f"{name}: {rate:.0f} frames/s, {rate * flops / 1e9:.1f} GFLOP/s = "
              f"{rate * flops / peaks[name]:.1%} of the {name} matmul peak")


if __name__ == "__main__":
    main()
