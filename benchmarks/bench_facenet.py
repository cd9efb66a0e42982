#!/usr/bin/env python3
"""Inception-ResNet-v1 speed on this machine: training and inference images/s at 1x160x160 (or --size) for the
fast preset and the full net, in fp32 and bf16 autocast, NCHW and channels_last, with 1 or 2 threads; model
FLOP/s as a fraction of the machine's fp32 and bf16 matmul peaks measured in the same run. Random images: the
network alone.

Measured on the 2-core machine while other jobs ran (load average 5-9; matmul peaks 28-42 GFLOP/s fp32, 94-156
bf16, a quarter of the quiet figures), width 0.125, embedding 128 (388k parameters, 44.6 MFLOP per 160x160
image), train batch 32 / inference batch 64, images/s:
    2 threads: fp32 NCHW 6-8 train, 13-77 infer; bf16 5-25 / 20-116 (threads wait for each other: 10x slower)
    1 thread:  fp32 NCHW 49-51 / 187-200; fp32 channels_last 60 / 279; bf16 NCHW 56-62 / 222-229;
               bf16 channels_last 72 / 362
    width 0.0625, embedding 64 (99k parameters, 11.3 MFLOP), 1 thread: fp32 channels_last 111 / 562
    width 0.125 at 96x96 (11.9 MFLOP), 1 thread, fp32 NCHW: 130 / 531
The stem at full resolution with 4-8 channels dominates (about half the forward time), so narrowing further
gains little; neither preset reaches 400 train / 1,500 infer images/s under that load.

Usage: benchmarks/bench_facenet.py [--widths 0.125,1.0] [--embedding-dims 128,512] [--threads 1]
                                   [--precisions fp32,bf16] [--layouts nchw,channels_last] [--size 160]
                                   [--seconds 4]
"""
import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nnet import matmul_peak  # noqa: E402

from asrser.facenet.inception_resnet import InceptionResNetConfig, InceptionResNetV1  # noqa: E402
from asrser.nnet.train import bf16_supported  # noqa: E402

NUM_CLASSES = 6


def forward_flops(model: InceptionResNetV1, size: int = 160) -> float:
    """FLOPs of one image's forward pass (convolutions and matmuls; 2 per multiply-add)."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, model.config.in_channels, size, size))
    return counter.get_total_flops()


def rate(model, batch_size: int, seconds: float, train: bool, bf16: bool, channels_last: bool,
         size: int = 160) -> float:
    """Images/s over about `seconds` of steps after two warm-up steps (one SGD step per batch when training)."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout).train(train)
    x = torch.rand(batch_size, 1, size, size).contiguous(memory_format=layout)
    y = torch.randint(0, NUM_CLASSES, (batch_size,))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), torch.set_grad_enabled(train):
            out = model(x)
            if train:
                loss = loss_fn(out.float(), y)
        if train:
            opt.zero_grad()
            loss.backward()
            opt.step()

    for _ in range(2):
        step()
    images, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or images < 2 * batch_size:
        step()
        images += batch_size
    return images / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", default="0.125,1.0")
    p.add_argument("--embedding-dims", default="128,512", help="one per width")
    p.add_argument("--threads", default="1", help="e.g. 1,2 (on a busy machine 2 threads can be 10x slower)")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--layouts", default="nchw,channels_last")
    p.add_argument("--train-batch", type=int, default=64)
    p.add_argument("--infer-batch", type=int, default=256)
    p.add_argument("--size", type=int, default=160, help="image side (FaceNet's: 160)")
    p.add_argument("--seconds", type=float, default=4.0, help="measuring time per cell")
    args = p.parse_args()
    widths = [float(w) for w in args.widths.split(",")]
    dims = [int(d) for d in args.embedding_dims.split(",")]
    if len(dims) != len(widths):
        p.error("give one embedding dim per width")
    precisions = [q for q in args.precisions.split(",") if q == "fp32" or bf16_supported(torch.device("cpu"))]

    print("threads  width  emb  params     MFLOP/img  precision layout         train img/s  infer img/s"
          "  train %peak  infer %peak")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
        print(f"# {threads} thread(s): matmul peak fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
              f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
        for width, dim in zip(widths, dims):
            torch.manual_seed(0)
            model = InceptionResNetV1(InceptionResNetConfig(width=width, embedding_dim=dim), NUM_CLASSES)
            params = sum(q.numel() for q in model.parameters())
            flops = forward_flops(model, args.size)
            for precision in precisions:
                for layout in args.layouts.split(","):
                    kw = dict(bf16=precision == "bf16", channels_last=layout == "channels_last", size=args.size)
                    scale = 1.0 if width <= 0.25 else 0.25      # the full net: smaller batches and fewer steps
                    train = rate(model, max(8, int(args.train_batch * scale)), args.seconds, True, **kw)
                    infer = rate(model, max(16, int(args.infer_batch * scale)), args.seconds, False, **kw)
                    # training = forward + backward (about twice the forward's FLOPs)
                    train_util = 3 * flops * train / peaks[precision]
                    infer_util = flops * infer / peaks[precision]
                    print(f"{threads:7d}  {width:5.3f}  {dim:3d}  {params:9,d}  {flops / 1e6:9.1f}  {precision:9s} "
                          f"{layout:13s}  {train:11.0f}  {infer:11.0f}  {100 * train_util:10.1f}%  "
                          f"{100 * infer_util:10.1f}%", flush=True)


if __name__ == "__main__":
    main()
