#!/usr/bin/env python3
"""Collect every decode's best PER into a RESULTS.md table (Kaldi: grep WER exp/*/decode*/wer_* | best_wer.sh).

Usage: collect_results.py [--title T] <exp-dir> <results-md>
  e.g. collect_results.py exp RESULTS.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="Results")
p.add_argument("exp_dir")
p.add_argument("out")


def main(a):
    from asrser.scoring import collect_results
    for row in collect_results(a.exp_dir, a.out, a.title):
        print(row["line"])


cli.run(main, p.parse_args())
