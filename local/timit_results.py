#!/usr/bin/env python3
"""The TIMIT recipe's RESULTS.md: every scored decode (as collect_results.py), the hybrid systems beside the
baseline row of Fayek, Lech & Cavedon (2016), and the boundary accuracy of the forced alignments.

Usage: timit_results.py [--title T] <exp-dir> <results-md>
  e.g. timit_results.py --title "TIMIT" exp RESULTS.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="Results")
p.add_argument("exp_dir")
p.add_argument("out")


def main(a):
    from asrser.report import write_timit_results
    from asrser.scoring import results_summary
    for line in results_summary(write_timit_results(a.exp_dir, a.out, a.title)):
        print(line)


cli.run(main, p.parse_args())
