"""Forced alignment to training graphs (equal and Viterbi) and alignment archives.

Alignments are Kaldi's: per utterance an int32 vector of transition-ids, stored as Kaldi's gzipped int-vector
archives `ali.JOB.gz`, with the number of jobs in `num_jobs` (asrser.kaldi_format), so that Kaldi's tools read
ours and ours read Kaldi's.
Training graphs carry no transition probabilities (graph.GraphCompiler, as Kaldi's compile-train-graphs);
the aligner adds them, as gmm-align-compiled does with --transition-scale=1.0 --self-loop-scale=0.1 and
--acoustic-scale=0.1. The aligner reads a scorer's log-likelihoods (see the package's docstring).
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import kaldi_hmm_gmm as khg
import kaldifst
import numpy as np

from ..errors import DataError
from ..fileio import atomic_write
from ..kaldi_format import ArchiveWriter, read_int_vectors, read_num_jobs
from .graph import GraphCompiler
from .model import HmmModel
from .tables import scaled_tid_loglik

log = logging.getLogger(__name__)

# align_one(utt, training graph, per-frame matrix) -> (alignment or None, whether the retry beam was needed,
# log-likelihood)
AlignOne = Callable[[str, kaldifst.StdVectorFst, np.ndarray], tuple[list[int] | None, bool, float]]


@dataclass
class AlignOptions:
    beam: float = 10.0
    retry_beam: float = 40.0
    acoustic_scale: float = 0.1
    transition_scale: float = 1.0
    self_loop_scale: float = 0.1
    boost_silence: float = 1.0      # GMMs: Kaldi's gmm-boost-silence factor on silence pdfs (mono: 1.25)


def equal_alignment(graph: kaldifst.StdVectorFst, num_frames: int, utt: str) -> list[int] | None:
    """align-equal-compiled: a random path through the graph with frames shared out equally (seeded by utt)."""
    ok, path = kaldifst.equal_align(ifst=graph, length=num_frames, rand_seed=zlib.crc32(utt.encode()) & 0x7FFFFFFF,
                                    num_retries=10)
    if not ok:
        return None
    ok, tids, _, _ = kaldifst.get_linear_symbol_sequence(path)
    return list(tids) if ok and len(tids) == num_frames else None


_ARC_INPUT_LABEL = re.compile(r"^\d+[ \t]+\d+[ \t]+(\d+)", re.MULTILINE)


def graph_columns(graph: kaldifst.StdVectorFst, tid2column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The score columns a graph can read: (the sorted columns (e.g. pdfs) of the transition-ids on its arcs,
    the transition-id -> position-among-them table for viterbi_align; transition-ids not in the graph map to
    position 0, never read). A scorer then computes only these columns (a training graph uses a few percent
    of a triphone system's pdfs)."""
    # OpenFst's text form is much faster to get and scan than an arc iterator driven from Python
    tids = np.array(_ARC_INPUT_LABEL.findall(str(graph)), dtype=np.int64)
    tids = np.unique(tids[tids > 0])
    columns, position = np.unique(np.asarray(tid2column)[tids], return_inverse=True)
    table = np.zeros(len(tid2column), dtype=np.int64)
    table[tids] = position
    return columns, table


