"""Emotion in a synthetic voice: what the embedded emotion corpora (mini-IEMOCAP, mini-MSP-IMPROV) share.

- Speakers: espeak voice variants per phonation quality (modal, tense, bright, breathy) built from one drawn
  vocal tract, plus the speaker's neutral pitch, range, rate and expressiveness.
- Profiles: how an emotion departs from a speaker's neutral voice at full intensity; a turn's Rendition is
  the profile scaled by an intensity and the speaker's expressiveness, plus per-turn jitter (`spread`) that
  makes the classes overlap and sometimes borrows another voice quality.
- Rendering pieces (spectral tilt, level, reverberation, noise, a soft limiter) from which each corpus builds
  its own recording channel, and the canonical 16-bit WAV bytes.
- The forked synthesis of a planned corpus: every random choice is drawn in the corpus's plan, every turn is
  synthesised by a fork of a pristine espeak (IsolatedSynthesizer) and rendered with the turn's own seed, so
  the bytes depend on size and seed only, never on the number of jobs or their order.
"""

from __future__ import annotations

import multiprocessing
import struct
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..errors import AsrserError
from ..fileio import atomic_write
from ..progress import bar as progress_bar
from .espeak import OUTPUT_RATE, IsolatedSynthesizer, Voice

QUALITIES = ("modal", "tense", "bright", "breathy")


@dataclass(frozen=True)
class Profile:
    """How an emotion departs from the speaker's neutral voice at full intensity."""

    pitch: float        # espeak pitch units (0-99), added to the speaker's level
    range: float        # espeak pitch range (0-99) it moves towards; 50 is the speaker's own
    lograte: float      # log speaking-rate change
    gain_db: float      # loudness change
    tilt: float         # first-order spectral tilt (+ brighter/flatter, - darker/steeper)
    pause: float        # extra gap between words (espeak units of 10 ms)
    quality: str        # phonation: one of QUALITIES
    valence: float      # evaluators' dimensional ratings (1-5)
    activation: float
    dominance: float


@dataclass
class Speaker:
    id: str                       # e.g. Ses01F (mini-IEMOCAP), F01 (mini-MSP-IMPROV)
    session: int
    sex: str                      # F or M
    voices: dict[str, Voice]      # quality -> espeak variant
    pitch: int                    # neutral espeak pitch level (0-99)
    pitch_range: int              # neutral espeak pitch range (0-99)
    rate: int                     # neutral words per minute
    expressiveness: float         # scales every emotional departure


def speaker_voices(sid: str, sex: str, rng: np.random.Generator, prefix: str = "mi",
                   synthesis: tuple[str, ...] = ()) -> dict[str, Voice]:
    """One espeak variant per phonation quality, all on one drawn vocal tract and pitch.

    The variants are named <prefix><sid><quality>; `synthesis` lines (e.g. "klatt 4", espeak's Klatt voice
    source) are added to every variant of the speaker."""
    female = sex == "F"
    tract = rng.normal(1.12 if female else 1.0, 0.04)
    formants = {n: (int(round(100 * tract * rng.normal(1.0, 0.02))), int(rng.integers(85, 116)),
                    int(rng.integers(85, 116))) for n in (1, 2, 3, 4)}
    base = int(rng.integers(170, 230) if female else rng.integers(88, 130))
    pitch = (base, base + int(rng.integers(45, 90)))
    rough = int(rng.integers(0, 3))
    breath = int(rng.integers(0, 3))
    name = sid.lower()
    gender = "female" if female else "male"
    smile = {n: (int(round(f * (1.05 if n in (1, 2) else 1.02))), h, w) for n, (f, h, w) in formants.items()}
    return {
        "modal": Voice(f"{prefix}{name}modal", gender, formants, pitch, flutter=6, roughness=rough,
                       breath=(0, breath, breath, breath, breath, breath, 0, 0), extra=synthesis),
        "tense": Voice(f"{prefix}{name}tense", gender, formants, pitch, flutter=4, roughness=min(7, rough + 4),
                       tone=(600, 140, 1200, 200, 2000, 255, 3000, 240), extra=("voicing 115",) + synthesis),
        "bright": Voice(f"{prefix}{name}bright", gender, smile, pitch, flutter=24, roughness=rough,
                        tone=(600, 170, 1200, 170, 2000, 190, 3000, 150), extra=synthesis),
        "breathy": Voice(f"{prefix}{name}breathy", gender, formants, pitch, flutter=10, roughness=max(0, rough - 1),
                         breath=(0, 8, 12, 12, 12, 12, 6, 10), tone=(600, 200, 1200, 110, 2000, 70, 3000, 40),
                         extra=("breathw 150 150 200 200 400 400", "voicing 75") + synthesis),
    }


