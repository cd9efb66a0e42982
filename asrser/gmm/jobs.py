"""The per-job work of GMM training and alignment, run in parallel through the job runner:

    python -m asrser.gmm.jobs align  <model> <lang> <data> <exp> <out-prefix> [--equal] [--options JSON] [--si]
    python -m asrser.gmm.jobs acc    <model> <data> <exp> <ali-prefix> <stats.npz> [--si-stats]
    python -m asrser.gmm.jobs fmllr  <model> <lang> <data> <exp> <ali-prefix> <trans-out> [--options JSON]
    python -m asrser.gmm.jobs tree-stats <ali-model> <data> <exp> <ali-prefix> <stats.npz>
    python -m asrser.gmm.jobs lda-stats  <ali-model> <lang> <data> <exp> <ali-prefix> <stats.npz>
    python -m asrser.gmm.jobs mllt-stats <model> <data> <exp> <ali-prefix> <stats.npz>
    python -m asrser.gmm.jobs convert    <old-model> <new-model> <old-ali-prefix> <new-ali-prefix>

`<exp>` holds the feature pipeline (feature_pipeline.json, final.mat, and an SAT system's trans.JOB; --si: the
features before the fMLLR transforms). An alignment prefix names a job's
Kaldi archive `<prefix>.gz` (e.g. exp/mono/ali.3 -> ali.3.gz). Each job writes its outputs under temporary
names and renames them when complete. Utterances that cannot be aligned (no graph, empty transcript, unknown
phone, or no path even with the retry beam) are logged and skipped; their ids go to `<out-prefix>.failed` so
the driver can count them.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import DataDir
from ..errors import AsrserError
from ..fileio import atomic_write
from ..hmm.align import (AlignmentWriter, AlignOptions, DenseGraphs, align_dense, align_to_transcripts,
                         check_alignment, equal_alignment)
from ..kaldi_format import read_int_vectors
from ..hmm.graph import GraphCompiler
from ..hmm.tables import tid_tables, transition_tables
from ..lang import Lang
from .feats import FeaturePipeline, iter_features
from .model import AcousticModel

log = logging.getLogger("asrser.gmm.jobs")


def align_job(model_path: str, lang_dir: str, data_dir: str, exp_dir: str, out_prefix: str,
              opts: AlignOptions, equal: bool = False, speaker_independent: bool = False) -> dict:
    """Align every utterance of a data dir; return counts {done, retried, failed, frames, loglik}."""
    model = AcousticModel.load(model_path)
    lang = Lang.load(lang_dir)
    compiler = GraphCompiler(model, lang)
    pipeline = FeaturePipeline.load(exp_dir, speaker_independent=speaker_independent)
    silence_pdfs = np.unique(model.tid2pdf[1:][np.isin(tid_tables(model)[0][1:], lang.silence_ids)])
    dense_graphs = DenseGraphs(model, opts)

    def align_one(utt, graph, feats):
        if equal:
            return equal_alignment(graph, len(feats), utt), False, 0.0
        fst, tids = dense_graphs(graph)
        pdfs, label_columns = np.unique(model.tid2pdf[tids], return_inverse=True)   # the graph's pdfs alone
        loglik = boost_silence(model.gmms.loglik_of(feats, pdfs), np.flatnonzero(np.isin(pdfs, silence_pdfs)),
                               opts.boost_silence)
        return align_dense(fst, tids, loglik, label_columns, utt, opts)

    counts = align_to_transcripts(iter_features(data_dir, pipeline), DataDir(data_dir).text(),
                                  f"{data_dir}/text", compiler, out_prefix, align_one,
                                  "" if equal else f" with retry beam {opts.retry_beam}")
    log.info("aligned %d utterances (%d needed the retry beam), skipped %d; log-likelihood per frame %.3f",
             counts["done"], counts["retried"], counts["failed"], counts["loglik"] / max(counts["frames"], 1))
    return counts


def boost_silence(pdf_loglik: np.ndarray, silence_pdfs: np.ndarray, factor: float) -> np.ndarray:
    """gmm-boost-silence: the silence pdfs' likelihoods scaled by `factor` (log-likelihoods + log factor)."""
    if factor != 1.0 and len(silence_pdfs):
        pdf_loglik = pdf_loglik.copy()
        pdf_loglik[:, silence_pdfs] += np.log(factor)
    return pdf_loglik


def read_job_alignments(ali_prefix: str, model: AcousticModel) -> dict[str, np.ndarray]:
    """A job's alignments, <ali_prefix>.gz, checked against the model's transition-ids."""
    path = f"{ali_prefix}.gz"
    return {utt: check_alignment(ali.astype(np.int64), model.num_transition_ids, path, utt, model.path)
            for utt, ali in read_int_vectors(path)}


