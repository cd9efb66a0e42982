#!/usr/bin/env python3
"""Collect every scored decode into a RESULTS.md table: PER (Kaldi's TIMIT scoring, and the basic scoring) at
the LM weight chosen on the system's dev set, each set's own best weight (Kaldi: cat
exp/*/decode*/scoring/best_per | utils/best_wer.sh) as the oracle beside it, and what each scored set left out;
the boundary accuracy of every alignment dir that has one.

Usage: collect_results.py [--title T] <exp-dir> <results-md>
  e.g. collect_results.py exp RESULTS.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="Results")
p.add_argument("exp_dir")
p.add_argument("out")


def main(a):
    from asrser.hmm.boundaries import accuracy_table
    from asrser.scoring import collect_results, results_summary
    for line in results_summary(collect_results(a.exp_dir, a.out, a.title, [accuracy_table(a.exp_dir)])):
        print(line)


cli.run(main, p.parse_args())
