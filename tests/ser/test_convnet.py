"""Frame-level SER on leave-one-speaker-out folds: frame targets with bad input, scores from predictions,
fold frames, and a short end-to-end fold with the ConvNet trainer (a small net, one fold)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from asrser.audio import write_wav
from asrser.errors import AsrserError, DataError
from asrser.ser.classes import frame_classes, read_classes
from asrser.ser.folds import fold_listing, read_folds, write_folds
from asrser.ser.frames import write_frame_targets
from asrser.ser.metrics import read_predictions, summarize, write_predictions

REPO = Path(__file__).resolve().parents[2]
CLASS_MAP = REPO / "conf" / "iemocap_emotions.map"
FOUR = ("ang", "hap", "neu", "sad")
FRAME_CLASSES = (*FOUR, "sil")


def iemocap_folds(data: Path, folds_dir: Path) -> Path:
    """The IEMOCAP recipe's classes and folds of a data dir (its class map, validation Ses05F Ses05M)."""
    write_folds(data, folds_dir, "speaker", ["Ses05F", "Ses05M"], CLASS_MAP)
    return folds_dir

SMALL_NET = """
input: {context: 5, dim: 40}
layers:
  - {type: conv, channels: 4, kernel: [3, 4], pool: [2, 2]}
  - {type: conv, channels: 8, kernel: [2, 3], pool: [1, 2]}
  - {type: fc, units: 32, dropout: 0.1}
  - {type: fc, units: 32}
  - {type: fc, units: 32}
  - {type: output}
training: {max_epochs: 2, min_epochs: 1, epoch_frames: 3000, valid_stride: 2, batch_size: 64, seed: 3,
           precision: fp32}
"""


def _copy_data(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _append(data: Path, utt: str, spk: str, emotion: str, wav: Path) -> None:
    for name, value in (("wav.scp", str(wav)), ("utt2spk", spk), ("utt2emo", emotion), ("text", "HELLO")):
        with open(data / name, "a") as f:
            f.write(f"{utt} {value}\n")


def test_frame_targets_count_silent_and_name_unreadable_audio(tiny_iemocap_data, tmp_path):
    data = _copy_data(tiny_iemocap_data, tmp_path / "data")
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.random.default_rng(0).normal(0, 2, 16000).astype(np.int16), 16000)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(quiet.read_bytes()[:30])
    _append(data, "Ses01F-quiet", "Ses01F", "neu", quiet)
    _append(data, "Ses01F-broken", "Ses01F", "sad", broken)
    folds = iemocap_folds(data, tmp_path / "folds")
    assert frame_classes(read_classes(folds)) == FRAME_CLASSES
    report = write_frame_targets(data, folds, tmp_path / "targets", progress=False)
    assert report["no_voiced_frames"] == ["Ses01F-quiet"]
    assert list(report["unreadable"]) == ["Ses01F-broken"] and str(broken) in report["unreadable"]["Ses01F-broken"]
    targets = dict(kaldiio.load_scp(str(tmp_path / "targets" / "targets.scp")))
    assert "Ses01F-broken" not in targets and set(targets["Ses01F-quiet"]) == {FRAME_CLASSES.index("sil")}
    utt2emo = dict(line.split() for line in (folds / "utt2emo").read_text().splitlines())
    assert "exc" not in utt2emo.values() and len(targets) == len(utt2emo) - 1
    for utt, t in targets.items():
        assert set(np.unique(t)) <= {FRAME_CLASSES.index(utt2emo[utt]), FRAME_CLASSES.index("sil")}
    assert 0.2 < report["voiced_frames"] / report["frames"] < 0.9
    assert (tmp_path / "targets" / "num_classes").read_text() == "5\n"
    assert not list((tmp_path / "targets").glob("*.tmp*"))


