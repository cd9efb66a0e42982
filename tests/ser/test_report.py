"""SER RESULTS.md tables from results.json files."""

import json

from asrser.ser.report import collect_ser_results, format_report


def test_ser_results_table(tmp_path):
    def s(wa, ua, n):
        return {"utterances": n, "wa": wa, "ua": ua, "e": 1 - wa, "ue": 1 - ua}

    result = {"system": "SVM", "features": "f", "classifier": "c", "classes": ["ang", "hap", "neu", "sad"],
              "folds": [{"speaker": "Ses01F", "test": s(0.5, 0.5, 2), "valid": s(0.25, 0.3, 4)},
                        {"speaker": "Ses01M", "test": s(1.0, 1.0, 2), "valid": s(0.75, 0.7, 4)}],
              "test": {**s(0.75, 0.625, 4), "ua_mean_over_folds": 0.75,
                       "confusion": [[2, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1]]},
              "valid": {**s(0.5, 0.5, 8), "ua_mean_over_folds": 0.5}}
    (tmp_path / "exp" / "svm").mkdir(parents=True)
    (tmp_path / "exp" / "svm" / "results.json").write_text(json.dumps(result))
    rows = collect_ser_results(tmp_path / "exp", tmp_path / "RESULTS.md", "IEMOCAP")
    text = (tmp_path / "RESULTS.md").read_text()
    assert [r["dir"] for r in rows] == ["svm"]
    assert "| svm | 50.0 | 25.0 | 50.0 | 37.5 | 75.0 | 62.5 | 75.0 | 4 |" in text
    assert "| Ses01F | 2 | 50.0 | 50.0 | 25.0 | 30.0 |" in text and "| hap | 0 | 0 | 0 | 1 |" in text
    report = format_report(result)
    assert "pooled" in report and "hap        0     0     0     1    0.0%" in report
