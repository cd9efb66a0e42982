"""Decision trees (statistics, questions, greedy splitting, Kaldi binary form), LDA and MLLT on synthetic data
whose right answers are known."""

import numpy as np
import pytest

from asrser.gmm.lda import estimate_lda, estimate_mllt, mllt_objective
from asrser.gmm.tree import (BuildOptions, TreeStats, build_tree, cluster_phones, frame_events, gauss_objf,
                             leaf_gaussians)


def synthetic_stats(rng, num_phones=6, dim=3, frames=4000):
    """Centre phone 1 (1 pdf class) whose mean depends on whether the left phone is in {2, 3}; other phones
    have their own means, phones 4 and 5 nearly identical."""
    left = rng.integers(0, num_phones + 1, frames)
    centre = rng.integers(1, num_phones + 1, frames)
    right = rng.integers(0, num_phones + 1, frames)
    means = {p: rng.normal(0, 5, dim) for p in range(1, num_phones + 1)}
    means[5] = means[4] + 0.01
    x = np.stack([means[c] for c in centre]) + rng.normal(0, 1, (frames, dim))
    x[(centre == 1) & np.isin(left, [2, 3])] += 6.0
    events = np.stack([left, centre, right, np.zeros(frames, int)], axis=1)
    return TreeStats.from_frames(events, x), x, events


def test_gauss_objf_is_the_ml_gaussian_loglik():
    rng = np.random.default_rng(0)
    x = rng.normal(2, 3, (500, 4))
    direct = -0.5 * (len(x) * 4 * (1 + np.log(2 * np.pi)) + len(x) * np.log(x.var(0)).sum())
    assert gauss_objf(len(x), x.sum(0), (x * x).sum(0)) == pytest.approx(direct)


def test_tree_stats_merge_equals_stats_of_all_frames():
    rng = np.random.default_rng(1)
    whole, x, events = synthetic_stats(rng)
    merged = TreeStats.merge([TreeStats.from_frames(events[:1500], x[:1500]),
                              TreeStats.from_frames(events[1500:], x[1500:])])
    np.testing.assert_array_equal(merged.events, whole.events)
    np.testing.assert_allclose(merged.sum_x2, whole.sum_x2)


def test_questions_group_similar_phones():
    stats, _, _ = synthetic_stats(np.random.default_rng(2))
    questions = cluster_phones(stats, [[p] for p in range(1, 7)], pdf_class=0)
    assert [4, 5] in questions                       # the two near-identical phones merge first
    assert [1, 2, 3, 4, 5, 6] in questions and all([p] in questions for p in range(1, 7))
    assert len(questions) == 2 * 6 - 1               # a binary tree over 6 leaves


def test_tree_splits_on_the_informative_question_and_kaldi_reads_it():
    stats, _, _ = synthetic_stats(np.random.default_rng(3))
    questions = [[2, 3], [4, 5], [1, 6], [2, 4]]
    tree = build_tree(stats, questions, {p: 1 for p in range(1, 7)}, BuildOptions(num_leaves=7, min_count=5))
    assert tree.num_leaves == 7
    root = tree.roots[(1, 0)]
    assert root.key == 0 and root.yes_set == [2, 3]  # phone 1's first split: is the left phone 2 or 3?
    ctx_dep = tree.to_context_dependency()
    assert ctx_dep.num_pdfs == 7 and ctx_dep.context_width == 3 and ctx_dep.central_position == 1
    for left in range(7):
        for centre in range(1, 7):
            for right in range(7):
                ok, pdf = ctx_dep.compute([left, centre, right], 0)
                assert ok and pdf == tree.pdf_of(left, centre, right, 0)
    counts, means, _ = leaf_gaussians(tree, stats)
    assert counts.sum() == stats.count.sum()
    yes_pdf, no_pdf = tree.pdf_of(2, 1, 0, 0), tree.pdf_of(6, 1, 0, 0)
    assert means[yes_pdf] - means[no_pdf] == pytest.approx(np.full(3, 6.0), abs=0.5)


