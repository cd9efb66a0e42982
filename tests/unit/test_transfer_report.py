"""Transfer report: tables beside the paper's, JSON, figure."""

import json

import pytest

from asrser.errors import AsrserError
from asrser.transfer.report import PAPER, transfer_tables_markdown, write_transfer_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


RESULTS = {
    "ser_to_asr": {
        "baseline": {"fer_dev": 25.1, "fer_test": 26.0, "per_dev": 21.5, "per_test": 22.25},
        "5": {"fer_dev": 60.0, "fer_test": 61.0, "per_dev": 55.0, "per_test": 56.0},
        "3": {"fer_dev": 35.0, "fer_test": 36.0, "per_dev": 30.0, "per_test": 31.0},
        "0": {"fer_dev": 25.3, "fer_test": 26.2, "per_dev": 21.7, "per_test": 22.4},
    },
    "asr_to_ser": {
        "baseline": {"e_dev": 40.0, "e_test": 41.0, "ue_dev": 42.0, "ue_test": 43.0},
        "2": {"e_dev": 45.5, "e_test": 46.5, "ue_dev": 47.5},
    },
}


def test_transfer_tables_and_report(tmp_path):
    text = transfer_tables_markdown(RESULTS, "embedded mini-TIMIT / mini-IEMOCAP")
    lines = text.splitlines()
    assert "mini-TIMIT / mini-IEMOCAP" in text and "only the trend" in text
    assert ("| No. constant layers (l) | FER dev (ours) | FER dev (paper) | FER test (ours) | FER test (paper) | "
            "PER dev (ours) | PER dev (paper) | PER test (ours) | PER test (paper) |") in lines
    assert "| Baseline | 25.10 | 30.53 | 26.00 | 31.61 | 21.50 | 18.71 | 22.25 | 20.18 |" in lines
    assert "| 4 | – | 53.26 | – | 53.92 | – | 42.96 | – | 44.13 |" in lines
    assert "| Baseline | 40.00 | 44.63 | 41.00 | 46.44 | 42.00 | 46.34 | 43.00 | 48.96 |" in lines
    assert "| 2 | 45.50 | 47.39 | 46.50 | 48.50 | 47.50 | 47.72 | – | 49.82 |" in lines
    assert "| 5 | – | 52.55 | – | 59.20 | – | 62.50 | – | 64.03 |" in lines
    assert "only the trend" not in transfer_tables_markdown({})
    with pytest.raises(AsrserError, match="unknown row 'six'"):
        transfer_tables_markdown({"ser_to_asr": {"six": {}}})

    out = tmp_path / "report"
    write_transfer_report(RESULTS, out / "TRANSFER.md", out / "transfer.json", out / "fig" / "transfer.png",
                          corpus_note="mini corpora")
    assert (out / "fig" / "transfer.png").read_bytes()[:8] == PNG_SIGNATURE
    doc = json.loads((out / "transfer.json").read_text())
    assert doc["ours"] == RESULTS and doc["paper"] == PAPER and doc["corpus_note"] == "mini corpora"
    md = (out / "TRANSFER.md").read_text()
    assert "| 3 | 35.00 | 40.29 |" in md and "(fig/transfer.png)" in md
    assert sorted(p.name for p in out.rglob("*")) == ["TRANSFER.md", "fig", "transfer.json", "transfer.png"]
