"""LDA and MLLT feature transforms (Kaldi's est-lda and est-mllt), estimated in numpy.

LDA: classes are the pdfs of an existing alignment (silence frames excluded); the projection solves
B v = lambda W v and is scaled so that the within-class covariance becomes the identity, keeping the `dim`
most discriminative directions. MLLT (a.k.a. global semi-tied covariance): a square A maximising the
likelihood of diagonal-covariance Gaussians in the transformed space, by Gales' row-by-row update
a_i = c_i G_i^-1 sqrt(beta / (c_i G_i^-1 c_i^T)), c_i the cofactor row of A.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.linalg

from ..errors import AsrserError

log = logging.getLogger(__name__)


def estimate_lda(count: np.ndarray, sums: np.ndarray, scatter: np.ndarray, dim: int) -> np.ndarray:
    """(dim, D) LDA matrix from per-class counts/sums and the total scatter sum x x^T."""
    total = count.sum()
    if total <= 0:
        raise AsrserError("LDA: no non-silence frames in the statistics")
    seen = count > 0
    mean = sums.sum(0) / total
    class_means = sums[seen] / count[seen, None]
    between = (class_means * count[seen, None]).T @ class_means / total - np.outer(mean, mean)
    within = scatter / total - (class_means * count[seen, None]).T @ class_means / total
    within += 1e-6 * np.trace(within) / len(within) * np.eye(len(within))
    if dim > len(within):
        raise AsrserError(f"LDA: dimension {dim} exceeds the spliced feature dimension {len(within)}")
    eigvals, eigvecs = scipy.linalg.eigh(between, within)       # eigvecs^T W eigvecs = I
    order = np.argsort(eigvals)[::-1][:dim]
    log.info("LDA: %d classes, %d -> %d dims; eigenvalues %.2f .. %.3f", int(seen.sum()), len(within), dim,
             eigvals[order[0]], eigvals[order[-1]])
    return eigvecs[:, order].T.copy()


def mllt_objective(a: np.ndarray, g: np.ndarray, frames: float) -> float:
    """beta log|det A| - 1/2 sum_i a_i G_i a_i^T (the auxiliary function, up to a constant)."""
    return float(frames * np.linalg.slogdet(a)[1] - 0.5 * np.einsum("ij,ijk,ik->", a, g, a))


def estimate_mllt(g: np.ndarray, frames: float, iters: int = 10) -> np.ndarray:
    """(D, D) MLLT matrix from G_i statistics (D, D, D)."""
    dim = g.shape[0]
    a = np.eye(dim)
    g_inv = np.linalg.inv(g)
    before = mllt_objective(a, g, frames)
    for _ in range(iters):
        for i in range(dim):
            cofactor = np.linalg.slogdet(a)[0] * np.linalg.inv(a).T[i]   # a positive scale cancels below
            direction = cofactor @ g_inv[i]
            a[i] = direction * np.sqrt(frames / (direction @ cofactor))
    after = mllt_objective(a, g, frames)
    log.info("MLLT: objective improvement %.4f per frame over %d frames", (after - before) / max(frames, 1),
             frames)
    return a
