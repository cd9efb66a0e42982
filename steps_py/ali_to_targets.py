#!/usr/bin/env python3
"""Frame targets for neural nets from GMM alignments (Kaldi's ali-to-pdf, or monophone HMM states):
<out-dir>/targets.{ark,scp}, num_classes, class_counts.

Usage: ali_to_targets.py [--targets mono-state|pdf] <ali-dir> <out-dir>
  e.g. ali_to_targets.py exp/tri2_ali exp/tri2_ali/targets      (48 phones x 3 states = 144 classes)
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--targets", "--kind", default="mono-state", choices=["mono-state", "pdf"],
               help="monophone HMM states, or the tree's leaves (pdfs); --kind: its former name")
p.add_argument("ali_dir")
p.add_argument("out_dir")


def main(a):
    from asrser.hmm.targets import write_targets
    print(f"{a.out_dir}: {write_targets(a.ali_dir, a.out_dir, a.targets)} classes")


cli.run(main, p.parse_args())
