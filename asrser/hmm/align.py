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
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import kaldi_hmm_gmm as khg
import kaldifst
import numpy as np

from ..errors import AsrserError, DataError
from ..fileio import atomic_write
from ..kaldi_format import ArchiveWriter, read_int_vectors, read_num_jobs
from .graph import GraphCompiler
from .model import HmmModel
from .tables import scaled_columns

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


class DenseGraphs:
    """Training graphs made ready for the aligner: transition probabilities added (as gmm-align-compiled
    does) and the input labels renumbered 1..n over the n transition-ids the graph uses, so that the aligner
    reads a score matrix of n columns (one utterance's transition-ids: a few percent of a triphone model's)
    instead of one per transition-id of the model. The arcs, their order, weights and states are unchanged,
    so the Viterbi search and its alignment (mapped back to transition-ids) are those of the model's labels.

    The wheels offer neither a mutable arc iterator nor an in-memory serialisation, and OpenFst's text form
    rounds weights to 6 digits, so the labels are rewritten in OpenFst's binary file form (one scratch file
    per process, removed before each write: overwriting a file in place can force ext4 to flush it)."""

    def __init__(self, model: HmmModel, opts: AlignOptions):
        self.model, self.opts = model, opts
        self._scratch = tempfile.TemporaryDirectory(prefix="asrser-graphs-")
        self._path = os.path.join(self._scratch.name, f"{os.getpid()}.fst")

    def __call__(self, graph: kaldifst.StdVectorFst) -> tuple[kaldifst.StdVectorFst, np.ndarray]:
        """(the graph with transition probabilities and dense input labels, the transition-id of each dense
        label: tids[label - 1])."""
        fst = graph.copy()
        khg.add_transition_probs(trans_model=self.model.trans_model, transition_scale=self.opts.transition_scale,
                                 self_loop_scale=self.opts.self_loop_scale, fst=fst)
        data = bytearray(self._write(fst))
        words, ilabel_at = _vector_fst_ilabels(data, self._path)
        labels = words[ilabel_at]
        tids, dense = np.unique(labels, return_inverse=True)
        if len(tids) and tids[0] == 0:         # epsilon stays 0
            tids = tids[1:]
        else:
            dense = dense + 1
        words[ilabel_at] = dense
        if os.path.exists(self._path):
            os.unlink(self._path)
        with open(self._path, "wb") as f:
            f.write(data)
        return kaldifst.StdVectorFst.read(self._path), tids

    def _write(self, fst: kaldifst.StdVectorFst) -> bytes:
        if os.path.exists(self._path):
            os.unlink(self._path)
        if not fst.write(self._path):
            raise OSError(f"{self._path}: cannot write a graph")
        with open(self._path, "rb") as f:
            return f.read()


_FST_MAGIC = 2125659606


def _vector_fst_ilabels(data: bytearray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A writable int32 view of a binary OpenFst VectorFst (StdArc) and the indices in it of the arcs' input
    labels. The file form: a header (magic, type and arc-type strings, version, flags, properties, start,
    number of states and arcs), then per state its final weight (float32), number of arcs (int64) and arcs
    (ilabel, olabel int32, weight float32, nextstate int32)."""
    magic, = struct.unpack_from("<i", data, 0)
    pos = 4
    for _ in range(2):                                  # "vector", "standard"
        size, = struct.unpack_from("<i", data, pos)
        pos += 4 + size
    _, flags = struct.unpack_from("<ii", data, pos)
    _, _, num_states, _ = struct.unpack_from("<Qqqq", data, pos + 8)
    pos += 40
    if magic != _FST_MAGIC or flags & 3:                # symbol tables would follow the header
        raise AsrserError(f"{where}: not a VectorFst without symbol tables")
    header = pos
    first, count = np.empty(num_states, dtype=np.int64), np.empty(num_states, dtype=np.int64)
    for state in range(num_states):
        arcs, = struct.unpack_from("<q", data, pos + 4)
        first[state], count[state] = pos + 12, arcs
        pos += 12 + 16 * arcs
    if pos != len(data):
        raise AsrserError(f"{where}: {len(data) - pos} bytes after the last state of a VectorFst")
    # every record is a multiple of 4 bytes, so the labels sit on 4-byte words counted from the header
    words = np.frombuffer(data, dtype="<i4", count=(len(data) - header) // 4, offset=header)
    arc_in_state = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return words, (np.repeat(first, count) - header) // 4 + 4 * arc_in_state


def viterbi_align(model: HmmModel, graph: kaldifst.StdVectorFst, loglik: np.ndarray, utt: str,
                  opts: AlignOptions, tid2column: np.ndarray | None = None,
                  dense_graphs: DenseGraphs | None = None) -> tuple[list[int] | None, bool, float]:
    """gmm-align-compiled (or, with a net's class scores and tid2column, nnet align-compiled) for one
    utterance: (alignment or None, whether the retry beam was needed, loglik). tid2column defaults to the
    model's pdfs; pass dense_graphs (DenseGraphs(model, opts)) when aligning many utterances."""
    fst, tids = (dense_graphs or DenseGraphs(model, opts))(graph)
    columns = model.tid2pdf if tid2column is None else np.asarray(tid2column)
    return align_dense(fst, tids, loglik, columns[tids], utt, opts)


def align_dense(fst: kaldifst.StdVectorFst, tids: np.ndarray, loglik: np.ndarray, label_columns: np.ndarray,
                utt: str, opts: AlignOptions) -> tuple[list[int] | None, bool, float]:
    """viterbi_align on a graph from DenseGraphs: dense label i+1 (transition-id tids[i]) reads column
    label_columns[i] of loglik."""
    decodable = khg.DecodableCtc(scaled_columns(loglik, label_columns, opts.acoustic_scale))
    config = khg.AlignConfig()
    config.beam, config.retry_beam, config.careful = opts.beam, opts.retry_beam, False
    done, error, retried, like, _, alignment, _ = khg.align_utterance_wrapper(
        config=config, utt=utt, acoustic_scale=opts.acoustic_scale, fst=fst, decodable=decodable,
        num_done=0, num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
    if not done or len(alignment) != len(loglik):
        return None, bool(retried), 0.0
    return tids[np.asarray(alignment, dtype=np.int64) - 1].tolist(), bool(retried), like / opts.acoustic_scale


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
