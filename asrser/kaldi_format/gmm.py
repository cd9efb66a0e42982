"""Kaldi's GMM acoustic model file, `final.mdl`: a TransitionModel followed by an AmDiagGmm (gmm/diag-gmm.cc,
gmm/am-diag-gmm.cc), binary or text, read into and built from the wheels' objects and the project's numpy GMMs.

A DiagGmm is stored as <GCONSTS> (per-Gaussian constant: log weight - (D log 2pi + sum log var + sum mean^2 /
var) / 2), <WEIGHTS>, <MEANS_INVVARS> (mean / var) and <INV_VARS> (1 / var). Kaldi's DiagGmm::Read does not
trust the stored gconsts and computes them again; here they are computed by the wheels' DiagGmm (Kaldi's
ComputeGconsts code, in float), both for writing a model and on reading. On reading, stored gconsts that agree
with the computed ones up to float rounding are kept as they are (a Kaldi build's libm can differ in the last
bit), so that a Kaldi file is written back byte for byte; others are replaced by the computed ones.

The project's DiagGmms (float64 means and variances) become Kaldi's float parameters formed in double and rounded
once, as Kaldi's DiagGmmNormal::CopyToDiagGmm does; the way back is exact, so a model read, converted to DiagGmms
and written again gives the same bytes (the trainer's doubles are rounded once, on the first write, as in
Kaldi, where models are float on disk).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import kaldi_hmm_gmm as khg
import numpy as np

from ..errors import DataError
from ..fileio import atomic_write
from .hmm import TransitionModel
from .stream import Reader, Writer, describe_token, object_reader

LOG_2PI = float(np.log(2 * np.pi))


@dataclass
class DiagGmm:
    """One pdf's GMM as Kaldi stores it (float32, or float64 from a double-precision Kaldi build)."""
    gconsts: np.ndarray         # (G,)
    weights: np.ndarray         # (G,)
    means_invvars: np.ndarray   # (G, D)
    inv_vars: np.ndarray        # (G, D)

    @property
    def num_gauss(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return self.inv_vars.shape[1]

    @classmethod
    def from_parameters(cls, weights: np.ndarray, means_invvars: np.ndarray, inv_vars: np.ndarray) -> "DiagGmm":
        """A DiagGmm with its gconsts computed as Kaldi's DiagGmm::ComputeGconsts does."""
        return cls(compute_gconsts(weights, means_invvars, inv_vars), weights, means_invvars, inv_vars)

    @classmethod
    def read(cls, r: Reader, pdf: int) -> "DiagGmm":
        where = f" (GMM of pdf {pdf})"
        r.choice(("<DiagGMM>", "<DiagGMMBegin>"), where)
        token = r.choice(("<GCONSTS>", "<WEIGHTS>"), where)
        stored = None
        if token == "<GCONSTS>":
            stored = r.vector("gconsts" + where)
            r.expect("<WEIGHTS>", where)
        weights = r.vector("weights" + where)
        r.expect("<MEANS_INVVARS>", where)
        means_invvars = r.matrix("means_invvars" + where)
        r.expect("<INV_VARS>", where)
        inv_vars = r.matrix("inv_vars" + where)
        r.choice(("</DiagGMM>", "<DiagGMMEnd>"), where)
        g = len(weights)
        if g == 0 or means_invvars.shape != inv_vars.shape or inv_vars.shape[0] != g:
            raise r.error(f"GMM of pdf {pdf}: {g} weights, means_invvars {means_invvars.shape}, inv_vars "
                          f"{inv_vars.shape} do not agree")
        if not (np.isfinite(weights).all() and (weights >= 0).all() and np.isfinite(means_invvars).all()
                and np.isfinite(inv_vars).all() and (inv_vars > 0).all()):
            raise r.error(f"GMM of pdf {pdf}: weights must be >= 0, inverse variances > 0, all finite")
        dtype = np.result_type(weights, means_invvars, inv_vars)
        gmm = cls.from_parameters(weights.astype(dtype), means_invvars.astype(dtype), inv_vars.astype(dtype))
        if stored is not None and stored.shape == gmm.gconsts.shape and np.allclose(
                stored, gmm.gconsts, rtol=1e-5, atol=1e-4, equal_nan=False):
            gmm.gconsts = stored.astype(dtype)  # the writer's own float rounding: kept, for byte-exact copies
        return gmm

    def write(self, w: Writer) -> None:
        """DiagGmm::Write."""
        w.token("<DiagGMM>")
        w.newline()
        w.token("<GCONSTS>")
        w.vector(self.gconsts)
        w.token("<WEIGHTS>")
        w.vector(self.weights)
        w.token("<MEANS_INVVARS>")
        w.matrix(self.means_invvars)
        w.token("<INV_VARS>")
        w.matrix(self.inv_vars)
        w.token("</DiagGMM>")
        w.newline()


def compute_gconsts(weights: np.ndarray, means_invvars: np.ndarray, inv_vars: np.ndarray) -> np.ndarray:
    """DiagGmm::ComputeGconsts: in float by the wheels' C++ (Kaldi's code), in double for a double model."""
    if weights.dtype == np.float32:
        gmm = khg.DiagGmm.__new__(khg.DiagGmm)
        gmm.__setstate__((weights, inv_vars, means_invvars))
        return np.asarray(gmm.gconsts, dtype=np.float32)
    gc = (np.log(weights) - 0.5 * LOG_2PI * inv_vars.shape[1]
          + (0.5 * np.log(inv_vars) - 0.5 * means_invvars ** 2 / inv_vars).sum(1))
    return np.where(np.isposinf(gc), -gc, gc)


@dataclass
class AmDiagGmm:
    """Kaldi's AmDiagGmm: one DiagGmm per pdf, all of one dimension."""
    pdfs: list[DiagGmm]

    @property
    def dim(self) -> int:
        return self.pdfs[0].dim if self.pdfs else 0

    @property
    def num_pdfs(self) -> int:
        return len(self.pdfs)

    @classmethod
    def read(cls, r: Reader) -> "AmDiagGmm":
        r.expect("<DIMENSION>", " (GMMs of a GMM-HMM model)")
        dim = r.int32("the feature dimension")
        r.expect("<NUMPDFS>")
        num_pdfs = r.int32("the number of pdfs")
        if not 0 < num_pdfs <= 10_000_000 or not 0 < dim <= 100_000:
            raise r.error(f"implausible GMM model: {num_pdfs} pdfs of dimension {dim}")
        pdfs = []
        for pdf in range(num_pdfs):
            pdfs.append(DiagGmm.read(r, pdf))
            if pdfs[-1].dim != dim:
                raise r.error(f"GMM of pdf {pdf} has dimension {pdfs[-1].dim}, the model {dim}")
        return cls(pdfs)

    def write(self, w: Writer) -> None:
        """AmDiagGmm::Write."""
        w.token("<DIMENSION>")
        w.int32(self.dim)
        w.token("<NUMPDFS>")
        w.int32(self.num_pdfs)
        for gmm in self.pdfs:
            gmm.write(w)

    # -- the wheels and the project's numpy GMMs ------------------------------------------------------
    def to_wheel(self) -> khg.AmDiagGmm:
        am = khg.AmDiagGmm.__new__(khg.AmDiagGmm)
        am.__setstate__(tuple(a for g in self.pdfs for a in (g.weights.astype(np.float32),
                                                           g.inv_vars.astype(np.float32),
                                                           g.means_invvars.astype(np.float32))))
        return am

    @classmethod
    def from_wheel(cls, am: khg.AmDiagGmm) -> "AmDiagGmm":
        state = am.__getstate__()
        return cls([DiagGmm.from_parameters(np.asarray(w, np.float32), np.asarray(mi, np.float32),
                                            np.asarray(iv, np.float32))
                    for w, iv, mi in zip(state[0::3], state[1::3], state[2::3])])

    def to_diag_gmms(self):
        """The project's DiagGmms (float64 weights, means = means_invvars / inv_vars, variances = 1 / inv_vars)."""
        from ..gmm.model import DiagGmms

        owner = np.repeat(np.arange(self.num_pdfs), [g.num_gauss for g in self.pdfs])
        inv_vars = np.concatenate([g.inv_vars for g in self.pdfs]).astype(np.float64)
        means_invvars = np.concatenate([g.means_invvars for g in self.pdfs]).astype(np.float64)
        weights = np.concatenate([g.weights for g in self.pdfs]).astype(np.float64)
        return DiagGmms(owner, weights, means_invvars / inv_vars, 1.0 / inv_vars)

    @classmethod
    def from_diag_gmms(cls, gmms) -> "AmDiagGmm":
        """Kaldi's float parameters of the project's DiagGmms, formed in double and rounded once."""
        inv_vars = 1.0 / np.asarray(gmms.variances, dtype=np.float64)
        means_invvars = (np.asarray(gmms.means, dtype=np.float64) * inv_vars).astype(np.float32)
        inv_vars, weights = inv_vars.astype(np.float32), np.asarray(gmms.weights).astype(np.float32)
        bounds = np.searchsorted(gmms.owner, np.arange(gmms.num_pdfs + 1))
        return cls([DiagGmm.from_parameters(weights[a:b], means_invvars[a:b], inv_vars[a:b])
                    for a, b in zip(bounds[:-1], bounds[1:])])


@dataclass
class GmmModel:
    """`final.mdl` of a GMM-HMM system: the transition model and the GMMs (Kaldi keeps the tree apart)."""
    transitions: TransitionModel
    gmms: AmDiagGmm

    @classmethod
    def read(cls, r: Reader) -> "GmmModel":
        transitions = TransitionModel.read(r)
        gmms = AmDiagGmm.read(r)
        if gmms.num_pdfs != transitions.num_pdfs:
            raise r.error(f"the transition model has {transitions.num_pdfs} pdfs, the GMMs {gmms.num_pdfs}")
        if not r.at_end():
            raise r.error(f"unexpected data after the model at byte {r.pos}: "
                          f"{describe_token(r.peek_token())}")
        return cls(transitions, gmms)

    def to_bytes(self, binary: bool = True, lossless: bool = True) -> bytes:
        """The file's bytes; text numbers lossless (see stream), or lossless=False: 7 digits, as Kaldi prints."""
        w = Writer(binary, lossless)
        w.header()
        self.transitions.write(w)
        self.gmms.write(w)
        return w.getvalue()

    @classmethod
    def from_wheels(cls, trans_model: khg.TransitionModel, gmms) -> "GmmModel":
        """From the wheels' TransitionModel and either the wheels' AmDiagGmm or the project's DiagGmms."""
        am = AmDiagGmm.from_wheel(gmms) if isinstance(gmms, khg.AmDiagGmm) else AmDiagGmm.from_diag_gmms(gmms)
        model = cls(TransitionModel.from_wheel(trans_model), am)
        if am.num_pdfs != model.transitions.num_pdfs:
            raise ValueError(f"the transition model has {model.transitions.num_pdfs} pdfs, the GMMs {am.num_pdfs}")
        return model


def read_gmm_model(path: str | os.PathLike) -> GmmModel:
    """Read a Kaldi GMM `final.mdl` (binary or text). A file of another kind (a tree, an nnet3 model, a
    truncated file) is a KaldiFormatError naming it and what was expected."""
    return GmmModel.read(object_reader(path))


def write_gmm_model(path: str | os.PathLike, model: GmmModel, binary: bool = True, lossless: bool = True) -> None:
    """Write `final.mdl` as Kaldi's gmm-copy does (binary=False: --binary=false), atomically."""
    data = model.to_bytes(binary, lossless)
    with atomic_write(path, "wb", encoding=None) as f:
        f.write(data)


def load_gmm_model(path: str | os.PathLike):
    """`final.mdl` -> (the wheels' TransitionModel, the project's DiagGmms): what a GMM stage works with."""
    model = read_gmm_model(path)
    try:
        return model.transitions.to_wheel(), model.gmms.to_diag_gmms()
    except RuntimeError as e:   # the wheels' own checks, should anything pass ours
        raise DataError(path, f"the wheels refuse the model: {str(e).strip().splitlines()[-1]}") from None


def save_gmm_model(path: str | os.PathLike, trans_model: khg.TransitionModel, gmms, binary: bool = True) -> None:
    """(the wheels' TransitionModel, the project's DiagGmms or the wheels' AmDiagGmm) -> `final.mdl`."""
    write_gmm_model(path, GmmModel.from_wheels(trans_model, gmms), binary)


def copy_gmm_model(src: str | os.PathLike, dst: str | os.PathLike, binary: bool = True) -> None:
    """gmm-copy: read a model and write it again (e.g. binary -> text with binary=False)."""
    write_gmm_model(dst, read_gmm_model(src), binary)

