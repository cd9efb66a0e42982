"""Layer embeddings of every utterance of a data dir, written once into an embedding store (store.py).

Audio is read as every stage reads it (asrser.audio: WAV, SPHERE, FLAC or a `command |`); audio at another
sample rate than the encoder's is refused, as Kaldi's feature extraction refuses it, unless resampling in that
direction is allowed (allow_downsample / allow_upsample). Utterances longer than `max_seconds` are encoded in
overlapping windows so that memory stays bounded (self-attention grows with the square of the length); see
encode_in_chunks. A store that is current for the same wav.scp (and audio), encoder files and options is left
as it is.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ..audio import read_audio, resample
from ..errors import AsrserError, AudioError
from ..fileio import Stamp, read_key_value
from ..progress import bar
from .base import LayerEncoder
from .registry import encoder_files, load_encoder
from .store import META, EmbeddingMeta, write_embeddings

log = logging.getLogger(__name__)

DEFAULT_MAX_SECONDS = 30.0
MIN_WINDOW_FRAMES = 16      # a window's context (an eighth on either side) then holds two frames at least


def encode_in_chunks(encoder: LayerEncoder, samples: np.ndarray, max_samples: int | None) -> np.ndarray:
    """encoder.layers(samples), in windows of at most max_samples when the utterance is longer.

    The utterance is cut into pieces of whole frames; each piece is encoded with up to an eighth of the window
    of context on either side, and keeps the frames that start inside it. A frame near a cut thus still sees
    context, and a front end whose frame t starts at sample t * hop (conv front ends, framed fbank) gives the
    same number of frames as the whole utterance would."""
    n = len(samples)
    if max_samples is None or n <= max_samples:
        return encoder.layers(samples)
    hop = int(round(encoder.frame_shift * encoder.sample_rate))
    if max_samples < MIN_WINDOW_FRAMES * hop:
        raise AsrserError(f"windows of {max_samples / encoder.sample_rate:g} s are too short for {encoder.name}: "
                          f"at least {MIN_WINDOW_FRAMES} of its frames ({MIN_WINDOW_FRAMES * encoder.frame_shift:g} s)")
    context = (max_samples // 8) // hop * hop
    piece = (max_samples - 2 * context) // hop * hop
    parts = []
    for start in range(0, n, piece):
        end = min(start + piece, n)
        left, right = max(0, start - context), min(n, end + context)
        out = encoder.layers(samples[left:right])
        first = (start - left) // hop
        last = (end - left) // hop if end < n else out.shape[1]
        parts.append(out[:, first:last])
    return np.concatenate(parts, axis=1)


def read_for_encoder(utt: str, rxspec: str, encoder: LayerEncoder, allow_downsample: bool = False,
                     allow_upsample: bool = False) -> np.ndarray:
    """An utterance's samples in [-1, 1] at the encoder's rate, or AudioError naming it (unreadable, or at
    another rate without permission to resample)."""
    audio = read_audio(rxspec, utt)
    samples = audio.samples / np.float32(32768.0)
    rate, want = audio.sample_rate, encoder.sample_rate
    if rate == want:
        return samples
    upsample = rate < want
    if not (allow_upsample if upsample else allow_downsample):
        option = "--allow-upsample" if upsample else "--allow-downsample"
        raise AudioError(utt, rxspec, f"sample rate is {rate} Hz but {encoder.name} expects {want} Hz (run with "
                                      f"{option} to resample, or resample in wav.scp, e.g. "
                                      f"'sox FILE -r {want} -t wav - |')")
    return resample(samples, rate, want)


def extract_embeddings(encoder_spec: str, data_dir: str | os.PathLike, store_dir: str | os.PathLike,
                       device: str = "auto", max_seconds: float | None = DEFAULT_MAX_SECONDS,
                       allow_downsample: bool = False, allow_upsample: bool = False, progress: bool = True) -> int:
    """Every utterance of <data_dir>/wav.scp through the encoder into the store at store_dir; returns how many
    (0 when the store was already current). max_seconds None or 0: every utterance whole."""
    data_dir, store_dir = Path(data_dir), Path(store_dir)
    wav_scp = data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise AsrserError(f"{wav_scp}: missing: {data_dir} is not a data dir with audio")
    if max_seconds is not None and max_seconds < 0:
        raise AsrserError(f"--max-seconds must be 0 (no limit) or more, got {max_seconds:g}")
    stamp = Stamp(store_dir / ".extract.done", [wav_scp, *encoder_files(encoder_spec)], encoder=encoder_spec,
                  max_seconds=max_seconds or None, allow_downsample=allow_downsample, allow_upsample=allow_upsample)
    if stamp.is_current(store_dir / META, store_dir / "feats.scp"):
        log.info("%s: embeddings of %s by %s are up to date; nothing to do", store_dir, data_dir, encoder_spec)
        return 0
    wav = read_key_value(wav_scp)
    if not wav:
        raise AsrserError(f"{wav_scp}: no utterances")
    encoder = load_encoder(encoder_spec, device)
    meta = EmbeddingMeta(encoder.name, tuple(encoder.layer_names), int(encoder.dim), float(encoder.frame_shift))
    max_samples = int(max_seconds * encoder.sample_rate) if max_seconds else None
    seconds = 0.0

    def encode(utt: str, rxspec: str) -> tuple[np.ndarray, int]:
        samples = read_for_encoder(utt, rxspec, encoder, allow_downsample, allow_upsample)
        try:
            layers = encode_in_chunks(encoder, samples, max_samples)
        except AudioError:
            raise
        except AsrserError as e:        # the encoder's word on this audio (e.g. too short): name the utterance
            raise AudioError(utt, rxspec, str(e)) from None
        if layers.shape[1] == 0:
            raise AudioError(utt, rxspec, f"too short ({len(samples)} samples) for one frame of {encoder.name}")
        return layers, len(samples)

    def embeddings(workers: int) -> Iterator[tuple[str, np.ndarray]]:
        nonlocal seconds
        progress_bar = bar(total=len(wav), desc=f"embeddings {data_dir.name}", unit="utt", enabled=progress)
        with progress_bar, ThreadPoolExecutor(workers) as pool:
            pending: deque = deque()
            items = iter(wav.items())
            while True:
                # A few utterances in flight: the workers stay busy, memory stays bounded, order is kept.
                for utt, rxspec in items:
                    pending.append((utt, pool.submit(encode, utt, rxspec)))
                    if len(pending) >= 2 * workers:
                        break
                if not pending:
                    return
                utt, job = pending.popleft()
                layers, num_samples = job.result()
                seconds += num_samples / encoder.sample_rate
                progress_bar.update()
                yield utt, layers

    started = time.monotonic()
    with _utterances_in_parallel(device) as workers:
        count = write_embeddings(store_dir, embeddings(workers), meta)
    stamp.write()
    took = time.monotonic() - started
    log.info("%s: %d utterances (%.0f s of audio) by %s: %d layers x %d dims, in %.1f s (%.0fx real time)",
             store_dir, count, seconds, encoder.name, meta.layers, meta.dim, took, seconds / max(took, 1e-9))
    return count


@contextmanager
def _utterances_in_parallel(device: str) -> Iterator[int]:
    """How many utterances to encode at once. On the CPU: one per thread torch would use, each on one thread
    (an utterance's tensors are small: splitting every operation across threads cost ten times the CPU time of
    running whole utterances side by side, the threads mostly waiting on each other). On a GPU: one."""
    import torch

    from ..nnet.train import select_device

    if select_device(device).type != "cpu":
        yield 1
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)