@dataclass
class Rendition:
    """How one turn is spoken: everything the synthesis child needs, drawn in the plan."""

    voice: str
    pitch: int
    pitch_range: int
    rate: int
    wordgap: int
    gain_db: float
    tilt: float
    volume: int = 100             # espeak's output volume (lower keeps a loud voice source from clipping)


def rendition(spk: Speaker, profile: Profile, intensity: float, rng: np.random.Generator, spread: float,
              language: str = "en-us", volume: int = 100) -> Rendition:
    """The profile at `intensity` (scaled by the speaker's expressiveness) plus `spread`-scaled jitter; with
    probability 0.35 * spread the turn takes a random voice quality instead of the profile's."""
    s = intensity * spk.expressiveness
    quality = profile.quality
    if rng.random() < 0.35 * spread:
        quality = str(rng.choice(QUALITIES))
    pitch = spk.pitch + s * profile.pitch + spread * rng.normal(0, 6)
    prange = spk.pitch_range + s * (profile.range - 50) + spread * rng.normal(0, 15)
    rate = spk.rate * np.exp(s * profile.lograte + spread * rng.normal(0, 0.08))
    wordgap = s * profile.pause + spread * abs(rng.normal(0, 0.7))
    return Rendition(voice=f"{language}+{spk.voices[quality].name}", pitch=int(np.clip(round(pitch), 0, 99)),
                     pitch_range=int(np.clip(round(prange), 0, 99)), rate=int(np.clip(round(rate), 90, 320)),
                     wordgap=int(round(wordgap)), gain_db=float(s * profile.gain_db + spread * rng.normal(0, 3)),
                     tilt=float(np.clip(s * profile.tilt + spread * rng.normal(0, 0.15), -0.8, 0.8)), volume=volume)


def quotas(shares: dict[str, float], n: int) -> list[str]:
    """Labels for n turns in the given proportions (largest remainder, ties in table order)."""
    exact = {k: v * n for k, v in shares.items()}
    counts = {k: int(v) for k, v in exact.items()}
    order = sorted(shares, key=lambda k: -(exact[k] - counts[k]))
    for k in order[:n - sum(counts.values())]:
        counts[k] += 1
    return [k for k in shares for _ in range(counts[k])]


# -- rendering --------------------------------------------------------------------------------------------

def wav_bytes(samples: np.ndarray, rate: int = OUTPUT_RATE) -> bytes:
    """A canonical 44-byte-header RIFF/WAVE file: mono, 16-bit PCM, little-endian."""
    data = np.asarray(samples, dtype="<i2").tobytes()
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         rate * 2, 2, 16, b"data", len(data))
    return header + data


def wav_num_samples(path: Path) -> int:
    """Samples of a file written with wav_bytes (its header is always 44 bytes)."""
    return (path.stat().st_size - 44) // 2


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    white = rng.normal(size=n + 1)
    return lfilter([0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189], white)[1:]


def tilted(x: np.ndarray, tilt: float) -> np.ndarray:
    """First-order spectral tilt: + a pre-emphasis (brighter), - a one-pole low-pass of unit DC gain."""
    from scipy.signal import lfilter

    return lfilter([1.0, -tilt], [1.0], x) if tilt >= 0 else lfilter([1.0], [1.0, tilt], x) * (1 + tilt)


