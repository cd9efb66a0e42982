"""What every stage program shares: logging set-up and turning toolkit errors into one clear line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s (%(name)s) %(message)s", datefmt="%H:%M:%S")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=os.path.basename(sys.argv[0]), description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--verbose", action="store_true", help="debug logging")
    return p


def _count(value: str, minimum: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
    return n


def positive_int(value: str) -> int:
    """argparse type of a count that must be at least 1 (--nj, --max-jobs): 0 or less is a usage error."""
    return _count(value, 1)


def non_negative_int(value: str) -> int:
    """argparse type of a count that may be 0 (--gpu)."""
    return _count(value, 0)


def add_hybrid_options(p: argparse.ArgumentParser) -> None:
    """The options of every program that runs a trained net on the states of an HMM (decoding, alignment)."""
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--targets", default="mono-state", choices=["mono-state", "pdf"],
                   help="what the net predicts: monophone HMM states, or the tree leaves (pdfs) of <hmm-model>")


def add_scoring_options(p: argparse.ArgumentParser) -> None:
    """The options of every program that scores a decode (asrser.phones.read_scoring_map reads the phone map,
    scoring_options turns the rest into score_decode's arguments)."""
    p.add_argument("--scoring-unit", choices=["phone", "word"],
                   help="phone: PER as Kaldi's TIMIT recipe scores it; word: WER as Kaldi's steps/score_kaldi.sh "
                        "(wer_LMWT_WIP, scoring_kaldi/best_wer); default phone with --phone-map or a phone-as-word "
                        "graph, word otherwise")
    p.add_argument("--phone-map", help="phone map applied before scoring (e.g. 48 -> 39 for TIMIT); default none")
    p.add_argument("--phone-map-columns", default="1,2", help="FROM,TO: the --phone-map columns mapped from and to")
    p.add_argument("--word-ins-penalty", default="0.0,0.5,1.0",
                   help="word scoring: the word insertion penalties tried, comma-separated (score_kaldi.sh's)")


def scoring_options(args: argparse.Namespace, phone_map: dict | None, graph_dir: str) -> dict:
    """score_decode's unit and word insertion penalties from add_scoring_options' options (phone_map: the map
    they name, read)."""
    from .errors import AsrserError
    from .scoring import scoring_unit

    try:
        penalties = [float(x) for x in args.word_ins_penalty.split(",")]
    except ValueError:
        raise AsrserError(f"--word-ins-penalty must be numbers separated by commas, got "
                          f"{args.word_ins_penalty!r}") from None
    unit = scoring_unit(args.scoring_unit, phone_map, graph_dir)
    return dict(unit=unit, word_ins_penalties=penalties)


def run(main: Callable[[argparse.Namespace], object], args: argparse.Namespace, program: str | None = None) -> None:
    """Call main(args); a toolkit error becomes 'ERROR (program): message' and exit code 1. For a failed job
    the job log's last lines come first, so that the output ends with the one line naming the log.

    The entry of every stage program and of every job's worker (`python -m asrser.<module>`, which passes
    its module as `program`; a stage program is named by its file)."""
    from .errors import AsrserError
    from .runner import JobsFailed

    setup_logging(getattr(args, "verbose", False))
    program = program or os.path.basename(sys.argv[0])
    try:
        main(args)
    except JobsFailed as e:
        if e.details:
            print(e.details, file=sys.stderr)
        print(f"ERROR ({program}): {e.summary}", file=sys.stderr)
        sys.exit(1)
    except AsrserError as e:
        print(f"ERROR ({program}): {e}", file=sys.stderr)
        sys.exit(1)
