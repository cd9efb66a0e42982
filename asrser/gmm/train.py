"""GMM-HMM training drivers (Kaldi's steps/train_mono.sh, align_si.sh; the EM loop shared by tri systems).

Each EM iteration fans out over the data dir's `split<nj>` parts through the job runner: (re)alignment
jobs when the iteration is in the realignment schedule, then statistics jobs; the driver sums the
statistics, re-estimates transitions and GMMs, mixes up with a seeded RNG and writes `<iter+1>.mdl` (and
`<iter+1>.occs`). A killed run resumes from the last complete model.

An exp dir is laid out as Kaldi's: final.mdl (TransitionModel + AmDiagGmm, Kaldi binary), tree, final.occs,
final.mat (tri2: LDA+MLLT, a float matrix as Kaldi's est-lda, est-mllt and compose-transforms write it),
ali.JOB.gz with num_jobs, phones.txt (the lang's, as Kaldi's scripts copy it); plus feature_pipeline.json, the
features the system reads. Every iteration starts from the model as read back from disk (float on disk, as in
Kaldi), so that every figure comes from what is stored.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Literal

import kaldi_hmm_gmm as khg
import numpy as np

from ..data import split_data_dir
from ..config import load_config
from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write, temp_name
from ..hmm.align import AlignOptions, alignment_archives
from ..hmm.phone_sets import context_independent_phones, lang_phone_sets
from ..kaldi_format import read_kaldi_matrix, read_num_jobs, write_kaldi_matrix, write_kaldi_vector, write_num_jobs
from ..lang import Lang
from ..progress import bar as progress_bar
from ..runner import run_jobs
from .feats import FeaturePipeline, feature_inputs, iter_features
from .model import AcousticModel, DiagGmms, GmmStats, MleOptions

log = logging.getLogger(__name__)
PY = sys.executable


@dataclass
class TrainConfig:
    num_iters: int = 40
    max_iter_inc: int = 30
    total_gauss: int = 1000
    realign_iters: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20,
                                                               23, 26, 29, 32, 35, 38])
    beam: float = 6.0
    retry_beam: float = 24.0
    boost_silence: float = 1.25
    power: float = 0.2
    init_utts: int = 1000            # utterances for the global mean/variance of gmm-init-mono
    seed: int = 0
    num_leaves: int = 0              # tri systems
    mllt_iters: list[int] = field(default_factory=list)
    lda_dim: int = 40
    splice_context: int = 3
    # tri systems' tree roots: "lang" as Kaldi's build-tree (phones/roots.int, questions from phones/sets.int
    # and phones/extra_questions.int); "per-state": one root per (phone, HMM state), every root split by
    # context, questions from single phones (the TIMIT recipe's tree, conf/gmm.yaml)
    tree_roots: Literal["lang", "per-state"] = "lang"
    fmllr_iters: list[int] = field(default_factory=list)     # SAT (tri3): fMLLR re-estimated at these
    silence_weight: float = 0.0      # of silence frames in the fMLLR statistics (weight-silence-post)
    fmllr_min_count: float = 20.0    # frames below which a speaker keeps the identity transform

    @classmethod
    def from_yaml(cls, path: str | os.PathLike, section: str) -> "TrainConfig":
        """One section (mono, tri1, ...) of a GMM config file; every section of the file is checked."""
        sections = load_config(dict[str, cls], path, "GMM config")
        if section not in sections:
            raise DataError(path, f"no section {section!r} (sections: {', '.join(sections)})")
        return sections[section]

    def align_options(self) -> AlignOptions:
        return AlignOptions(beam=self.beam, retry_beam=self.retry_beam, boost_silence=self.boost_silence)


class Trainer:
    """Shared plumbing: split data, run the per-job work of asrser.gmm.jobs, sum statistics."""

    def __init__(self, data_dir, lang_dir, exp_dir, nj: int, cmd: str):
        self.data_dir, self.lang_dir, self.exp = Path(data_dir), Path(lang_dir), Path(exp_dir)
        self.nj, self.cmd = nj, cmd
        self.exp.mkdir(parents=True, exist_ok=True)
        (self.exp / "log").mkdir(exist_ok=True)
        self.split = split_data_dir(self.data_dir, nj)[0].parent

    def record_layout(self) -> None:
        """What Kaldi's scripts put in an exp dir before training: num_jobs and the lang's phones.txt."""
        write_num_jobs(self.exp, self.nj)
        shutil.copyfile(self.lang_dir / "phones.txt", temp_name(self.exp / "phones.txt"))
        os.replace(temp_name(self.exp / "phones.txt"), self.exp / "phones.txt")

    def run_jobs(self, what: str, log_name: str, *args) -> None:
        """`python -m asrser.gmm.jobs <what> <args>` as jobs 1..nj (JOB in args: the job number), each logged
        to <exp>/log/<log_name>.JOB.log."""
        run_jobs(self.cmd, self.exp / "log" / f"{log_name}.JOB.log", [PY, "-m", "asrser.gmm.jobs", what, *args],
                 self.nj)

    def job_files(self, template: str) -> list[Path]:
        """<exp>/<template> of every job (JOB: 1..nj)."""
        return [self.exp / template.replace("JOB", str(j)) for j in range(1, self.nj + 1)]

    def sum_job_outputs(self, template: str) -> dict[str, np.ndarray]:
        """The jobs' .npz outputs <exp>/<template> summed array by array; the files are removed."""
        paths = self.job_files(template)
        total: dict[str, np.ndarray] = {}
        for path in paths:
            with np.load(path) as z:
                for k in z.files:
                    total[k] = total[k] + z[k] if k in total else z[k].copy()
        for path in paths:
            path.unlink()
        return total

    def align(self, model_path: Path, opts: AlignOptions, out_dir: Path, equal: bool = False,
              name: str = "align", prefix: str = "ali", speaker_independent: bool = False) -> dict:
        """<prefix>.JOB.gz (and <prefix>.JOB.failed, the utterances skipped) of every job in out_dir; an SAT
        system's features without the fMLLR transforms when speaker_independent."""
        self.run_jobs("align", name, model_path, self.lang_dir, self.split / "JOB", self.exp,
                      out_dir / f"{prefix}.JOB", "--options", json.dumps(asdict(opts)),
                      *(["--equal"] if equal else []), *(["--si"] if speaker_independent else []))
        failed = sum(len((out_dir / f"{prefix}.{j}.failed").read_text().split()) for j in range(1, self.nj + 1))
        if failed:
            log.warning("%s: %d utterance(s) could not be aligned and were skipped (see %s)", out_dir, failed,
                        self.exp / "log" / f"{name}.*.log")
        return {"failed": failed}

    def accumulate(self, model_path: Path, it: int) -> tuple[GmmStats, np.ndarray]:
        self.run_jobs("acc", f"acc.{it}", model_path, self.split / "JOB", self.exp, self.exp / "ali.JOB",
                      self.exp / f"{it}.JOB.acc.npz")
        z = self.sum_job_outputs(f"{it}.JOB.acc.npz")
        return GmmStats(z["occupancy"], z["sum_x"], z["sum_x2"], float(z["loglik"]), int(z["frames"])), \
            z["tid_counts"]


