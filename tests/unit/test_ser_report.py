"""SER RESULTS.md tables from results.json files."""

import json

from asrser.ser.report import collect_ser_results


def test_ser_results_table(tmp_path):
    result = {"protocol": "leave-one-speaker-out", "features": "f", "classifier": "c", "utterances": 4,
              "folds": [{"speaker": "Ses01F", "utterances": 2, "ua": 0.5, "wa": 0.5},
                        {"speaker": "Ses01M", "utterances": 2, "ua": 1.0, "wa": 1.0}],
              "overall": {"ua": 0.75, "wa": 0.75, "ua_mean_over_folds": 0.75, "wa_mean_over_folds": 0.75},
              "confusion": {"classes": ["ang", "sad"], "matrix": [[2, 0], [1, 1]]}}
    (tmp_path / "exp" / "svm").mkdir(parents=True)
    (tmp_path / "exp" / "svm" / "results.json").write_text(json.dumps(result))
    rows = collect_ser_results(tmp_path / "exp", tmp_path / "RESULTS.md", "IEMOCAP")
    text = (tmp_path / "RESULTS.md").read_text()
    assert [r["system"] for r in rows] == ["svm"]
    assert "| svm | 4 | 75.0 | 75.0 | 75.0 | f; c |" in text
    assert "| Ses01F | 2 | 50.0 | 50.0 |" in text and "| sad | 1 | 1 |" in text
