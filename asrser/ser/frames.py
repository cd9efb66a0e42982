"""Frame labels for frame-level SER (Fayek et al. 2016): each frame inherits its utterance's emotion when it is
voiced speech, and is *Silence* otherwise; utterance decisions average the frame posteriors over the frames
not judged silent.

Voice activity: WebRTC's VAD, an energy margin over the utterance's noise floor and periodicity (voicing,
measured as Praat does), frame by frame on the frames of the features the net reads (their frame length,
shift and snip-edges, from the feature config, e.g. conf/fbank.conf); the thresholds are in conf/vad.yaml
(VadConfig).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..config import load_config
from ..errors import AsrserError, AudioError, DataError
from ..features import FeatureConfig, Framing
from ..fileio import Stamp, atomic_write, read_key_value
from ..progress import bar as progress_bar

log = logging.getLogger(__name__)

# The emotion classes come from the data (asrser.ser.classes, the folds dir's classes.txt); the frame targets'
# classes are those emotions, then silence (index len(classes)).


VAD_SAMPLE_RATES = (8000, 16000, 32000, 48000)       # what WebRTC's VAD accepts


def default_framing() -> Framing:
    """Kaldi's default fbank framing: 25 ms windows every 10 ms at 16 kHz, snip-edges."""
    return FeatureConfig("fbank").framing


@dataclass(frozen=True)
class VadConfig:
    """The voice-activity thresholds of the SER frame targets (conf/vad.yaml)."""

    aggressiveness: int = 2            # WebRTC VAD mode, 0 (least) .. 3 (most aggressive in rejecting non-speech)
    noise_margin_db: float = 6.0       # a voiced frame is this far above the utterance's noise floor
    voicing_threshold: float = 0.45    # periodicity (window-corrected autocorrelation peak, 0..1), as Praat's
    min_pitch_hz: float = 80.0         # the pitch range searched; the lowest pitch also sets the analysis
    max_pitch_hz: float = 400.0        # window (3 of its periods)

    def __post_init__(self):
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, not {self.aggressiveness}")
        if not 0.0 < self.voicing_threshold < 1.0:
            raise ValueError(f"voicing_threshold must lie between 0 and 1, not {self.voicing_threshold}")
        if not 0.0 < self.min_pitch_hz < self.max_pitch_hz:
            raise ValueError(f"the pitch range must have 0 < min_pitch_hz < max_pitch_hz, not "
                             f"{self.min_pitch_hz} .. {self.max_pitch_hz}")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "VadConfig":
        """A YAML mapping of the fields above; a key not among them, a value of the wrong type or out of range
        is an error naming the file (and the line)."""
        return load_config(cls, path, "voice-activity config")


def _hann(length: int) -> np.ndarray:
    """A Hann window without its two zero end points."""
    return np.hanning(length + 2)[1:-1]


def _window_autocorrelation(length: int, nfft: int) -> np.ndarray:
    """The Hann window's own autocorrelation at lags 0..length-1, 1 at lag 0."""
    r = np.fft.irfft(np.abs(np.fft.rfft(_hann(length), nfft)) ** 2, nfft)[:length]
    return r / r[0]