def reestimate(model: AcousticModel, stats: GmmStats, tid_counts: np.ndarray, target_gauss: int,
               rng: np.random.Generator, power: float, out: Path) -> None:
    """gmm-est --write-occs: transitions and GMMs by maximum likelihood, then mixing up towards target_gauss;
    the model written to `out` (<it>.mdl) and the per-pdf occupancies beside it (<it>.occs)."""
    model.trans_model.mle_update(tid_counts.astype(np.float64), khg.MleTransitionUpdateConfig())
    gmms = model.gmms.updated(stats, MleOptions())
    pdf_occ = np.bincount(model.gmms.owner, weights=stats.occupancy, minlength=model.gmms.num_pdfs)
    gmms = gmms.mixed_up(target_gauss, pdf_occ, rng, power=power)
    write_kaldi_vector(out.with_suffix(".occs"), pdf_occ.astype(np.float32))
    AcousticModel(model.trans_model, model.tree, gmms).save(out)


def gauss_schedule(initial: int, config: TrainConfig, it: int) -> int:
    """Kaldi's numgauss after iteration `it`: grows linearly to total_gauss over max_iter_inc iterations."""
    inc = max((config.total_gauss - initial) // max(config.max_iter_inc, 1), 0)
    return initial + inc * min(it, config.max_iter_inc)


class IterationHooks:
    """Per-iteration feature-transform updates (MLLT); the default does nothing."""

    def features_after(self, it: int) -> None:
        """Make the exp dir's feature pipeline the one in force after iteration `it`."""

    def model_for_accumulation(self, it: int) -> Path:
        """The model whose statistics iteration `it` accumulates (after any transform update)."""
        raise NotImplementedError


def run_em(trainer: Trainer, config: TrainConfig, first_iter: int,
           initial_alignment: Callable[[], None], hooks: IterationHooks | None = None) -> AcousticModel:
    """Iterations first_iter..num_iters-1 from <first_iter>.mdl, realigning per schedule; final.mdl.

    Mixing up starts from one Gaussian per pdf, as the initial models have. The alignments in the exp dir
    are tagged with the iteration whose model made them (0: the initial alignment), so that a resumed run
    re-creates exactly the alignments an uninterrupted run would have used."""
    exp = trainer.exp
    initial_gauss = AcousticModel.load(exp / f"{first_iter}.mdl").gmms.num_pdfs
    for it in progress_bar(range(first_iter, config.num_iters), desc=f"{exp.name} EM", unit="iter"):
        model_path = exp / f"{it}.mdl"
        if (exp / f"{it + 1}.mdl").exists():
            continue
        wanted = max([r for r in config.realign_iters if r <= it], default=0)
        if alignment_iter(exp) != wanted:
            if wanted == 0:
                initial_alignment()
            else:
                if hooks:
                    hooks.features_after(wanted - 1)
                trainer.align(exp / f"{wanted}.mdl", config.align_options(), exp, name=f"align.{wanted}")
            set_alignment_iter(exp, wanted)
        if hooks:
            model_path = hooks.model_for_accumulation(it)
        stats, tid_counts = trainer.accumulate(model_path, it)
        model = AcousticModel.load(model_path)
        rng = np.random.default_rng([config.seed, it])
        reestimate(model, stats, tid_counts, gauss_schedule(initial_gauss, config, it + 1), rng, config.power,
                   exp / f"{it + 1}.mdl")
        log.info("%s iteration %d: log-likelihood per frame %.4f over %d frames; %d Gaussians", exp.name, it,
                 stats.loglik / max(stats.frames, 1), stats.frames,
                 AcousticModel.load(exp / f"{it + 1}.mdl").gmms.num_gauss)
    if hooks:
        hooks.features_after(config.num_iters)
    for suffix in ("mdl", "occs"):     # Kaldi's final.mdl and final.occs (links there, copies here)
        shutil.copyfile(exp / f"{config.num_iters}.{suffix}", temp_name(exp / f"final.{suffix}"))
        os.replace(temp_name(exp / f"final.{suffix}"), exp / f"final.{suffix}")
    return AcousticModel.load(exp / "final.mdl")


def alignment_iter(exp: Path) -> int | None:
    path = exp / "ali.iter"
    return int(path.read_text()) if path.exists() else None


def set_alignment_iter(exp: Path, it: int) -> None:
    with atomic_write(exp / "ali.iter") as f:
        f.write(f"{it}\n")


def global_mean_var(data_dir: Path, pipeline: FeaturePipeline, max_utts: int) -> tuple[np.ndarray, np.ndarray]:
    total, total_sq, n = 0.0, 0.0, 0
    for i, (_, feats) in enumerate(iter_features(data_dir, pipeline)):
        if i >= max_utts:
            break
        x = feats.astype(np.float64)
        total, total_sq, n = total + x.sum(0), total_sq + (x * x).sum(0), n + len(x)
    if n == 0:
        raise AsrserError(f"{data_dir}: no features to initialise the model")
    mean = total / n
    return mean, np.maximum(total_sq / n - mean ** 2, 1e-3)


def train_mono(data_dir, lang_dir, exp_dir, config: TrainConfig, nj: int, cmd: str) -> AcousticModel:
    """steps/train_mono.sh: flat start, equal alignment, EM with realignment and mixing up."""
    trainer = Trainer(data_dir, lang_dir, exp_dir, nj, cmd)
    exp = trainer.exp
    stamp = Stamp(exp / "train.done", [*training_inputs(data_dir, lang_dir), *tree_inputs(lang_dir)],
                  config=asdict(config))
    if stamp.is_current():
        log.info("%s is up to date", exp / "final.mdl")
        return AcousticModel.load(exp / "final.mdl")
    start_fresh_unless_resuming(exp, stamp)
    lang = Lang.load(lang_dir)
    trainer.record_layout()
    pipeline = FeaturePipeline("delta")
    pipeline.save(exp)

    def equal_alignment() -> None:
        trainer.align(exp / "0.mdl", config.align_options(), exp, equal=True, name="align.0")
        set_alignment_iter(exp, 0)
    if _latest_iter(exp) < 1:
        topo = lang.topology()
        # gmm-init-mono --shared-phones=phones/sets.int: the phones of a set (a base phone's word-position
        # variants) share their pdfs
        tree = khg.monophone_context_dependency_shared(
            phone_classes=lang_phone_sets(lang, list(topo.phones)),
            phone2num_pdf_classes=topo.get_phone_to_num_pdf_classes())
        trans_model = khg.TransitionModel(ctx_dep=tree, hmm_topo=topo)
        mean, var = global_mean_var(trainer.data_dir, pipeline, config.init_utts)
        model = AcousticModel(trans_model, tree, DiagGmms.single(tree.num_pdfs, mean, var))
        model.write_tree(exp / "tree")
        model.save(exp / "0.mdl")
        equal_alignment()
        stats, tid_counts = trainer.accumulate(exp / "0.mdl", 0)
        reestimate(AcousticModel.load(exp / "0.mdl"), stats, tid_counts, gauss_schedule(tree.num_pdfs, config, 1),
                   np.random.default_rng([config.seed, 0]), config.power, exp / "1.mdl")
    model = run_em(trainer, config, max(_latest_iter(exp), 1), equal_alignment)
    stamp.write()
    return model


def training_inputs(data_dir, lang_dir) -> list[Path]:
    """What a GMM system is trained on: the features as its pipeline reads them (feats.scp and cmvn.scp, with
    the arks they point to), the transcripts, and the lang dir."""
    return [*feature_inputs(data_dir), Path(data_dir) / "text", *Lang.files(lang_dir)]


def tree_inputs(lang_dir) -> list[Path]:
    """What a system's tree reads of the lang dir besides Lang.files (those it has): the phones that share
    monophone pdfs, the tree roots, the extra questions and the context-independent phones."""
    paths = (Path(lang_dir) / f"phones/{name}.int" for name in ("sets", "roots", "extra_questions", "context_indep"))
    return [p for p in paths if p.exists()]


def start_fresh_unless_resuming(exp: Path, stamp: Stamp) -> None:
    """Models left by a killed run with the same inputs and config are resumed; any others are removed."""
    stamp.resume_or_start_fresh([*exp.glob("*.mdl"), *exp.glob("ali.*"), *exp.glob("*.mat"), *exp.glob("*.occs"),
                                 *exp.glob("tree*"), *exp.glob("num_jobs"), *exp.glob("*.mat.npy"),
                                 *exp.glob("*.alimdl"), *exp.glob("trans.*"), *exp.glob("fmllr.*")])


def _latest_iter(exp: Path) -> int:
    its = [int(p.name.split(".")[0]) for p in exp.glob("*.mdl") if p.name.split(".")[0].isdigit()]
    return max(its, default=0)


def _check_alignment_jobs(ali_dir: Path, nj: int) -> None:
    found = read_num_jobs(ali_dir)
    if found != nj:
        raise AsrserError(f"{ali_dir}: {found} alignment jobs (num_jobs) but --nj {nj}; align with the same --nj "
                          "(the jobs must see the same split of the data)")


class MlltHooks(IterationHooks):
    """steps/train_lda_mllt.sh: at the MLLT iterations, estimate A on the current features and model,
    transform the model's means (and diagonal variances) and compose A with the feature transform.

    Transforms are kept per iteration (<it>.mat, Kaldi float matrices; 0 = LDA) so a resumed run uses exactly
    the features of an uninterrupted one."""

    def __init__(self, trainer: Trainer, config: TrainConfig, pipeline: FeaturePipeline):
        self.trainer, self.config, self.pipeline = trainer, config, pipeline

    def _matrix_after(self, it: int) -> np.ndarray:
        its = [int(p.name.split(".")[0]) for p in self.trainer.exp.glob("*.mat") if p.name.split(".")[0].isdigit()]
        return read_kaldi_matrix(self.trainer.exp / f"{max(i for i in its if i <= it)}.mat")

    def features_after(self, it: int) -> None:
        matrix = self._matrix_after(it)
        if self.pipeline.matrix is None or not np.array_equal(matrix, self.pipeline.matrix):
            self.pipeline.matrix = matrix
            self.pipeline.save(self.trainer.exp)

    def model_for_accumulation(self, it: int) -> Path:
        from .lda import estimate_mllt

        exp = self.trainer.exp
        if it not in self.config.mllt_iters:
            self.features_after(it)
            return exp / f"{it}.mdl"
        if not (exp / f"{it}.mat").exists():
            self.features_after(it - 1)
            self.trainer.run_jobs("mllt-stats", f"mllt.{it}", exp / f"{it}.mdl", self.trainer.split / "JOB", exp,
                                  exp / "ali.JOB", exp / f"mllt.{it}.JOB.npz")
            stats = self.trainer.sum_job_outputs(f"mllt.{it}.JOB.npz")
            a = estimate_mllt(stats["g"], float(stats["frames"]))
            model = AcousticModel.load(exp / f"{it}.mdl")
            gmms = model.gmms
            gmms = DiagGmms(gmms.owner, gmms.weights, gmms.means @ a.T, gmms.variances @ (a ** 2).T)
            AcousticModel(model.trans_model, model.tree, gmms).save(exp / f"{it}.mllt.mdl")
            write_kaldi_matrix(exp / f"{it}.mat", (a @ self._matrix_after(it - 1)).astype(np.float32))
        self.features_after(it)
        return exp / f"{it}.mllt.mdl"


TRI_TRANSFORMS = ("delta", "lda")


def train_tri(data_dir, lang_dir, ali_dir, exp_dir, config: TrainConfig, nj: int, cmd: str,
              transform: str = "delta") -> AcousticModel:
    """steps/train_deltas.sh (transform delta: tri1) and steps/train_lda_mllt.sh (transform lda: tri2).

    Tree statistics from the given alignments, phone questions, a tree with config.num_leaves leaves, one
    Gaussian per leaf, the alignments converted to the new tree, then EM with realignment and mixing up
    (and MLLT updates for lda)."""
    if transform not in TRI_TRANSFORMS:
        raise AsrserError(f"unknown triphone feature transform {transform!r} ({' or '.join(TRI_TRANSFORMS)})")
    trainer = Trainer(data_dir, lang_dir, exp_dir, nj, cmd)
    exp, ali_dir = trainer.exp, Path(ali_dir)
    _check_alignment_jobs(ali_dir, nj)
    # "kind": the record's name for the transform since the first release (a new name would retrain every system)
    stamp = Stamp(exp / "train.done", [*training_inputs(data_dir, lang_dir), *tree_inputs(lang_dir),
                                       *alignment_archives(ali_dir)],
                  config=asdict(config), kind=transform)
    if stamp.is_current():
        log.info("%s is up to date", exp / "final.mdl")
        return AcousticModel.load(exp / "final.mdl")
    start_fresh_unless_resuming(exp, stamp)
    trainer.record_layout()
    if transform == "lda":
        hooks: IterationHooks | None = lda_mllt_features(trainer, config, ali_dir)
    else:
        FeaturePipeline("delta").save(exp)      # as the monophone system's, with no per-iteration updates
        hooks = None
    if _latest_iter(exp) < 1:
        init_tree_model(trainer, config, ali_dir)

    def converted_alignment() -> None:
        trainer.run_jobs("convert", "convert", ali_dir / "final.mdl", exp / "1.mdl", ali_dir / "ali.JOB",
                         exp / "ali.JOB")

    model = run_em(trainer, config, max(_latest_iter(exp), 1), converted_alignment, hooks)
    stamp.write()
    return model


def lda_mllt_features(trainer: Trainer, config: TrainConfig, ali_dir: Path) -> MlltHooks:
    """tri2's features: the LDA of spliced frames against the given alignments' pdfs (acc-lda, est-lda:
    0.mat), refined by MLLT at config.mllt_iters through the returned hooks."""
    from .lda import estimate_lda

    exp = trainer.exp
    pipeline = FeaturePipeline("lda", splice_context=config.splice_context)
    if not (exp / "0.mat").exists():
        FeaturePipeline("splice", splice_context=config.splice_context).save(exp)
        trainer.run_jobs("lda-stats", "lda-stats", ali_dir / "final.mdl", trainer.lang_dir, trainer.split / "JOB",
                         exp, ali_dir / "ali.JOB", exp / "lda.JOB.npz")
        lda = trainer.sum_job_outputs("lda.JOB.npz")
        lda_matrix = estimate_lda(lda["count"], lda["sums"], lda["scatter"], config.lda_dim)
        write_kaldi_matrix(exp / "0.mat", lda_matrix.astype(np.float32))
    hooks = MlltHooks(trainer, config, pipeline)
    hooks.features_after(0)
    return hooks


def init_tree_model(trainer: Trainer, config: TrainConfig, ali_dir: Path) -> None:
    """acc-tree-stats, cluster-phones and compile-questions, build-tree, gmm-init-model: the phonetic tree
    from the given alignments (questions.txt, tree) and 1.mdl with one Gaussian per leaf."""
    from .tree import BuildOptions, TreeStats, build_tree, cluster_phones, leaf_gaussians

    exp = trainer.exp
    lang = Lang.load(trainer.lang_dir)
    trainer.run_jobs("tree-stats", "acc_tree", ali_dir / "final.mdl", trainer.split / "JOB", exp,
                     ali_dir / "ali.JOB", exp / "treeacc.JOB.npz")
    parts = []
    for path in trainer.job_files("treeacc.JOB.npz"):
        parts.append(TreeStats.load(path))
        path.unlink()
    stats = TreeStats.merge(parts)
    topo = lang.topology()
    num_classes = dict(zip(topo.phones, (topo.num_pdf_classes(p) for p in topo.phones)))
    if config.tree_roots == "lang":
        # Kaldi's train_deltas.sh: cluster-phones over phones/sets.int, plus phones/extra_questions.int;
        # build-tree with phones/roots.int, acc-tree-stats --ci-phones=phones/context_indep
        questions = cluster_phones(stats, lang_phone_sets(lang, list(topo.phones)))
        questions += [sorted(q) for q in lang.extra_questions]
        roots = lang.roots
        context_indep = context_independent_phones(lang)
    else:       # per-state: the tree of earlier releases
        questions = cluster_phones(stats, [[p] for p in topo.phones])
        questions.append(sorted(lang.silence_ids))
        roots, context_indep = None, frozenset()
    with atomic_write(exp / "questions.txt") as f:
        f.writelines(" ".join(lang.id2phone[p] for p in q) + "\n" for q in questions)
    tree = build_tree(stats, questions, num_classes, BuildOptions(num_leaves=config.num_leaves), roots,
                      context_indep)
    ctx_dep = tree.to_context_dependency()
    _, means, variances = leaf_gaussians(tree, stats)
    model = AcousticModel(khg.TransitionModel(ctx_dep=ctx_dep, hmm_topo=topo), ctx_dep,
                          DiagGmms(np.arange(tree.num_leaves), np.ones(tree.num_leaves), means, variances))
    model.write_tree(exp / "tree")
    model.save(exp / "1.mdl")


def prepare_alignment_dir(model_dir: Path, out_dir: Path) -> None:
    """An alignment dir before its jobs run: an earlier run's alignments (perhaps with another --nj) and
    transforms removed; what Kaldi's align_si.sh and align_fmllr.sh copy (final.mdl, final.alimdl, tree,
    final.occs, final.mat, phones.txt) and the features copied from the system."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("ali.*"), *out_dir.glob("pre_ali.*"), *out_dir.glob("trans.*"),
                *out_dir.glob("num_jobs")]:
        old.unlink()
    for name in ("final.mdl", "final.alimdl", "tree", "final.occs", "final.mat", "phones.txt",
                 "feature_pipeline.json"):
        if (model_dir / name).exists():
            shutil.copyfile(model_dir / name, out_dir / name)


def align_si(data_dir, lang_dir, model_dir, out_dir, nj: int, cmd: str, opts: AlignOptions) -> dict:
    """steps/align_si.sh: align a data dir with a trained system into out_dir (with its model and tree)."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    stamp = Stamp(out_dir / "ali.done", [model_dir / "final.mdl", *training_inputs(data_dir, lang_dir)],
                  options=asdict(opts), nj=nj)
    if stamp.is_current():
        log.info("%s is up to date", out_dir)
        return json.loads((out_dir / "ali_counts.json").read_text())
    prepare_alignment_dir(model_dir, out_dir)
    trainer = Trainer(data_dir, lang_dir, out_dir, nj, cmd)
    counts = trainer.align(out_dir / "final.mdl", opts, out_dir)
    write_num_jobs(out_dir, nj)
    with atomic_write(out_dir / "ali_counts.json") as f:
        json.dump(counts, f)
    stamp.write()
    return counts


