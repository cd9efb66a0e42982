#!/usr/bin/env python3
"""The spread of a recipe's PER over several runs (another --seed each): per system and set the mean and sample
standard deviation of the PER at the LM weight chosen on each run's dev set, beside every run's figure and
weight, as a markdown table (and bars with error bars).

Usage: seed_spread.py [--labels "0 1 2"] [--systems "mono tri1 ..."] [--plot F.png] <exp-dir>... <table-md>
  e.g. seed_spread.py --labels "0 1 2" --systems "mono tri1 tri2 tri3 convnet" \
         run0/exp run1/exp run2/exp SEED_SPREAD.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--labels", default="", help="one name per run (default: the run's directory)")
p.add_argument("--systems", default="", help="the rows, in order (default: every system scored in all runs)")
p.add_argument("--plot", default=None)
p.add_argument("exp_dirs", nargs="+")
p.add_argument("out")


def main(a):
    from asrser.scoring import seed_spread
    rows = seed_spread(a.exp_dirs, a.labels.split(), a.systems.split(), out=a.out, plot=a.plot)
    for r in rows:
        sd = f" ± {r['sd']:.2f}" if r["sd"] is not None else ""
        print(f"{r['system']} {r['set']}: PER {r['per']:.2f}{sd} "
              f"({', '.join(f'{p:.2f}' for p in r['runs'])}; LM weights {', '.join(f'{w:g}' for w in r['lmwts'])})")


cli.run(main, p.parse_args())
