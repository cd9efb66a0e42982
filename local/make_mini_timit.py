#!/usr/bin/env python3
"""Generate the embedded mini-TIMIT (espeak-ng speech in the LDC TIMIT layout) under <out-dir>/TIMIT.

Usage: make_mini_timit.py [--size tiny|default|full] [--condition read|clean] [--seed N] [--nj N] <out-dir>
  e.g. make_mini_timit.py --size default --nj 2 corpora/mini_timit
  --condition read (default): voices, connected speech and recording varied as in read speech;
  clean: the corpus as first made (close-talking, citation forms), to reproduce older results.
"""
from asrser import cli
from asrser.synth.mini_timit import CONDITIONS, SIZES

p = cli.parser(__doc__)
p.add_argument("--size", default="default", choices=list(SIZES))
p.add_argument("--condition", default="read", choices=CONDITIONS)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--nj", type=cli.positive_int, default=1)
p.add_argument("out_dir")


def main(a):
    from asrser.synth.mini_timit import generate
    generate(a.out_dir, a.size, a.seed, a.nj, condition=a.condition)


cli.run(main, p.parse_args())
