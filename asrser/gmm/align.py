"""Training graphs, equal and Viterbi forced alignment, alignment archives and their conversions.

Alignments are Kaldi's: per utterance an int32 vector of transition-ids, stored as `ali.JOB.ark` (+ scp).
Kaldi's compile-train-graphs adds no transition probabilities (scales 0); gmm-align-compiled adds them at
alignment time with --transition-scale=1.0 --self-loop-scale=0.1 and --acoustic-scale=0.1.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import kaldi_hmm_gmm as khg
import kaldifst
import kaldiio
import numpy as np

from ..errors import AsrserError, DataError
from ..fileio import atomic_write, temp_name
from ..lang import Lang
from .model import AcousticModel

log = logging.getLogger(__name__)


@dataclass
class AlignOptions:
    beam: float = 10.0
    retry_beam: float = 40.0
    acoustic_scale: float = 0.1
    transition_scale: float = 1.0
    self_loop_scale: float = 0.1
    boost_silence: float = 1.0      # Kaldi's gmm-boost-silence factor on silence pdfs (mono: 1.25)


class GraphCompiler:
    """compile-train-graphs: one linear-in-words training FST per transcript."""

    def __init__(self, model: AcousticModel, lang: Lang):
        opts = khg.TrainingGraphCompilerOptions()
        opts.transition_scale = 0.0
        opts.self_loop_scale = 0.0
        lex = lang.lexicon_fst()
        kaldifst.arcsort(lex, sort_type="olabel")
        self.lang = lang
        self.compiler = khg.TrainingGraphCompiler(trans_model=model.trans_model, ctx_dep=model.tree,
                                                  lex_fst=lex, disambig_syms=lang.disambig_phone_ids,
                                                  opts=opts)

    def compile(self, words: list[str], where: str = "") -> kaldifst.StdVectorFst:
        return self.compiler.compile_graph_from_text(self.lang.word_ids(words, where))


def equal_alignment(graph: kaldifst.StdVectorFst, num_frames: int, utt: str) -> list[int] | None:
    """align-equal-compiled: a random path through the graph with frames shared out equally (seeded by utt)."""
    ok, path = kaldifst.equal_align(ifst=graph, length=num_frames, rand_seed=zlib.crc32(utt.encode()) & 0x7FFFFFFF,
                                    num_retries=10)
    if not ok:
        return None
    ok, tids, _, _ = kaldifst.get_linear_symbol_sequence(path)
    return list(tids) if ok and len(tids) == num_frames else None


def scaled_tid_loglik(model: AcousticModel, pdf_loglik: np.ndarray, acoustic_scale: float,
                      tid2column: np.ndarray | None = None) -> np.ndarray:
    """Matrix for the wheels' DecodableCtc, which reads column tid-1: acwt * loglik[:, pdf(tid)] (or the
    column tid2column[tid] of a net's class scores)."""
    columns = (model.tid2pdf if tid2column is None else tid2column)[1:]
    return np.ascontiguousarray(acoustic_scale * pdf_loglik[:, columns], dtype=np.float32)


def boost_silence(pdf_loglik: np.ndarray, silence_pdfs: np.ndarray, factor: float) -> np.ndarray:
    if factor != 1.0 and len(silence_pdfs):
        pdf_loglik = pdf_loglik.copy()
        pdf_loglik[:, silence_pdfs] += np.log(factor)
    return pdf_loglik


