"""GMM-HMM acoustic model: the HMM (asrser.hmm: Kaldi's TransitionModel and tree, from the wheels) + diagonal
GMMs held in numpy, stored as Kaldi's final.mdl (asrser.kaldi_format).

The GMM arithmetic (likelihoods, statistics, re-estimation, mixing up) is vectorised numpy so that it is
fast, parallel over jobs through plain `.npz` statistics, and reproducible: the wheels' Gaussian splitting
draws from std::random_device, so mixing up here uses a seeded generator instead. The HMM side (topology,
transition probabilities, training graphs, alignment, decoding) stays in Kaldi's C++ through the wheels, in
asrser.hmm, which the GMMs feed with their per-pdf log-likelihoods (pdf_loglik).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import kaldi_hmm_gmm as khg
import numpy as np

from ..hmm.model import HmmModel

LOG_2PI = float(np.log(2 * np.pi))


@dataclass
class MleOptions:
    """Kaldi's MleDiagGmmOptions defaults (gmm-est)."""
    min_gaussian_occupancy: float = 10.0
    min_gaussian_weight: float = 1e-5
    variance_floor: float = 1e-3
    remove_low_count_gaussians: bool = True


@dataclass
class DiagGmms:
    """One diagonal GMM per pdf, stored flat: Gaussian g belongs to pdf owner[g]."""
    owner: np.ndarray          # (G,) int pdf index, non-decreasing
    weights: np.ndarray        # (G,)
    means: np.ndarray          # (G, D)
    variances: np.ndarray      # (G, D)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def single(cls, num_pdfs: int, mean: np.ndarray, var: np.ndarray) -> "DiagGmms":
        return cls(np.arange(num_pdfs), np.ones(num_pdfs), np.tile(mean, (num_pdfs, 1)),
                   np.tile(var, (num_pdfs, 1)))

    @property
    def num_pdfs(self) -> int:
        return int(self.owner[-1]) + 1

    @property
    def num_gauss(self) -> int:
        return len(self.owner)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def gauss_per_pdf(self) -> np.ndarray:
        return np.bincount(self.owner, minlength=self.num_pdfs)

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        """(2D, G) projection and (G,) constants so that component loglik = [x, x^2] @ P + c."""
        if "proj" not in self._cache:
            inv = 1.0 / self.variances
            proj = np.concatenate([(self.means * inv).T, -0.5 * inv.T]).astype(np.float32)
            with np.errstate(divide="ignore"):
                const = (np.log(self.weights) - 0.5 * (self.dim * LOG_2PI + np.log(self.variances).sum(1)
                                                       + (self.means ** 2 * inv).sum(1)))
            self._cache.update(proj=proj, const=const.astype(np.float32))
        return self._cache["proj"], self._cache["const"]

    def component_loglik(self, feats: np.ndarray) -> np.ndarray:
        """(T, G) log w_g + log N(x_t; g)."""
        proj, const = self._params()
        x = np.asarray(feats, dtype=np.float32)
        return np.concatenate([x, x * x], axis=1) @ proj + const

    def loglik(self, feats: np.ndarray) -> np.ndarray:
        """(T, num_pdfs) per-pdf log-likelihoods (log-sum-exp over each pdf's Gaussians), as loglik_of all
        pdfs: its rank-by-rank slices are 4.5x faster than segmented reductions over a (T, G) matrix (full-size
        tri2, 13,598 Gaussians)."""
        return self.loglik_of(feats, np.arange(self.num_pdfs))

    def _gauss_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """_params with the Gaussians as rows ((G, 2D) projection, (G, 1) constants) and each pdf's first
        Gaussian (num_pdfs + 1 bounds)."""
        if "gauss_proj" not in self._cache:
            proj, const = self._params()
            self._cache.update(gauss_proj=np.ascontiguousarray(proj.T), gauss_const=const[:, None],
                               first=np.searchsorted(self.owner, np.arange(self.num_pdfs + 1)))
        return self._cache["gauss_proj"], self._cache["gauss_const"], self._cache["first"]

    def loglik_of(self, feats: np.ndarray, pdfs: np.ndarray) -> np.ndarray:
        """(T, len(pdfs)) log-likelihoods of the given pdfs alone (e.g. those of one utterance's training
        graph): one matrix product over their Gaussians, then the log-sum-exp over each pdf's Gaussians, in
        float32 as `loglik`.

        The Gaussians are taken rank by rank: rank j holds the j-th Gaussian of every pdf that has more than
        j, with the pdfs ordered by decreasing number of Gaussians, so that each rank is a prefix of the
        previous one and the per-pdf maximum and sum are slices of whole rows (no segmented reductions)."""
        proj, const, first = self._gauss_params()
        pdfs = np.asarray(pdfs, dtype=np.int64)
        counts = first[pdfs + 1] - first[pdfs]
        order = np.argsort(-counts, kind="stable")
        counts_sorted = counts[order]
        ranks = int(counts_sorted[0]) if len(pdfs) else 0
        in_rank = [int((counts_sorted > j).sum()) for j in range(ranks)]       # pdfs with a j-th Gaussian
        gauss = np.concatenate([first[pdfs[order[:n]]] + j for j, n in enumerate(in_rank)]) if ranks else \
            np.zeros(0, dtype=np.int64)
        x = np.asarray(feats, dtype=np.float32)
        # (Gaussians, T): the reductions below run along contiguous frames
        comp = proj[gauss] @ np.concatenate([x, x * x], axis=1).T + const[gauss]
        bounds = np.r_[0, np.cumsum(in_rank)]
        top = comp[:in_rank[0]].copy() if ranks else np.zeros((0, len(x)), dtype=np.float32)
        for j in range(1, ranks):
            np.maximum(top[:in_rank[j]], comp[bounds[j]:bounds[j + 1]], out=top[:in_rank[j]])
        total = np.zeros_like(top)
        for j in range(ranks):
            rows = comp[bounds[j]:bounds[j + 1]]
            rows -= top[:in_rank[j]]
            np.exp(rows, out=rows)
            total[:in_rank[j]] += rows
        out = np.empty((len(x), len(pdfs)), dtype=np.float32)
        out[:, order] = (top + np.log(total)).T
        return out

    # -- statistics -----------------------------------------------------------------------------------
    def zero_stats(self) -> "GmmStats":
        return GmmStats(np.zeros(self.num_gauss), np.zeros((self.num_gauss, self.dim)),
                        np.zeros((self.num_gauss, self.dim)), 0.0, 0)

    def accumulate(self, stats: "GmmStats", feats: np.ndarray, pdfs: np.ndarray,
                   stats_feats: np.ndarray | None = None) -> None:
        """Add the statistics of frames `feats` aligned to `pdfs` (one pdf per frame). With stats_feats
        (Kaldi's gmm-acc-stats-twofeats) the Gaussian posteriors come from `feats` and the sums from
        stats_feats, the same frames in other features."""
        y_all = np.asarray(feats if stats_feats is None else stats_feats, dtype=np.float64)
        for frames, g0, g1, post, loglik in self.posteriors_within_pdfs(feats, pdfs):
            stats.loglik += loglik
            stats.occupancy[g0:g1] += post.sum(0)
            y = y_all[frames]
            stats.sum_x[g0:g1] += post.T @ y
            stats.sum_x2[g0:g1] += post.T @ (y * y)
        stats.frames += len(pdfs)

    def posteriors_within_pdfs(self, feats: np.ndarray, pdfs: np.ndarray):
        """Each frame's Gaussian posteriors within its own pdf (one pdf per frame), pdf by pdf: (the frames'
        indices, the pdf's Gaussians g0:g1, (frames, g1 - g0) posteriors in float64, the frames' summed
        log-likelihood). Only the pdf's own Gaussians are scored: cost frames x Gaussians per pdf, not x all."""
        order = np.argsort(pdfs, kind="stable")
        pdf_sorted = pdfs[order]
        bounds = np.flatnonzero(np.r_[True, np.diff(pdf_sorted) != 0, True])
        first = np.searchsorted(self.owner, np.arange(self.num_pdfs + 1))
        x_all = np.asarray(feats, dtype=np.float64)[order]
        for a, b in zip(bounds[:-1], bounds[1:]):
            pdf = pdf_sorted[a]
            g0, g1 = first[pdf], first[pdf + 1]
            sub = DiagGmms(np.zeros(g1 - g0, dtype=int), self.weights[g0:g1], self.means[g0:g1],
                           self.variances[g0:g1])
            comp = sub.component_loglik(x_all[a:b]).astype(np.float64)
            top = comp.max(1, keepdims=True)
            post = np.exp(comp - top)
            norm = post.sum(1, keepdims=True)
            post /= norm
            yield order[a:b], g0, g1, post, float((top + np.log(norm)).sum())

    # -- re-estimation --------------------------------------------------------------------------------
    def updated(self, stats: "GmmStats", opts: MleOptions = MleOptions()) -> "DiagGmms":
        """Kaldi's MleDiagGmmUpdate for every pdf: ML means/variances/weights; rare Gaussians removed."""
        occ = stats.occupancy
        means, variances = self.means.copy(), self.variances.copy()
        ok = occ > opts.min_gaussian_occupancy
        means[ok] = stats.sum_x[ok] / occ[ok, None]
        variances[ok] = np.maximum(stats.sum_x2[ok] / occ[ok, None] - means[ok] ** 2, opts.variance_floor)
        pdf_occ = np.bincount(self.owner, weights=occ, minlength=self.num_pdfs)
        weights = self.weights.copy()
        seen = pdf_occ[self.owner] > 0
        weights[seen] = np.maximum(occ[seen] / pdf_occ[self.owner][seen], opts.min_gaussian_weight)
        keep = np.ones(self.num_gauss, dtype=bool)
        if opts.remove_low_count_gaussians:
            keep = ~((occ < opts.min_gaussian_occupancy) & seen)
            emptied = np.bincount(self.owner, weights=keep, minlength=self.num_pdfs) == 0
            for pdf in np.flatnonzero(emptied):  # a pdf keeps at least its best-occupied Gaussian
                members = np.flatnonzero(self.owner == pdf)
                keep[members[np.argmax(occ[members])]] = True
        out = DiagGmms(self.owner[keep], weights[keep], means[keep], variances[keep])
        out._renormalise()
        return out

    def _renormalise(self) -> None:
        total = np.bincount(self.owner, weights=self.weights, minlength=self.num_pdfs)
        self.weights = self.weights / total[self.owner]

    def mixed_up(self, target: int, occupancy: np.ndarray, rng: np.random.Generator, power: float = 0.2,
                 min_count: float = 20.0, perturb: float = 0.01) -> "DiagGmms":
        """Kaldi's SplitByCount + DiagGmm::Split with a seeded RNG.

        Each pdf gets a number of Gaussians proportional to occupancy**power (at most occupancy/min_count,
        at least its current number); within a pdf the heaviest Gaussian is split repeatedly, the two halves'
        means moved apart by +-perturb standard deviations along a random direction.
        """
        current = self.gauss_per_pdf()
        if target <= current.sum():
            return self
        pdf_occ = np.asarray(occupancy, dtype=np.float64)
        share = pdf_occ ** power
        alloc = np.maximum(current, np.floor(target * share / max(share.sum(), 1e-20)).astype(int))
        alloc = np.maximum(current, np.minimum(alloc, np.floor(pdf_occ / min_count).astype(int)))
        owner, weights, means, variances = [], [], [], []
        first = np.searchsorted(self.owner, np.arange(self.num_pdfs + 1))
        for pdf in range(self.num_pdfs):
            w = list(self.weights[first[pdf]:first[pdf + 1]])
            m = list(self.means[first[pdf]:first[pdf + 1]])
            v = list(self.variances[first[pdf]:first[pdf + 1]])
            while len(w) < alloc[pdf]:
                k = int(np.argmax(w))
                shift = perturb * rng.standard_normal(self.dim) * np.sqrt(v[k])
                w[k] /= 2
                w.append(w[k]), v.append(v[k].copy()), m.append(m[k] - shift)
                m[k] = m[k] + shift
            owner += [pdf] * len(w)
            weights += w
            means += m
            variances += v
        return DiagGmms(np.array(owner), np.array(weights), np.array(means), np.array(variances))

    # -- exchange with the wheels ---------------------------------------------------------------------
    def to_am(self) -> khg.AmDiagGmm:
        am = khg.AmDiagGmm()
        first = np.searchsorted(self.owner, np.arange(self.num_pdfs + 1))
        for pdf in range(self.num_pdfs):
            g0, g1 = first[pdf], first[pdf + 1]
            gmm = khg.DiagGmm(nmix=g1 - g0, dim=self.dim)
            gmm.set_weights(self.weights[g0:g1].astype(np.float32))
            gmm.set_invvars_and_means((1 / self.variances[g0:g1]).astype(np.float64),
                                      self.means[g0:g1].astype(np.float64))
            gmm.compute_gconsts()
            am.add_pdf(gmm)
        return am

    @classmethod
    def from_am(cls, am: khg.AmDiagGmm) -> "DiagGmms":
        owner, weights, means, variances = [], [], [], []
        for pdf in range(am.num_pdfs):
            gmm = am.get_pdf(pdf)
            owner += [pdf] * gmm.num_gauss
            weights.append(np.asarray(gmm.weights))
            means.append(np.asarray(gmm.means))
            variances.append(np.asarray(gmm.vars))
        return cls(np.array(owner), np.concatenate(weights).astype(np.float64),
                   np.concatenate(means).astype(np.float64), np.concatenate(variances).astype(np.float64))


