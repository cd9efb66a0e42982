"""GMM decoding (Kaldi's gmm-latgen-faster and steps/decode.sh): the GMMs score the features of each split
of a data dir and the HMM's decoder (asrser.hmm.decode) searches the HCLG, in nj jobs through the job runner,
each writing its lattices to <decode-dir>/lat.JOB.gz; the decode dir gets num_jobs:

    python -m asrser.gmm.decode <graph-dir> <model-dir> <data-split-dir> <decode-dir> <job> [--options JSON]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from ..hmm.decode import (DecodeOptions, Decoder, clear_decode_outputs, decode_counts, decode_utterances,
                          finish_decode, log_decode_counts, write_job_counts)

log = logging.getLogger(__name__)


def decode_job(graph_dir: str, model_dir: str, data_dir: str, decode_dir: str, job: int,
               opts: DecodeOptions) -> dict:
    """gmm-latgen-faster for one split of a data dir."""
    import time

    from .feats import FeaturePipeline, iter_features
    from .model import AcousticModel

    model = AcousticModel.load(Path(model_dir) / "final.mdl")
    pipeline = FeaturePipeline.load(model_dir)
    decoder = Decoder(Path(graph_dir) / "HCLG.fst", model.tid2pdf, opts, model.path)
    start = time.perf_counter()
    counts = decode_utterances(decoder, ((u, model.pdf_loglik(f)) for u, f in iter_features(data_dir, pipeline)),
                               decode_dir, job)
    counts["seconds"] = time.perf_counter() - start
    write_job_counts(decode_dir, job, counts)
    log.info("decoded %d utterances (%d retried at beam %g, %d partial, %d failed), real-time factor %.4f, "
             "lattice determinisation %.1f s", counts["utterances"], counts["retried"], opts.retry_beam,
             counts["partial"], counts["failed"], counts["seconds"] / max(counts["frames"] / 100.0, 1e-9),
             counts["determinize_seconds"])
    return counts


def decode(graph_dir, data_dir, model_dir, decode_dir, nj: int, cmd: str, opts: DecodeOptions) -> dict:
    """steps/decode.sh: decode a data dir in nj jobs into <decode_dir>/lat.JOB.gz and num_jobs."""
    from ..data import split_data_dir
    from ..fileio import Stamp
    from ..runner import run_jobs
    from .feats import feature_inputs

    decode_dir = Path(decode_dir)
    stamp = Stamp(decode_dir / "decode.done", [Path(graph_dir) / "HCLG.fst", Path(model_dir) / "final.mdl",
                                               *feature_inputs(data_dir)],
                  options=asdict(opts), nj=nj, output="lattices")
    if not stamp.is_current():
        clear_decode_outputs(decode_dir)
        split = split_data_dir(data_dir, nj)[0].parent
        (decode_dir / "log").mkdir(parents=True, exist_ok=True)
        run_jobs(cmd, decode_dir / "log" / "decode.JOB.log",
                 [sys.executable, "-m", "asrser.gmm.decode", graph_dir, model_dir, split / "JOB", decode_dir, "JOB",
                  "--options", json.dumps(asdict(opts))], nj)
        finish_decode(decode_dir, nj)
        stamp.write()
    counts = decode_counts(decode_dir)
    log_decode_counts(decode_dir, counts, opts)
    return counts


def main(argv: list[str] | None = None) -> None:
    from .. import cli

    p = argparse.ArgumentParser(prog="python -m asrser.gmm.decode")
    for name in ("graph_dir", "model_dir", "data_dir", "decode_dir"):
        p.add_argument(name)
    p.add_argument("job", type=int)
    p.add_argument("--options", default="{}")
    cli.run(lambda a: decode_job(a.graph_dir, a.model_dir, a.data_dir, a.decode_dir, a.job,
                                 DecodeOptions(**json.loads(a.options))),
            p.parse_args(argv), program="asrser.gmm.decode")


if __name__ == "__main__":
    main()
