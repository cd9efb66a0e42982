"""Decoding with an HCLG graph: the wheels' lattice decoder over a pdf-level log-likelihood matrix.

One decoder path serves GMM systems (likelihoods from the GMMs) and hybrid nets (scaled log-posteriors),
as Kaldi's gmm-latgen-faster and latgen-faster-mapped do. Each utterance is decoded once at the acoustic
scale `acwt`; its raw lattice is then rescored for every LM weight of the sweep (Kaldi's score.sh:
lattice-scale --inv-acoustic-scale=LMWT | lattice-best-path), giving one hypothesis file per weight.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import kaldi_decoder
import kaldifst
import numpy as np

from ..errors import AsrserError
from ..fileio import atomic_write
from ..lang import read_symbol_table

log = logging.getLogger(__name__)


@dataclass
class DecodeOptions:
    acwt: float = 0.1
    beam: float = 13.0
    lattice_beam: float = 6.0
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


class Decoder:
    def __init__(self, hclg_path: str | os.PathLike, tid2pdf: np.ndarray, opts: DecodeOptions):
        self.hclg = kaldifst.StdVectorFst.read(str(hclg_path))
        config = kaldi_decoder.LatticeSimpleDecoderConfig()
        config.beam, config.lattice_beam = opts.beam, opts.lattice_beam
        self.decoder = kaldi_decoder.LatticeSimpleDecoder(self.hclg, config)
        self.columns = np.asarray(tid2pdf)[1:]
        self.opts = opts

    def decode(self, pdf_loglik: np.ndarray) -> dict[float, list[int]] | None:
        """{LM weight: word ids} for one utterance, or None when no path survives the beam."""
        scores = np.ascontiguousarray(self.opts.acwt * pdf_loglik[:, self.columns], dtype=np.float32)
        self.decoder.decode(kaldi_decoder.DecodableCtc(scores))
        ok, lattice = self.decoder.get_raw_lattice()
        if not ok or lattice.num_states == 0:
            return None
        return {w: best_path_words(lattice, 1.0 / (self.opts.acwt * w)) for w in self.opts.lm_weights}


def decode_utterances(decoder: Decoder, utterances: Iterable[tuple[str, np.ndarray]], words_txt: str | os.PathLike,
                      out_dir: str | os.PathLike, job: int) -> dict:
    """Write <out_dir>/hyp/<lmwt>.<job>.txt (utt word...) for every LM weight; return counts."""
    id2word = {i: w for w, i in read_symbol_table(words_txt).items()}
    hyps: dict[float, list[str]] = {w: [] for w in decoder.opts.lm_weights}
    counts = dict(utterances=0, failed=0, frames=0)
    for utt, loglik in utterances:
        result = decoder.decode(loglik)
        counts["utterances"] += 1
        counts["frames"] += len(loglik)
        if result is None:
            log.warning("%s: no path survived the beam; scored as empty", utt)
            counts["failed"] += 1
            result = {w: [] for w in hyps}
        for w, ids in result.items():
            hyps[w].append(" ".join([utt, *(id2word[i] for i in ids)]))
    out = Path(out_dir) / "hyp"
    out.mkdir(parents=True, exist_ok=True)
    for w, lines in hyps.items():
        with atomic_write(out / f"{w:g}.{job}.txt") as f:
            f.writelines(line + "\n" for line in lines)
    return counts


def decode_job(graph_dir: str, model_dir: str, data_dir: str, decode_dir: str, job: int,
               opts: DecodeOptions) -> dict:
    """gmm-latgen-faster for one split of a data dir."""
    import time

    from .feats import FeaturePipeline, iter_features
    from .model import AcousticModel

    model = AcousticModel.load(Path(model_dir) / "final.mdl")
    pipeline = FeaturePipeline.load(model_dir)
    decoder = Decoder(Path(graph_dir) / "HCLG.fst", model.tid2pdf, opts)
    start = time.perf_counter()
    counts = decode_utterances(decoder, ((u, model.pdf_loglik(f)) for u, f in iter_features(data_dir, pipeline)),
                               Path(graph_dir) / "words.txt", decode_dir, job)
    counts["seconds"] = time.perf_counter() - start
    with atomic_write(Path(decode_dir) / f"counts.{job}.json") as f:
        json.dump(counts, f)
    log.info("decoded %d utterances (%d failed), real-time factor %.4f", counts["utterances"], counts["failed"],
             counts["seconds"] / max(counts["frames"] / 100.0, 1e-9))
    return counts


def decode(graph_dir, data_dir, model_dir, decode_dir, nj: int, cmd: str, opts: DecodeOptions) -> dict:
    """steps/decode.sh: decode a data dir in nj jobs; hypotheses per LM weight in <decode_dir>/hyp."""
    from ..data import split_data_dir
    from ..fileio import Stamp
    from ..runner import run_jobs

    decode_dir = Path(decode_dir)
    stamp = Stamp(decode_dir / "decode.done", [Path(graph_dir) / "HCLG.fst", Path(model_dir) / "final.mdl",
                                               Path(data_dir) / "feats.scp"], options=asdict(opts), nj=nj)
    if not stamp.is_current():
        if (decode_dir / "hyp").exists():
            for p in (decode_dir / "hyp").iterdir():
                p.unlink()
        split = split_data_dir(data_dir, nj)[0].parent
        (decode_dir / "log").mkdir(parents=True, exist_ok=True)
        run_jobs(cmd, decode_dir / "log" / "decode.JOB.log",
                 [sys.executable, "-m", "asrser.gmm.decode", graph_dir, model_dir, split / "JOB", decode_dir, "JOB",
                  "--options", json.dumps(asdict(opts))], nj)
        stamp.write()
    total = dict(utterances=0, failed=0, frames=0, seconds=0.0)
    for j in range(1, nj + 1):
        for k, v in json.loads((decode_dir / f"counts.{j}.json").read_text()).items():
            total[k] += v
    total["rtf"] = total["seconds"] / max(total["frames"] / 100.0, 1e-9)
    return total


def main(argv: list[str] | None = None) -> int:
    from ..cli import setup_logging

    p = argparse.ArgumentParser(prog="python -m asrser.gmm.decode")
    for name in ("graph_dir", "model_dir", "data_dir", "decode_dir"):
        p.add_argument(name)
    p.add_argument("job", type=int)
    p.add_argument("--options", default="{}")
    args = p.parse_args(argv)
    setup_logging()
    try:
        decode_job(args.graph_dir, args.model_dir, args.data_dir, args.decode_dir, args.job,
                   DecodeOptions(**json.loads(args.options)))
    except AsrserError as e:
        print(f"ERROR (asrser.gmm.decode): {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
