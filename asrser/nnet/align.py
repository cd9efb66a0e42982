"""Hybrid forced alignment (Kaldi's nnet align): a trained net's scaled likelihoods (log posterior - log
prior) aligned to each transcript's training graph, built from the HMM whose states the net predicts. The
output directory is an alignment directory like the GMMs' (final.mdl, ali.1.ark/scp, ali.1.failed), so
boundary accuracy, targets and the other conversions read it unchanged."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data import DataDir
from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write
from ..gmm.align import AlignmentWriter, AlignOptions, GraphCompiler, target_table, viterbi_align
from ..gmm.model import AcousticModel
from ..lang import Lang
from .data import FrameData, class_log_priors
from .decode import utterance_log_likelihoods
from .train import load_model, select_device

log = logging.getLogger(__name__)


def align_hybrid(hmm_model: str | os.PathLike, lang_dir: str | os.PathLike, data_dir: str | os.PathLike,
                 net_path: str | os.PathLike, frames_dir: str | os.PathLike,
                 train_frames_dir: str | os.PathLike, ali_dir: str | os.PathLike, opts: AlignOptions,
                 device: str = "auto", targets: str = "mono-state") -> dict:
    """Align the utterances of frames_dir to their transcripts in data_dir; utterances without a transcript
    or without an alignment within the retry beam are logged, listed in ali.1.failed and counted."""
    ali_dir = Path(ali_dir)
    text = Path(data_dir) / "text"
    train_targets = Path(train_frames_dir) / "targets.npy"
    stamp = Stamp(ali_dir / "ali.done", [Path(hmm_model), Path(net_path), Path(frames_dir) / "feats.npy",
                                         train_targets, text], options=asdict(opts), targets=targets)
    if stamp.is_current():
        return json.loads((ali_dir / "ali_counts.json").read_text())
    stamp.clear()
    net = load_model(net_path)
    hmm = AcousticModel.load(hmm_model)
    tid2class, num_classes = target_table(hmm, targets)
    if num_classes != net.num_classes:
        raise AsrserError(f"{net_path} predicts {net.num_classes} classes, the HMM has {num_classes} states")
    log_priors = class_log_priors(np.load(train_targets), num_classes)
    data = FrameData(frames_dir, net.config.context)
    compiler = GraphCompiler(hmm, Lang.load(lang_dir))
    transcripts = DataDir(data_dir).text()
    ali_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(hmm_model, ali_dir / "final.mdl")
    counts = dict(done=0, retried=0, failed=0, frames=0, loglik=0.0)
    failed: list[str] = []
    start = time.perf_counter()
    with AlignmentWriter(ali_dir / "ali.1") as write:
        for utt, loglik in utterance_log_likelihoods(net, data, log_priors, select_device(device)):
            try:
                words = transcripts.get(utt)
                if not words:
                    raise DataError(text, f"utterance {utt}: empty or missing transcript")
                graph = compiler.compile(words, where=f"{text}, utterance {utt}")
            except DataError as e:
                log.warning("skipping %s: %s", utt, e)
                failed.append(utt)
                continue
            alignment, retried, like = viterbi_align(hmm, graph, loglik, utt, opts, tid2class)
            if alignment is None:
                log.warning("skipping %s: no alignment of %d frames to its transcript (%d phones) with retry "
                            "beam %.1f", utt, len(loglik), len(words), opts.retry_beam)
                failed.append(utt)
                continue
            write(utt, alignment)
            counts["done"] += 1
            counts["retried"] += int(retried)
            counts["frames"] += len(alignment)
            counts["loglik"] += like
    counts["failed"] = len(failed)
    counts["seconds"] = time.perf_counter() - start
    with atomic_write(ali_dir / "ali.1.failed") as f:
        f.writelines(f"{u}\n" for u in failed)
    with atomic_write(ali_dir / "ali_counts.json") as f:
        json.dump(counts, f)
    stamp.write()
    log.info("%s: %d utterances aligned, %d retried, %d failed; %.0f frames/s", ali_dir, counts["done"],
             counts["retried"], counts["failed"], counts["frames"] / max(counts["seconds"], 1e-9))
    return counts
