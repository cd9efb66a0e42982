#!/usr/bin/env python3
"""ConvNet training speed: frames/s and model FLOP/s as a fraction of this machine's bf16 and fp32 matmul
peaks, measured in the same run (before and after each training measurement, the higher taken, so that a
load that comes or goes meanwhile shows as a spread, not as a speed); fp32 (NCHW) against bf16 autocast +
channels_last (what training uses where supported). The step is training's own (the config's optimiser with
its per-layer weight decay). Data come from prepared frames when given (including the batch gathering), else
random. --threads sets torch's thread count (default: torch's, one per core).

Usage: benchmarks/bench_nnet.py [--frames egs/timit/s5/exp/convnet/frames_train] [--config conf/convnet.yaml]
                                [--batches 40] [--batch-size 256] [--threads N] [--bf16-only]
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from asrser.nnet.data import FrameData
from asrser.nnet.model import LayeredNet, NetConfig
from asrser.nnet.train import _optimizer, bf16_supported

REPO = Path(__file__).resolve().parents[1]


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 6) -> float:
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    for _ in range(3):     # warm-up: thread pool, packing buffers
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def train_rate(config: NetConfig, get_batch, batches: int, bf16: bool) -> float:
    torch.manual_seed(0)
    net = LayeredNet(config, 144)
    if bf16:
        net = net.to(memory_format=torch.channels_last)
    opt = _optimizer(net, config.training)
    loss_fn = torch.nn.CrossEntropyLoss()
    frames = 0
    for i in range(batches + 3):
        if i == 3:
            t0, frames = time.perf_counter(), 0
        x, y = get_batch(i)
        if not bf16:
            x = x.contiguous()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        frames += len(y)
    return frames / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", default=None)
    p.add_argument("--config", default=str(REPO / "conf/convnet.yaml"))
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--bf16-only", action="store_true", help="skip the (slow) fp32 measurement")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    config = NetConfig.from_yaml(a.config)
    rng = np.random.default_rng(0)
    if a.frames:
        data = FrameData(a.frames, config.context)

        def get_batch(i):
            idx = rng.integers(0, len(data), a.batch_size)
            return data.input_batch(idx, torch.device("cpu")), torch.from_numpy(np.maximum(data.targets[idx], 0))
    else:
        fixed = torch.randn(a.batch_size, 1, config.window, config.dim).contiguous(memory_format=torch.channels_last)
        labels = torch.from_numpy(rng.integers(0, 144, a.batch_size))

        def get_batch(i):
            return fixed, labels
    flops_per_frame = 3 * LayeredNet(config, 144).flops_per_frame()     # forward + backward ~ 3x forward
    bf16_ok = bf16_supported(torch.device("cpu"))
    print(f"threads {torch.get_num_threads()}; ConvNet {flops_per_frame / 3e6:.1f} MFLOP forward per frame")
    for name, bf16 in (("fp32 NCHW", False), ("bf16 channels_last", True))[1 if a.bf16_only else 0:]:
        if bf16 and not bf16_ok:
            print("bf16: not supported on this CPU")
            continue
        before = {dtype: matmul_peak(dtype) for dtype in (torch.float32, torch.bfloat16)
                  if bf16_ok or dtype == torch.float32}
        rate = train_rate(config, get_batch, a.batches, bf16)
        after = {dtype: matmul_peak(dtype) for dtype in before}
        peak32 = max(before[torch.float32], after[torch.float32])
        before16, after16 = before.get(torch.bfloat16, float("nan")), after.get(torch.bfloat16, float("nan"))
        peak16 = max(before16, after16)
        achieved = rate * flops_per_frame
        print(f"{name:20s}: {rate:6.0f} training frames/s = {achieved / 1e9:5.0f} GFLOP/s = "
              f"{100 * achieved / peak16:4.1f}% of the bf16 peak, {100 * achieved / peak32:5.1f}% of the fp32 peak "
              f"(peaks bf16 {peak16 / 1e9:.0f}, fp32 {peak32 / 1e9:.0f} GFLOP/s; bf16 before/after "
              f"{before16 / 1e9:.0f}/{after16 / 1e9:.0f})")


if __name__ == "__main__":
    main()