class SatHooks(IterationHooks):
    """steps/train_sat.sh: at the fMLLR iterations, each speaker's transform is re-estimated on the adapted
    features with the current model and alignments (silence weighted config.silence_weight) and composed with
    the old one. The jobs write fmllr.<it>.JOB; once all exist they become trans.JOB and trans.iter records
    the iteration, so that a resumed run neither skips nor repeats a composition."""

    def __init__(self, trainer: Trainer, config: TrainConfig):
        self.trainer, self.config = trainer, config

    def model_for_accumulation(self, it: int) -> Path:
        exp = self.trainer.exp
        if it in self.config.fmllr_iters and transform_iter(exp) < it:
            if not all(p.exists() for p in self.trainer.job_files(f"fmllr.{it}.JOB")):
                estimate_transforms(self.trainer, exp / f"{it}.mdl", exp / "ali.JOB", f"fmllr.{it}.JOB",
                                    fmllr_job_options(self.config), f"fmllr.{it}")
            for j, path in enumerate(self.trainer.job_files(f"fmllr.{it}.JOB"), start=1):
                shutil.copyfile(path, temp_name(exp / f"trans.{j}"))
                os.replace(temp_name(exp / f"trans.{j}"), exp / f"trans.{j}")
            set_transform_iter(exp, it)
            for path in self.trainer.job_files(f"fmllr.{it}.JOB"):
                path.unlink()
        return exp / f"{it}.mdl"


