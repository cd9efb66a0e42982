"""REPORT.md from a small fake set of finished recipe outputs: our numbers beside the paper's, rows not run
yet shown as such, images linked, deviations listed by preset."""

from __future__ import annotations

import json
from pathlib import Path

from asrser.report import write_report
from helpers import score_deletions


def _scored(decode_dir: Path, deletions_by_weight: dict[float, int], fer: float | None = None) -> None:
    score_deletions(decode_dir, deletions_by_weight)        # PER = deletions %
    if fer is not None:
        (decode_dir / "fer").write_text(f"%FER {fer:.2f} [ 85 / 400 frames ] 1 utterances with targets, 0 without\n")


def _ser_result(path: Path, e: float, ue: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"valid": {"e": e, "ue": ue}, "test": {"e": e + 0.01, "ue": ue + 0.01}}))


def test_report_from_fake_results(tmp_path):
    timit, iemocap, transfer = tmp_path / "timit", tmp_path / "iemocap", tmp_path / "transfer"
    for k, system in enumerate(("mono", "tri1", "tri2", "convnet")):
        fer = 21.25 if system == "convnet" else None
        # dev is best at weight 1; test is best at weight 2, but is reported at dev's weight
        _scored(timit / "exp" / system / "decode_dev", {1: 10 - k, 2: 12}, fer)
        _scored(timit / "exp" / system / "decode_test", {1: 11 - k, 2: 5}, fer)
    _ser_result(iemocap / "exp/convnet/results.json", 0.4, 0.45)
    _ser_result(iemocap / "exp/egemaps_svm/results.json", 0.42, 0.43)
    transfer.mkdir()
    asr_row = {"fer_dev": 21.25, "fer_test": 22.0, "per_dev": 7.0, "per_test": 8.0}
    (transfer / "results.json").write_text(json.dumps({
        "ser_to_asr": {"baseline": asr_row, "0": asr_row, "3": {**asr_row, "per_dev": 9.5}},
        "asr_to_ser": {"baseline": {"e_dev": 40.0, "e_test": 41.0, "ue_dev": 45.0, "ue_test": 46.0}}}))
    (transfer / "cka.json").write_text(json.dumps({"frames": 100, "cka": [[1.0, 0.5], [0.5, 0.25]]}))
    out = tmp_path / "REPORT.md"
    write_report(timit, iemocap, transfer, out, "fast", embedded=True)
    text = out.read_text()
    assert "| ConvNet-HMM hybrid | 7.00 | 8.00 | 21.25 | 21.25 |" in text
    assert "| monophone GMM-HMM | 10.00 | 11.00 |" in text
    assert "| ConvNet, frame level, 5 classes | 40.0 | 41.0 | 45.0 | 46.0 |" in text
    assert "18.71" in text and "44.63" in text and "30.53" in text        # the paper's numbers beside ours
    assert "9.50" in text or "9.5" in text                                 # a transfer row we ran
    assert "–" in text                                                      # rows not run yet
    assert "(fast preset)" in text and "mini-TIMIT" in text
    assert (transfer / "transfer.png").exists() and "](transfer/transfer.png)" in text
    write_report(timit, iemocap, transfer, out, "paper", embedded=False)
    assert "(fast preset)" not in out.read_text() and "license-free" not in out.read_text()


def test_timit_results_add_the_papers_row_and_boundaries_to_the_generic_table(tmp_path):
    """The TIMIT recipe's RESULTS.md (local/timit_results.py) is the generic PER table with the hybrid systems
    beside the paper's baseline row and the alignments' boundary accuracy; the generic collect_results.py
    carries no paper figure."""
    from asrser.report import write_timit_results
    from helpers import run_step

    exp = tmp_path / "exp"
    for name, deletions in (("dev", 9), ("test", 11)):
        _scored(exp / "convnet" / f"decode_{name}", {1: deletions}, fer=21.25)
        (exp / "convnet" / f"decode_{name}" / "counts.1.json").write_text(json.dumps(
            {"frames": 400, "seconds": 1.0, "fer_frames": 400, "fer_errors": 85}))
    (exp / "tri2_ali_test").mkdir()
    (exp / "tri2_ali_test" / "boundary_accuracy.json").write_text(json.dumps(
        {"utterances": 3, "boundaries": 90, "within_10ms": 50.0, "within_20ms": 80.0, "within_40ms": 95.0}))
    write_timit_results(exp, tmp_path / "RESULTS.md", "TIMIT")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| convnet (this corpus) | 21.25% | 21.25% | 9.00% | 11.00% |" in text
    assert "| ConvNet, Fayek et al. 2016 (real TIMIT) | 30.53% | 31.61% | 18.71% | 20.18% |" in text
    assert "| tri2_ali_test | 3 | 90 | 50.0% | 80.0% | 95.0% | - | - | - |" in text
    assert text.index("Fayek") < text.index("| tri2_ali_test") < text.index("![PER by system](RESULTS.png)")
    run_step("collect_results.py", exp, tmp_path / "GENERIC.md")
    generic = (tmp_path / "GENERIC.md").read_text()
    assert "Fayek" not in generic and "| tri2_ali_test | 3 | 90 |" in generic


