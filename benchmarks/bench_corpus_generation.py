#!/usr/bin/env python3
"""Speed of the embedded corpus generators: utterances per second per core and times real time per core.

Generates mini-IEMOCAP and/or mini-TIMIT from scratch into a temporary directory (everything included:
planning, espeak-ng synthesis in forked children of a synthesis server, recording conditions, writing the files)
and divides by the wall time and the number of jobs. Each corpus is made in a fresh process (espeak-ng can be
initialised only once per process).

Measured on the 2-core AMD EPYC VM (seed 0, default sizes; the VM is noisy, so run it a few times):
mini-TIMIT 1980 utterances in 23-28 s with nj 1, 71-85 utt/s per core over three runs (about 240-290x real
time), 70-85 utterances per CPU-second counting the synthesis server; nj 2: 139 utt/s (70 per core);
mini-IEMOCAP 1300 turns in 18 s (73 utt/s). espeak-ng runs in a small server process that forks once per
mini-TIMIT speaker (IsolatedSynthesizer.synthesize_group), so that a speaker's bytes do not depend on the job
split; mini-IEMOCAP still forks once per turn. Forks are partly serialised on this VM, so a second job adds
less than a second core would.

Usage: benchmarks/bench_corpus_generation.py [--corpus iemocap|timit|both] [--size tiny|default|full] [--nj 2]
                                            [--condition read|clean]
  e.g. benchmarks/bench_corpus_generation.py --size default --nj 2
  --condition: mini-TIMIT's condition (default read, as make_mini_timit.py); mini-IEMOCAP has one.
"""
import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from asrser.synth import mini_timit  # noqa: E402  (after the thread count: it imports numpy)


def _audio_seconds(files: list[Path], header_bytes: int) -> float:
    return sum((p.stat().st_size - header_bytes) / 2 for p in files) / 16000


def bench(corpus: str, size: str, nj: int, seed: int, out: Path, condition: str = "read") -> dict:
    """Generate one corpus into out (call in a fresh process) and measure it."""
    if corpus == "iemocap":
        from asrser.synth.mini_iemocap import generate
        pattern, header, options = "IEMOCAP_full_release/Session*/sentences/wav/*/*.wav", 44, {}
    else:
        from asrser.synth.mini_timit import generate
        pattern, header, options = "TIMIT/*/DR*/*/*.WAV", 1024, {"condition": condition}
    import resource

    def cpu() -> float:   # this process and its waited-for descendants (synthesis servers and their forks)
        return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                     resource.getrusage(resource.RUSAGE_CHILDREN)))
    t0, c0 = time.perf_counter(), cpu()
    n = generate(out, size, seed=seed, nj=nj, progress=False, **options)
    wall, cpu_seconds = time.perf_counter() - t0, cpu() - c0
    audio = _audio_seconds(sorted(out.glob(pattern)), header)
    return dict(corpus=f"mini-{corpus.upper() if corpus == 'timit' else 'IEMOCAP'}", size=size, nj=nj, utts=n,
                wall=wall, audio=audio, utt_per_s=n / wall, utt_per_s_core=n / wall / nj,
                utt_per_cpu_s=n / cpu_seconds,
                xrt_core=audio / wall / nj)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="both", choices=["iemocap", "timit", "both"])
    p.add_argument("--size", default="default", choices=["tiny", "default", "full"])
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--condition", default="read", choices=mini_timit.CONDITIONS)
    a = p.parse_args()
    corpora = ["iemocap", "timit"] if a.corpus == "both" else [a.corpus]
    print(f"{'corpus':13s}{'size':>8s}{'nj':>4s}{'utts':>7s}{'audio min':>11s}{'wall s':>9s}{'utt/s':>8s}"
          f"{'utt/s/core':>12s}{'xRT/core':>10s}{'utt/CPU-s':>11s}")
    for corpus in corpora:
        with tempfile.TemporaryDirectory(prefix="asrser-bench-") as tmp, \
                ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as fresh:
            r = fresh.submit(bench, corpus, a.size, a.nj, a.seed, Path(tmp), a.condition).result()
        print(f"{r['corpus']:13s}{r['size']:>8s}{r['nj']:4d}{r['utts']:7d}{r['audio'] / 60:11.1f}{r['wall']:9.1f}"
              f"{r['utt_per_s']:8.1f}{r['utt_per_s_core']:12.1f}{r['xrt_core']:10.1f}{r['utt_per_cpu_s']:11.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
