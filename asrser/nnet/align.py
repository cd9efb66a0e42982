"""Hybrid forced alignment (Kaldi's nnet align): a trained net's scaled likelihoods (log posterior - log
prior) aligned to each transcript's training graph, built from the HMM whose states the net predicts. The
output directory is an alignment directory like the GMMs' (final.mdl, tree, ali.1.gz, num_jobs, ali.1.failed), so
boundary accuracy, targets and the other conversions read it unchanged."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from ..data import DataDir
from ..fileio import Stamp, atomic_write
from ..hmm.align import AlignOptions, DenseGraphs, align_to_transcripts, viterbi_align
from ..hmm.graph import GraphCompiler
from ..kaldi_format import write_num_jobs
from ..lang import Lang
from .data import frame_files
from .decode import Hybrid, net_dir_files

log = logging.getLogger(__name__)


def align_hybrid(hmm_model: str | os.PathLike, lang_dir: str | os.PathLike, data_dir: str | os.PathLike,
                 net_path: str | os.PathLike, frames_dir: str | os.PathLike, ali_dir: str | os.PathLike,
                 opts: AlignOptions, device: str = "auto", targets: str = "mono-state") -> dict:
    """Align the utterances of frames_dir to their transcripts in data_dir; utterances without a transcript
    or without an alignment within the retry beam are logged, listed in ali.1.failed and counted."""
    ali_dir = Path(ali_dir)
    text = Path(data_dir) / "text"
    stamp = Stamp(ali_dir / "ali.done", [Path(hmm_model), Path(net_path), *frame_files(frames_dir),
                                         *net_dir_files(net_path), text, *Lang.files(lang_dir)],
                  options=asdict(opts), targets=targets)
    if stamp.is_current():
        return json.loads((ali_dir / "ali_counts.json").read_text())
    stamp.clear()
    hybrid = Hybrid.load(net_path, hmm_model, frames_dir, targets)
    compiler = GraphCompiler(hybrid.hmm, Lang.load(lang_dir))
    ali_dir.mkdir(parents=True, exist_ok=True)
    for old in [*ali_dir.glob("ali.*"), *ali_dir.glob("num_jobs")]:
        old.unlink()
    # Kaldi's alignment dir: the HMM's model and, beside it, its tree and phones
    shutil.copyfile(hmm_model, ali_dir / "final.mdl")
    for name in ("tree", "phones.txt"):
        if (Path(hmm_model).parent / name).exists():
            shutil.copyfile(Path(hmm_model).parent / name, ali_dir / name)

    dense_graphs = DenseGraphs(hybrid.hmm, opts)

    def align_one(utt, graph, loglik):
        return viterbi_align(hybrid.hmm, graph, loglik, utt, opts, hybrid.tid2class, dense_graphs)

    start = time.perf_counter()
    counts = align_to_transcripts(hybrid.log_likelihoods(device), DataDir(data_dir).text(), text, compiler,
                                  ali_dir / "ali.1", align_one, f" with retry beam {opts.retry_beam}")
    counts["seconds"] = time.perf_counter() - start
    write_num_jobs(ali_dir, 1)
    with atomic_write(ali_dir / "ali_counts.json") as f:
        json.dump(counts, f)
    stamp.write()
    log.info("%s: %d utterances aligned, %d retried, %d failed; %.0f frames/s", ali_dir, counts["done"],
             counts["retried"], counts["failed"], counts["frames"] / max(counts["seconds"], 1e-9))
    return counts
