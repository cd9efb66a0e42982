#!/usr/bin/env python3
"""Collect every SER system's results (<exp>/<system>/results.json) into RESULTS.md, the protocol described
from the folds (<folds-dir>/folds.json, classes.txt).

Usage: ser_results.py [--title T] <folds-dir> <exp-dir> <results-md>
  e.g. ser_results.py exp/ser_folds exp RESULTS.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="Results")
p.add_argument("folds_dir")
p.add_argument("exp_dir")
p.add_argument("out")


def main(a):
    from asrser.ser.report import collect_ser_results
    for r in collect_ser_results(f"{a.folds_dir}/folds.json", a.exp_dir, a.out, a.title):
        t = r.get("test", {})
        print(f"{r['dir']}: test UA {100 * t.get('ua', 0):.1f}%, WA {100 * t.get('wa', 0):.1f}%")


cli.run(main, p.parse_args())
