"""The FaceNet cross-training table from hand-made predictions files: rows image kind x pre-training and the
other systems of the same IEMOCAP folds, CASIA (6 classes) and IEMOCAP columns computed by hand, dashes where a
system did not run, the paper's figures as a labelled row."""

from pathlib import Path

import pytest

from asrser.facenet.table import SYSTEMS, write_facenet_table
from helpers import run_step, write_ser_predictions

CLASSES = {"casia": "ang\nfea\nhap\nneu\nsad\nsur\n", "iemocap_session": "ang\nhap\nneu\nsad\n"}


def _predictions(exp: Path, protocol: str, system: str, rows: list[tuple[str, str, str, str]]) -> None:
    write_ser_predictions(exp, protocol, system, rows, CLASSES[protocol])


@pytest.fixture
def exp(tmp_path) -> Path:
    exp = tmp_path / "exp"
    # CASIA: 3 of 4 right (sur taken for fea); recalls fea 0/1, sur 1/1, ang 2/2 -> UA (0 + 1 + 1) / 3
    _predictions(exp, "casia", "waveform_scratch", [
        ("liuchanhg", "test", "fea", "sur"), ("liuchanhg", "test", "sur", "sur"), ("wangzhe", "test", "ang", "ang"),
        ("wangzhe", "test", "ang", "ang"), ("wangzhe", "valid", "ang", "sad")])
    # IEMOCAP pre-trained on CASIA: 1 of 2; the CTA-RNN on the same folds: 2 of 2
    _predictions(exp, "iemocap_session", "waveform_from_casia", [
        ("Ses01", "test", "hap", "hap"), ("Ses02", "test", "sad", "neu")])
    _predictions(exp, "iemocap_session", "cta", [("Ses01", "test", "hap", "hap"), ("Ses02", "test", "sad", "sad")])
    return exp


def test_cells_rows_and_the_papers_figures(exp):
    table = write_facenet_table(exp, exp / "facenet_table.md")
    cells = table["cells"]
    assert cells["waveform_scratch"]["casia"]["wa"] == pytest.approx(3 / 4)
    assert cells["waveform_scratch"]["casia"]["ua"] == pytest.approx(2 / 3)
    assert cells["waveform_scratch"]["iemocap"] is None
    assert cells["waveform_from_casia"]["iemocap"]["ua"] == pytest.approx(1 / 2)
    assert cells["cta"]["iemocap"]["wa"] == 1.0
    assert all(v is None for v in cells["spectrogram_from_iemocap"].values())
    assert [s["key"] for s in table["systems"]][:4] == ["waveform_scratch", "waveform_from_casia",
                                                        "waveform_from_iemocap", "waveform_from_face"]
    md = (exp / "facenet_table.md").read_text()
    assert "| FaceNet, waveform diagram, no pre-training | 75.0 | 66.7 | – | – |" in md
    assert "| Liu et al. 2021 (real CASIA / IEMOCAP; WA or UA not stated) | 90 | 90 | 68.96 | 68.96 |" in md
    assert (exp / "facenet_table.json").exists() and len(SYSTEMS) == 11


def test_the_step_prints_the_table(exp):
    done = run_step("ser_cross_table.py", "--layout", "facenet", str(exp), str(exp / "t.md"))
    assert done.returncode == 0, done.stderr
    assert "pre-trained on CASIA | – | – | 50.0 | 50.0 |" in done.stdout and "Liu et al. 2021" in done.stdout