def test_roots_of_the_lang_share_position_variants_and_ask_about_the_pdf_class():
    """Kaldi's build-tree with roots.int: phones 1-4 (one base phone's word-position variants, 3 pdf-classes)
    share a root ("shared split"); phone 4 alone differs, and so does every pdf-class; phone 5 (silence,
    context-independent) shares a root over its states but its context is never asked; phone 6 is not split.
    """
    rng = np.random.default_rng(5)
    frames = 12000
    centre = rng.integers(1, 7, frames)
    pdf_class = rng.integers(0, 3, frames)
    left, right = rng.integers(0, 7, frames), rng.integers(0, 7, frames)
    x = rng.normal(0, 1, (frames, 2)) + 4.0 * pdf_class[:, None] + 20.0 * (centre == 4)[:, None]
    x[(centre == 5) & (left == 2)] += 10.0            # a context effect the tree must not use for silence
    x[(centre == 6) & (pdf_class == 2)] += 10.0       # a difference the not-split root must keep
    stats = TreeStats.from_frames(np.stack([left, centre, right, pdf_class], axis=1), x)
    roots = [(True, True, [1, 2, 3, 4]), (True, True, [5]), (True, False, [6])]     # (shared, split, phones)
    questions = [[1, 2, 3], [4], [2], [5], [6], [1, 2, 3, 4]]
    tree = build_tree(stats, questions, {p: 3 for p in range(1, 7)}, BuildOptions(num_leaves=10, min_count=5),
                      roots, frozenset({5}))
    assert tree.num_leaves == 10
    pdf = {(c, k): tree.pdf_of(0, c, 0, k) for c in range(1, 7) for k in range(3)}
    assert pdf[1, 0] == pdf[2, 0] == pdf[3, 0] != pdf[4, 0]      # the variants share, phone 4 split off
    assert len({pdf[1, k] for k in range(3)}) == 3 and len({pdf[4, k] for k in range(3)}) == 3
    assert len({pdf[5, k] for k in range(3)}) == 3                 # silence split by state, ...
    assert all(tree.pdf_of(left, 5, 0, k) == pdf[5, k] for left in range(7) for k in range(3))  # ... not context
    assert len({pdf[6, k] for k in range(3)}) == 1                 # not-split: one leaf for all its states
    ctx_dep = tree.to_context_dependency()
    assert ctx_dep.num_pdfs == 10
    for left in range(7):
        for c in range(1, 7):
            for k in range(3):
                ok, answer = ctx_dep.compute([left, c, 3], k)
                assert ok and answer == tree.pdf_of(left, c, 3, k)


def test_frame_events_give_left_and_right_phones():
    phone_of = np.array([0, 1, 1, 2, 2, 3, 3])        # tid -> phone (two tids per phone: states 0, 1)
    state_of = np.array([0, 0, 1, 0, 1, 0, 1])
    ali = np.array([1, 2, 2, 3, 4, 5, 6, 6])
    events = frame_events(phone_of, state_of, ali)
    np.testing.assert_array_equal(events[:, 0], [0, 0, 0, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(events[:, 2], [2, 2, 2, 3, 3, 0, 0, 0])
    np.testing.assert_array_equal(events[:, 3], [0, 1, 1, 0, 1, 0, 1, 1])


def test_lda_whitens_within_class_and_keeps_the_discriminative_direction():
    rng = np.random.default_rng(4)
    classes = rng.integers(0, 5, 20000)
    x = rng.normal(0, 1, (20000, 6)) * [1, 1, 1, 3, 3, 3]
    x[:, 0] += classes * 4.0                          # only dimension 0 separates the classes
    count = np.bincount(classes, minlength=5).astype(float)
    sums = np.zeros((5, 6))
    np.add.at(sums, classes, x)
    lda = estimate_lda(count, sums, x.T @ x, 2)
    y = x @ lda.T
    within = np.mean([np.cov(y[classes == c].T) for c in range(5)], axis=0)
    np.testing.assert_allclose(within, np.eye(2), atol=0.05)
    assert abs(lda[0, 0]) / np.abs(lda[0]).sum() > 0.95


def test_mllt_undoes_a_rotation_of_diagonal_gaussians():
    rng = np.random.default_rng(5)
    dim = 4
    rotation = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    scales = np.array([0.5, 1.0, 2.0, 4.0])
    x = (rng.normal(size=(30000, dim)) * scales) @ rotation.T     # one Gaussian, correlated in x-space
    var = x.var(0)
    g = np.einsum("ti,tj,tk->ijk", np.broadcast_to(1.0 / var, x.shape), x, x)
    a = estimate_mllt(g, len(x), iters=30)
    assert mllt_objective(a, g, len(x)) > mllt_objective(np.eye(dim), g, len(x))
    cov = np.cov((x @ a.T).T)
    off_diagonal = cov - np.diag(np.diag(cov))
    assert np.abs(off_diagonal).max() < 0.05 * np.abs(np.diag(cov)).max()
