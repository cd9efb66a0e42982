#!/usr/bin/env python3
"""Collect every SER system's leave-one-speaker-out results (<exp>/<system>/results.json) into RESULTS.md.

Usage: ser_results.py [--title T] <exp-dir> <results-md>
  e.g. ser_results.py exp RESULTS.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="Results")
p.add_argument("exp_dir")
p.add_argument("out")


def main(a):
    from asrser.ser.report import collect_ser_results
    for r in collect_ser_results(a.exp_dir, a.out, a.title):
        t = r.get("test", {})
        print(f"{r['dir']}: test UA {100 * t.get('ua', 0):.1f}%, WA {100 * t.get('wa', 0):.1f}%")


cli.run(main, p.parse_args())
