"""Helpers shared by the tests: small generated audio and Kaldi data dirs (no corpora needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
REPO = Path(__file__).resolve().parents[1]
STEPS = REPO / "steps_py"
TIMIT_PHONE_MAP = REPO / "conf/timit/phones.60-48-39.map"     # the TIMIT recipe's scoring map (columns 2,3)


def synth_speechlike(seconds: float, seed: int, rate: int = 16000) -> np.ndarray:
    """A glide with harmonics and noise bursts: enough spectral change to exercise features."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 60 * np.sin(2 * np.pi * 0.7 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 8)) * 4000
    x *= 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    x += 200 * rng.standard_normal(t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


def make_data_dir(root: Path, speakers=("spkA", "spkB", "spkC"), utts_per_speaker=2, seconds=0.6,
                  fmt="wav") -> Path:
    """A valid Kaldi data dir with real audio files under root/audio."""
    from asrser.audio import write_sphere, write_wav

    data = root / "data"
    audio = root / "audio"
    data.mkdir(parents=True)
    audio.mkdir(parents=True)
    wav, text, utt2spk = [], [], []
    for s, spk in enumerate(speakers):
        for i in range(utts_per_speaker):
            utt = f"{spk}_u{i}"
            samples = synth_speechlike(seconds + 0.1 * i, seed=10 * s + i)
            path = audio / f"{utt}.{fmt}"
            if fmt == "sph":
                write_sphere(path, samples, 16000)
            else:
                write_wav(path, samples, 16000)
            wav.append(f"{utt} {path}\n")
            text.append(f"{utt} sil a b sil\n")
            utt2spk.append(f"{utt} {spk}\n")
    (data / "wav.scp").write_text("".join(wav))
    (data / "text").write_text("".join(text))
    (data / "utt2spk").write_text("".join(utt2spk))
    (data / "spk2utt").write_text("".join(
        f"{spk} {' '.join(f'{spk}_u{i}' for i in range(utts_per_speaker))}\n" for spk in speakers))
    return data


def run_step(name: str, *args, cwd=None, check=True) -> subprocess.CompletedProcess:
    """Run a steps_py program the way a recipe does."""
    env = dict(os.environ)
    env["PATH"] = f"{STEPS}:{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.run([sys.executable, str(STEPS / name), *map(str, args)], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stderr}")
    return proc




def score_deletions(decode_dir: Path, deletions_by_weight: dict[float, int], phones: int = 100) -> None:
    """A decode dir scored by real sclite: one reference utterance of `phones` phones (<decode_dir>/text) whose
    hypothesis at LM weight w lacks its first n phones, n = deletions_by_weight[w]: PER n / phones."""
    from asrser.scoring import score_decode

    ref = [f"p{i}" for i in range(phones)]
    (decode_dir / "hyp").mkdir(parents=True)
    (decode_dir / "text").write_text(f"spk_utt1 {' '.join(ref)}\n")
    for w, n in deletions_by_weight.items():
        (decode_dir / "hyp" / f"{w:g}.1.txt").write_text(f"spk_utt1 {' '.join(ref[n:])}\n")
    score_decode(decode_dir, decode_dir / "text", name="phn")


def tiny_phone_system_data(tiny_timit_data: Path, root: Path, splits: tuple[str, ...]) -> Path:
    """<root>/data: the tiny corpus's data dirs with MFCC + CMVN for `splits`, the 48-phone lang and lang_test
    with a bigram phone LM (the inputs of a tiny GMM system)."""
    import shutil

    from asrser.corpora.timit import PHONES48
    from asrser.features import FeatureConfig, compute_cmvn_stats, make_features
    from asrser.lang import Lang, prepare_phone_lang
    from asrser.lm import make_lang_test, train_phone_lm

    cmd = f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"
    data = root / "data"
    shutil.copytree(tiny_timit_data, data)
    config = FeatureConfig.from_file("mfcc", REPO / "conf" / "mfcc.conf")
    for split in splits:
        make_features(data / split, root / "log", root / "mfcc", config, REPO / "conf" / "mfcc.conf", 2, cmd)
        compute_cmvn_stats(data / split, root / "mfcc")
    prepare_phone_lang(data / "lang", ["sil"] + [p for p in PHONES48 if p != "sil"], ["sil"])
    train_phone_lm(data / "train" / "text", Lang.load(data / "lang"), root / "lm.arpa")
    make_lang_test(data / "lang", root / "lm.arpa", data / "lang_test")
    return data



def word_lang(root: Path, lexicon: dict[str, list[list[str]]], silence: str = "SIL", oov: str = "<UNK>") -> Path:
    """<root>/lang from a dict dir <root>/dict (Kaldi's layout) of `lexicon` {word: pronunciations}, through
    prepare_lang (word-position-dependent phones, optional silence); the OOV word is pronounced as silence."""
    from asrser.lang import prepare_lang

    dict_dir = root / "dict"
    dict_dir.mkdir(parents=True, exist_ok=True)
    phones = sorted({p for prons in lexicon.values() for pron in prons for p in pron} - {silence})
    (dict_dir / "silence_phones.txt").write_text(f"{silence}\n")
    (dict_dir / "optional_silence.txt").write_text(f"{silence}\n")
    (dict_dir / "nonsilence_phones.txt").write_text("".join(f"{p}\n" for p in phones))
    (dict_dir / "lexicon.txt").write_text(f"{oov} {silence}\n" + "".join(
        f"{word} {' '.join(pron)}\n" for word, prons in sorted(lexicon.items()) for pron in prons))
    prepare_lang(dict_dir, root / "lang", oov)
    return root / "lang"


# A ConvNet of the SER recipes small enough for a one-epoch test run (conf/convnet_ser.yaml's layer kinds).
TINY_SER_NET = """
input: {context: 5, dim: 40}
layers:
  - {type: conv, channels: 4, kernel: [3, 4], pool: [2, 2]}
  - {type: conv, channels: 4, kernel: [2, 3], pool: [1, 2]}
  - {type: fc, units: 16}
  - {type: fc, units: 16}
  - {type: fc, units: 16}
  - {type: output}
training: {max_epochs: 1, min_epochs: 1, epoch_frames: 1000, valid_stride: 4, batch_size: 64, seed: 3,
           precision: fp32}
"""


def write_ser_predictions(exp: Path, protocol: str, system: str, rows: list[tuple[str, str, str, str]],
                          classes: str = "ang\nhap\nneu\nsad\n") -> None:
    """<exp>/<protocol>/<system>/predictions.tsv from (fold, role, label, predicted) rows, and the protocol's
    classes (<exp>/folds/<protocol>/classes.txt): a system's saved predictions, made by hand."""
    from asrser.ser.metrics import write_predictions

    (exp / "folds" / protocol).mkdir(parents=True, exist_ok=True)
    (exp / "folds" / protocol / "classes.txt").write_text(classes)
    (exp / protocol / system).mkdir(parents=True)
    write_predictions(exp / protocol / system / "predictions.tsv",
                      [{"fold": f, "role": r, "utt": f"{f}-{k}", "speaker": "s", "label": t, "predicted": p}
                       for k, (f, r, t, p) in enumerate(rows)])
