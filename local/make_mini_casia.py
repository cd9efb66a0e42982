#!/usr/bin/env python3
"""Generate the embedded mini-CASIA (espeak-ng Mandarin read from pinyin, six acted emotions, in the CASIA
layout) under <out-dir>/CASIA/<speaker>/<emotion>/<nnn>.wav.

Usage: make_mini_casia.py [--size tiny|default|full] [--seed N] [--nj N] <out-dir>
  e.g. make_mini_casia.py --size default --nj 2 corpora/mini_casia
Same size and seed give a byte-identical corpus whatever --nj is. A killed run resumes.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--size", default="default", choices=["tiny", "default", "full"])
p.add_argument("--seed", type=int, default=0)
p.add_argument("--nj", type=cli.positive_int, default=1)
p.add_argument("out_dir")


def main(a):
    from asrser.synth.mini_casia import generate
    generate(a.out_dir, a.size, a.seed, a.nj)


cli.run(main, p.parse_args())