def test_an_emotion_code_the_class_map_does_not_list_is_an_error_naming_utt2emo_and_the_line(tiny_iemocap_data,
                                                                                             tmp_path):
    data = _copy_data(tiny_iemocap_data, tmp_path / "data")
    lines = (data / "utt2emo").read_text().splitlines()
    lines[2] = lines[2].split()[0] + " joy"
    (data / "utt2emo").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"^{data / 'utt2emo'}:3: .* has emotion code 'joy', which the class map "
                                        rf".*iemocap_emotions.map does not list"):
        iemocap_folds(data, tmp_path / "folds")
    assert not (tmp_path / "folds").exists()
    prog = REPO / "steps_py" / "ser_make_folds.py"
    run = subprocess.run([sys.executable, str(prog), "--class-map", str(CLASS_MAP), str(data), str(tmp_path / "f")],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(f"ERROR (ser_make_folds.py): {data / 'utt2emo'}:3: ")


def test_frame_targets_follow_the_vad_config(tiny_iemocap_data, tmp_path):
    """The thresholds of conf/vad.yaml reach the targets; changing one re-runs the stage; a bad config file is
    one line naming it."""
    from asrser.ser.frames import VadConfig

    out = tmp_path / "targets"
    folds = iemocap_folds(tiny_iemocap_data, tmp_path / "folds")
    default = write_frame_targets(tiny_iemocap_data, folds, out, VadConfig.from_yaml(REPO / "conf/vad.yaml"),
                                  progress=False)
    assert default["vad"] == {"aggressiveness": 2, "noise_margin_db": 6.0, "voicing_threshold": 0.45,
                              "min_pitch_hz": 80.0, "max_pitch_hz": 400.0}
    strict = write_frame_targets(tiny_iemocap_data, folds, out, VadConfig(voicing_threshold=0.9), progress=False)
    assert strict["frames"] == default["frames"] and strict["voiced_frames"] < 0.8 * default["voiced_frames"]
    assert json.loads((out / "vad.json").read_text())["vad"]["voicing_threshold"] == 0.9
    targets = dict(kaldiio.load_scp(str(out / "targets.scp")))
    assert sum(int((t != FRAME_CLASSES.index("sil")).sum()) for t in targets.values()) == strict["voiced_frames"]
    bad = tmp_path / "vad.yaml"
    bad.write_text("aggressiveness: 3\nnoise_floor_db: 6\n")
    prog = REPO / "steps_py" / "ser_frame_targets.py"
    run = subprocess.run([sys.executable, str(prog), "--config", str(bad), str(tiny_iemocap_data), str(folds), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"ERROR (ser_frame_targets.py): {bad}:2: unknown option 'noise_floor_db'" in run.stderr


def test_scores_from_hand_made_predictions(tmp_path):
    def row(fold, role, label, predicted):
        return {"fold": fold, "role": role, "utt": f"u{len(rows)}", "speaker": fold if role == "test" else "V",
                "label": label, "predicted": predicted}

    rows = []
    for label, predicted in [("ang", "ang"), ("ang", "sad"), ("sad", "sad")]:
        rows.append(row("A", "test", label, predicted))
    for label, predicted in [("neu", "neu"), ("hap", "neu")]:
        rows.append(row("B", "test", label, predicted))
    rows.append(row("A", "valid", "hap", "hap"))
    rows.append(row("B", "valid", "hap", "ang"))
    write_predictions(tmp_path / "p.tsv", rows)
    s = summarize(read_predictions(tmp_path / "p.tsv", FOUR), FOUR)
    a, b = s["folds"]
    assert a["test"]["wa"] == pytest.approx(2 / 3) and a["test"]["ua"] == pytest.approx((1 / 2 + 1) / 2)
    assert b["test"]["ua"] == pytest.approx((1 + 0) / 2) and b["valid"]["wa"] == 0
    # pooled: 5 utterances, 3 right; recalls ang 1/2, sad 1, neu 1, hap 0
    assert s["test"]["wa"] == pytest.approx(3 / 5) and s["test"]["ua"] == pytest.approx(2.5 / 4)
    assert s["test"]["e"] == pytest.approx(2 / 5) and s["test"]["ue"] == pytest.approx(1.5 / 4)
    assert s["test"]["ua_mean_over_folds"] == pytest.approx((0.75 + 0.5) / 2)
    assert s["valid"]["wa"] == pytest.approx(1 / 2)
    assert s["test"]["confusion"] == [[1, 0, 0, 1], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    (tmp_path / "bad.tsv").write_text((tmp_path / "p.tsv").read_text().replace("\tsad\tsad\n", "\tsad\tfru\n"))
    with pytest.raises(DataError, match=r"bad.tsv.*line 4: .*'fru'"):
        read_predictions(tmp_path / "bad.tsv", FOUR)


def test_fold_files_and_listing(tiny_iemocap_data, tmp_path):
    folds = write_folds(tiny_iemocap_data, tmp_path, "speaker", ["Ses05M", "Ses05F"], CLASS_MAP)
    assert read_folds(tmp_path / "folds.json") == folds and len(folds) == 8
    assert (tmp_path / "classes.txt").read_text() == "ang\nhap\nneu\nsad\n"
    listing = fold_listing(folds).splitlines()
    assert listing[0].startswith("fold 1: test Ses01F | train Ses01M Ses02F") and "validation Ses05F Ses05M" in listing[0]
    with pytest.raises(AsrserError, match="no fold list"):
        read_folds(tmp_path / "missing.json")


@pytest.fixture(scope="module")
def ser_fold_setup(tiny_iemocap_data, tmp_path_factory):
    """fbank, frame targets, folds and fold frames of the tiny mini-IEMOCAP."""
    from asrser.data import copy_data_dir
    from asrser.features import FeatureConfig, make_features
    from asrser.ser.convnet import prepare_fold_frames

    root = tmp_path_factory.mktemp("ser")
    fbank = root / "fbank_data"
    copy_data_dir(tiny_iemocap_data, fbank)
    make_features(fbank, root / "log", root / "fbank", FeatureConfig.from_file("fbank", REPO / "conf/fbank.conf"),
                  REPO / "conf/fbank.conf", 1, "asrser-run --backend local --max-jobs 1")
    folds = iemocap_folds(tiny_iemocap_data, root / "folds")
    write_frame_targets(tiny_iemocap_data, folds, root / "targets", progress=False)
    fold_dirs = prepare_fold_frames(fbank, root / "targets", folds / "folds.json", folds)
    (root / "net.yaml").write_text(SMALL_NET)
    return root, fbank, fold_dirs


def test_fold_frames_are_normalised_on_the_training_speakers_only(ser_fold_setup):
    from asrser.nnet.data import FrameData

    root, fbank, fold_dirs = ser_fold_setup
    assert len(fold_dirs) == 8 and (root / "folds" / "num_folds").read_text() == "8\n"
    fold = json.loads((fold_dirs[0] / "fold.json").read_text())
    roles = {role: FrameData(fold_dirs[0] / f"frames_{role}", 0) for role in ("train", "valid", "test")}
    speakers = dict(line.split() for line in (fbank / "utt2spk").read_text().splitlines())
    assert {speakers[u] for u in roles["test"].utts} == {fold["test"]}
    assert {speakers[u] for u in roles["valid"].utts} == set(fold["validation"])
    assert {speakers[u] for u in roles["train"].utts} == set(fold["train"])
    train = np.asarray(roles["train"].feats)
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-3)
    assert abs(np.asarray(roles["test"].feats).mean()) > 1e-3          # not normalised on itself


def test_cross_corpus_fold_frames_test_every_session_of_the_other_corpus(ser_fold_setup, tiny_iemocap_data,
                                                                          tmp_path):
    """The tiny mini-IEMOCAP cut in two "corpora" (sessions 1-3 and 4-5) and combined again with utt2corpus:
    the fold early -> late trains on Ses01-Ses02, validates on Ses03 and tests all of Ses04 and Ses05."""
    from asrser.data import combine_data_dirs, subset_data_dir
    from asrser.nnet.data import FrameData
    from asrser.ser.convnet import prepare_fold_frames

    root, fbank, _ = ser_fold_setup
    speakers = sorted(set((tiny_iemocap_data / "utt2spk").read_text().split()[1::2]))
    early = subset_data_dir(tiny_iemocap_data, tmp_path / "early", speakers=[s for s in speakers if s < "Ses04"])
    late = subset_data_dir(tiny_iemocap_data, tmp_path / "late", speakers=[s for s in speakers if s >= "Ses04"])
    both = combine_data_dirs(tmp_path / "both", [early.path, late.path], ["early", "late"]).path
    write_folds(both, tmp_path / "folds", "corpus", (), CLASS_MAP)
    fold_dirs = prepare_fold_frames(fbank, root / "targets", tmp_path / "folds" / "folds.json", tmp_path / "folds")
    assert len(fold_dirs) == 2
    fold = json.loads((fold_dirs[0] / "fold.json").read_text())
    assert fold["test"] == "early->late" and fold["test_groups"] == ["late:Ses04", "late:Ses05"]
    speaker = dict(line.split() for line in (fbank / "utt2spk").read_text().splitlines())
    sessions = {role: {speaker[u][:5] for u in FrameData(fold_dirs[0] / f"frames_{role}", 0).utts}
                for role in ("train", "valid", "test")}
    assert sessions == {"train": {"Ses01", "Ses02"}, "valid": {"Ses03"}, "test": {"Ses04", "Ses05"}}
    tested = FrameData(fold_dirs[1] / "frames_test", 0).utts
    assert set(tested) == set(early.utts) & set((root / "targets" / "targets.scp").read_text().split()[::2])


def test_short_end_to_end_fold(ser_fold_setup, tiny_iemocap_data, tmp_path):
    from asrser.nnet.model import NetConfig
    from asrser.ser.convnet import score_folds, train_fold

    root, _, fold_dirs = ser_fold_setup
    config = NetConfig.from_yaml(root / "net.yaml")
    system = tmp_path / "convnet"
    predictions = train_fold(tiny_iemocap_data, fold_dirs[0], system / "fold1", config, device="cpu",
                             progress=False)
    first = predictions.read_text()
    assert train_fold(tiny_iemocap_data, fold_dirs[0], system / "fold1", config, device="cpu",
                      progress=False).read_text() == first                        # done: nothing redone
    result = score_folds(root / "folds", system)
    rows = read_predictions(system / "predictions.tsv", FOUR)
    test = [r for r in rows if r["role"] == "test"]
    assert {r["speaker"] for r in test} == {"Ses01F"} and len(test) == result["test"]["utterances"]
    right = sum(r["label"] == r["predicted"] for r in test)
    assert result["test"]["wa"] == pytest.approx(right / len(test))
    labels = {r["label"] for r in test}
    recall = [np.mean([r["predicted"] == c for r in test if r["label"] == c]) for c in labels]
    assert result["test"]["ua"] == pytest.approx(np.mean(recall))
    saved = json.loads((system / "results.json").read_text())
    assert saved["test"]["ue"] == pytest.approx(1 - saved["test"]["ua"]) and saved["epochs"] == [2]
    assert (system / "confusion.png").exists() and (system / "fold1" / "training.png").exists()


def test_config_base_and_frames_per_epoch(tmp_path):
    from asrser.nnet.model import NetConfig

    ser = NetConfig.from_yaml(REPO / "conf/convnet_ser.yaml")
    asr = NetConfig.from_yaml(REPO / "conf/convnet.yaml")
    assert ser.layers == asr.layers and ser.context == 15
    assert ser.training.epoch_frames > 0 and asr.training.epoch_frames == 0
    assert ser.training.learning_rate == asr.training.learning_rate
