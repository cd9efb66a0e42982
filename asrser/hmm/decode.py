"""Decoding with an HCLG graph: the wheels' lattice decoder over a scorer's log-likelihood matrix, lattices
stored as Kaldi's.

One decoder path serves GMM systems (likelihoods from the GMMs, gmm.decode) and hybrid nets (scaled
log-posteriors, nnet.decode), as Kaldi's gmm-latgen-faster and latgen-faster-mapped do. Each utterance is
decoded once at the acoustic scale `acwt`; its raw lattice is determinised and pruned at `lattice_beam` into a
CompactLattice (Kaldi's --determinize-lattice=true, asrser.kaldi_format) and written to the job's `lat.JOB.gz`,
acoustic costs unscaled, as Kaldi writes them; the decode dir holds `num_jobs`. Scoring reads the lattices
(best path per LM weight, asrser.scoring), so that scoring other weights or a new LM needs no decoding.

An utterance whose surviving paths reach no final state of the graph (Kaldi: "did not reach end-state") is
decoded again at `retry_beam`; if it still reaches none, its lattice is kept with its best partial paths made
final (Kaldi's decoders do the same). Both are counted per decode (counts.<job>.json) and logged, so that a
decode of mismatched audio does not pass unnoticed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import kaldi_decoder
import kaldifst
import numpy as np

from ..errors import DataError
from ..kaldi_format import ArchiveWriter, CompactLattice, determinize_lattice, encode_compact_lattice, read_graph
from ..kaldi_format.graph import graph_max_ilabel
from ..kaldi_format.lattice import MAX_MEM
from ..kaldi_format.tables import write_num_jobs
from .tables import scaled_tid_loglik

log = logging.getLogger(__name__)


@dataclass
class DecodeOptions:
    acwt: float = 0.1
    beam: float = 13.0
    lattice_beam: float = 6.0
    retry_beam: float = 40.0    # for utterances that reach no final state at `beam`; <= beam: no retry
    max_mem: int = MAX_MEM      # lattice determinisation's memory bound (Kaldi's --max-mem)


@dataclass
class Decoded:
    """One utterance's decode: its determinised lattice (None when no path survived the beam), whether the
    best path ends in a final state of the graph, whether that took the retry beam, and the seconds spent
    determinising (and the lattice beam it ended with)."""

    lattice: CompactLattice | None
    reached_final: bool
    retried: bool
    determinize_seconds: float = 0.0
    lattice_beam: float = 0.0           # below DecodeOptions.lattice_beam when determinisation outgrew max_mem


class Decoder:
    """Kaldi's latgen-faster-mapped over an HCLG: decodes a scorer's (frames x columns) log-likelihoods, the
    column of transition-id tid being tid2column[tid]. The graph may be ours (vector) or Kaldi's (const)."""

    def __init__(self, hclg_path: str | os.PathLike, tid2column: np.ndarray, opts: DecodeOptions,
                 model: str | os.PathLike = "the model"):
        self.tid2column = np.asarray(tid2column)
        num_tids = len(self.tid2column) - 1
        top = graph_max_ilabel(hclg_path)
        if top > num_tids:
            raise DataError(hclg_path, f"the graph uses transition-ids up to {top}, {model} has {num_tids}: the "
                                       "graph of another model (make it with this model's mkgraph)")
        self.hclg = read_graph(hclg_path)
        self.opts = opts
        self.decoder = self._decoder(opts.beam)
        self.retry_decoder = None           # built when an utterance first needs it

    def _decoder(self, beam: float) -> kaldi_decoder.LatticeSimpleDecoder:
        config = kaldi_decoder.LatticeSimpleDecoderConfig()
        config.beam, config.lattice_beam = beam, self.opts.lattice_beam
        return kaldi_decoder.LatticeSimpleDecoder(self.hclg, config)

    @staticmethod
    def _lattice(decoder: kaldi_decoder.LatticeSimpleDecoder, scores: np.ndarray
                 ) -> tuple[kaldifst.Lattice | None, bool]:
        """The raw lattice (None when no path survived) and whether a final state was reached: Kaldi's
        ReachedFinal() is FinalRelativeCost() != infinity."""
        decoder.decode(kaldi_decoder.DecodableCtc(scores))
        ok, lattice = decoder.get_raw_lattice()
        if not ok or lattice.num_states == 0:
            return None, False
        return lattice, math.isfinite(decoder.final_relative_cost())

    def decode(self, loglik: np.ndarray) -> Decoded:
        """One utterance: decoded at the beam, and again at the retry beam when no final state was reached;
        the raw lattice determinised and pruned (acoustic costs unscaled)."""
        scores = scaled_tid_loglik(loglik, self.tid2column, self.opts.acwt)
        lattice, final = self._lattice(self.decoder, scores)
        retried = not final and self.opts.retry_beam > self.opts.beam
        if retried:
            if self.retry_decoder is None:
                self.retry_decoder = self._decoder(self.opts.retry_beam)
            wider, final = self._lattice(self.retry_decoder, scores)
            lattice = wider if wider is not None else lattice
        if lattice is None:
            return Decoded(None, False, retried)
        start = time.perf_counter()
        det = determinize_lattice(lattice, self.opts.lattice_beam, self.opts.acwt, self.opts.max_mem)
        seconds = time.perf_counter() - start
        clat = det.lattice
        return Decoded(clat if clat.start >= 0 else None, final, retried, seconds, det.beam)


