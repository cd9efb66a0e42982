"""The CTA-RNN recipe (egs/cta_rnn/s5) without its encoder: its options, and the protocol wiring of the ConvNet
and eGeMAPS + SVM on two corpora cut from the tiny mini-IEMOCAP (sessions 1-3 as IEMOCAP, 4-5 relabelled with
MSP-IMPROV's codes as MSP-IMPROV): the combined data dir, every protocol's folds, the systems per protocol, the
IEMOCAP recipe's speaker-fold systems taken over when their folds are the same, and the table."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import REPO, TINY_SER_NET

RECIPE = REPO / "egs" / "cta_rnn" / "s5"
MSP_CODES = {"ang": "A", "hap": "H", "exc": "H", "sad": "S", "neu": "N"}


def run(here: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["./run.sh", *args], cwd=here, capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["--protocols", "iemocap_session loso"], "--protocols: unknown protocol 'loso'"),
    (["--encoder", "wavlm"], "--encoder must be ctc:MODEL or hf:DIR, got 'wavlm'"),
    (["--msp-improv", "/nonexistent/msp"], "--msp-improv /nonexistent/msp: no such directory"),
    (["--stage", "1", "--msp-improv-data", "/nonexistent/msp"],
     "--msp-improv-data /nonexistent/msp: no utt2emo (not a prepared MSP-IMPROV data dir)"),
])
def test_misuse_is_one_line(tmp_path, args, message):
    here = _recipe_dir(tmp_path)
    done = run(here, *args)
    assert done.returncode != 0 and message in done.stderr and "Traceback" not in done.stderr


def test_help_lists_the_stages():
    done = subprocess.run([str(RECIPE / "run.sh"), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--encoder ctc:MODEL|hf:DIR" in done.stdout
    assert "4  CTA-RNN and its ablations" in done.stdout and "7  RESULTS.md" in done.stdout


def _recipe_dir(tmp_path: Path) -> Path:
    here = tmp_path / "cta_rnn" / "s5"
    here.mkdir(parents=True)
    for name in ("run.sh", "conf", "local"):
        (here / name).symlink_to(RECIPE / name)
    for name in ("path.sh", "cmd.sh"):
        (here / name).write_text(f". {RECIPE / name}\n")
    return here


def _corpora(iemocap_data: Path, root: Path) -> tuple[Path, Path, Path]:
    """data dirs: IEMOCAP = sessions 1-3, "MSP-IMPROV" = sessions 4-5 with A H S N codes; and its class map."""
    from asrser.data import subset_data_dir
    from asrser.fileio import read_key_value, write_key_value

    speakers = sorted(set(read_key_value(iemocap_data / "utt2spk").values()))
    iemocap = subset_data_dir(iemocap_data, root / "iemocap", speakers=[s for s in speakers if s < "Ses04"]).path
    msp = subset_data_dir(iemocap_data, root / "msp", speakers=[s for s in speakers if s >= "Ses04"]).path
    write_key_value(msp / "utt2emo", {u: MSP_CODES.get(e, "O") for u, e in read_key_value(msp / "utt2emo").items()})
    class_map = root / "msp.map"
    class_map.write_text("A ang\nH hap\nS sad\nN neu\nO -\nX -\n")
    return iemocap, msp, class_map


@pytest.mark.slow
def test_protocol_wiring_of_the_convnet_and_egemaps(tiny_iemocap_data, tmp_path):
    here = _recipe_dir(tmp_path)
    (here / "tiny.yaml").write_text(TINY_SER_NET)
    iemocap, msp, msp_map = _corpora(tiny_iemocap_data, tmp_path / "corpora")
    common = ["--iemocap-data", str(iemocap), "--msp-improv-data", str(msp), "--msp-class-map", str(msp_map),
              "--protocols", "iemocap_speaker cross", "--iemocap-validation", "Ses03F Ses03M",
              "--nnet-config", "tiny.yaml", "--device", "cpu"]
    for stages in (["--stage", "1", "--stop-stage", "2"], ["--stage", "5", "--stop-stage", "5"],
                   ["--stage", "7", "--stop-stage", "7"]):
        done = run(here, *stages, *common)
        assert done.returncode == 0, f"run.sh {stages} failed:\n{done.stderr[-4000:]}"

    corpus = dict(line.split() for line in (here / "data/iemocap_msp/utt2corpus").read_text().splitlines())
    assert set(corpus.values()) == {"iemocap", "msp_improv"} and len(corpus) == len(
        (iemocap / "utt2spk").read_text().splitlines()) + len((msp / "utt2spk").read_text().splitlines())
    folds = {p: json.loads((here / "exp/folds" / p / "folds.json").read_text())["folds"]
             for p in ("iemocap_speaker", "cross")}
    assert [f["test"] for f in folds["iemocap_speaker"]] == ["Ses01F", "Ses01M", "Ses02F", "Ses02M"]
    assert folds["cross"][0] == {"test": "iemocap->msp_improv", "train": ["iemocap:Ses01", "iemocap:Ses02"],
                                 "validation": ["iemocap:Ses03"],
                                 "test_groups": ["msp_improv:Ses04", "msp_improv:Ses05"]}
    cross = json.loads((here / "exp/cross/convnet/results.json").read_text())
    assert [f["speaker"] for f in cross["folds"]] == ["iemocap->msp_improv", "msp_improv->iemocap"]
    table = json.loads((here / "exp/cross_table.json").read_text())
    for system in ("convnet", "egemaps_svm"):
        cells = table["cells"][system]
        assert all(cells[c] is not None for c in ("iemocap_speaker", "iemocap_to_msp", "msp_to_iemocap"))
        assert cells["msp_session"] is None and cells["iemocap_session"] is None
    assert cells["iemocap_to_msp"]["utterances"] == cross["folds"][0]["test"]["utterances"]
    assert all(v is None for v in table["cells"]["cta"].values())
    results = (here / "RESULTS.md").read_text()
    assert "| Fayek ConvNet (frame-level) |" in results and "### cross: WA / UA % per fold" in results
    assert "`exp/cross/RESULTS.md`" in results and (here / "exp/cross/RESULTS.md").exists()

    # the IEMOCAP recipe's speaker-fold systems on the same folds are taken over, not trained again
    theirs = tmp_path / "iemocap_exp"
    shutil.copytree(here / "exp/folds/iemocap_speaker", theirs / "ser_folds")
    for system in ("convnet", "egemaps_svm"):
        shutil.copytree(here / "exp/iemocap_speaker" / system, theirs / system)
        shutil.rmtree(here / "exp/iemocap_speaker" / system)
    done = run(here, "--stage", "5", "--stop-stage", "5", *common[:-4], "--protocols", "iemocap_speaker",
               "--speaker-baselines", str(theirs))
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"iemocap_speaker: the ConvNet and eGeMAPS + SVM of {theirs} (the same folds)" in done.stderr
    assert not (here / "exp/iemocap_speaker/convnet/fold1").exists()
    assert (here / "exp/iemocap_speaker/convnet/predictions.tsv").read_bytes() == \
        (theirs / "convnet/predictions.tsv").read_bytes()
