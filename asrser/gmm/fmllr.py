"""Per-speaker fMLLR (constrained MLLR) transforms for diagonal GMMs, estimated in numpy as Kaldi's
gmm-est-fmllr does (src/transform/fmllr-diag-gmm.cc, FmllrDiagGmmAccs and ComputeFmllrMatrixDiagGmmFull).

A transform W = [A b] (d x (d+1)) maps a speaker's features x to A x + b. Its statistics, from posteriors
gamma_{t,g} over the Gaussians (means mu_g, inverse variances s_g) of the model, with x+ = [x; 1]:

    beta = sum_t,g gamma              K   = sum_t,g gamma (mu_g * s_g) x+^T
    G_i  = sum_t,g gamma s_g,i x+ x+^T   (one (d+1) x (d+1) matrix per dimension i)

The auxiliary function beta log|det A| + tr(W K^T) - 1/2 sum_i w_i G_i w_i^T is maximised row by row (Gales
1998): w_i = G_i^-1 (alpha c_i + k_i), c_i the cofactor row (extended by 0), alpha the root of the quadratic
alpha^2 (c G^-1 c) + alpha (c G^-1 k) - beta = 0 that gives the higher objective. A speaker with no more than
min_count frames of statistics keeps the identity (FmllrOptions min_count: gmm-est-fmllr warns and leaves the
transform), as does one whose objective would fall. Transforms are stored as Kaldi archives of float matrices keyed by speaker (trans.JOB).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AsrserError

log = logging.getLogger(__name__)

TRANSFORM_ARCHIVE = re.compile(r"trans\.\d+")     # trans.JOB, one per job of the split data dir


@dataclass
class FmllrOptions:
    """Kaldi's FmllrOptions (update type full)."""
    min_count: float = 20.0
    num_iters: int = 40


class FmllrStats:
    """FmllrDiagGmmAccs of one speaker: beta, K (d x (d+1)) and G_i ((d+1) x (d+1) for each dimension i)."""

    def __init__(self, dim: int):
        self.dim = dim
        self.beta = 0.0
        self.k = np.zeros((dim, dim + 1))
        self.g = np.zeros((dim, dim + 1, dim + 1))

    def accumulate(self, feats: np.ndarray, weighted_mean: np.ndarray, weighted_inv_var: np.ndarray,
                   occupancy: float) -> None:
        """Add frames `feats` (T, d) by their posterior-weighted sums over Gaussians: weighted_mean (T, d)
        sum_g gamma_g mu_g / var_g, weighted_inv_var (T, d) sum_g gamma_g / var_g, and their total posterior."""
        x = np.asarray(feats, dtype=np.float64)
        xplus = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        self.beta += occupancy
        self.k += weighted_mean.T @ xplus
        # G_i = sum_t w_ti x+_t x+_t^T for every i at once: one matrix product with the frames' outer products
        # (einsum's contraction ran at a fraction of the matmul rate and was most of the accumulation's time)
        outer = (xplus[:, :, None] * xplus[:, None, :]).reshape(len(x), -1)
        self.g += (weighted_inv_var.T @ outer).reshape(self.g.shape)

    def objective(self, transform: np.ndarray) -> float:
        """The auxiliary function (Kaldi's FmllrAuxFuncDiagGmm without constants)."""
        w = np.asarray(transform, dtype=np.float64)
        logdet = np.linalg.slogdet(w[:, :self.dim])[1]
        return float(self.beta * logdet + np.sum(w * self.k) - 0.5 * np.einsum("ij,ijk,ik->", w, self.g, w))


def accumulate_fmllr(stats: FmllrStats, gmms, feats: np.ndarray, pdfs: np.ndarray, weights: np.ndarray,
                     posterior_gmms=None, posterior_feats: np.ndarray | None = None) -> None:
    """gmm-est-fmllr's accumulation from per-frame (pdf, weight) posteriors: the Gaussian posteriors within
    each frame's pdf (from `posterior_gmms` on `posterior_feats` when given, Kaldi's gmm-post-to-gpost with the
    speaker-independent model; else from `gmms` on `feats`) times the frame's weight, then statistics with
    `gmms`' Gaussians on `feats`. Frames of weight 0 are skipped."""
    keep = weights > 0
    if not keep.any():
        return
    feats, pdfs, weights = feats[keep], pdfs[keep], weights[keep]
    post_model = posterior_gmms if posterior_gmms is not None else gmms
    if post_model.num_gauss != gmms.num_gauss:
        raise AsrserError(f"fMLLR: the posterior model has {post_model.num_gauss} Gaussians, the model "
                          f"{gmms.num_gauss} (final.alimdl must be estimated from this final.mdl)")
    post_x = posterior_feats[keep] if posterior_feats is not None else feats
    inv_var = 1.0 / gmms.variances
    mean_inv_var = gmms.means * inv_var
    weighted_mean, weighted_inv_var = np.zeros((2, len(feats), gmms.dim))
    occupancy = 0.0
    for frames, g0, g1, post, _ in post_model.posteriors_within_pdfs(post_x, pdfs):
        post *= weights[frames, None]
        weighted_mean[frames] = post @ mean_inv_var[g0:g1]
        weighted_inv_var[frames] = post @ inv_var[g0:g1]
        occupancy += float(post.sum())
    stats.accumulate(feats, weighted_mean, weighted_inv_var, occupancy)


