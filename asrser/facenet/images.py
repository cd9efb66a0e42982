"""Speech as pictures for FaceNet: fixed-interval segments rendered as waveform diagrams or spectrograms, cached.

Liu et al. (2021) cut speech "into segments at a fixed interval" and turn each segment into a discrete waveform
diagram and a spectrogram image. What the abstract leaves open is chosen here (and in ImageConfig):

- Segments: `segment_seconds` long every `hop_seconds` (both 1 s: non-overlapping). The remainder after the
  last whole segment is zero-padded to a whole segment (`short_segments: pad`) or dropped (`drop`); a remainder
  shorter than `min_segment_seconds` is dropped either way. An utterance shorter than one segment is always
  padded, so that every utterance gets a decision (counted apart, as `short_utterance`).
- Amplitude: each utterance is divided by its peak (`amplitude: utterance_peak`), so the pictures do not record
  recording gain; `full_scale` keeps the 16-bit scale (1.0 = 32768).
- Waveform diagram (`render_waveform`): one column per 1/size of the segment, lit (255) between the column's
  lowest and highest sample, rows from +1 (top) to -1 (bottom); the line a plotting library would draw, made
  directly in numpy.
- Spectrogram (`render_spectrogram`): |STFT| in dB, one frame per column (hop = segment / size), a periodic
  Hann (or Hamming) window of n_fft = 2 (size - 1) samples (19.9 ms at 16 kHz for 160 pixels), whose size
  frequency bins from 0 to Nyquist are the rows (highest at the top). 0 dB is a full-scale sine; the `db_range`
  below it spans black to white.

The cache (`write_images`) of a data dir is a directory:

    images.npy    (N, size, size) uint8, image i = row i (np.load(..., mmap_mode="r"): a plain array, no objects)
    segments      Kaldi segments of the images: `<utt>-<start in centiseconds, 6 digits> <utt> <start> <end>`
                  (seconds; the end is where the audio ends for a padded segment), row i = image i, utterances
                  in sorted order, each utterance's segments in time order
    images.json   the config, counts, number of utterances and images, rendering speed; written last, so a
                  directory without it is incomplete

`ImageSet.read(image_dir)` opens one for training.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Literal

import numpy as np

from ..audio import read_audio
from ..config import from_mapping, read_config
from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write, read_key_value, read_table, temp_name
from ..progress import bar

log = logging.getLogger(__name__)

IMAGES = "images.npy"
SEGMENTS = "segments"
META = "images.json"
STAMP = "images.done"
_FULL_SCALE = 32768.0           # read_audio's samples are on the 16-bit integer scale


@dataclass
class ImageConfig:
    """The `images:` section of a FaceNet config."""
    kind: Literal["waveform", "spectrogram"] = "waveform"
    size: int = 160                     # pixels per side (FaceNet's input)
    segment_seconds: float = 1.0
    hop_seconds: float = 1.0            # = segment_seconds: non-overlapping segments at a fixed interval
    short_segments: Literal["pad", "drop"] = "pad"    # the remainder after the last whole segment
    min_segment_seconds: float = 0.25   # remainders shorter than this are dropped even with pad
    sample_rate: int = 16000
    allow_downsample: bool = False      # audio at another rate is an error unless resampling is allowed
    allow_upsample: bool = False
    amplitude: Literal["utterance_peak", "full_scale"] = "utterance_peak"
    window: Literal["hann", "hamming"] = "hann"       # spectrogram window
    db_range: float = 80.0              # spectrogram: dB below a full-scale sine that map to 0..255

    def __post_init__(self):
        if self.size < 8:
            raise ValueError(f"size must be at least 8 pixels, not {self.size}")
        if self.sample_rate < 1:
            raise ValueError(f"sample_rate must be positive, not {self.sample_rate}")
        if self.segment_seconds * self.sample_rate < self.size:
            raise ValueError(f"segment_seconds {self.segment_seconds:g} holds fewer samples than the {self.size} "
                             f"columns of an image")
        if not 0.01 <= self.hop_seconds:
            raise ValueError(f"hop_seconds must be at least 0.01 (segment names are in centiseconds), "
                             f"not {self.hop_seconds:g}")
        if not 0.0 <= self.min_segment_seconds <= self.segment_seconds:
            raise ValueError(f"min_segment_seconds must lie in [0, segment_seconds], not {self.min_segment_seconds:g}")
        if self.db_range <= 0:
            raise ValueError(f"db_range must be positive, not {self.db_range:g}")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "ImageConfig":
        """The `images:` section of a config file (with its `base:` chain); defaults when it has none."""
        doc = read_config(path, "FaceNet config")
        return from_mapping(cls, doc.get("images") or {}, str(path))

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_seconds * self.sample_rate))

    @property
    def min_samples(self) -> int:
        return int(round(self.min_segment_seconds * self.sample_rate))


# ------------------------------------------------------------------------------------------------------ segments

def segment_samples(samples: np.ndarray, rate: int, config: ImageConfig
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """An utterance's segments (n, segment length) float32, their start samples (n,), and the counts
    {padded, dropped, short_utterance} of its remainder (see the module's docstring)."""
    if rate != config.sample_rate:
        raise ValueError(f"samples at {rate} Hz, the image config expects {config.sample_rate} Hz")
    samples = np.asarray(samples, dtype=np.float32)
    length, hop, total = config.segment_samples, config.hop_samples, len(samples)
    counts = {"padded": 0, "dropped": 0, "short_utterance": 0}
    whole = 0 if total < length else (total - length) // hop + 1
    starts = list(range(0, whole * hop, hop))
    remainder_start = whole * hop
    remainder = total - remainder_start
    if whole == 0:
        starts.append(0)                       # always one segment: every utterance gets a decision
        counts["short_utterance"] = 1
    elif remainder > 0:
        if config.short_segments == "pad" and remainder >= config.min_samples:
            starts.append(remainder_start)
            counts["padded"] = 1
        else:
            counts["dropped"] = 1
    starts_arr = np.asarray(starts, dtype=np.int64)
    padded = np.zeros(max(total, int(starts_arr[-1]) + length), dtype=np.float32)
    padded[:total] = samples
    index = starts_arr[:, None] + np.arange(length)[None, :]
    return padded[index], starts_arr, counts


# ----------------------------------------------------------------------------------------------------- rendering

def _row_of_amplitude(amplitude: np.ndarray, size: int) -> np.ndarray:
    """The row drawing an amplitude in [-1, 1] (+1 -> row 0, -1 -> row size-1), rounded half up."""
    return np.floor((1.0 - np.clip(amplitude, -1.0, 1.0)) * ((size - 1) / 2.0) + 0.5).astype(np.int32)


def render_waveform(segment: np.ndarray, size: int) -> np.ndarray:
    """The discrete waveform diagram of a segment (samples on the -1..1 scale; (L,) or a batch (n, L)):
    uint8 (size, size) (or (n, size, size)). Column c covers samples [c L / size, (c + 1) L / size); the pixels
    from the row of the column's highest sample down to the row of its lowest are 255, the others 0."""
    x = np.asarray(segment, dtype=np.float32)
    batch = x[None] if x.ndim == 1 else x
    length = batch.shape[1]
    if length < size:
        raise ValueError(f"a segment of {length} samples cannot fill {size} columns")
    bounds = (np.arange(size, dtype=np.int64) * length) // size
    top = _row_of_amplitude(np.maximum.reduceat(batch, bounds, axis=1), size)      # (n, size): per column
    bottom = _row_of_amplitude(np.minimum.reduceat(batch, bounds, axis=1), size)
    rows = np.arange(size, dtype=np.int32)[None, :, None]
    image = ((rows >= top[:, None, :]) & (rows <= bottom[:, None, :])).astype(np.uint8) * np.uint8(255)
    return image[0] if x.ndim == 1 else image


def spectrogram_fft_size(size: int) -> int:
    """The FFT (and window) length whose size bins run from 0 Hz to Nyquist."""
    return 2 * (size - 1)


def spectrogram_row_frequency(rate: int, size: int) -> np.ndarray:
    """The frequency (Hz) of each spectrogram row, row 0 first (the highest: Nyquist)."""
    return (size - 1 - np.arange(size)) * rate / spectrogram_fft_size(size)


def _window(name: str, n: int) -> np.ndarray:
    # Periodic (DFT-even) windows: a sine at a bin's frequency leaks into exactly its two neighbours (Hann).
    k = np.arange(n)
    a0 = 0.5 if name == "hann" else 0.54
    return a0 - (1 - a0) * np.cos(2 * np.pi * k / n)


def render_spectrogram(segment: np.ndarray, rate: int, size: int, db_range: float = 80.0,
                       window: str = "hann") -> np.ndarray:
    """The spectrogram picture of a segment (samples on the -1..1 scale; (L,) or a batch (n, L)): uint8
    (size, size) (or (n, size, size)). Column t is the frame centred on sample floor((2t + 1) L / (2 size))
    (the segment zero-padded beyond its ends), row r the bin of frequency (size - 1 - r) rate / (2 (size - 1)).
    Magnitudes in dB relative to a full-scale (amplitude 1) sine at a bin's frequency, clipped to
    [-db_range, 0] and scaled to 0..255: such a sine is one row of 255."""
    x = np.asarray(segment, dtype=np.float32)
    batch = x[None] if x.ndim == 1 else x
    length = batch.shape[1]
    if length < size:
        raise ValueError(f"a segment of {length} samples cannot fill {size} frames")
    n_fft = spectrogram_fft_size(size)
    win = _window(window, n_fft)
    centres = ((2 * np.arange(size, dtype=np.int64) + 1) * length) // (2 * size)
    index = centres[:, None] + np.arange(n_fft)[None, :]        # into the signal padded by n_fft / 2 each side
    # float64: numpy's FFT of this odd length is about twice as fast in double as in single precision.
    padded = np.pad(batch.astype(np.float64), ((0, 0), (n_fft // 2, n_fft // 2)))
    frames = padded[:, index]                                   # (n, frames, n_fft)
    frames *= win
    spectrum = np.fft.rfft(frames, axis=-1)                     # (n, frames, size bins)
    power = spectrum.real ** 2 + spectrum.imag ** 2             # |X|^2 without abs's slower hypot
    reference = (float(win.sum()) / 2.0) ** 2                   # |X|^2 of a unit sine at the bin's frequency
    db = 10.0 * np.log10(np.maximum(power / reference, 1e-24))
    level = (np.clip(db, -db_range, 0.0) + db_range) * (255.0 / db_range)
    image = np.floor(level + 0.5).astype(np.uint8)
    image = image.transpose(0, 2, 1)[:, ::-1, :]                # rows = bins, highest frequency at the top
    image = np.ascontiguousarray(image)
    return image[0] if x.ndim == 1 else image


def render(segments: np.ndarray, config: ImageConfig) -> np.ndarray:
    """The images of a batch of segments (n, L) on the -1..1 scale, of the config's kind."""
    if config.kind == "waveform":
        return render_waveform(segments, config.size)
    return render_spectrogram(segments, config.sample_rate, config.size, config.db_range, config.window)


def utterance_images(samples: np.ndarray, config: ImageConfig) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """An utterance's samples (read_audio's 16-bit scale) -> (images (n, size, size) uint8, start samples,
    segment counts)."""
    samples = np.asarray(samples, dtype=np.float32)
    if config.amplitude == "utterance_peak":
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        scaled = samples / peak if peak > 0 else samples
    else:
        scaled = samples / _FULL_SCALE
    segments, starts, counts = segment_samples(scaled, config.sample_rate, config)
    return render(segments, config), starts, counts


def _render_utterances(items: list[tuple[str, str]], config: ImageConfig
                       ) -> list[tuple[str, np.ndarray, np.ndarray, dict[str, int], int]]:
    out = []
    for utt, rxspec in items:
        audio = read_audio(rxspec, utt, config.sample_rate, config.allow_downsample, config.allow_upsample)
        images, starts, counts = utterance_images(audio.samples, config)
        out.append((utt, images, starts, counts, len(audio.samples)))
    return out


def _rendered(wav: dict[str, str], utts: list[str], config: ImageConfig, nj: int
              ) -> Iterator[tuple[str, np.ndarray, np.ndarray, dict[str, int], int]]:
    """(utt, images, starts, counts, samples) in the order of utts; nj processes, a few chunks in flight."""
    if nj <= 1:
        for utt in utts:
            yield from _render_utterances([(utt, wav[utt])], config)
        return
    chunks = [[(u, wav[u]) for u in utts[i:i + 8]] for i in range(0, len(utts), 8)]
    with ProcessPoolExecutor(nj) as pool:
        pending: deque = deque()
        todo = iter(chunks)
        while True:
            for chunk in todo:
                pending.append(pool.submit(_render_utterances, chunk, config))
                if len(pending) >= 2 * nj:
                    break
            if not pending:
                return
            yield from pending.popleft().result()


# --------------------------------------------------------------------------------------------------------- cache

class _NpyAppender:
    """images.npy written image by image under its temporary name (the number of images is known only at the
    end), renamed into place when complete. numpy pads the header for any length of the first axis, so the
    header written for 0 images is as long as the final one and is rewritten in place."""

    def __init__(self, path: Path, size: int):
        self.path, self.size, self.count = path, size, 0
        self.tmp = temp_name(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "wb")
        self.header_bytes = self._write_header()

    def _write_header(self) -> int:
        self.file.seek(0)
        np.lib.format.write_array_header_1_0(self.file, {"descr": "|u1", "fortran_order": False,
                                                         "shape": (self.count, self.size, self.size)})
        return self.file.tell()

    def append(self, images: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
        self.count += len(images)

    def commit(self) -> None:
        end = self.file.tell()
        if self._write_header() != self.header_bytes:
            raise RuntimeError("numpy wrote a header of another length")    # never with numpy's padding
        self.file.seek(end)
        self.file.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def write_images(data_dir: str | os.PathLike, image_dir: str | os.PathLike, config: ImageConfig, nj: int = 1,
                 progress: bool = True) -> int:
    """The images of every utterance of <data_dir>/wav.scp into the cache <image_dir> (see the module's
    docstring); returns how many (0 when the cache was already current: inputs are wav.scp, the audio files it
    names and the config)."""
    data_dir, image_dir = Path(data_dir), Path(image_dir)
    wav_scp = data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise AsrserError(f"{wav_scp}: missing: {data_dir} is not a data dir with audio")
    stamp = Stamp(image_dir / STAMP, [wav_scp], config=asdict(config))
    if stamp.is_current(image_dir / IMAGES, image_dir / SEGMENTS, image_dir / META):
        log.info("%s: %s images of %s are up to date; nothing to do", image_dir, config.kind, data_dir)
        return 0
    (image_dir / META).unlink(missing_ok=True)          # from here on the directory is incomplete
    wav = read_key_value(wav_scp)
    if not wav:
        raise DataError(wav_scp, "no utterances")
    utts = sorted(wav)
    totals = {"padded": 0, "dropped": 0, "short_utterance": 0}
    samples = 0
    started = time.monotonic()
    images = _NpyAppender(image_dir / IMAGES, config.size)
    try:
        with atomic_write(image_dir / SEGMENTS) as segments, \
                bar(total=len(utts), desc=f"{config.kind} images {data_dir.name}", unit="utt",
                    enabled=progress) as progress_bar:
            for utt, rendered, starts, counts, num_samples in _rendered(wav, utts, config, nj):
                images.append(rendered)
                for start in starts.tolist():
                    end = min(start + config.segment_samples, num_samples)
                    segments.write(f"{utt}-{int(round(start * 100 / config.sample_rate)):06d} {utt} "
                                   f"{start / config.sample_rate:.3f} {end / config.sample_rate:.3f}\n")
                for key in totals:
                    totals[key] += counts[key]
                samples += num_samples
                progress_bar.update()
            images.commit()
    except BaseException:
        images.discard()
        raise
    took = time.monotonic() - started
    meta = {"config": asdict(config), "utterances": len(utts), "images": images.count, "counts": totals,
            "audio_seconds": round(samples / config.sample_rate, 3), "seconds": round(took, 3),
            "images_per_second": round(images.count / max(took, 1e-9), 1)}
    with atomic_write(image_dir / META) as f:
        json.dump(meta, f, indent=1)
    stamp.write()
    log.info("%s: %d %s images of %d utterances (%d padded, %d dropped remainders, %d utterances shorter than "
             "a segment) in %.1f s (%.0f images/s)", image_dir, images.count, config.kind, len(utts),
             totals["padded"], totals["dropped"], totals["short_utterance"], took, meta["images_per_second"])
    return images.count


@dataclass
class ImageSet:
    """A complete image cache, opened for reading: the images memory-mapped, the segments' utterances."""
    image_dir: Path
    images: np.ndarray                  # (N, size, size) uint8, memory-mapped
    segment_ids: list[str]
    segment_utts: list[str]             # row -> utterance
    utts: list[str]                     # in row order
    config: ImageConfig
    meta: dict
    _spans: dict[str, tuple[int, int]] = field(repr=False, default_factory=dict)

    @classmethod
    def read(cls, image_dir: str | os.PathLike) -> "ImageSet":
        image_dir = Path(image_dir)
        meta_path = image_dir / META
        if not meta_path.is_file():
            raise AsrserError(f"{meta_path}: missing: {image_dir} is not a complete image set (make it with "
                              "make_images.py)")
        try:
            meta = json.loads(meta_path.read_text())
            config = from_mapping(ImageConfig, meta["config"], str(meta_path))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError(meta_path, "not an image set description (JSON with a config)") from None
        try:
            images = np.load(image_dir / IMAGES, mmap_mode="r")     # numpy refuses object arrays by default
        except (OSError, ValueError) as e:
            raise DataError(image_dir / IMAGES, f"cannot read: {e}") from None
        if images.dtype != np.uint8 or images.shape[1:] != (config.size, config.size):
            raise DataError(image_dir / IMAGES, f"holds {images.dtype} {images.shape}, expected uint8 "
                                                f"(N, {config.size}, {config.size})")
        segment_ids, segment_utts, spans = [], [], {}
        for n, fields in read_table(image_dir / SEGMENTS, min_fields=4, max_fields=4):
            utt = fields[1]
            first, _ = spans.get(utt, (len(segment_utts), 0))
            if utt in spans and spans[utt][1] != len(segment_utts):
                raise DataError(image_dir / SEGMENTS, f"the segments of {utt} are not consecutive", n)
            segment_ids.append(fields[0])
            segment_utts.append(utt)
            spans[utt] = (first, len(segment_utts))
        if len(segment_utts) != len(images):
            raise DataError(image_dir / SEGMENTS, f"{len(segment_utts)} segments for the {len(images)} images of "
                                                  f"{image_dir / IMAGES}")
        return cls(image_dir, images, segment_ids, segment_utts, list(spans), config, meta, spans)

    def rows(self, utt: str) -> np.ndarray:
        """The rows (image indices) of an utterance's segments, in time order."""
        try:
            first, end = self._spans[utt]
        except KeyError:
            raise AsrserError(f"{self.image_dir}: utterance {utt} has no images") from None
        return np.arange(first, end)


def example_images(images: ImageSet, labels: dict[str, str] | None = None, count: int = 8
                   ) -> dict[str, list[np.ndarray]]:
    """label -> the first segment's image of up to `count` utterances with that label (sorted labels, the
    utterances in row order); without labels, one group "all"."""
    groups: dict[str, list[np.ndarray]] = {}
    for utt in images.utts:
        label = "all" if labels is None else labels.get(utt)
        if label is not None and len(groups.setdefault(label, [])) < count:
            groups[label].append(np.asarray(images.images[images.rows(utt)[0]]))
    return dict(sorted(groups.items()))