def _aligned_features(data_dir: str, exp_dir: str, ali_prefix: str, model: AcousticModel,
                      unaligned: list[str] | None = None, pipeline: FeaturePipeline | None = None):
    """(utt, features, alignment) for the utterances that have an alignment; the others go to `unaligned`."""
    pipeline = pipeline or FeaturePipeline.load(exp_dir)
    alignments = read_job_alignments(ali_prefix, model)
    for utt, feats in iter_features(data_dir, pipeline):
        ali = alignments.get(utt)
        if ali is None:
            if unaligned is not None:
                unaligned.append(utt)
            continue
        if len(ali) != len(feats):
            raise AsrserError(f"{ali_prefix}.gz: alignment of {utt} has {len(ali)} frames, features {len(feats)}")
        yield utt, feats, ali


def acc_job(model_path: str, data_dir: str, exp_dir: str, ali_prefix: str, stats_out: str,
            si_stats: bool = False) -> None:
    """gmm-acc-stats-ali: GMM statistics and transition counts from alignments. With si_stats (an SAT
    system; Kaldi's gmm-acc-stats-twofeats for final.alimdl) the Gaussian posteriors come from the adapted
    features and the statistics from the speaker-independent ones."""
    model = AcousticModel.load(model_path)
    stats = model.gmms.zero_stats()
    tid_counts = np.zeros(model.trans_model.num_transition_ids + 1)
    feats_list, pdfs_list, si_list, unaligned = [], [], [], []
    si_features = iter_features(data_dir, FeaturePipeline.load(exp_dir, speaker_independent=True)) \
        if si_stats else None
    for utt, feats, ali in _aligned_features(data_dir, exp_dir, ali_prefix, model, unaligned):
        feats_list.append(feats)
        pdfs_list.append(model.tid2pdf[ali])
        tid_counts += np.bincount(ali, minlength=len(tid_counts))
        if si_features is not None:
            si_list.append(next(x for u, x in si_features if u == utt))
    if feats_list:
        model.gmms.accumulate(stats, np.concatenate(feats_list), np.concatenate(pdfs_list),
                              np.concatenate(si_list) if si_stats else None)
    with atomic_write(stats_out, "wb", encoding=None) as f:
        np.savez(f, occupancy=stats.occupancy, sum_x=stats.sum_x, sum_x2=stats.sum_x2,
                 loglik=stats.loglik, frames=stats.frames, tid_counts=tid_counts)
    log.info("accumulated %d frames of %d utterances (%d without alignment); log-likelihood per frame %.3f",
             stats.frames, len(feats_list), len(unaligned), stats.loglik / max(stats.frames, 1))


def tree_stats_job(ali_model: str, data_dir: str, exp_dir: str, ali_prefix: str, stats_out: str) -> None:
    """acc-tree-stats: Gaussian statistics per (left, centre, right, pdf-class) event."""
    from .tree import TreeStats, frame_events

    model = AcousticModel.load(ali_model)
    phone_of, state_of = tid_tables(model)
    events, feats = [], []
    for _, x, ali in _aligned_features(data_dir, exp_dir, ali_prefix, model):
        events.append(frame_events(phone_of, state_of, ali))
        feats.append(x)
    stats = TreeStats.from_frames(np.concatenate(events), np.concatenate(feats))
    with atomic_write(stats_out, "wb", encoding=None) as f:
        stats.save(f)
    log.info("tree statistics: %d events from %d frames of %d utterances", len(stats.events),
             int(stats.count.sum()), len(feats))


def lda_stats_job(ali_model: str, lang_dir: str, data_dir: str, exp_dir: str, ali_prefix: str,
                  stats_out: str) -> None:
    """acc-lda: per-pdf counts and sums and the total scatter of spliced features (silence weighted 0)."""
    model = AcousticModel.load(ali_model)
    silence = np.isin(tid_tables(model)[0], Lang.load(lang_dir).silence_ids)
    num_pdfs = model.trans_model.num_pdfs
    count, sums, scatter = np.zeros(num_pdfs), None, None
    for _, x, ali in _aligned_features(data_dir, exp_dir, ali_prefix, model):
        keep = ~silence[ali]
        x = x[keep].astype(np.float64)
        pdfs = model.tid2pdf[ali[keep]]
        if sums is None:
            sums, scatter = np.zeros((num_pdfs, x.shape[1])), np.zeros((x.shape[1], x.shape[1]))
        count += np.bincount(pdfs, minlength=num_pdfs)
        np.add.at(sums, pdfs, x)
        scatter += x.T @ x
    with atomic_write(stats_out, "wb", encoding=None) as f:
        np.savez(f, count=count, sums=sums, scatter=scatter)