def decode_utterances(decoder: Decoder, utterances: Iterable[tuple[str, np.ndarray]], out_dir: str | os.PathLike,
                      job: int) -> dict:
    """Write <out_dir>/lat.<job>.gz (one CompactLattice per utterance, an empty one when no path survived);
    return counts: utterances, frames, retried (no final state at the beam), partial (none at the retry beam
    either: its best partial paths are kept), failed (no path at all: scored as empty), with the utterances of
    the last two listed, and the seconds spent determinising lattices."""
    counts = dict(utterances=0, frames=0, retried=0, partial=0, failed=0, partial_utts=[], failed_utts=[],
                  determinize_seconds=0.0, narrowed_utts=[])
    beams = f"beam {decoder.opts.beam:g}" + (f" nor at retry beam {decoder.opts.retry_beam:g}"
                                             if decoder.opts.retry_beam > decoder.opts.beam else "")
    with ArchiveWriter(Path(out_dir) / f"lat.{job}.gz") as lattices:
        for utt, loglik in utterances:
            result = decoder.decode(loglik)
            counts["utterances"] += 1
            counts["frames"] += len(loglik)
            counts["retried"] += result.retried
            counts["determinize_seconds"] += result.determinize_seconds
            if result.lattice is not None and result.lattice_beam < decoder.opts.lattice_beam:
                log.warning("%s: lattice determinisation outgrew max-mem %d at lattice beam %g: pruned with beam %.2f",
                            utt, decoder.opts.max_mem, decoder.opts.lattice_beam, result.lattice_beam)
                counts["narrowed_utts"].append(utt)
            if result.lattice is None:
                log.warning("%s: no path survived %s; scored as empty", utt, beams)
                counts["failed"] += 1
                counts["failed_utts"].append(utt)
            elif not result.reached_final:
                log.warning("%s: did not reach end-state at %s; its partial paths are kept", utt, beams)
                counts["partial"] += 1
                counts["partial_utts"].append(utt)
            lattices.write_entry(utt, encode_compact_lattice(result.lattice or CompactLattice(-1, [], [])))
    return counts


def write_job_counts(decode_dir: str | os.PathLike, job: int, counts: dict) -> None:
    from ..fileio import atomic_write

    with atomic_write(Path(decode_dir) / f"counts.{job}.json") as f:
        json.dump(counts, f)


def clear_decode_outputs(decode_dir: str | os.PathLike) -> None:
    """Remove an earlier decode's lattices, per-job counts and scoring (another --nj leaves other job numbers;
    scores of other lattices must not stay beside these)."""
    import shutil

    decode_dir = Path(decode_dir)
    for p in [*decode_dir.glob("lat.*.gz"), *decode_dir.glob("counts.*.json"), *decode_dir.glob("num_jobs"),
              *decode_dir.glob("wer_*"), *decode_dir.glob("loglikes.*.ark"), *decode_dir.glob("hyp/*")]:
        p.unlink()
    for d in [*decode_dir.glob("score_*"), *decode_dir.glob("scoring")]:
        shutil.rmtree(d)


def finish_decode(decode_dir: str | os.PathLike, nj: int) -> None:
    """num_jobs, as Kaldi's decode scripts write it, once every job's lattices are complete."""
    write_num_jobs(decode_dir, nj)


def decode_counts(decode_dir: str | os.PathLike) -> dict:
    """The per-job counts of a decode dir (counts.<job>.json) summed, lists joined, with the rates derived
    from them (rtf; fer, in percent, for a hybrid decode with frame targets); {} before decoding."""
    total: dict = {}
    for path in sorted(Path(decode_dir).glob("counts.*.json")):
        for k, v in json.loads(path.read_text()).items():
            total[k] = total.get(k, [] if isinstance(v, list) else 0) + v
    if total:
        total["rtf"] = total.get("seconds", 0.0) / max(total["frames"] / 100.0, 1e-9)
    if total.get("fer_frames"):
        total["fer"] = 100.0 * total["fer_errors"] / total["fer_frames"]
    return total


def log_decode_counts(decode_dir: str | os.PathLike, counts: dict, opts: DecodeOptions) -> None:
    """One line per decode; a warning naming the utterances when some reached no final state of the graph."""
    log.info("%s: %d utterances decoded, real-time factor %.4f (lattice determinisation %.1f s)", decode_dir,
             counts["utterances"], counts["rtf"], counts.get("determinize_seconds", 0.0))
    if counts["retried"]:
        log.warning("%s: %d of %d utterances reached no final state at beam %g: %d did at retry beam %g, "
                    "%d scored with a partial path%s, %d without any path%s", decode_dir, counts["retried"],
                    counts["utterances"], opts.beam, counts["retried"] - counts["partial"] - counts["failed"],
                    opts.retry_beam, counts["partial"], _examples(counts["partial_utts"]), counts["failed"],
                    _examples(counts["failed_utts"]))
    elif counts["failed"] or counts["partial"]:
        log.warning("%s: %d utterances scored with a partial path%s, %d without any path%s", decode_dir,
                    counts["partial"], _examples(counts["partial_utts"]), counts["failed"],
                    _examples(counts["failed_utts"]))
    if counts.get("narrowed_utts"):
        log.warning("%s: %d of %d lattices outgrew max-mem %d when determinised at lattice beam %g and were "
                    "pruned with a narrower beam%s", decode_dir, len(counts["narrowed_utts"]), counts["utterances"],
                    opts.max_mem, opts.lattice_beam, _examples(counts["narrowed_utts"]))


def _examples(utts: list[str]) -> str:
    return f" (e.g. {', '.join(utts[:3])})" if utts else ""
