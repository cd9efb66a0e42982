#!/usr/bin/env python3
"""GMM-HMM speed on a trained recipe: one forced-alignment pass, one training (statistics) iteration and one
pass of fMLLR statistics (as SAT and fMLLR decoding gather them) per 100k frames, and the decoding real-time
factor, each on one core (one job), on the recipe's own data.

Also prints the GMM likelihood evaluation's arithmetic rate over the machine's float32 matmul rate measured
in the same run, so the figures say how close the numpy GMM code runs to the hardware, and alignment and
accumulation in seconds per 1M frames beside their ratio to the time of one matrix product of every frame with
all Gaussians at that rate (2 x 2D x G flop per frame: the work of scoring every pdf once), which carries over
between machines; the target is 10 s per 1M frames for each.

Usage: benchmarks/bench_gmm.py [--recipe egs/timit/s5] [--system tri2] [--utts 200] [--no-decoding]
  (run the recipe through stage 9 first: ./run.sh --stop-stage 9)
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from asrser.data import subset_data_dir  # noqa: E402
from asrser.gmm.decode import decode_job  # noqa: E402
from asrser.gmm.feats import FeaturePipeline, iter_features  # noqa: E402
from asrser.gmm.fmllr import FmllrStats, accumulate_fmllr  # noqa: E402
from asrser.gmm.jobs import acc_job, align_job, read_job_alignments  # noqa: E402
from asrser.gmm.model import AcousticModel  # noqa: E402
from asrser.hmm.align import AlignOptions  # noqa: E402
from asrser.hmm.decode import DecodeOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ a
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default=str(REPO / "egs/timit/s5"))
    p.add_argument("--system", default="tri2")
    p.add_argument("--utts", type=int, default=200, help="training utterances to time")
    p.add_argument("--no-decoding", action="store_true", help="leave out the decoding of the test set")
    a = p.parse_args()
    recipe = Path(a.recipe)
    exp = recipe / "exp" / a.system
    if not (exp / "final.mdl").exists() or not (exp / "graph" / "HCLG.fst").exists():
        sys.exit(f"{exp}: no trained system with a graph; run the recipe through its decoding stage first")
    model = AcousticModel.load(exp / "final.mdl")
    peak = matmul_gflops()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subset_data_dir(recipe / "data/train", tmp / "train", first=a.utts)
        data = tmp / "train"
        t0 = time.perf_counter()        # reading and transforming the features alone
        frames = sum(len(f) for _, f in iter_features(data, FeaturePipeline.load(exp)))
        t_feats = time.perf_counter() - t0
        per_100k = 1e5 / frames
        t0 = time.perf_counter()
        for _, f in iter_features(data, FeaturePipeline.load(exp)):
            model.pdf_loglik(f)
        t_like = time.perf_counter() - t0 - t_feats
        gflops = 2 * 2 * model.gmms.dim * model.gmms.num_gauss * frames / max(t_like, 1e-9) / 1e9

        t0 = time.perf_counter()
        counts = align_job(str(exp / "final.mdl"), str(recipe / "data/lang"), str(data), str(exp),
                           str(tmp / "ali.1"), AlignOptions(beam=10, retry_beam=40))
        t_align = time.perf_counter() - t0
        t0 = time.perf_counter()
        acc_job(str(exp / "final.mdl"), str(data), str(exp), str(tmp / "ali.1"), str(tmp / "acc.npz"))
        t_acc = time.perf_counter() - t0
        alignments = read_job_alignments(str(tmp / "ali.1"), model)
        t0 = time.perf_counter()
        fmllr_stats = FmllrStats(model.gmms.dim)
        for utt, f in iter_features(data, FeaturePipeline.load(exp)):
            if utt in alignments:
                accumulate_fmllr(fmllr_stats, model.gmms, f, model.tid2pdf[alignments[utt]], np.ones(len(f)))
        t_fmllr = time.perf_counter() - t0 - t_feats

        if not a.no_decoding:
            test = recipe / "data/test"
            t0 = time.perf_counter()
            dec = decode_job(str(exp / "graph"), str(exp), str(test), str(tmp / "decode"), 1,
                             DecodeOptions())
            t_dec = time.perf_counter() - t0
    print(f"system {a.system}: {model.trans_model.num_pdfs} pdfs, {model.gmms.num_gauss} Gaussians, "
          f"dim {model.gmms.dim}; {counts['done']} utterances, {frames} frames; one core")
    print(f"alignment pass:        {t_align * per_100k:6.2f} s per 100k frames "
          f"({frames / 100 / t_align:5.0f}x real time; scoring every pdf would take {100 * t_like / t_align:.0f}% of it: "
          "it scores each training graph's pdfs alone)")
    print(f"training iteration:    {t_acc * per_100k:6.2f} s per 100k frames (statistics accumulation)")
    matmul_1m = 2 * 2 * model.gmms.dim * model.gmms.num_gauss * 1e6 / (peak * 1e9)
    print(f"fMLLR statistics:      {t_fmllr * per_100k:6.2f} s per 100k frames (features read beforehand)")
    for name, seconds in (("alignment", t_align), ("accumulation", t_acc), ("fMLLR statistics", t_fmllr)):
        per_1m = seconds * 1e6 / frames
        print(f"{name + ' per 1M frames:':27s}{per_1m:6.1f} s = {per_1m / matmul_1m:4.1f} x the all-Gaussian "
              f"matmul ({matmul_1m:.1f} s at {peak:.0f} GFLOP/s); target 10 s")
    if not a.no_decoding:
        audio_s = dec["frames"] / 100
        score_rtf = t_like / (frames / 100)        # every pdf scored for every frame, as the decoder needs
        det_rtf = dec["determinize_seconds"] / audio_s
        print(f"decoding (test set):   real-time factor {t_dec / audio_s:.4f} over {dec['frames']} "
              f"frames, {dec['seconds'] / audio_s:.4f} without loading the graph; goal under 0.02")
        print(f"  of which scoring the pdfs {score_rtf:.4f}, lattice determinisation {det_rtf:.4f}, the wheel's "
              f"lattice search (LatticeSimpleDecoder) the rest, {dec['seconds'] / audio_s - score_rtf - det_rtf:.4f}")
    print(f"GMM likelihoods:       {gflops:.1f} GFLOP/s = {100 * gflops / peak:.0f}% of this core's float32 "
          f"matmul rate ({peak:.0f} GFLOP/s)")
    print(json.dumps({"align_s_per_100k": t_align * per_100k, "acc_s_per_100k": t_acc * per_100k,
                      "align_matmul_ratio": t_align * 1e6 / frames / matmul_1m,
                      "acc_matmul_ratio": t_acc * 1e6 / frames / matmul_1m,
                      "fmllr_stats_s_per_100k": t_fmllr * per_100k,
                      "fmllr_stats_matmul_ratio": t_fmllr * 1e6 / frames / matmul_1m,
                      "decode_rtf": None if a.no_decoding else t_dec / (dec["frames"] / 100),
                      "score_rtf": t_like / (frames / 100),
                      "gmm_gflops": gflops, "matmul_gflops": peak}))


if __name__ == "__main__":
    main()