def mllt_stats_job(model_path: str, data_dir: str, exp_dir: str, ali_prefix: str, stats_out: str) -> None:
    """gmm-acc-mllt with Viterbi Gaussian selection: G_i = sum_t (x_t - mu)(x_t - mu)^T / var_i of the best
    Gaussian of the frame's pdf, for each dimension i."""
    model = AcousticModel.load(model_path)
    gmms = model.gmms
    dim = gmms.dim
    g_stats, frames = np.zeros((dim, dim, dim)), 0
    for _, x, ali in _aligned_features(data_dir, exp_dir, ali_prefix, model):
        pdfs = model.tid2pdf[ali]
        comp = gmms.component_loglik(x)
        masked = np.where(gmms.owner[None, :] == pdfs[:, None], comp, -np.inf)
        best = np.argmax(masked, axis=1)
        err = x.astype(np.float64) - gmms.means[best]
        weights = 1.0 / gmms.variances[best]                                   # (T, D)
        outer = (weights[:, :, None] * err[:, None, :]).reshape(len(x), dim * dim)
        g_stats += (outer.T @ err).reshape(dim, dim, dim)
        frames += len(x)
    with atomic_write(stats_out, "wb", encoding=None) as f:
        np.savez(f, g=g_stats, frames=frames)


def fmllr_job(model_path: str, lang_dir: str, data_dir: str, exp_dir: str, ali_prefix: str, trans_out: str,
              opts: FmllrJobOptions) -> None:
    """gmm-est-fmllr --spk2utt for one job: per-speaker transforms from frame posteriors (an alignment,
    ali-to-post; or the best path of a decode's lattices, lattice-to-post) with silence frames weighted by
    opts.silence_weight (weight-silence-post).

    On an SAT system's adapted features (the exp dir's trans.JOB) the estimate is composed with the speaker's
    current transform (compose-transforms --b-is-affine), as train_sat.sh does. With opts.speaker_independent
    the statistics are gathered on the features before any transform, the Gaussian posteriors from
    opts.posterior_model when given (gmm-post-to-gpost with final.alimdl, then gmm-est-fmllr-gpost)."""
    from .fmllr import FmllrOptions, FmllrStats, accumulate_fmllr, compose_transforms, estimate_fmllr, \
        write_transforms

    model = AcousticModel.load(model_path)
    posterior_model = AcousticModel.load(opts.posterior_model) if opts.posterior_model else None
    pipeline = FeaturePipeline.load(exp_dir, speaker_independent=opts.speaker_independent)
    silence = np.isin(tid_tables(model)[0], silence_phone_ids(lang_dir))
    if opts.lattices:
        from ..kaldi_format import read_lattices

        alignments = {}
        for utt, lattice in read_lattices(ali_prefix):
            best = lattice.best_path(acoustic_scale=opts.acwt, source=f"{ali_prefix}: {utt}")
            if best is not None:
                alignments[utt] = check_alignment(np.asarray(best.transition_ids, dtype=np.int64),
                                                  model.num_transition_ids, ali_prefix, utt, model.path)
    else:
        alignments = read_job_alignments(ali_prefix, model)
    data = DataDir(data_dir)
    utt2spk = data.utt2spk
    stats = {spk: FmllrStats(model.gmms.dim) for spk in data.spk2utt}
    for utt, feats in iter_features(data_dir, pipeline):
        ali = alignments.get(utt)
        if ali is None:
            continue
        if len(ali) != len(feats):
            raise AsrserError(f"{ali_prefix}: alignment of {utt} has {len(ali)} frames, features {len(feats)}")
        weights = np.where(silence[ali], opts.silence_weight, 1.0)
        accumulate_fmllr(stats[utt2spk[utt]], model.gmms, feats, model.tid2pdf[ali], weights,
                         posterior_model.gmms if posterior_model else None)
    fmllr_opts = FmllrOptions(min_count=opts.min_count, num_iters=opts.num_iters)
    transforms, improvements = {}, []
    for spk, spk_stats in stats.items():
        update, improvement = estimate_fmllr(spk_stats, fmllr_opts, spk)
        improvements.append((improvement, spk_stats.beta))
        transforms[spk] = compose_transforms(update, pipeline.transforms[spk]) if pipeline.fmllr else update
    write_transforms(trans_out, transforms)
    frames = sum(b for _, b in improvements)
    log.info("fMLLR transforms of %d speakers; objective improvement %.4f per frame over %.1f frames",
             len(transforms), sum(i * b for i, b in improvements) / max(frames, 1e-9), frames)


