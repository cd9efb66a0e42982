#!/usr/bin/env python3
"""FaceNet SER image speed on one core: images per second for rendering each kind (waveform diagram,
spectrogram) from samples in memory, for reading the audio, and for the whole cache (write_images: read, segment,
render, write) over generated 4-second utterances (4 segments of 1 s each, FaceNet's 160x160).

Usage: benchmarks/bench_images.py [--utterances 200]
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402

from asrser.audio import read_audio  # noqa: E402
from asrser.facenet.images import ImageConfig, utterance_images, write_images  # noqa: E402
from helpers import make_data_dir  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utterances", type=int, default=200)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_data_dir(tmp, speakers=[f"spk{i:03d}" for i in range(a.utterances // 10)],
                             utts_per_speaker=10, seconds=4.0 - 0.1 * 9 / 2)
        wav = [line.split(maxsplit=1) for line in (data / "wav.scp").read_text().splitlines()]
        t0 = time.perf_counter()
        audio = [read_audio(spec, utt).samples for utt, spec in wav]
        read_time = time.perf_counter() - t0
        for kind in ("waveform", "spectrogram"):
            config = ImageConfig(kind=kind)
            utterance_images(audio[0], config)          # warm-up
            t0 = time.perf_counter()
            count = sum(len(utterance_images(samples, config)[0]) for samples in audio)
            render_time = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_images(data, tmp / f"images_{kind}", config, nj=1, progress=False)
            cache_time = time.perf_counter() - t0
            print(f"{kind:11s}: rendering {count / render_time:7,.0f} images/s; the whole cache (reading, "
                  f"rendering, writing) {count / cache_time:7,.0f} images/s ({count} images of {len(wav)} "
                  f"utterances, {cache_time:.2f} s)")
        print(f"reading the audio alone: {count / read_time:,.0f} images' worth/s "
              f"({sum(len(x) for x in audio) / 16000 / read_time:,.0f}x real time)")


if __name__ == "__main__":
    main()
