"""Transfer report (tables beside the paper's, JSON, figure) and layer analysis (linear CKA, kernels)."""

import json

import numpy as np
import pytest
import torch

from asrser.errors import AsrserError
from asrser.nnet.model import LayeredNet, NetConfig
from asrser.transfer import analysis
from asrser.transfer.analysis import (cka_matrix, cka_table_markdown, layer_activations, linear_cka, plot_cka,
                                      plot_first_layer_filters)
from asrser.transfer.report import PAPER, transfer_tables_markdown, write_transfer_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_net(tmp_path, seed=0, channels=(4, 8), kernel=(5, 4), classes=5) -> LayeredNet:
    conf = tmp_path / f"net{seed}.yaml"
    conf.write_text(
        "input: {context: 15, dim: 40}\n"
        "layers:\n"
        f"  - {{type: conv, channels: {channels[0]}, kernel: [{kernel[0]}, {kernel[1]}], pool: [2, 2]}}\n"
        f"  - {{type: conv, channels: {channels[1]}, kernel: [3, 3], pool: [2, 2]}}\n"
        "  - {type: fc, units: 16, dropout: 0.5}\n"
        "  - {type: fc, units: 16, dropout: 0.5}\n"
        "  - {type: fc, units: 16, dropout: 0.5}\n"
        "  - {type: output}\n")
    net = LayeredNet(NetConfig.from_yaml(conf), classes)
    net.reset_parameters(seed)
    return net


def windows(n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 31, 40)).astype(np.float32)


def kernel_cka(x, y):
    """Reference: the Gram-matrix form tr(KHLH) / sqrt(tr(KHKH) tr(LHLH)) with K = XX^T, L = YY^T."""
    h = np.eye(len(x)) - 1.0 / len(x)
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    return np.sum(k * l_) / np.sqrt(np.sum(k * k) * np.sum(l_ * l_))


def test_linear_cka_matches_the_gram_form_with_and_without_blocks(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 100)) + 3.0                 # more features than examples, and a mean to remove
    y = np.tanh(x[:, :7] @ rng.normal(size=(7, 7))) + 0.3 * rng.normal(size=(60, 7))
    expected = kernel_cka(x, y)
    assert 0.1 < expected < 0.9
    assert linear_cka(x, y) == pytest.approx(expected, abs=1e-10)
    monkeypatch.setattr(analysis, "_BLOCK_ENTRIES", 60 * 7)    # 7-column blocks, the last one short
    assert linear_cka(x.astype(np.float32), y) == pytest.approx(kernel_cka(x.astype(np.float32), y), abs=1e-7)


def test_linear_cka_properties():
    rng = np.random.default_rng(2)
    x = np.maximum(rng.normal(size=(500, 30)), 0).astype(np.float32)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-6)
    y = x[:, :20] @ rng.normal(size=(20, 25)) + rng.normal(size=(500, 25))
    q, _ = np.linalg.qr(rng.normal(size=(25, 25)))
    assert linear_cka(x, 3.7 * y @ q) == pytest.approx(linear_cka(x, y), abs=1e-10)
    assert linear_cka(x, y) > 0.5
    a, b = rng.normal(size=(2000, 40)), rng.normal(size=(2000, 60))
    assert linear_cka(a, b) < 0.2
    with pytest.raises(AsrserError, match="same examples"):
        linear_cka(a, b[:1999])


def test_layer_activations_shapes_batches_and_eval_mode(tmp_path):
    net = tiny_net(tmp_path)
    net.train()
    x = windows(50)
    acts = layer_activations(net, x, batch_size=16)
    assert [a.shape for a in acts] == [(50, 4 * 13 * 18), (50, 8 * 5 * 8), (50, 16), (50, 16), (50, 16), (50, 5)]
    assert all(a.dtype == np.float32 for a in acts)
    assert net.training                                     # mode restored
    with torch.no_grad():
        logits = net.eval()(torch.from_numpy(x).unsqueeze(1)).numpy()
        first = net.layers[0](torch.from_numpy(x).unsqueeze(1)).flatten(1).numpy()
    np.testing.assert_allclose(acts[-1], logits, rtol=1e-5, atol=1e-5)     # no dropout, running BatchNorm stats
    np.testing.assert_allclose(acts[0], first, rtol=1e-5, atol=1e-6)
    with pytest.raises(AsrserError, match="expected shape"):
        layer_activations(net, x[:, :30])


def test_cka_matrix_of_a_net_with_itself_and_another(tmp_path):
    net, other = tiny_net(tmp_path, 0), tiny_net(tmp_path, 1)
    x = windows(200)
    same = cka_matrix(net, net, x)
    assert same.shape == (6, 6)
    np.testing.assert_allclose(np.diag(same), 1.0, atol=1e-6)
    np.testing.assert_allclose(same, same.T, atol=1e-9)
    acts = layer_activations(net, x)
    assert same[0, 3] == pytest.approx(linear_cka(acts[0], acts[3]), abs=1e-9)
    cross = cka_matrix(net, other, x)
    assert cross.shape == (6, 6) and np.all((cross >= 0) & (cross <= 1 + 1e-9))
    table = cka_table_markdown(cross, names=("ASR", "SER"))
    assert table.splitlines()[0] == "| ASR layer \\ SER layer | 1 | 2 | 3 | 4 | 5 | 6 |"
    assert table.splitlines()[2].startswith(f"| 1 | {cross[0, 0]:.3f} | ")
    plot_cka(cross, tmp_path / "cka.png", "ASR net", "SER net", "Linear CKA")
    assert (tmp_path / "cka.png").read_bytes()[:8] == PNG_SIGNATURE


def test_first_layer_filters_figure(tmp_path):
    plot_first_layer_filters(tiny_net(tmp_path, 0), tiny_net(tmp_path, 1, channels=(6, 8), kernel=(3, 2)),
                             tmp_path / "figs" / "filters.png")
    assert (tmp_path / "figs" / "filters.png").read_bytes()[:8] == PNG_SIGNATURE
    mosaic, count, size = analysis._kernel_mosaic(tiny_net(tmp_path, 2, channels=(6, 8), kernel=(3, 2)))
    assert (count, size, mosaic.shape) == (6, (3, 2), (2 * 3 - 1, 3 * 4 - 1))   # 3x2 grid of 2 mel x 3 frames
    assert np.nanmax(np.abs(mosaic)) == pytest.approx(1.0)


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
