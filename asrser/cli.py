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


def add_hybrid_options(p: argparse.ArgumentParser) -> None:
    """The options of every program that runs a trained net on the states of an HMM (decoding, alignment)."""
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--targets", default="mono-state", choices=["mono-state", "pdf"],
                   help="what the net predicts: monophone HMM states, or the tree leaves (pdfs) of <hmm-model>")


def run(main: Callable[[argparse.Namespace], object], args: argparse.Namespace) -> None:
    """Call main(args); a toolkit error becomes 'ERROR (program): message' and exit code 1."""
    from .errors import AsrserError

    setup_logging(getattr(args, "verbose", False))
    try:
        main(args)
    except AsrserError as e:
        print(f"ERROR ({os.path.basename(sys.argv[0])}): {e}", file=sys.stderr)
        sys.exit(1)