@dataclass
class GmmStats:
    """Sufficient statistics per Gaussian (mergeable across jobs) + total log-likelihood and frames."""
    occupancy: np.ndarray
    sum_x: np.ndarray
    sum_x2: np.ndarray
    loglik: float
    frames: int

    def __iadd__(self, other: "GmmStats") -> "GmmStats":
        self.occupancy += other.occupancy
        self.sum_x += other.sum_x
        self.sum_x2 += other.sum_x2
        self.loglik += other.loglik
        self.frames += other.frames
        return self


@dataclass
class AcousticModel(HmmModel):
    """Kaldi's final.mdl: the HMM (transition model; the tree is the `tree` file beside it) + one GMM per pdf
    (Kaldi's AmDiagGmm). On disk the GMMs are Kaldi's float parameters: the trainer's doubles are rounded once
    when a model is written, and every stage works with the model as read back."""
    gmms: DiagGmms

    def pdf_loglik(self, feats: np.ndarray) -> np.ndarray:
        return self.gmms.loglik(feats)

    def _write_body(self, w) -> None:
        from ..kaldi_format.gmm import AmDiagGmm

        AmDiagGmm.from_diag_gmms(self.gmms).write(w)

    @classmethod
    def load(cls, path) -> "AcousticModel":
        """A GMM system's final.mdl (Kaldi binary or text) with the tree beside it. Another kind of file (a
        tree, an nnet model, a truncated model) is an error naming it and what was expected."""
        from pathlib import Path

        from ..hmm.model import load_tree
        from ..kaldi_format import load_gmm_model

        path = Path(path)
        trans_model, gmms = load_gmm_model(path)
        return cls(trans_model, load_tree(path, gmms.num_pdfs), gmms, path=path)
