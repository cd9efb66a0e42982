"""Frame labels for frame-level SER (Fayek et al. 2016): each frame inherits its utterance's emotion when it is
voiced speech, and is *Silence* otherwise; utterance decisions average the frame posteriors over the frames
not judged silent.

Voice activity: WebRTC's VAD, an energy margin over the utterance's noise floor and periodicity (voicing),
on the same 10 ms grid as the 25 ms / 10 ms fbank frames (Kaldi's snip-edges framing).
"""

from __future__ import annotations

import numpy as np

from ..errors import AsrserError

EMOTIONS = ("ang", "hap", "neu", "sad")
SILENCE = "sil"
CLASSES = (*EMOTIONS, SILENCE)          # frame classes 0..4; silence last


def num_frames(num_samples: int, window: int = 400, shift: int = 160) -> int:
    """Kaldi's frame count with snip-edges (25 ms windows every 10 ms at 16 kHz)."""
    return 0 if num_samples < window else 1 + (num_samples - window) // shift


def voiced_frames(samples: np.ndarray, sample_rate: int = 16000, aggressiveness: int = 2,
                  noise_margin_db: float = 6.0, min_periodicity: float = 0.45) -> np.ndarray:
    """(T,) bool per fbank frame (frame t covers samples [160 t, 160 t + 400)): voiced speech when

    - WebRTC's VAD calls the central 10 ms speech,
    - the frame's energy is noise_margin_db above the utterance's noise floor (its 10th-percentile frame), and
    - it is periodic: normalised autocorrelation above min_periodicity at a lag of 2.5-12.5 ms (80-400 Hz),
      which leaves unvoiced frames (fricatives, bursts) out, as the paper's silence class does."""
    import webrtcvad

    if sample_rate != 16000:
        raise AsrserError(f"voice activity detection expects 16 kHz audio, got {sample_rate} Hz")
    x = np.clip(np.round(np.asarray(samples, dtype=np.float64)), -32768, 32767).astype(np.int16)  # int16 scale
    n = num_frames(len(x))
    if n == 0:
        return np.zeros(0, dtype=bool)
    vad = webrtcvad.Vad(aggressiveness)
    centres = np.arange(n) * 160 + 120                      # the 10 ms at the centre of each 25 ms window
    speech = np.array([vad.is_speech(x[s:s + 160].tobytes(), sample_rate) for s in centres])
    frames = x[np.arange(n)[:, None] * 160 + np.arange(400)].astype(np.float64)
    frames -= frames.mean(1, keepdims=True)
    energy = 10 * np.log10((frames ** 2).mean(1) + 1.0)
    loud = energy > np.percentile(energy, 10) + noise_margin_db
    spectrum = np.fft.rfft(frames * np.hanning(400), 1024, axis=1)
    autocorr = np.fft.irfft(np.abs(spectrum) ** 2, 1024, axis=1)[:, :401]
    periodicity = autocorr[:, 40:201].max(1) / np.maximum(autocorr[:, 0], 1e-9)
    return speech & loud & (periodicity > min_periodicity)


def frame_targets(samples: np.ndarray, emotion: str, sample_rate: int = 16000) -> np.ndarray:
    """(T,) int: the emotion's class on voiced frames, the silence class elsewhere."""
    if emotion not in EMOTIONS:
        raise AsrserError(f"emotion {emotion!r} is not one of the four classes {', '.join(EMOTIONS)}")
    voiced = voiced_frames(samples, sample_rate)
    return np.where(voiced, EMOTIONS.index(emotion), len(EMOTIONS)).astype(np.int32)


def utterance_decision(log_posteriors: np.ndarray, targets: np.ndarray | None = None) -> int:
    """The emotion (index into EMOTIONS) whose posterior, averaged over non-silence frames, is largest.

    Non-silence frames are those the net does not assign to silence (or, with targets, the VAD's voiced
    frames); an utterance without any falls back to all its frames."""
    post = np.exp(np.asarray(log_posteriors, dtype=np.float64))
    keep = (targets != len(EMOTIONS)) if targets is not None else post.argmax(1) != len(EMOTIONS)
    if not keep.any():
        keep = np.ones(len(post), dtype=bool)
    return int(np.argmax(post[keep, :len(EMOTIONS)].mean(0)))