def test_the_cta_rnn_section_has_the_recipes_table_figures_and_every_design_choice(tmp_path):
    from asrser.report import cta_design_choices
    from asrser.ser import cta_rnn

    timit, iemocap, transfer, cta = (tmp_path / name for name in ("timit", "iemocap", "transfer", "cta"))
    for d in (timit, iemocap, transfer):
        d.mkdir()
    (cta / "exp/cross/cta").mkdir(parents=True)
    (cta / "exp/cross_table.md").write_text("| system | IEMOCAP WA % |\n|---|---:|\n| CTA-RNN | 61.0 |\n")
    (cta / "exp/cross/cta/layer_weights.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    _scored(timit / "exp/ctc/decode_dev", {1: 3, 2: 6})
    _scored(timit / "exp/ctc/decode_test", {1: 4, 2: 2})
    out = tmp_path / "REPORT.md"
    write_report(timit, iemocap, transfer, out, "fast", embedded=True, cta_recipe=cta)
    text = out.read_text()
    assert "| CTA-RNN | 61.0 |" in text and "](cta/exp/cross/cta/layer_weights.png)" in text
    assert "| CTC Conformer, end to end, with the phone bigram | 3.00 | 4.00 |" in text
    choices = cta_design_choices()
    numbered = [line for line in cta_rnn.__doc__.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert len(choices) == len(numbered) >= 10
    assert all(f"- Model: {c}" in text for c in choices)
    write_report(timit, iemocap, transfer, out, "fast", embedded=True)
    assert "CTA-RNN" not in out.read_text()


def test_the_facenet_section_has_the_recipes_table_images_and_every_design_choice(tmp_path):
    from asrser.facenet import images, train
    from asrser.report import FACENET_RECIPE_CHOICES, facenet_design_choices

    timit, iemocap, transfer, facenet = (tmp_path / name for name in ("timit", "iemocap", "transfer", "facenet"))
    for d in (timit, iemocap, transfer):
        d.mkdir()
    (facenet / "exp/images").mkdir(parents=True)
    (facenet / "exp/facenet_table.md").write_text("| system | CASIA WA % |\n|---|---:|\n| FaceNet | 71.0 |\n")
    (facenet / "exp/images/casia_waveform.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "REPORT.md"
    write_report(timit, iemocap, transfer, out, "fast", embedded=True, facenet_recipe=facenet)
    text = out.read_text()
    assert "## FaceNet SER (Liu et al. 2021)" in text and "| FaceNet | 71.0 |" in text
    assert "](facenet/exp/images/casia_waveform.png)" in text
    choices = facenet_design_choices()
    numbered = [line for line in train.__doc__.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    bullets = [line for line in images.__doc__.split("The cache", 1)[0].splitlines() if line.startswith("- ")]
    assert len(choices) == len(numbered) + len(bullets) and len(numbered) >= 10 and len(bullets) >= 4
    assert all(f"- {c}" in text for c in choices + list(FACENET_RECIPE_CHOICES))


def test_timit_results_put_each_system_beside_kaldi_on_real_timit(tmp_path):
    """The regime table: our dev/test PER of mono..tri3 and the hybrid beside Kaldi's egs/timit/s5 figures on real
    TIMIT, and each as a share of the monophone's, ours and Kaldi's; systems not run are left out."""
    from asrser.report import regime_table, write_timit_results

    exp = tmp_path / "exp"
    assert regime_table(exp) == ""
    for system, (dev, test) in {"mono": (20, 25), "tri1": (15, 20), "convnet": (10, 5)}.items():
        _scored(exp / system / "decode_dev", {1: dev})
        _scored(exp / system / "decode_test", {1: test})
    write_timit_results(exp, tmp_path / "RESULTS.md", "TIMIT")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| mono | 20.00 | 25.00 | 31.7 / 32.7 | 1.00 / 1.00 | 1.00 / 1.00 |" in text
    assert "| tri1 | 15.00 | 20.00 | 25.1 / 25.6 | 0.75 / 0.80 | 0.79 / 0.78 |" in text
    assert "| convnet (Kaldi: nnet1 DNN) | 10.00 | 5.00 | 17.5 / 18.5 | 0.50 / 0.20 | 0.55 / 0.57 |" in text
    assert "| tri2 |" not in text and "| tri3 |" not in text


def test_timit_results_give_the_real_test_its_own_table(tmp_path):
    """--real-test: each system's PER on the real set beside dev and test (at the weight chosen on dev), silence
    alone, and the fbank distance, under the real set's title."""
    import numpy as np

    from asrser.features import cmvn_stats, feature_distance
    from asrser.report import write_timit_results
    from asrser.scoring import score_silence_only

    exp = tmp_path / "exp"
    for name, deletions in (("dev", {1: 5, 2: 3}), ("test", {1: 6, 2: 4}), ("asterisk", {1: 60, 2: 70})):
        score_deletions(exp / "mono" / f"decode_{name}", deletions)
    score_deletions(exp / "tri1" / "decode_dev", {1: 2})                 # no real-test decode: no row
    (tmp_path / "text").write_text("spk_u1 sil a b c sil\n")
    score_silence_only(tmp_path / "text", exp / "real_test/asterisk/silence_only")
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 40)).astype(np.float32)
    (exp / "real_test/asterisk/fbank_distance.json").write_text(
        json.dumps(feature_distance(cmvn_stats(train), cmvn_stats(train + 1.0))))
    write_timit_results(exp, tmp_path / "RESULTS.md", "TIMIT")
    text = (tmp_path / "RESULTS.md").read_text()
    table = text.split("## Real read English, Asterisk prompts, 8 kHz")[1]
    assert "| mono | 3.00 | 4.00 | 70.00 |" in table                       # weight 2, chosen on dev
    assert "| tri1 |" not in table
    assert "| silence only | | | 60.00 |" in table                           # a b c deleted of 5 (2 optional sil)
    distance = json.loads((exp / "real_test/asterisk/fbank_distance.json").read_text())["distance"]
    assert f"std_train = {distance:.2f} (largest" in table and 0.9 < distance < 1.1