def viterbi_align(model: HmmModel, graph: kaldifst.StdVectorFst, loglik: np.ndarray, utt: str,
                  opts: AlignOptions, tid2column: np.ndarray | None = None) -> tuple[list[int] | None, bool, float]:
    """gmm-align-compiled (or, with a net's class scores and tid2column, nnet align-compiled) for one
    utterance: (alignment or None, whether the retry beam was needed, loglik). tid2column defaults to the
    model's pdfs."""
    fst = graph.copy()
    khg.add_transition_probs(trans_model=model.trans_model, transition_scale=opts.transition_scale,
                             self_loop_scale=opts.self_loop_scale, fst=fst)
    columns = model.tid2pdf if tid2column is None else tid2column
    decodable = khg.DecodableCtc(scaled_tid_loglik(loglik, columns, opts.acoustic_scale))
    config = khg.AlignConfig()
    config.beam, config.retry_beam, config.careful = opts.beam, opts.retry_beam, False
    done, error, retried, like, _, alignment, _ = khg.align_utterance_wrapper(
        config=config, utt=utt, acoustic_scale=opts.acoustic_scale, fst=fst, decodable=decodable,
        num_done=0, num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
    if not done or len(alignment) != len(loglik):
        return None, bool(retried), 0.0
    return list(alignment), bool(retried), like / opts.acoustic_scale


class AlignmentWriter:
    """Writes ali.JOB.gz (Kaldi's gzipped int32-vector archive) under a temporary name; `close()` renames it
    when the job is complete."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._writer = ArchiveWriter(self.path)

    def __call__(self, utt: str, alignment: Iterable[int]) -> None:
        self._writer.write_int_vector(utt, np.asarray(alignment, dtype=np.int32))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "AlignmentWriter":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self._writer.abort()


def align_to_transcripts(utterances: Iterable[tuple[str, np.ndarray]], transcripts: dict[str, list[str]],
                         text_path: str | os.PathLike, compiler: GraphCompiler, out_prefix: str | os.PathLike,
                         align_one: AlignOne, retry_note: str = "") -> dict:
    """The loop of gmm-align-compiled and nnet align: every (utt, per-frame matrix) is aligned to its
    transcript's training graph by align_one(utt, graph, matrix) -> (alignment or None, retried, loglik) and
    written to <out_prefix>.gz (e.g. ali.1.gz). Utterances without a transcript, a graph or an alignment are
    logged, skipped and listed in <out_prefix>.failed. Returns {done, retried, failed, frames, loglik}."""
    counts = dict(done=0, retried=0, failed=0, frames=0, loglik=0.0)
    failed: list[str] = []
    with AlignmentWriter(f"{out_prefix}.gz") as write:
        for utt, frames in utterances:
            words = transcripts.get(utt)
            try:
                if not words:
                    raise DataError(text_path, f"utterance {utt}: empty or missing transcript")
                graph = compiler.compile(words, where=f"{text_path}, utterance {utt}")
            except DataError as e:
                log.warning("skipping %s: %s", utt, e)
                failed.append(utt)
                continue
            alignment, retried, like = align_one(utt, graph, frames)
            if alignment is None:
                log.warning("skipping %s: no alignment of %d frames to its transcript (%d phones)%s",
                            utt, len(frames), len(words), retry_note)
                failed.append(utt)
                continue
            write(utt, alignment)
            counts["done"] += 1
            counts["retried"] += int(retried)
            counts["frames"] += len(frames)
            counts["loglik"] += like
    counts["failed"] = len(failed)
    with atomic_write(f"{out_prefix}.failed") as f:
        f.writelines(f"{u}\n" for u in failed)
    return counts


def check_alignment(alignment: np.ndarray, num_transition_ids: int, source: str | os.PathLike, utt: str,
                    model_path: str | os.PathLike | None = None) -> np.ndarray:
    """An alignment whose transition-ids exist in the model (1..num_transition_ids); otherwise an error naming
    the archive, the utterance and the model: alignments of another model or tree."""
    if len(alignment) and (alignment.min() < 1 or alignment.max() > num_transition_ids):
        bad = int(alignment.max() if alignment.max() > num_transition_ids else alignment.min())
        raise DataError(source, f"utterance {utt}: transition-id {bad} is out of range for the model"
                                f"{f' {model_path}' if model_path else ''} (1..{num_transition_ids}): "
                                "alignments of another model or tree?")
    return alignment


def alignment_archives(ali_dir: str | os.PathLike) -> list[Path]:
    """ali.1.gz .. ali.<num_jobs>.gz of an alignment (or training or decode) dir, as Kaldi's scripts find them."""
    return [Path(ali_dir) / f"ali.{job}.gz" for job in range(1, read_num_jobs(ali_dir) + 1)]


def read_alignments(ali_dir: str | os.PathLike, num_transition_ids: int | None = None
                    ) -> Iterator[tuple[str, np.ndarray]]:
    """All alignments of a Kaldi alignment dir (ali.JOB.gz through its num_jobs), in job order; checked against
    a model's transition-ids when num_transition_ids is given."""
    model = Path(ali_dir) / "final.mdl"
    for path in alignment_archives(ali_dir):
        for utt, ali in read_int_vectors(path):
            ali = ali.astype(np.int64)
            if num_transition_ids is not None:
                check_alignment(ali, num_transition_ids, path, utt, model)
            yield utt, ali


def load_alignments(ali_dir: str | os.PathLike, num_transition_ids: int | None = None) -> dict[str, np.ndarray]:
    return dict(read_alignments(ali_dir, num_transition_ids))
