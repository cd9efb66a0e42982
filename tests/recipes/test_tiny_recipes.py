"""Integration tests: each corpus recipe run whole on its tiny embedded corpus, as a user runs it
(`egs/<corpus>/s5/run.sh --corpus-size tiny`), then run again to check that every stage counts as done. Opt-in
(`tests/run.sh --recipes`, about 15 minutes on 2 cores): CI's time limit leaves no room for them.

Each runs in a recipe dir of its own (run.sh, conf and local linked from the checkout, path.sh and cmd.sh
sourcing the checkout's, as a user sets up a new recipe), so that a run in the checkout's own egs/ dirs is left
alone."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from helpers import REPO

pytestmark = pytest.mark.recipe


def recipe_dir(tmp_path: Path, corpus: str) -> Path:
    source = REPO / "egs" / corpus / "s5"
    here = tmp_path / corpus / "s5"
    here.mkdir(parents=True)
    for name in ("run.sh", "conf", "local"):
        (here / name).symlink_to(source / name)
    for name in ("path.sh", "cmd.sh"):         # they find the toolkit relative to where they are
        (here / name).write_text(f". {source / name}\n")
    return here


def run(recipe: Path, *args: str) -> str:
    done = subprocess.run(["./run.sh", "--corpus-size", "tiny", *args], cwd=recipe, capture_output=True,
                          text=True, timeout=3600)
    assert done.returncode == 0, f"run.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def best_per(path: Path) -> float:
    line = path.read_text()
    assert line.startswith("%WER "), line
    return float(line.split()[1])


def timed_run(recipe: Path) -> float:
    start = time.monotonic()
    run(recipe)
    return time.monotonic() - start


def test_timit_recipe_runs_whole_and_resumes(tmp_path):
    recipe = recipe_dir(tmp_path, "timit")
    first = timed_run(recipe)
    exp = recipe / "exp"
    for system in ("mono", "tri1", "tri2", "tri3", "convnet"):
        for part in ("dev", "test", *(("dev.si", "test.si") if system == "tri3" else ())):
            decode = exp / system / f"decode_{part}"
            assert sorted(p.name for p in decode.glob("lat.*.gz")), decode
            assert (decode / "num_jobs").exists()
            assert 0.0 < best_per(decode / "scoring" / "best_per") < 60.0
            assert 0.0 < best_per(decode / "scoring" / "best_per_basic") < 60.0
    results = (recipe / "RESULTS.md").read_text()
    assert re.search(r"\| *tri2", results) and "convnet" in results.lower()
    assert re.search(r"\| *tri3 \| test ", results) and re.search(r"\| *tri3 \| test.si ", results)
    assert re.search(r"\| *tri3_ali_test \|", results)                  # tri3's boundary accuracy
    assert (exp / "tri3_ali_train" / "targets" / "num_classes").read_text().strip() == "144"   # the nets' targets

    before = {p: p.read_bytes() for p in [recipe / "RESULTS.md", *exp.glob("*/decode_test/scoring/best_per")]}
    assert timed_run(recipe) < first / 3      # every stage is done: nothing is trained or decoded again
    assert {p: p.read_bytes() for p in before} == before


def test_timit_recipe_narrowband_with_the_real_test(tmp_path):
    """--sample-rate 8000 --real-test asterisk on a handful of prompts: every system decodes the real prompts,
    scored beside silence alone, with the fbank distance, in RESULTS.md's own table."""
    import os

    from asrser.corpora.asterisk import SOUNDS_DIR, TRANSCRIPTS
    if not (Path(SOUNDS_DIR).is_dir() and Path(TRANSCRIPTS).is_file()) and os.geteuid() != 0:
        pytest.skip("the Asterisk prompts' Debian packages are missing and cannot be installed (not root)")
    recipe = recipe_dir(tmp_path, "timit")
    # the fast preset's net, its input normalised per speaker first, and no CTC recogniser (stages 21-22): the
    # real test decodes the other systems
    run(recipe, "--sample-rate", "8000", "--nnet-config", "conf/fast/convnet.yaml",
        "--nnet-cmvn-opts", "--norm-means=true", "--stop-stage", "16")
    run(recipe, "--sample-rate", "8000", "--real-test", "asterisk", "--real-test-prompts", "5", "--stage", "23")
    assert "-r 8000" in (recipe / "data/train/wav.scp").read_text().splitlines()[0]
    assert len((recipe / "data/asterisk/text").read_text().splitlines()) == 5
    exp = recipe / "exp"
    opts = "--norm-means=true --norm-vars=false\n"       # the net's per-speaker CMVN, applied to the real test too
    assert (exp / "convnet/cmvn_opts").read_text() == (exp / "convnet/frames_asterisk/cmvn_opts").read_text() == opts
    for system in ("mono", "tri1", "tri2", "tri3", "convnet"):
        assert 0.0 < best_per(exp / system / "decode_asterisk/scoring/best_per") <= 100.0
    silence = best_per(exp / "real_test/asterisk/silence_only/scoring/best_per")
    assert 0.0 < silence < 100.0
    results = (recipe / "RESULTS.md").read_text()
    table = results.split("## Real read English, Asterisk prompts, 8 kHz")[1]
    assert re.search(r"\| tri3 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", table)
    assert f"| silence only | | | {silence:.2f} |" in table and "std_train = " in table

def test_iemocap_recipe_runs_whole_and_resumes(tmp_path):
    recipe = recipe_dir(tmp_path, "iemocap")
    first = timed_run(recipe)
    results = (recipe / "RESULTS.md").read_text()
    accuracies = [float(x) for x in re.findall(r"UA[^0-9]*([0-9]+\.[0-9]+)", results)]
    assert accuracies and all(0.0 < a <= 100.0 for a in accuracies)
    before = (recipe / "RESULTS.md").read_bytes()
    assert timed_run(recipe) < first / 3
    assert (recipe / "RESULTS.md").read_bytes() == before