def identity_transform(dim: int) -> np.ndarray:
    return np.concatenate([np.eye(dim), np.zeros((dim, 1))], axis=1)


def estimate_fmllr(stats: FmllrStats, opts: FmllrOptions = FmllrOptions(), speaker: str = "",
                   trace: list[float] | None = None) -> tuple[np.ndarray, float]:
    """ComputeFmllrMatrixDiagGmmFull from the identity: (transform d x (d+1), objective improvement per frame).

    Below opts.min_count frames the identity is returned (improvement 0). `trace`, when given, receives the
    objective before the first and after every iteration (over all rows)."""
    dim = stats.dim
    w = identity_transform(dim)
    if stats.beta <= opts.min_count:
        log.warning("speaker %s: %.1f frames of statistics, below the minimum %g: identity transform", speaker,
                    stats.beta, opts.min_count)
        return w, 0.0
    g_inv = np.linalg.inv(stats.g)
    before = stats.objective(w)
    if trace is not None:
        trace.append(before)
    for _ in range(opts.num_iters):
        for i in range(dim):
            # the cofactor row of A up to a positive scale (det A / |det A|), extended with 0 for b
            cofactor = np.append(np.linalg.inv(w[:, :dim]).T[i], 0.0)
            k_i = stats.k[i]
            g_c, g_k = g_inv[i] @ cofactor, g_inv[i] @ k_i
            e1, e2 = float(cofactor @ g_c), float(cofactor @ g_k)
            disc = np.sqrt(e2 * e2 + 4.0 * e1 * stats.beta)
            roots = ((-e2 + disc) / (2 * e1), (-e2 - disc) / (2 * e1))
            # the row's objective as a function of alpha: beta log|alpha e1 + e2| - 1/2 alpha^2 e1 (+ const)
            alpha = max(roots, key=lambda a: stats.beta * np.log(abs(a * e1 + e2)) - 0.5 * a * a * e1)
            w[i] = alpha * g_c + g_k
        if trace is not None:
            trace.append(stats.objective(w))
    improvement = (stats.objective(w) - before) / stats.beta
    log.info("speaker %s: fMLLR objective improvement %.4f per frame over %.1f frames", speaker, improvement,
             stats.beta)
    if improvement < 0 and not np.isclose(improvement, 0.0, atol=1e-6):
        log.warning("speaker %s: the fMLLR objective did not increase: identity transform kept", speaker)
        return identity_transform(dim), 0.0
    return w, improvement


def apply_transform(feats: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """transform-feats with an affine d x (d+1) matrix: A x + b for every frame."""
    dim = transform.shape[0]
    return feats @ transform[:, :dim].T + transform[:, dim]


def compose_transforms(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """compose-transforms --b-is-affine: the transform applying `inner` first, then `outer`."""
    dim = outer.shape[0]
    composed = outer[:, :dim] @ inner
    composed[:, dim] += outer[:, dim]
    return composed


def write_transforms(path: str | os.PathLike, transforms: dict[str, np.ndarray]) -> None:
    """A Kaldi archive of float matrices keyed by speaker (sorted), written complete or not at all."""
    from ..kaldi_format.tables import write_matrices

    write_matrices(path, sorted(transforms.items()))


def read_transforms(path: str | os.PathLike) -> dict[str, np.ndarray]:
    from ..kaldi_format.tables import read_matrices, read_table_dict

    return {spk: np.asarray(m, dtype=np.float64) for spk, m in read_table_dict(read_matrices(path), path).items()}


def read_speaker_transforms(transform_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every job's trans.JOB of a directory, merged (each speaker is in one job of a split data dir)."""
    transform_dir = Path(transform_dir)
    paths = sorted(p for p in transform_dir.glob("trans.*") if TRANSFORM_ARCHIVE.fullmatch(p.name))
    if not paths:
        raise AsrserError(f"{transform_dir}: no fMLLR transforms (trans.JOB)")
    merged: dict[str, np.ndarray] = {}
    for path in paths:
        for spk, matrix in read_transforms(path).items():
            if spk in merged:
                raise AsrserError(f"{path}: speaker {spk} has a transform in two jobs' archives")
            merged[spk] = matrix
    return merged