def fmllr_job_options(config: TrainConfig, **changes):
    from .jobs import FmllrJobOptions

    return FmllrJobOptions(silence_weight=config.silence_weight, min_count=config.fmllr_min_count, **changes)


def estimate_transforms(trainer: Trainer, model_path: Path, ali_prefix: Path | str, out_template: str, opts,
                        log_name: str = "fmllr", lang_dir: Path | None = None) -> None:
    """gmm-est-fmllr in every job: <exp>/<out_template> (JOB: the job) from the alignments (or lattices)."""
    trainer.run_jobs("fmllr", log_name, model_path, lang_dir or trainer.lang_dir, trainer.split / "JOB",
                     trainer.exp, ali_prefix, trainer.exp / out_template, "--options", json.dumps(asdict(opts)))


def transform_iter(exp: Path) -> int:
    path = exp / "trans.iter"
    return int(path.read_text()) if path.exists() else -1


def set_transform_iter(exp: Path, it: int) -> None:
    with atomic_write(exp / "trans.iter") as f:
        f.write(f"{it}\n")


def train_sat(data_dir, lang_dir, ali_dir, exp_dir, config: TrainConfig, nj: int, cmd: str) -> AcousticModel:
    """steps/train_sat.sh: speaker-adapted training on the alignment system's features (tri2's LDA+MLLT).

    First transforms from the alignment model and alignments (silence weighted config.silence_weight), the
    tree and 1.mdl from the adapted features as train_tri does, the alignments converted, EM with realignment,
    mixing up and fMLLR re-estimation at config.fmllr_iters; then final.alimdl, the speaker-independent model
    of the first decoding pass: final.mdl's Gaussian posteriors on the adapted features, its means and
    variances re-estimated on the speaker-independent ones (gmm-acc-stats-twofeats). trans.JOB in the exp dir."""
    trainer = Trainer(data_dir, lang_dir, exp_dir, nj, cmd)
    exp, ali_dir = trainer.exp, Path(ali_dir)
    _check_alignment_jobs(ali_dir, nj)
    stamp = Stamp(exp / "train.done", [*training_inputs(data_dir, lang_dir), *alignment_archives(ali_dir),
                                       ali_dir / "final.mdl"], config=asdict(config), kind="sat")
    if stamp.is_current():
        log.info("%s is up to date", exp / "final.mdl")
        return AcousticModel.load(exp / "final.mdl")
    start_fresh_unless_resuming(exp, stamp)
    trainer.record_layout()
    speaker_independent = FeaturePipeline.load(ali_dir, speaker_independent=True)
    if transform_iter(exp) < 0:
        speaker_independent.save(exp)
        estimate_transforms(trainer, ali_dir / "final.mdl", ali_dir / "ali.JOB", "trans.JOB",
                            fmllr_job_options(config), "fmllr.0")
        set_transform_iter(exp, 0)
    adapted = speaker_independent.speaker_independent()
    adapted.fmllr = True
    adapted.save(exp)
    if _latest_iter(exp) < 1:
        init_tree_model(trainer, config, ali_dir)

    def converted_alignment() -> None:
        trainer.run_jobs("convert", "convert", ali_dir / "final.mdl", exp / "1.mdl", ali_dir / "ali.JOB",
                         exp / "ali.JOB")

    model = run_em(trainer, config, max(_latest_iter(exp), 1), converted_alignment, SatHooks(trainer, config))
    if not (exp / "final.alimdl").exists():
        trainer.run_jobs("acc", "acc_alimdl", exp / "final.mdl", trainer.split / "JOB", exp, exp / "ali.JOB",
                         exp / "alimdl.JOB.acc.npz", "--si-stats")
        z = trainer.sum_job_outputs("alimdl.JOB.acc.npz")
        stats = GmmStats(z["occupancy"], z["sum_x"], z["sum_x2"], float(z["loglik"]), int(z["frames"]))
        gmms = model.gmms.updated(stats, MleOptions(remove_low_count_gaussians=False))
        AcousticModel(model.trans_model, model.tree, gmms).save(exp / "final.alimdl")
    stamp.write()
    return model