def at_level(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """x scaled to an RMS of level_dbfs (16-bit full scale)."""
    rms = np.sqrt(np.mean(x ** 2)) + 1e-9
    return x / rms * 32768 * 10 ** (level_dbfs / 20)


def reverberate(audio: np.ndarray, rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """A direct path plus an exponentially decaying noise tail with the given RT60 and direct-to-reverberant
    ratio, cut to the input's length."""
    from scipy.signal import fftconvolve

    t = np.arange(1, int(rt60 * OUTPUT_RATE)) / OUTPUT_RATE
    tail = rng.normal(size=len(t)) * np.exp(-6.9 * t / rt60)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    return fftconvolve(audio, np.concatenate([[1.0], tail]))[:len(audio)]


def limit(audio: np.ndarray, threshold: float = 0.7 * 32767) -> np.ndarray:
    """int16 with peaks above the threshold compressed smoothly towards full scale (no hard clipping)."""
    over = np.abs(audio) > threshold
    if over.any():
        head = 32767 - threshold
        a = np.abs(audio[over])
        audio[over] = np.sign(audio[over]) * (threshold + head * np.tanh((a - threshold) / head))
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)


# -- forked synthesis of a planned corpus -----------------------------------------------------------------

class PlannedTurn(Protocol):
    """What synthesize_turns needs of a corpus's turn."""

    name: str
    text: str
    rendition: Rendition
    seed: int

    @property
    def wav(self) -> Path: ...


Render = Callable[[np.ndarray, "PlannedTurn", np.random.Generator], np.ndarray]

_synthesizer: IsolatedSynthesizer | None = None


def _init_worker(voices: list[Voice], language: str) -> None:
    global _synthesizer
    _synthesizer = IsolatedSynthesizer(voices, language)


def synthesize_turn(turn: PlannedTurn, render: Render) -> str:
    """Synthesise one turn (from a pristine espeak state), render it with its own seed and write its wav."""
    r = turn.rendition
    s = _synthesizer.synthesize(turn.text, voice=r.voice, rate=r.rate, pitch=r.pitch, pitch_range=r.pitch_range,
                                wordgap=r.wordgap, volume=r.volume)
    if len(s.samples) == 0:
        raise AsrserError(f"espeak produced no audio for {turn.name}: {turn.text!r}")
    samples = render(s.samples, turn, np.random.default_rng(turn.seed))
    with atomic_write(turn.wav, "wb", encoding=None) as f:
        f.write(wav_bytes(samples))
    return str(turn.wav)


def synthesize_turns(turns: list[PlannedTurn], voices: list[Voice], render: Render, nj: int = 1,
                     desc: str = "", progress: bool = True, language: str = "en-us") -> None:
    """Write the wav of every turn, in `nj` processes; espeak runs in synthesis server processes
    (IsolatedSynthesizer, with `language`'s dictionary loaded), never in this one. `render` must be a
    module-level function (it is sent to the worker processes)."""
    bar = progress_bar(total=len(turns), desc=desc, unit="utt", enabled=progress)
    one = partial(synthesize_turn, render=render)
    if turns and nj <= 1:
        _init_worker(voices, language)
        for turn in turns:
            one(turn)
            bar.update()
        _synthesizer.close()
    elif turns:
        with ProcessPoolExecutor(max(1, nj), mp_context=multiprocessing.get_context("fork"),
                                 initializer=_init_worker, initargs=(voices, language)) as pool:
            for _ in pool.map(one, turns, chunksize=8):
                bar.update()
    bar.close()


__all__ = ["QUALITIES", "Profile", "Speaker", "speaker_voices", "Rendition", "rendition", "quotas", "wav_bytes",
           "wav_num_samples", "pink", "tilted", "at_level", "reverberate", "limit", "synthesize_turns"]
