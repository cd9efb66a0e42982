"""The generic SER recipe (egs/ser_template/s5) on a corpus that is not IEMOCAP's layout: a data dir built from
the tiny mini-IEMOCAP with 3 classes and 5 speakers, no validation pair (rotation), a tiny net; every stage,
then the folds, classes and tables checked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import REPO, TINY_SER_NET

SPEAKERS = ("Ses01F", "Ses01M", "Ses02F", "Ses02M", "Ses03F")
CODES = ("ang", "neu", "sad")


def three_class_data(iemocap_data: Path, out: Path) -> Path:
    """ang, neu and sad utterances of 5 speakers, at most 2 of each per speaker: a data dir of a corpus of one's
    own."""
    from asrser.data import write_spk2utt
    from asrser.fileio import read_key_value, write_key_value

    emo, spk = read_key_value(iemocap_data / "utt2emo"), read_key_value(iemocap_data / "utt2spk")
    wav = read_key_value(iemocap_data / "wav.scp")
    keep = []
    for s in SPEAKERS:
        for code in CODES:
            keep += [u for u in spk if spk[u] == s and emo[u] == code][:2]
    out.mkdir(parents=True)
    for name, table in (("wav.scp", wav), ("utt2spk", spk), ("utt2emo", emo)):
        write_key_value(out / name, {u: table[u] for u in keep})
    write_spk2utt(out)
    return out


def test_generic_ser_recipe_with_rotating_validation(tiny_iemocap_data, tmp_path):
    data = three_class_data(tiny_iemocap_data, tmp_path / "corpus" / "mine")
    source = REPO / "egs" / "ser_template" / "s5"
    here = tmp_path / "ser" / "s5"
    here.mkdir(parents=True)
    for name in ("run.sh", "conf", "local"):
        (here / name).symlink_to(source / name)
    for name in ("path.sh", "cmd.sh"):
        (here / name).write_text(f". {source / name}\n")
    (here / "tiny.yaml").write_text(TINY_SER_NET)
    done = subprocess.run(["./run.sh", "--data", str(data), "--nnet-config", "tiny.yaml", "--device", "cpu",
                           "--title", "three classes"], cwd=here, capture_output=True, text=True)
    assert done.returncode == 0, f"run.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    assert (here / "exp/ser_folds/classes.txt").read_text() == "ang\nneu\nsad\n"
    folds = json.loads((here / "exp/ser_folds/folds.json").read_text())["folds"]
    assert [f["test"] for f in folds] == list(SPEAKERS)                        # every speaker tested once
    assert [f["validation"] for f in folds] == [[s] for s in SPEAKERS[1:] + SPEAKERS[:1]]
    assert (here / "exp/ser_targets/num_classes").read_text() == "4\n"
    utterances = len((data / "utt2emo").read_text().splitlines())
    for system in ("convnet", "egemaps_svm"):
        result = json.loads((here / "exp" / system / "results.json").read_text())
        assert result["classes"] == list(CODES) and len(result["test"]["confusion"]) == 3
        assert [f["speaker"] for f in result["folds"]] == list(SPEAKERS)
        assert result["test"]["utterances"] == utterances and all(len(row) == 3 for row in result["test"]["confusion"])
    results = (here / "RESULTS.md").read_text()
    assert results.startswith("# three classes\n\nSpeech emotion recognition, 3 classes, leave one speaker out: "
                              "each fold trains on 3 speakers, stops early on the next speaker")
    assert "| convnet |" in results and "| egemaps_svm |" in results and "| | ang | neu | sad |" in results
