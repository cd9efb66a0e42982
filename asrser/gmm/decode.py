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
               opts: DecodeOptions, model_name: str = "final.mdl", speaker_independent: bool = False) -> dict:
    """gmm-latgen-faster for one split of a data dir, with <model_dir>/<model_name>. An SAT system's features
    take the speakers' transforms from the decode dir (trans.JOB), or none with speaker_independent."""
    import time

    from .feats import FeaturePipeline, iter_features
    from .model import AcousticModel

    model = AcousticModel.load(Path(model_dir) / model_name)
    pipeline = FeaturePipeline.load(model_dir, transform_dir=decode_dir, speaker_independent=speaker_independent)
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


def decode(graph_dir, data_dir, model_dir, decode_dir, nj: int, cmd: str, opts: DecodeOptions,
           model_name: str = "final.mdl", speaker_independent: bool = False, inputs: tuple = ()) -> dict:
    """steps/decode.sh: decode a data dir in nj jobs into <decode_dir>/lat.JOB.gz and num_jobs (with
    <model_dir>/<model_name>; an SAT system's features as decode_job says; `inputs`: further files the
    lattices depend on, e.g. the transforms)."""
    from ..data import split_data_dir
    from ..fileio import Stamp
    from ..runner import run_jobs
    from .feats import feature_inputs

    decode_dir = Path(decode_dir)
    stamp = Stamp(decode_dir / "decode.done", [Path(graph_dir) / "HCLG.fst", Path(model_dir) / model_name,
                                               *feature_inputs(data_dir), *inputs],
                  options=asdict(opts), nj=nj, output="lattices")
    if not stamp.is_current():
        clear_decode_outputs(decode_dir)
        split = split_data_dir(data_dir, nj)[0].parent
        (decode_dir / "log").mkdir(parents=True, exist_ok=True)
        run_jobs(cmd, decode_dir / "log" / "decode.JOB.log",
                 [sys.executable, "-m", "asrser.gmm.decode", graph_dir, model_dir, split / "JOB", decode_dir, "JOB",
                  "--options", json.dumps(asdict(opts)), "--model-name", model_name,
                  *(["--si"] if speaker_independent else [])], nj)
        finish_decode(decode_dir, nj)
        stamp.write()
    counts = decode_counts(decode_dir)
    log_decode_counts(decode_dir, counts, opts)
    return counts


def decode_fmllr(graph_dir, data_dir, model_dir, decode_dir, nj: int, cmd: str, opts: DecodeOptions,
                 silence_weight: float = 0.01, min_count: float = 20.0) -> dict:
    """steps/decode_fmllr.sh for an SAT system: a speaker-independent pass with final.alimdl into
    <decode_dir>.si (kept, and scorable, as Kaldi keeps decode_<set>.si); per-speaker transforms from it
    (trans.JOB in the decode dir: final.mdl's statistics on the speaker-independent features, the Gaussian
    posteriors from final.alimdl within the pdfs of each lattice's best path, silence weighted silence_weight);
    the adapted pass with final.mdl into <decode_dir>/lat.JOB.gz.

    Kaldi takes the frame posteriors from the whole first-pass lattice (lattice-to-post) and estimates a second
    transform from the adapted lattices before rescoring them; here the best path gives the posteriors and
    one transform per speaker is estimated."""
    from ..data import split_data_dir
    from ..runner import run_jobs
    from .jobs import FmllrJobOptions

    model_dir, decode_dir = Path(model_dir), Path(decode_dir)
    si_dir = decode_dir.with_name(decode_dir.name + ".si")
    decode(graph_dir, data_dir, model_dir, si_dir, nj, cmd, opts, model_name="final.alimdl",
           speaker_independent=True)
    trans = [decode_dir / f"trans.{j}" for j in range(1, nj + 1)]
    fmllr_opts = FmllrJobOptions(silence_weight=silence_weight, min_count=min_count, speaker_independent=True,
                                 posterior_model=str(model_dir / "final.alimdl"), lattices=True, acwt=opts.acwt)
    from ..fileio import Stamp

    stamp = Stamp(decode_dir / "trans.done", [model_dir / "final.mdl", model_dir / "final.alimdl",
                                              *[si_dir / f"lat.{j}.gz" for j in range(1, nj + 1)]],
                  options=asdict(fmllr_opts), nj=nj)
    if not stamp.is_current():
        for old in decode_dir.glob("trans.*"):
            if old.name != "trans.done":
                old.unlink()
        split = split_data_dir(data_dir, nj)[0].parent
        (decode_dir / "log").mkdir(parents=True, exist_ok=True)
        run_jobs(cmd, decode_dir / "log" / "fmllr.JOB.log",
                 [sys.executable, "-m", "asrser.gmm.jobs", "fmllr", model_dir / "final.mdl", graph_dir,
                  split / "JOB", model_dir, si_dir / "lat.JOB.gz", decode_dir / "trans.JOB",
                  "--options", json.dumps(asdict(fmllr_opts))], nj)
        stamp.write()
    return decode(graph_dir, data_dir, model_dir, decode_dir, nj, cmd, opts, inputs=tuple(trans))


def main(argv: list[str] | None = None) -> None:
    from .. import cli

    p = argparse.ArgumentParser(prog="python -m asrser.gmm.decode")
    for name in ("graph_dir", "model_dir", "data_dir", "decode_dir"):
        p.add_argument(name)
    p.add_argument("job", type=int)
    p.add_argument("--options", default="{}")
    p.add_argument("--model-name", default="final.mdl")
    p.add_argument("--si", action="store_true", help="an SAT system's features before the fMLLR transforms")
    cli.run(lambda a: decode_job(a.graph_dir, a.model_dir, a.data_dir, a.decode_dir, a.job,
                                 DecodeOptions(**json.loads(a.options)), a.model_name, a.si),
            p.parse_args(argv), program="asrser.gmm.decode")


if __name__ == "__main__":
    main()
