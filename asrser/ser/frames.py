"""Frame labels for frame-level SER (Fayek et al. 2016): each frame inherits its utterance's emotion when it is
voiced speech, and is *Silence* otherwise; utterance decisions average the frame posteriors over the frames
not judged silent.

Voice activity: WebRTC's VAD, an energy margin over the utterance's noise floor and periodicity (voicing),
on the same 10 ms grid as the 25 ms / 10 ms fbank frames (Kaldi's snip-edges framing).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from ..errors import AsrserError, AudioError, DataError
from ..fileio import Stamp, atomic_write, read_key_value

log = logging.getLogger(__name__)

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


def write_frame_targets(data_dir: str | os.PathLike, out_dir: str | os.PathLike, progress: bool = True) -> dict:
    """<out_dir>/targets.{ark,scp} (per-frame class indices of every utterance of <data_dir>'s wav.scp and
    utt2emo), num_classes and vad.json (counts). Utterances without a voiced frame keep all-silence targets
    and are listed (their decision then uses all frames); unreadable audio is skipped, named and counted."""
    from tqdm import tqdm

    from ..audio import read_audio
    from ..features import write_ark_scp

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    stamp = Stamp(out_dir / "targets.done", [data_dir / "wav.scp", data_dir / "utt2emo"])
    if stamp.is_current():
        return json.loads((out_dir / "vad.json").read_text())
    wav, utt2emo = read_key_value(data_dir / "wav.scp"), read_key_value(data_dir / "utt2emo")
    for line, (utt, emotion) in enumerate(utt2emo.items(), 1):
        if emotion not in EMOTIONS:
            raise DataError(data_dir / "utt2emo", f"line {line}: {utt} has emotion {emotion!r}, not one of "
                                                  f"{', '.join(EMOTIONS)}")
    missing = [u for u in wav if u not in utt2emo]
    if missing:
        raise DataError(data_dir / "utt2emo", f"{len(missing)} utterances of wav.scp have no label, e.g. {missing[0]}")
    unreadable, silent, counts = {}, [], {"voiced": 0, "frames": 0}

    def labelled():
        for utt, rxspec in tqdm(wav.items(), desc="VAD", unit="utt", disable=not progress, mininterval=2):
            try:
                audio = read_audio(rxspec, utt, sample_rate=16000)
            except AudioError as e:
                log.warning("skipped: %s", e)
                unreadable[utt] = str(e)
                continue
            targets = frame_targets(audio.samples, utt2emo[utt])
            n_voiced = int((targets != len(EMOTIONS)).sum())
            if n_voiced == 0:
                silent.append(utt)
            counts["voiced"] += n_voiced
            counts["frames"] += len(targets)
            yield utt, targets

    write_ark_scp(out_dir / "targets", labelled())
    voiced, frames = counts["voiced"], counts["frames"]
    with atomic_write(out_dir / "num_classes") as f:
        f.write(f"{len(CLASSES)}\n")
    report = {"classes": list(CLASSES), "utterances": len(wav) - len(unreadable), "frames": frames,
              "voiced_frames": voiced, "no_voiced_frames": silent, "unreadable": unreadable}
    with atomic_write(out_dir / "vad.json") as f:
        json.dump(report, f, indent=1)
    stamp.write()
    log.info("%s: %d utterances, %.1f%% of %d frames voiced; %d without a voiced frame (decided from all "
             "frames), %d unreadable (skipped)", out_dir, report["utterances"], 100 * voiced / max(frames, 1),
             frames, len(silent), len(unreadable))
    return report
