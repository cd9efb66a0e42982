"""Frame-level SER pieces: VAD frame labels, utterance decisions, fold construction."""

import numpy as np
import pytest

from asrser.errors import AsrserError
from asrser.ser.metrics import unweighted_accuracy, weighted_accuracy
from asrser.ser.folds import loso_folds
from asrser.ser.frames import CLASSES, frame_targets, num_frames, utterance_decision, voiced_frames


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
    assert len(voiced) == num_frames(len(x)) == 1 + (len(x) - 400) // 160
    centre = voiced[35:75]                     # frames well inside the voiced part (0.3 s .. 0.8 s)
    assert centre.mean() > 0.9 and voiced[:20].mean() < 0.1 and voiced[-20:].mean() < 0.1
    targets = frame_targets(x, "sad")
    assert set(np.unique(targets)) == {CLASSES.index("sad"), CLASSES.index("sil")}
    with pytest.raises(AsrserError, match="'fru' is not one of the four classes"):
        frame_targets(x, "fru")


def test_utterance_decision_averages_non_silence_frames():
    log_post = np.log(np.array([[0.1, 0.1, 0.1, 0.1, 0.6],     # silence frame: ignored
                                [0.5, 0.3, 0.1, 0.1, 0.0001],
                                [0.2, 0.6, 0.1, 0.1, 0.0001],
                                [0.1, 0.5, 0.3, 0.1, 0.0001]]) + 1e-12)
    assert utterance_decision(log_post) == 1                    # hap: mean 0.467 over the three frames


def test_folds_give_each_speaker_one_role():
    speakers = [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]
    folds = loso_folds(speakers, ["Ses05F", "Ses05M"])
    assert len(folds) == 8
    for fold in folds:
        roles = [fold.test, *fold.train, *fold.validation]
        assert sorted(roles) == sorted(speakers) and len(fold.train) == 7
    with pytest.raises(AsrserError, match="Ses06F"):
        loso_folds(speakers, ["Ses06F"])
    with pytest.raises(AsrserError, match="Ses02M have no utterances"):
        loso_folds(speakers, ["Ses05F", "Ses05M"], {s: 0 if s == "Ses02M" else 10 for s in speakers})


def test_wa_and_ua_on_a_hand_computed_confusion():
    # true: 4 ang, 2 sad; predicted: ang ang ang sad | sad ang  -> recalls 3/4 and 1/2
    y = np.array(["ang"] * 4 + ["sad"] * 2)
    p = np.array(["ang", "ang", "ang", "sad", "sad", "ang"])
    assert weighted_accuracy(y, p) == pytest.approx(4 / 6)
    assert unweighted_accuracy(y, p) == pytest.approx((3 / 4 + 1 / 2) / 2)
