"""fMLLR estimation (asrser.gmm.fmllr) on features drawn from a known GMM and moved by a known affine map."""

import numpy as np
import pytest

from asrser.gmm.fmllr import (FmllrOptions, FmllrStats, accumulate_fmllr, apply_transform, compose_transforms,
                              estimate_fmllr, identity_transform, read_speaker_transforms, read_transforms,
                              write_transforms)
from asrser.gmm.model import DiagGmms
from asrser.kaldi_format import read_matrices


def speaker_data(frames: int, seed: int = 0, dim: int = 6, pdfs: int = 5):
    """A diagonal GMM (2 Gaussians per pdf), frames drawn from it with their pdfs, a known affine map [A b],
    and the speaker's features A x + b."""
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(pdfs), 2)
    gmms = DiagGmms(owner, np.full(2 * pdfs, 0.5), rng.normal(0, 3, (2 * pdfs, dim)),
                    rng.uniform(0.3, 1.5, (2 * pdfs, dim)))
    comp = rng.integers(0, 2 * pdfs, frames)
    x = gmms.means[comp] + rng.standard_normal((frames, dim)) * np.sqrt(gmms.variances[comp])
    a = np.eye(dim) + rng.normal(0, 0.25, (dim, dim))
    b = rng.normal(0, 1.0, dim)
    speaker_map = np.concatenate([a, b[:, None]], axis=1)
    return gmms, owner[comp], apply_transform(x, speaker_map), speaker_map


def test_the_estimate_undoes_a_known_affine_map_and_the_objective_rises_every_iteration():
    """As SAT re-estimates: Gaussian posteriors on the features adapted so far, the new estimate composed
    with the old; after two rounds the estimate inverts the speaker's map."""
    gmms, pdfs, y, speaker_map = speaker_data(4000)
    w = identity_transform(gmms.dim)
    for _ in range(2):
        stats = FmllrStats(gmms.dim)
        accumulate_fmllr(stats, gmms, apply_transform(y, w), pdfs, np.ones(len(y)))
        trace: list[float] = []
        update, improvement = estimate_fmllr(stats, FmllrOptions(num_iters=10), "spk1", trace)
        assert improvement > 0
        assert all(after >= before - 1e-9 * abs(before) for before, after in zip(trace, trace[1:]))
        assert trace[1] > trace[0]
        w = compose_transforms(update, w)
    composed = compose_transforms(w, speaker_map)          # the speaker's map, then the estimate
    assert np.abs(composed - identity_transform(gmms.dim)).max() < 0.05


def test_a_speaker_below_the_minimum_count_keeps_the_identity():
    gmms, pdfs, y, _ = speaker_data(15)
    stats = FmllrStats(gmms.dim)
    accumulate_fmllr(stats, gmms, y, pdfs, np.ones(len(y)))
    w, improvement = estimate_fmllr(stats, FmllrOptions(min_count=20))
    assert np.array_equal(w, identity_transform(gmms.dim)) and improvement == 0.0


def test_zero_weighted_frames_add_nothing():
    gmms, pdfs, y, _ = speaker_data(200)
    weights = np.ones(len(y))
    weights[::2] = 0.0
    half, dropped = FmllrStats(gmms.dim), FmllrStats(gmms.dim)
    accumulate_fmllr(half, gmms, y, pdfs, weights)
    accumulate_fmllr(dropped, gmms, y[1::2], pdfs[1::2], np.ones(100))
    assert half.beta == pytest.approx(100.0)
    assert np.allclose(half.g, dropped.g) and np.allclose(half.k, dropped.k)


def test_transform_archives_are_kaldi_matrix_archives_keyed_by_speaker(tmp_path):
    transforms = {"spk2": identity_transform(3), "spk1": np.arange(12.0).reshape(3, 4)}
    write_transforms(tmp_path / "trans.1", transforms)
    write_transforms(tmp_path / "trans.2", {"spk3": identity_transform(3)})
    keys = [k for k, _ in read_matrices(tmp_path / "trans.1")]
    assert keys == ["spk1", "spk2"]                       # sorted, as Kaldi tables are
    assert np.array_equal(read_transforms(tmp_path / "trans.1")["spk1"], transforms["spk1"])
    merged = read_speaker_transforms(tmp_path)
    assert sorted(merged) == ["spk1", "spk2", "spk3"] and merged["spk3"].shape == (3, 4)


def test_the_feature_pipeline_applies_each_speakers_transform_last(tmp_path):
    from asrser.errors import AsrserError
    from asrser.gmm.feats import FeaturePipeline

    exp = tmp_path / "exp"
    exp.mkdir()
    si = FeaturePipeline("delta", delta_order=0)
    si.save(exp)
    assert "fmllr" not in (exp / "feature_pipeline.json").read_text()    # speaker-independent files as before
    sat = FeaturePipeline("delta", delta_order=0, fmllr=True)
    sat.save(exp)
    shift = identity_transform(2)
    shift[:, 2] = [1.0, -2.0]
    write_transforms(tmp_path / "trans.1", {"spkA": shift})
    feats = np.array([[0.5, 0.5], [1.0, 3.0]], dtype=np.float32)
    adapted = FeaturePipeline.load(exp, transform_dir=tmp_path)
    assert np.allclose(adapted.apply(feats, None, "spkA"), feats + [1.0, -2.0])
    assert np.array_equal(FeaturePipeline.load(exp, speaker_independent=True).apply(feats, None, "spkA"), feats)
    with pytest.raises(AsrserError, match=f"{tmp_path}: no fMLLR transform for speaker spkB"):
        adapted.apply(feats, None, "spkB")
    with pytest.raises(AsrserError, match=f"{exp}: no fMLLR transforms"):
        FeaturePipeline.load(exp)


def test_statistics_are_those_of_every_gaussians_posterior_masked_to_the_frames_pdf():
    """The accumulation scores each frame's own pdf's Gaussians only; the statistics equal gmm-est-fmllr's
    formula over all Gaussians with the posteriors of other pdfs' Gaussians zero, weights included."""
    gmms, pdfs, y, _ = speaker_data(500, seed=3)
    weights = np.random.default_rng(1).uniform(0.0, 1.0, len(y))
    weights[::7] = 0.0
    stats = FmllrStats(gmms.dim)
    accumulate_fmllr(stats, gmms, y, pdfs, weights)
    comp = np.where(gmms.owner[None, :] == pdfs[:, None], gmms.component_loglik(y).astype(np.float64), -np.inf)
    post = np.exp(comp - comp.max(1, keepdims=True))
    post *= (weights / post.sum(1))[:, None]
    xplus = np.concatenate([y, np.ones((len(y), 1))], axis=1)
    inv_var = 1.0 / gmms.variances
    assert stats.beta == pytest.approx(weights.sum(), rel=1e-12)
    np.testing.assert_allclose(stats.k, (post @ (gmms.means * inv_var)).T @ xplus, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats.g, np.einsum("ti,tj,tk->ijk", post @ inv_var, xplus, xplus),
                               rtol=1e-9, atol=1e-9)
