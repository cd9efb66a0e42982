"""The within/cross-corpus table from hand-made predictions files: pooled and per-fold WA/UA computed by hand,
dashes where a system or protocol has not run, the cross-corpus directions as columns, bad files named."""

import json
from pathlib import Path

import pytest

from asrser.errors import DataError
from asrser.ser.cross_table import COLUMNS, SYSTEMS, cross_table, format_cross_table, write_cross_table
from helpers import run_step, write_ser_predictions



@pytest.fixture
def exp(tmp_path) -> Path:
    exp = tmp_path / "exp"
    # within: Ses01 right 3 of 4 (neu wrong), Ses02 3 of 4 (ang wrong); validation rows all wrong (not counted)
    write_ser_predictions(exp, "iemocap_session", "cta", [
        ("Ses01", "valid", "ang", "sad"), ("Ses01", "test", "ang", "ang"), ("Ses01", "test", "hap", "hap"),
        ("Ses01", "test", "neu", "ang"), ("Ses01", "test", "sad", "sad"), ("Ses02", "valid", "neu", "sad"),
        ("Ses02", "test", "neu", "neu"), ("Ses02", "test", "neu", "neu"), ("Ses02", "test", "ang", "hap"),
        ("Ses02", "test", "hap", "hap")])
    write_ser_predictions(exp, "cross", "convnet", [
        ("iemocap->msp_improv", "test", "ang", "ang"), ("iemocap->msp_improv", "test", "sad", "neu"),
        ("msp_improv->iemocap", "test", "neu", "neu"), ("msp_improv->iemocap", "test", "neu", "neu"),
        ("msp_improv->iemocap", "test", "hap", "neu"), ("msp_improv->iemocap", "valid", "hap", "hap")])
    return exp


def test_cells_are_recomputed_from_the_test_rows(exp):
    table = cross_table(exp)
    cta = table["cells"]["cta"]
    # pooled 6 of 8; recalls ang 1/2, hap 2/2, neu 2/3, sad 1/1
    assert cta["iemocap_session"]["wa"] == pytest.approx(6 / 8)
    assert cta["iemocap_session"]["ua"] == pytest.approx((1 / 2 + 1 + 2 / 3 + 1) / 4)
    assert cta["iemocap_session"]["utterances"] == 8
    assert [cta[c.key] for c in COLUMNS[1:]] == [None] * 4
    convnet = table["cells"]["convnet"]
    assert convnet["iemocap_to_msp"]["wa"] == pytest.approx(1 / 2) and convnet["iemocap_to_msp"]["ua"] == 0.5
    assert convnet["msp_to_iemocap"]["wa"] == pytest.approx(2 / 3) and convnet["msp_to_iemocap"]["ua"] == 0.5
    assert convnet["iemocap_session"] is None
    assert all(v is None for v in table["cells"]["egemaps_svm"].values())
    ses02 = table["folds"]["iemocap_session"]["cta"]["Ses02"]
    assert ses02["wa"] == pytest.approx(3 / 4) and ses02["ua"] == pytest.approx(2 / 3)
    assert list(table["folds"]["cross"]["convnet"]) == ["iemocap->msp_improv", "msp_improv->iemocap"]


def test_markdown_rows_are_the_systems_and_missing_cells_are_dashes(exp):
    text = format_cross_table(cross_table(exp))
    lines = text.splitlines()
    assert lines[0].startswith("| system | IEMOCAP (leave one session out) WA % | UA % | IEMOCAP (Fayek speaker "
                               "folds) WA % | UA % |")
    assert [line.split(" | ")[0][2:] for line in lines[2:2 + len(SYSTEMS)]] == [name for _, name in SYSTEMS]
    assert "| CTA-RNN (channel + temporal attention) | 75.0 | 79.2 | – | – | – | – | – | – | – | – |" in lines
    assert "| Fayek ConvNet (frame-level) | – | – | – | – | – | – | 50.0 | 50.0 | 66.7 | 50.0 |" in lines
    assert "| CTA-RNN (channel + temporal attention) | 75.0 / 75.0 | 75.0 / 66.7 |" in lines
    assert "| Fayek ConvNet (frame-level) | 50.0 / 50.0 | 66.7 / 50.0 |" in lines


def test_the_program_writes_markdown_and_json_and_names_a_bad_file(exp, tmp_path):
    run_step("ser_cross_table.py", exp, tmp_path / "table.md")
    assert (tmp_path / "table.md").read_text() == format_cross_table(cross_table(exp))
    doc = json.loads((tmp_path / "table.json").read_text())
    assert doc["cells"]["cta"]["iemocap_session"]["wa"] == pytest.approx(0.75)
    assert [c["fold"] for c in doc["columns"]][-2:] == ["iemocap->msp_improv", "msp_improv->iemocap"]
    bad = exp / "msp_session" / "last" / "predictions.tsv"
    write_ser_predictions(exp, "msp_session", "last", [("session1", "test", "ang", "fear")])
    with pytest.raises(DataError, match=f"{bad}.*line 2: .*'fear' is not valid"):
        write_cross_table(exp, tmp_path / "table2.md")
    proc = run_step("ser_cross_table.py", exp, tmp_path / "table3.md", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "predictions.tsv" in proc.stderr