def viterbi_align(model: AcousticModel, graph: kaldifst.StdVectorFst, pdf_loglik: np.ndarray, utt: str,
                  opts: AlignOptions, tid2column: np.ndarray | None = None) -> tuple[list[int] | None, bool, float]:
    """gmm-align-compiled (or, with a net's class scores and tid2column, nnet align-compiled) for one
    utterance: (alignment or None, whether the retry beam was needed, loglik)."""
    fst = graph.copy()
    khg.add_transition_probs(trans_model=model.trans_model, transition_scale=opts.transition_scale,
                             self_loop_scale=opts.self_loop_scale, fst=fst)
    decodable = khg.DecodableCtc(scaled_tid_loglik(model, pdf_loglik, opts.acoustic_scale, tid2column))
    config = khg.AlignConfig()
    config.beam, config.retry_beam, config.careful = opts.beam, opts.retry_beam, False
    done, error, retried, like, _, alignment, _ = khg.align_utterance_wrapper(
        config=config, utt=utt, acoustic_scale=opts.acoustic_scale, fst=fst, decodable=decodable,
        num_done=0, num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
    if not done or len(alignment) != len(pdf_loglik):
        return None, bool(retried), 0.0
    return list(alignment), bool(retried), like / opts.acoustic_scale


class AlignmentWriter:
    """Writes ali.JOB.ark/.scp under temporary names; `close()` renames both when the job is complete."""

    def __init__(self, prefix: str | os.PathLike):
        self.ark = Path(f"{prefix}.ark")
        self.scp = Path(f"{prefix}.scp")
        self._tmp_ark, self._tmp_scp = temp_name(self.ark), temp_name(self.scp)
        self._writer = kaldiio.WriteHelper(f"ark,scp:{self._tmp_ark},{self._tmp_scp}")

    def __call__(self, utt: str, alignment: Iterable[int]) -> None:
        self._writer(utt, np.asarray(alignment, dtype=np.int32))

    def close(self) -> None:
        self._writer.close()
        # the scp names the temporary ark; point it at the final name before publishing both
        text = self._tmp_scp.read_text().replace(str(self._tmp_ark), str(self.ark))
        self._tmp_scp.write_text(text)
        os.replace(self._tmp_ark, self.ark)
        os.replace(self._tmp_scp, self.scp)

    def __enter__(self) -> "AlignmentWriter":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self._writer.close()
            for p in (self._tmp_ark, self._tmp_scp):
                p.unlink(missing_ok=True)


def align_to_transcripts(utterances: Iterable[tuple[str, np.ndarray]], transcripts: dict[str, list[str]],
                         text_path: str | os.PathLike, compiler: GraphCompiler, out_prefix: str | os.PathLike,
                         align_one: Callable[[str, kaldifst.StdVectorFst, np.ndarray],
                                             tuple[list[int] | None, bool, float]],
                         retry_note: str = "") -> dict:
    """The loop of gmm-align-compiled and nnet align: every (utt, per-frame matrix) is aligned to its
    transcript's training graph by align_one(utt, graph, matrix) -> (alignment or None, retried, loglik) and
    written to <out_prefix>.ark/scp. Utterances without a transcript, a graph or an alignment are logged,
    skipped and listed in <out_prefix>.failed. Returns {done, retried, failed, frames, loglik}."""
    counts = dict(done=0, retried=0, failed=0, frames=0, loglik=0.0)
    failed: list[str] = []
    with AlignmentWriter(out_prefix) as write:
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


def read_alignments(ali_dir: str | os.PathLike) -> Iterator[tuple[str, np.ndarray]]:
    """All alignments of a directory (ali.*.scp), in job order."""
    scps = sorted(Path(ali_dir).glob("ali.*.scp"), key=lambda p: int(p.name.split(".")[1]))
    if not scps:
        raise AsrserError(f"{ali_dir}: no alignments (ali.*.scp)")
    for scp in scps:
        for utt, ali in kaldiio.load_scp_sequential(str(scp)):
            yield utt, np.asarray(ali, dtype=np.int64)


def load_alignments(ali_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    return dict(read_alignments(ali_dir))


# -- conversions (ali-to-pdf, ali-to-phones --per-frame / --write-lengths, monophone state targets) --------

def alignment_to_pdfs(model: AcousticModel, alignment: np.ndarray) -> np.ndarray:
    return model.tid2pdf[alignment]


def tid_tables(model: AcousticModel) -> tuple[np.ndarray, np.ndarray]:
    """Per transition-id: its phone and its HMM state (position in the phone's topology)."""
    tm = model.trans_model
    tuples = [t.__getstate__() for t in tm.tuples]          # (phone, hmm_state, forward_pdf, self_loop_pdf)
    tstate = np.asarray(tm.id2state, dtype=np.int64)         # transition-id -> transition state (1-based)
    phone = np.array([0] + [tuples[s - 1][0] for s in tstate[1:]], dtype=np.int64)
    state = np.array([0] + [tuples[s - 1][1] for s in tstate[1:]], dtype=np.int64)
    return phone, state


def alignment_to_phone_segments(phone_of: np.ndarray, state_of: np.ndarray, alignment: np.ndarray
                                ) -> list[tuple[int, int]]:
    """ali-to-phones --write-lengths: [(phone id, number of frames)]. A new phone starts where the phone
    changes or state 0 is entered (no topology returns to its state 0 except through a new phone instance;
    silence's inner states do loop back), so identical consecutive phones are kept apart."""
    phones = phone_of[alignment]
    states = state_of[alignment]
    boundary = np.r_[True, (phones[1:] != phones[:-1]) | ((states[1:] == 0) & (states[:-1] != 0))]
    starts = np.flatnonzero(boundary)
    lengths = np.diff(np.r_[starts, len(alignment)])
    return [(int(phones[s]), int(n)) for s, n in zip(starts, lengths)]


# -- neural-net targets ---------------------------------------------------------------------------------

def monophone_state_classes(model: AcousticModel, num_states: int = 3) -> tuple[np.ndarray, int]:
    """transition-id -> class (phone - 1) * num_states + state: 48 x 3 = 144 classes on TIMIT.

    Phones with more HMM states (silence: 5) are folded onto num_states classes: the first state to class
    0, the last to class num_states-1, the inner states to the middle class(es), as the paper's 3-state
    targets need one class set for every phone."""
    phone, state = tid_tables(model)
    topo = model.trans_model.topo if not callable(model.trans_model.topo) else model.trans_model.topo()
    n_states = {p: n for p, n in zip(topo.phones, [topo.num_pdf_classes(p) for p in topo.phones])}
    classes = np.zeros(len(phone), dtype=np.int64)
    for tid in range(1, len(phone)):
        n = n_states[int(phone[tid])]
        s = int(state[tid])
        folded = s if n == num_states else (0 if s == 0 else num_states - 1 if s == n - 1 else
                                             1 + (s - 1) * (num_states - 2) // max(n - 2, 1))
        classes[tid] = (phone[tid] - 1) * num_states + folded
    return classes, int(max(topo.phones)) * num_states


def target_table(model: AcousticModel, kind: str = "mono-state") -> tuple[np.ndarray, int]:
    """transition-id -> frame class for the nets, and the number of classes: monophone HMM states
    (mono-state) or the tree's leaves (pdf)."""
    if kind == "mono-state":
        return monophone_state_classes(model)
    if kind == "pdf":
        return model.tid2pdf, model.trans_model.num_pdfs
    raise AsrserError(f"unknown target kind {kind!r} (mono-state or pdf)")


def write_targets(ali_dir: str | os.PathLike, out_dir: str | os.PathLike, kind: str = "mono-state") -> int:
    """ali-to-pdf / monophone-state targets for the neural nets: <out>/targets.{ark,scp}, num_classes."""
    from ..fileio import Stamp, atomic_write

    ali_dir, out_dir = Path(ali_dir), Path(out_dir)
    model = AcousticModel.load(ali_dir / "final.mdl")
    stamp = Stamp(out_dir / "targets.done", [*sorted(ali_dir.glob("ali.*.ark")), ali_dir / "final.mdl"], kind=kind)
    if stamp.is_current():
        return int((out_dir / "num_classes").read_text())
    table, num_classes = target_table(model, kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = np.zeros(num_classes, dtype=np.int64)
    with AlignmentWriter(out_dir / "targets") as write:
        for utt, ali in read_alignments(ali_dir):
            targets = table[ali]
            counts += np.bincount(targets, minlength=num_classes)
            write(utt, targets)
    with atomic_write(out_dir / "num_classes") as f:
        f.write(f"{num_classes}\n")
    with atomic_write(out_dir / "class_counts") as f:
        f.write(" ".join(map(str, counts)) + "\n")
    stamp.write()
    log.info("%s: %s targets, %d classes (%d never seen), %d frames", out_dir, kind, num_classes,
             int((counts == 0).sum()), int(counts.sum()))
    return num_classes