def silence_phone_ids(lang_or_graph_dir: str) -> list[int]:
    """The silence phones' ids from a lang dir or a graph dir (mkgraph copies phones.txt and phones/)."""
    from ..lang import read_symbol_table

    path = Path(lang_or_graph_dir)
    for name in ("phones.txt", "phones/silence.txt"):
        if not (path / name).is_file():
            raise AsrserError(f"{path / name}: missing (a lang or graph dir has it)")
    phones = read_symbol_table(path / "phones.txt")
    return [phones[p] for p in (path / "phones/silence.txt").read_text().split()]


@dataclass
class FmllrJobOptions:
    silence_weight: float = 0.0
    min_count: float = 20.0
    num_iters: int = 40
    speaker_independent: bool = False
    posterior_model: str = ""           # Gaussian posteriors from this model (final.alimdl) on the SI features
    lattices: bool = False              # the prefix names lattices (<decode>/lat.JOB.gz): their best paths
    acwt: float = 0.1


def convert_job(old_model: str, new_model: str, old_prefix: str, new_prefix: str) -> None:
    """convert-ali from the old model's transition-ids to the new model's (new tree)."""
    from .tree import convert_alignment

    old, new = AcousticModel.load(old_model), AcousticModel.load(new_model)
    phone_of, state_of = tid_tables(old)
    old_index, _ = transition_tables(old.trans_model)
    _, new_tid = transition_tables(new.trans_model)
    n = 0
    with AlignmentWriter(f"{new_prefix}.gz") as write:
        for utt, ali in read_job_alignments(old_prefix, old).items():
            write(utt, convert_alignment(phone_of, state_of, old_index, new_tid, new.require_tree(), ali))
            n += 1
    failed = Path(f"{old_prefix}.failed")
    with atomic_write(f"{new_prefix}.failed") as f:
        f.write(failed.read_text() if failed.exists() else "")
    log.info("converted %d alignments", n)


def main(argv: list[str] | None = None) -> None:
    from .. import cli

    p = argparse.ArgumentParser(prog="python -m asrser.gmm.jobs")
    sub = p.add_subparsers(dest="what", required=True)
    a = sub.add_parser("align")
    for name in ("model", "lang", "data", "exp", "out_prefix"):
        a.add_argument(name)
    a.add_argument("--equal", action="store_true")
    a.add_argument("--options", default="{}", help="AlignOptions as JSON")
    a.add_argument("--si", action="store_true", help="the features before an SAT system's fMLLR transforms")
    c = sub.add_parser("acc")
    for name in ("model", "data", "exp", "ali_prefix", "stats_out"):
        c.add_argument(name)
    c.add_argument("--si-stats", action="store_true")
    f = sub.add_parser("fmllr")
    for name in ("model", "lang", "data", "exp", "ali_prefix", "trans_out"):
        f.add_argument(name)
    f.add_argument("--options", default="{}", help="FmllrJobOptions as JSON")
    for what, names in (("tree-stats", ("model", "data", "exp", "ali_prefix", "stats_out")),
                        ("lda-stats", ("model", "lang", "data", "exp", "ali_prefix", "stats_out")),
                        ("mllt-stats", ("model", "data", "exp", "ali_prefix", "stats_out")),
                        ("convert", ("old_model", "new_model", "old_prefix", "new_prefix"))):
        sp = sub.add_parser(what)
        for name in names:
            sp.add_argument(name)
    args = p.parse_args(argv)
    cli.run(run_job, args, program=f"asrser.gmm.jobs {args.what}")


def run_job(args: argparse.Namespace) -> None:
    if args.what == "align":
        align_job(args.model, args.lang, args.data, args.exp, args.out_prefix,
                  AlignOptions(**json.loads(args.options)), args.equal, args.si)
    elif args.what == "acc":
        acc_job(args.model, args.data, args.exp, args.ali_prefix, args.stats_out, args.si_stats)
    elif args.what == "fmllr":
        fmllr_job(args.model, args.lang, args.data, args.exp, args.ali_prefix, args.trans_out,
                  FmllrJobOptions(**json.loads(args.options)))
    elif args.what == "tree-stats":
        tree_stats_job(args.model, args.data, args.exp, args.ali_prefix, args.stats_out)
    elif args.what == "lda-stats":
        lda_stats_job(args.model, args.lang, args.data, args.exp, args.ali_prefix, args.stats_out)
    elif args.what == "mllt-stats":
        mllt_stats_job(args.model, args.data, args.exp, args.ali_prefix, args.stats_out)
    else:
        convert_job(args.old_model, args.new_model, args.old_prefix, args.new_prefix)


if __name__ == "__main__":
    main()