def periodicity(samples: np.ndarray, centres: np.ndarray, sample_rate: int = 16000, min_pitch_hz: float = 80.0,
                max_pitch_hz: float = 400.0) -> np.ndarray:
    """Per centre sample, the height of the highest autocorrelation peak at a lag within the pitch range: 1 for
    a perfectly periodic signal at any pitch in the range, near 0 for white noise.

    As Praat's pitch analysis (Boersma 1993): a Hann window of 3 periods of the lowest pitch, the windowed
    signal's autocorrelation divided by the window's own, so that a long period is not penalised for the
    window's taper; only local maxima count (a low-pass sound's autocorrelation that still falls at the
    shortest lag is not a period). Windows at the edges are moved inside the signal."""
    x = np.asarray(samples, dtype=np.float64)
    length = int(round(3 * sample_rate / min_pitch_hz))
    if len(x) < length:
        x = np.pad(x, (0, length - len(x)))
    nfft = 1 << int(np.ceil(np.log2(2 * length)))
    starts = np.clip(np.asarray(centres) - length // 2, 0, len(x) - length)
    frames = x[starts[:, None] + np.arange(length)]
    frames -= frames.mean(1, keepdims=True)
    spectrum = np.fft.rfft(frames * _hann(length), nfft, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, nfft, axis=1)[:, :length]
    autocorr = autocorr / np.maximum(autocorr[:, :1], 1e-9) / _window_autocorrelation(length, nfft)
    shortest = max(int(sample_rate / max_pitch_hz), 1)
    longest = min(int(np.ceil(sample_rate / min_pitch_hz)), length - 2)
    lags = autocorr[:, shortest - 1:longest + 2]
    inner = lags[:, 1:-1]
    peaks = (inner >= lags[:, :-2]) & (inner >= lags[:, 2:])
    return np.where(peaks, inner, 0.0).max(1)


def voiced_frames(samples: np.ndarray, framing: Framing | None = None, config: VadConfig = VadConfig()
                  ) -> np.ndarray:
    """(T,) bool per feature frame (framing: the feature config's; default Kaldi's 25 ms every 10 ms at 16 kHz):
    voiced speech when

    - WebRTC's VAD (config.aggressiveness) calls the 10 ms at the frame's centre speech,
    - the frame's energy is config.noise_margin_db above the utterance's noise floor (its 10th-percentile
      frame), and
    - it is periodic: periodicity() around the frame's centre above config.voicing_threshold, which leaves
      unvoiced frames (fricatives, bursts) out, as the paper's silence class does."""
    import webrtcvad

    framing = framing or default_framing()
    rate = framing.sample_rate
    if rate not in VAD_SAMPLE_RATES:
        raise AsrserError(f"voice activity detection needs audio at 8, 16, 32 or 48 kHz, the feature config "
                          f"says {rate} Hz")
    x = np.clip(np.round(np.asarray(samples, dtype=np.float64)), -32768, 32767).astype(np.int16)  # int16 scale
    n = framing.num_frames(len(x))
    if n == 0:
        return np.zeros(0, dtype=bool)
    vad = webrtcvad.Vad(config.aggressiveness)
    starts = framing.first_sample(np.arange(n))
    chunk = rate // 100                                     # WebRTC's VAD judges 10, 20 or 30 ms
    central = x[framing.sample_indices(starts + (framing.window - chunk) // 2, chunk, len(x))]
    speech = np.array([vad.is_speech(c.tobytes(), rate) for c in central])
    frames = x[framing.sample_indices(starts, framing.window, len(x))].astype(np.float64)
    frames -= frames.mean(1, keepdims=True)
    energy = 10 * np.log10((frames ** 2).mean(1) + 1.0)
    loud = energy > np.percentile(energy, 10) + config.noise_margin_db
    periodic = periodicity(x, starts + framing.window // 2, rate, config.min_pitch_hz,
                           config.max_pitch_hz) > config.voicing_threshold
    return speech & loud & periodic


def frame_targets(samples: np.ndarray, emotion: str, classes: tuple[str, ...] | list[str],
                  framing: Framing | None = None, config: VadConfig = VadConfig()) -> np.ndarray:
    """(T,) int: the emotion's index in classes on voiced frames, the silence class (len(classes)) elsewhere."""
    if emotion not in classes:
        raise AsrserError(f"emotion {emotion!r} is not one of the {len(classes)} classes {', '.join(classes)}")
    voiced = voiced_frames(samples, framing, config)
    return np.where(voiced, list(classes).index(emotion), len(classes)).astype(np.int32)


def utterance_decision(log_posteriors: np.ndarray, targets: np.ndarray | None = None) -> int:
    """The emotion (index into the classes; silence is the last column) whose posterior, averaged over
    non-silence frames, is largest.

    Non-silence frames are those the net does not assign to silence (or, with targets, the VAD's voiced
    frames); an utterance without any falls back to all its frames."""
    post = np.exp(np.asarray(log_posteriors, dtype=np.float64))
    silence = post.shape[1] - 1
    keep = (targets != silence) if targets is not None else post.argmax(1) != silence
    if not keep.any():
        keep = np.ones(len(post), dtype=bool)
    return int(np.argmax(post[keep, :silence].mean(0)))


def write_frame_targets(data_dir: str | os.PathLike, folds_dir: str | os.PathLike, out_dir: str | os.PathLike,
                        config: VadConfig = VadConfig(), framing: Framing | None = None, progress: bool = True
                        ) -> dict:
    """<out_dir>/targets.{ark,scp} (per-frame class indices of every utterance of <data_dir>'s wav.scp that
    the folds dir labels (its utt2emo and classes.txt, see asrser.ser.classes), one per frame of the features
    with this framing), num_classes and vad.json (counts and the config). Utterances without a voiced frame
    keep all-silence targets and are listed (their decision then uses all frames); unreadable audio is
    skipped, named and counted."""
    from ..audio import read_audio
    from ..features import write_ark_scp
    from .classes import CLASSES_FILE, LABELS_FILE, frame_classes, read_classes, read_labels

    data_dir, folds_dir, out_dir = Path(data_dir), Path(folds_dir), Path(out_dir)
    framing = framing or default_framing()
    stamp = Stamp(out_dir / "targets.done", [data_dir / "wav.scp", folds_dir / LABELS_FILE, folds_dir / CLASSES_FILE],
                  vad=asdict(config), framing=asdict(framing))
    if stamp.is_current():
        return json.loads((out_dir / "vad.json").read_text())
    classes, utt2emo = read_classes(folds_dir), read_labels(folds_dir)
    wav = read_key_value(data_dir / "wav.scp")
    missing = [u for u in utt2emo if u not in wav]
    if missing:
        raise DataError(data_dir / "wav.scp", f"{len(missing)} labelled utterances of {folds_dir / LABELS_FILE} "
                                              f"have no audio, e.g. {missing[0]}")
    wav = {u: r for u, r in wav.items() if u in utt2emo}
    unreadable, silent, counts = {}, [], {"voiced": 0, "frames": 0}

    def labelled():
        for utt, rxspec in progress_bar(wav.items(), desc="VAD", unit="utt", enabled=progress, mininterval=2):
            try:
                audio = read_audio(rxspec, utt, sample_rate=framing.sample_rate)
            except AudioError as e:
                log.warning("skipped: %s", e)
                unreadable[utt] = str(e)
                continue
            targets = frame_targets(audio.samples, utt2emo[utt], classes, framing, config)
            n_voiced = int((targets != len(classes)).sum())
            if n_voiced == 0:
                silent.append(utt)
            counts["voiced"] += n_voiced
            counts["frames"] += len(targets)
            yield utt, targets

    write_ark_scp(out_dir / "targets", labelled())
    voiced, frames = counts["voiced"], counts["frames"]
    with atomic_write(out_dir / "num_classes") as f:
        f.write(f"{len(classes) + 1}\n")
    report = {"classes": list(frame_classes(classes)), "vad": asdict(config), "utterances": len(wav) - len(unreadable),
              "frames": frames, "voiced_frames": voiced, "no_voiced_frames": silent, "unreadable": unreadable}
    with atomic_write(out_dir / "vad.json") as f:
        json.dump(report, f, indent=1)
    stamp.write()
    log.info("%s: %d utterances, %.1f%% of %d frames voiced; %d without a voiced frame (decided from all "
             "frames), %d unreadable (skipped)", out_dir, report["utterances"], 100 * voiced / max(frames, 1),
             frames, len(silent), len(unreadable))
    return report