def align_fmllr(data_dir, lang_dir, model_dir, out_dir, nj: int, cmd: str, opts: AlignOptions,
                config: TrainConfig | None = None) -> dict:
    """steps/align_fmllr.sh: a speaker-independent alignment with final.alimdl (pre_ali.JOB.gz), per-speaker
    transforms from it (final.mdl's statistics with final.alimdl's Gaussian posteriors, silence weighted
    config.silence_weight: trans.JOB), then the adapted alignment with final.mdl (ali.JOB.gz)."""
    config = config or TrainConfig()
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    stamp = Stamp(out_dir / "ali.done", [model_dir / "final.mdl", model_dir / "final.alimdl",
                                         *training_inputs(data_dir, lang_dir)],
                  options=asdict(opts), nj=nj, fmllr=asdict(fmllr_job_options(config)))
    if stamp.is_current():
        log.info("%s is up to date", out_dir)
        return json.loads((out_dir / "ali_counts.json").read_text())
    prepare_alignment_dir(model_dir, out_dir)
    trainer = Trainer(data_dir, lang_dir, out_dir, nj, cmd)
    trainer.align(out_dir / "final.alimdl", opts, out_dir, name="align_pass1", prefix="pre_ali",
                  speaker_independent=True)
    estimate_transforms(trainer, out_dir / "final.mdl", out_dir / "pre_ali.JOB", "trans.JOB",
                        fmllr_job_options(config, speaker_independent=True,
                                          posterior_model=str(out_dir / "final.alimdl")))
    counts = trainer.align(out_dir / "final.mdl", opts, out_dir, name="align_pass2")
    write_num_jobs(out_dir, nj)
    with atomic_write(out_dir / "ali_counts.json") as f:
        json.dump(counts, f)
    stamp.write()
    return counts
