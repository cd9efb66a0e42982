"""Frame-level SER pieces: VAD frame labels, utterance decisions, fold construction."""

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import lfilter

from asrser.errors import AsrserError, DataError
from asrser.features import FeatureConfig
from asrser.ser.metrics import unweighted_accuracy, weighted_accuracy
from asrser.ser.folds import make_folds
from asrser.ser.frames import (VadConfig, frame_targets, periodicity, utterance_decision,
                               voiced_frames)

REPO = Path(__file__).resolve().parents[2]
FOUR = ("ang", "hap", "neu", "sad")
FRAME_CLASSES = (*FOUR, "sil")


def tone_with_silence(seconds_silence=0.3, seconds_voice=0.5):
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * seconds_voice)) / 16000
    voice = 8000 * np.sin(2 * np.pi * 140 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    voice += 2000 * np.sin(2 * np.pi * 420 * t)
    quiet = rng.normal(0, 3, int(16000 * seconds_silence))
    return np.concatenate([quiet, voice, quiet]).astype(np.int16)


def test_vad_labels_speech_frames_with_the_emotion_and_the_rest_silence():
    x = tone_with_silence()
    voiced = voiced_frames(x)
    assert len(voiced) == 1 + (len(x) - 400) // 160            # Kaldi's default: 25 ms every 10 ms, snip-edges
    centre = voiced[35:75]                     # frames well inside the voiced part (0.3 s .. 0.8 s)
    assert centre.mean() > 0.9 and voiced[:20].mean() < 0.1 and voiced[-20:].mean() < 0.1
    targets = frame_targets(x, "sad", FOUR)
    assert set(np.unique(targets)) == {FRAME_CLASSES.index("sad"), FRAME_CLASSES.index("sil")}
    with pytest.raises(AsrserError, match="'fru' is not one of the 4 classes"):
        frame_targets(x, "fru", FOUR)
    three = frame_targets(x, "sad", ("ang", "neu", "sad"))
    assert set(np.unique(three)) == {2, 3}                              # sad, then silence after 3 emotions


@pytest.mark.parametrize("options", [{}, {"frame-length": "20", "frame-shift": "15"},
                                     {"snip-edges": "false"}, {"frame-shift": "5", "snip-edges": "false"},
                                     {"sample-frequency": "8000"}])
def test_vad_frames_are_the_frames_of_the_feature_config(tmp_path, options):
    """One target per fbank frame, for any frame length, shift, snip-edges and sample rate of the config (the
    VAD used 25 ms / 10 ms at 16 kHz whatever the features were)."""
    conf = tmp_path / "fbank.conf"
    conf.write_text("".join(f"--{k}={v}\n" for k, v in {"num-mel-bins": "23", **options}.items()))
    config = FeatureConfig.from_file("fbank", conf)
    rate = config.sample_rate
    x = tone_with_silence()[::16000 // rate]
    voiced = voiced_frames(x, config.framing)
    assert len(voiced) == len(config.compute(x.astype(np.float32)))
    shift = config.framing.shift
    voice = slice(int(0.4 * rate) // shift, int(0.7 * rate) // shift)         # well inside the tone
    assert voiced[voice].mean() > 0.9 and voiced[:int(0.2 * rate) // shift].mean() < 0.1


def glottal_vowel(f0: float, seconds: float = 0.6, sample_rate: int = 16000) -> np.ndarray:
    """A vowel-like voice with a pitch gliding between f0 and 1.06 f0 (intonation): Rosenberg glottal pulses
    (open 40%, closing 16% of the period; their derivative, i.e. with lip radiation: every harmonic up to
    Nyquist) through three formant resonators (an /a/). Peak 1."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    phase = np.cumsum(f0 * (1.03 + 0.03 * np.sin(2 * np.pi * 2 * t))) / sample_rate % 1.0
    opening, closing = 0.4, 0.16
    flow = np.where(phase < opening, 0.5 * (1 - np.cos(np.pi * phase / opening)),
                    np.where(phase < opening + closing, np.cos(np.pi * (phase - opening) / (2 * closing)), 0.0))
    y = np.diff(flow, prepend=0.0)
    for formant, bandwidth in ((700, 80), (1220, 90), (2600, 120)):
        r, theta = np.exp(-np.pi * bandwidth / sample_rate), 2 * np.pi * formant / sample_rate
        y = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], y)
    return y / np.abs(y).max()


def in_silence(voice: np.ndarray, snr_db: float | None, seed: int = 0, seconds_silence: float = 0.3) -> np.ndarray:
    """voice at 8000 peak between two pauses, all under white noise snr_db below the voice's power (None: a
    faint recording noise, 70 dB below)."""
    rng = np.random.default_rng(seed)
    voice = 8000 * voice
    noise_db = 70.0 if snr_db is None else snr_db
    pause = np.zeros(int(16000 * seconds_silence))
    x = np.concatenate([pause, voice, pause])
    return x + rng.normal(0, np.sqrt((voice ** 2).mean() / 10 ** (noise_db / 10)), len(x))


@pytest.mark.parametrize("f0", [80, 100, 120, 150, 200, 250, 300])
def test_periodicity_of_a_periodic_voice_does_not_depend_on_its_pitch(f0):
    """Corrected for the analysis window, a periodic voice scores near 1 at any pitch of the range; without
    the correction a 100 Hz voice scored 0.33 (below Praat's voicing threshold 0.45), a 300 Hz one 0.88."""
    x = 8000 * glottal_vowel(f0)
    centres = np.arange(4, len(x) // 160 - 4) * 160
    assert np.median(periodicity(x, centres)) > 0.95
    noisy = in_silence(glottal_vowel(f0), snr_db=10)[4800:-4800]
    assert np.median(periodicity(noisy, centres)) > 0.8          # a periodic share of 10/11 at 10 dB SNR


@pytest.mark.parametrize("f0", [80, 90, 100, 110, 120, 150, 200, 250, 300])
@pytest.mark.parametrize("snr_db", [None, 20, 10])
def test_voices_from_80_to_300_hz_are_voiced_in_quiet_and_in_noise(f0, snr_db):
    x = in_silence(glottal_vowel(f0), snr_db)
    voiced = voiced_frames(x)
    inside = voiced[32:32 + 54]                   # frames whose 25 ms lie in the voice (0.3 s .. 0.9 s)
    assert inside.mean() > 0.9, f"{f0} Hz at SNR {snr_db}: {inside.mean():.2f} of the voice's frames voiced"
    assert voiced[:25].mean() < 0.1 and voiced[-25:].mean() < 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_white_noise_is_not_voiced(seed):
    """Loud white noise between quiet pauses: its periodicity stays well below the threshold at every frame,
    also when low-passed, and no frame is voiced."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 3000, 16000)
    x = np.concatenate([rng.normal(0, 3, 4800), noise, rng.normal(0, 3, 4800)])
    assert voiced_frames(x).sum() == 0
    assert periodicity(noise, np.arange(2, 98) * 160).max() < 0.45
    muffled = lfilter([1.0], [1.0, -0.5], noise)
    assert periodicity(muffled, np.arange(2, 98) * 160).max() < 0.45
    assert voiced_frames(np.concatenate([rng.normal(0, 3, 4800), muffled, rng.normal(0, 3, 4800)])).sum() == 0


def test_vad_thresholds_come_from_the_config():
    x = in_silence(glottal_vowel(120), snr_db=20)
    voiced = voiced_frames(x).sum()
    assert voiced > 50
    assert voiced_frames(x, config=VadConfig(voicing_threshold=0.99)).sum() < voiced / 2
    assert voiced_frames(x, config=VadConfig(min_pitch_hz=150)).sum() < voiced / 3     # the voice's 120-127 Hz
    assert voiced_frames(x, config=VadConfig(noise_margin_db=40)).sum() == 0
    assert VadConfig.from_yaml(REPO / "conf" / "vad.yaml") == VadConfig()    # the file states the defaults


@pytest.mark.parametrize("text,message,line", [
    ("aggressiveness: 2\nvoicing_treshold: 0.5\n", "unknown option 'voicing_treshold'", 2),
    ("min_pitch_hz: low\n", "min_pitch_hz: expected a number, found 'low'", 1),
    ("aggressiveness: 1.5\n", "aggressiveness: expected an integer", 1),
    ("noise_margin_db: true\n", "noise_margin_db: expected a number", 1),
    ("aggressiveness: 4\n", "aggressiveness must be 0, 1, 2 or 3", None),
    ("min_pitch_hz: 300\nmax_pitch_hz: 200\n", "0 < min_pitch_hz < max_pitch_hz", None),
    ("voicing_threshold: 1.2\n", "voicing_threshold must lie between 0 and 1", None),
    ("- aggressiveness\n", "expected a mapping", None),
])
def test_vad_config_rejects_unknown_keys_and_bad_values(tmp_path, text, message, line):
    path = tmp_path / "vad.yaml"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        VadConfig.from_yaml(path)
    assert err.value.path == str(path) and err.value.line == line


def test_utterance_decision_averages_non_silence_frames():
    log_post = np.log(np.array([[0.1, 0.1, 0.1, 0.1, 0.6],     # silence frame: ignored
                                [0.5, 0.3, 0.1, 0.1, 0.0001],
                                [0.2, 0.6, 0.1, 0.1, 0.0001],
                                [0.1, 0.5, 0.3, 0.1, 0.0001]]) + 1e-12)
    assert utterance_decision(log_post) == 1                    # hap: mean 0.467 over the three frames


def test_folds_give_each_speaker_one_role():
    speakers = [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]
    folds = make_folds(speakers, ["Ses05F", "Ses05M"])
    assert len(folds) == 8
    for fold in folds:
        roles = [fold.test, *fold.train, *fold.validation]
        assert sorted(roles) == sorted(speakers) and len(fold.train) == 7
    with pytest.raises(AsrserError, match="Ses06F"):
        make_folds(speakers, ["Ses06F"])
    with pytest.raises(AsrserError, match="Ses02M have no utterances"):
        make_folds(speakers, ["Ses05F", "Ses05M"], {s: 0 if s == "Ses02M" else 10 for s in speakers})


def test_wa_and_ua_on_a_hand_computed_confusion():
    # true: 4 ang, 2 sad; predicted: ang ang ang sad | sad ang  -> recalls 3/4 and 1/2
    y = np.array(["ang"] * 4 + ["sad"] * 2)
    p = np.array(["ang", "ang", "ang", "sad", "sad", "ang"])
    assert weighted_accuracy(y, p) == pytest.approx(4 / 6)
    assert unweighted_accuracy(y, p) == pytest.approx((3 / 4 + 1 / 2) / 2)
