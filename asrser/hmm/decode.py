"""Decoding with an HCLG graph: the wheels' lattice decoder over a scorer's log-likelihood matrix.

One decoder path serves GMM systems (likelihoods from the GMMs, gmm.decode) and hybrid nets (scaled
log-posteriors, nnet.decode), as Kaldi's gmm-latgen-faster and latgen-faster-mapped do. Each utterance is
decoded once at the acoustic scale `acwt`; its raw lattice is then rescored for every LM weight of the sweep
(Kaldi's score.sh: lattice-scale --inv-acoustic-scale=LMWT | lattice-best-path), giving one hypothesis file
per weight.

An utterance whose surviving paths reach no final state of the graph (Kaldi: "did not reach end-state") is
decoded again at `retry_beam`; if it still reaches none, its best partial path is scored. Both are counted
per decode (counts.<job>.json) and logged, so that a decode of mismatched audio does not pass unnoticed.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import kaldi_decoder
import kaldifst
import numpy as np

from ..fileio import atomic_write
from ..lang import read_symbol_table
from .tables import scaled_tid_loglik

log = logging.getLogger(__name__)


@dataclass
class DecodeOptions:
    acwt: float = 0.1
    beam: float = 13.0
    lattice_beam: float = 6.0
    retry_beam: float = 40.0    # for utterances that reach no final state at `beam`; <= beam: no retry
    lm_weights: list[float] = field(default_factory=lambda: [float(w) for w in range(1, 11)])


def best_path_words(lattice: kaldifst.Lattice, inv_acoustic_scale: float) -> list[int]:
    """Output labels of the best path after scaling acoustic costs by inv_acoustic_scale."""
    scaled = lattice.copy()
    kaldifst.scale_lattice(scale=[[1.0, 0.0], [0.0, inv_acoustic_scale]], in_out=scaled)
    best = kaldifst.shortest_path(scaled)
    # the wheels iterate arcs of standard FSTs only; a lattice is read from its text form
    next_arc: dict[int, tuple[int, int]] = {}
    for line in str(best).splitlines():
        fields = line.split()
        if len(fields) >= 4:
            next_arc[int(fields[0])] = (int(fields[1]), int(fields[3]))
    words, state = [], best.start
    while state in next_arc:
        state, olabel = next_arc[state]
        if olabel:
            words.append(olabel)
    return words


@dataclass
class Decoded:
    """One utterance's decode: word ids per LM weight (None when no path survived the beam), whether the best
    path ends in a final state of the graph, and whether that took the retry beam."""

    words: dict[float, list[int]] | None
    reached_final: bool
    retried: bool


class Decoder:
    """Kaldi's latgen-faster-mapped over an HCLG: decodes a scorer's (frames x columns) log-likelihoods, the
    column of transition-id tid being tid2column[tid]."""

    def __init__(self, hclg_path: str | os.PathLike, tid2column: np.ndarray, opts: DecodeOptions):
        self.hclg = kaldifst.StdVectorFst.read(str(hclg_path))
        self.opts = opts
        self.decoder = self._decoder(opts.beam)
        self.retry_decoder = None           # built when an utterance first needs it
        self.tid2column = np.asarray(tid2column)

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
        """One utterance: decoded at the beam, and again at the retry beam when no final state was reached."""
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
        words = {w: best_path_words(lattice, 1.0 / (self.opts.acwt * w)) for w in self.opts.lm_weights}
        return Decoded(words, final, retried)


def decode_utterances(decoder: Decoder, utterances: Iterable[tuple[str, np.ndarray]], words_txt: str | os.PathLike,
                      out_dir: str | os.PathLike, job: int) -> dict:
    """Write <out_dir>/hyp/<lmwt>.<job>.txt (utt word...) for every LM weight; return counts: utterances,
    frames, retried (no final state at the beam), partial (none at the retry beam either: the best partial
    path is scored), failed (no path at all: scored as empty), with the utterances of the last two listed."""
    id2word = {i: w for w, i in read_symbol_table(words_txt).items()}
    hyps: dict[float, list[str]] = {w: [] for w in decoder.opts.lm_weights}
    counts = dict(utterances=0, frames=0, retried=0, partial=0, failed=0, partial_utts=[], failed_utts=[])
    beams = f"beam {decoder.opts.beam:g}" + (f" nor at retry beam {decoder.opts.retry_beam:g}"
                                             if decoder.opts.retry_beam > decoder.opts.beam else "")
    for utt, loglik in utterances:
        result = decoder.decode(loglik)
        counts["utterances"] += 1
        counts["frames"] += len(loglik)
        counts["retried"] += result.retried
        if result.words is None:
            log.warning("%s: no path survived %s; scored as empty", utt, beams)
            counts["failed"] += 1
            counts["failed_utts"].append(utt)
        elif not result.reached_final:
            log.warning("%s: did not reach end-state at %s; its partial path is scored", utt, beams)
            counts["partial"] += 1
            counts["partial_utts"].append(utt)
        words = result.words or {w: [] for w in hyps}
        for w, ids in words.items():
            hyps[w].append(" ".join([utt, *(id2word[i] for i in ids)]))
    out = Path(out_dir) / "hyp"
    out.mkdir(parents=True, exist_ok=True)
    for w, lines in hyps.items():
        with atomic_write(out / f"{w:g}.{job}.txt") as f:
            f.writelines(line + "\n" for line in lines)
    return counts


def clear_decode_outputs(decode_dir: str | os.PathLike) -> None:
    """Remove an earlier decode's hypotheses and per-job counts (another --nj leaves other job numbers)."""
    decode_dir = Path(decode_dir)
    for p in [*decode_dir.glob("hyp/*"), *decode_dir.glob("counts.*.json")]:
        p.unlink()


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
    log.info("%s: %d utterances decoded, real-time factor %.4f", decode_dir, counts["utterances"], counts["rtf"])
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


def _examples(utts: list[str]) -> str:
    return f" (e.g. {', '.join(utts[:3])})" if utts else ""
