#!/usr/bin/env python3
"""Collect every scored decode into a RESULTS.md table: PER (Kaldi's TIMIT scoring, and the basic scoring) at
the LM weight chosen on the system's dev set, each set's own best weight (Kaldi: cat
exp/*/decode*/scoring/best_per | utils/best_wer.sh) as the oracle beside it, and what each scored set left out.

Usage: collect_results.py [--title T] <exp-dir> <results-md>
  e.g. collect_results.py exp RESULTS.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="Results")
p.add_argument("exp_dir")
p.add_argument("out")


def main(a):
    from asrser.scoring import TUNING_SET, collect_results
    for row in collect_results(a.exp_dir, a.out, a.title):
        tuned = (f"PER {row['per']:.2f} at LM weight {row['lmwt']:g} (chosen on {TUNING_SET})"
                 if row["per"] is not None else f"no PER at a weight chosen on {TUNING_SET}")
        basic = row["basic"]
        if basic is not None and basic.tuned is not None:
            tuned += f", basic scoring (silence a phone) {basic.tuned.error_rate:.2f}"
        print(f"{row['decode_dir']}: {tuned}; oracle {' | '.join(row['lines'])}")


cli.run(main, p.parse_args())
