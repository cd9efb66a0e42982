"""The CTC recogniser on the tiny mini-TIMIT through the recipe's programs: ctc_train.py, then ctc_decode.py
greedily and with the phone bigram, scored by sclite on 39 phones as every TIMIT system is."""

import shutil
import sys
from pathlib import Path

import pytest

from helpers import REPO, TIMIT_PHONE_MAP, run_step

pytestmark = pytest.mark.slow


def fbank_phone_data(tiny_timit_data: Path, root: Path) -> Path:
    """<root>/data: the tiny corpus's train/dev/test with fbank (conf/fbank.conf), the 48-phone lang and
    lang_test_bg with the recipe's bigram."""
    from asrser.corpora.timit import PHONES48
    from asrser.features import FeatureConfig, make_features
    from asrser.lang import Lang, prepare_phone_lang
    from asrser.lm import make_lang_test, train_phone_lm

    cmd = f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"
    data = root / "data"
    shutil.copytree(tiny_timit_data, data)
    config = FeatureConfig.from_file("fbank", REPO / "conf" / "fbank.conf")
    for split in ("train", "dev", "test"):
        make_features(data / split, root / "log", root / "fbank", config, REPO / "conf" / "fbank.conf", 2, cmd)
    prepare_phone_lang(data / "lang", ["sil"] + [p for p in PHONES48 if p != "sil"], ["sil"])
    train_phone_lm(data / "train" / "text", Lang.load(data / "lang"), root / "lm.arpa")
    make_lang_test(data / "lang", root / "lm.arpa", data / "lang_test_bg")
    return data


def test_tiny_timit_ctc_is_trained_decoded_and_scored(tiny_timit_data, tmp_path):
    data = fbank_phone_data(tiny_timit_data, tmp_path)
    config = tmp_path / "ctc.yaml"
    config.write_text(f"base: {REPO / 'conf/fast/ctc.yaml'}\nnum_blocks: 2\nwidth: 96\n"
                      "training: {max_epochs: 3, min_epochs: 3, batch_frames: 6000}\n")
    exp = tmp_path / "exp"
    run_step("ctc_train.py", "--config", config, "--device", "cpu", data / "train", data / "dev", data / "lang",
             exp / "ctc")
    history = (exp / "ctc" / "history.json").read_text()
    assert history.count('"epoch"') == 3
    scoring = ["--phone-map", TIMIT_PHONE_MAP, "--phone-map-columns", "2,3"]
    for system, extra in (("ctc_greedy", []), ("ctc", ["--lang-test", data / "lang_test_bg"])):
        decode = exp / system / "decode_dev"
        run_step("ctc_decode.py", *scoring, *extra, "--lattice-beam", "2", "--lm-weights", "0.5 1",
                 exp / "ctc" / "final.pt", data / "dev", data / "dev" / "text", decode)
        line = (decode / "scoring" / "best_per").read_text()
        assert line.startswith("%WER "), line
        assert 0.0 < float(line.split()[1]) <= 100.0
        assert (decode / "score_" f"{'0' if system == 'ctc_greedy' else '0.5'}" / "ctm_39phn.sys").exists()
    assert (exp / "ctc" / "graph_bg" / "TG.fst").exists()
