#!/usr/bin/env python3
"""Feature extraction speed in times real time per core, including I/O (read SPHERE/WAV, write ark/scp).

One job on one core (the runner gives each parallel job its own core), over generated utterances of
speech-like audio; prints fbank and MFCC figures and the share of time spent reading audio.

Usage: benchmarks/bench_features.py [--minutes 5]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from asrser.audio import read_audio  # noqa: E402
from asrser.features import FeatureConfig, compute_part  # noqa: E402
from helpers import make_data_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0, help="audio to process per feature type")
    a = p.parse_args()
    n_utts = int(a.minutes * 60 / 3.0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_data_dir(tmp, speakers=[f"spk{i:03d}" for i in range(n_utts // 10)], utts_per_speaker=10,
                             seconds=2.55, fmt="sph")
        wav = [line.split() for line in (data / "wav.scp").read_text().splitlines()]
        t0 = time.perf_counter()
        audio_seconds = sum(read_audio(spec, utt).duration for utt, spec in wav)
        read_time = time.perf_counter() - t0
        print(f"audio: {len(wav)} SPHERE utterances, {audio_seconds / 60:.1f} min; reading alone: "
              f"{audio_seconds / read_time:,.0f}x real time")
        for kind in ("fbank", "mfcc"):
            config = FeatureConfig.from_file(kind, REPO / f"conf/{kind}.conf")
            t0 = time.perf_counter()
            compute_part(data, config, tmp / f"out_{kind}")
            wall = time.perf_counter() - t0
            print(f"{kind:5s}: {audio_seconds / wall:6.0f}x real time per core including I/O "
                  f"({wall:.2f} s for {audio_seconds:.0f} s of audio; reading is {100 * read_time / wall:.0f}% "
                  f"of it); goal 300x")


if __name__ == "__main__":
    main()
