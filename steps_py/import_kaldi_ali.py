#!/usr/bin/env python3
"""A Kaldi experiment's alignments for the hybrid nets: Kaldi's alignment dirs (all of one model: the training
set's, and the dev set's for validation) and Kaldi's lang dir, checked and gathered into one alignment dir
(<out-dir>: final.mdl, tree, phones.txt, ali.N.gz, num_jobs), with the frame targets in <out-dir>/targets
(as ali_to_targets.py makes them). The hybrid then decodes with <out-dir>/final.mdl and Kaldi's graph dir.

Usage: import_kaldi_ali.py [--targets mono-state|pdf] <kaldi-lang> <kaldi-ali-dir>... <out-dir>
  e.g. import_kaldi_ali.py --targets pdf kaldi/egs/timit/s5/data/lang kaldi/egs/timit/s5/exp/tri3_ali \
         kaldi/egs/timit/s5/exp/tri3_ali_dev exp/kaldi_ali
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--targets", default="mono-state", choices=["mono-state", "pdf"],
               help="monophone HMM states (48 phones x 3 = 144 on TIMIT), or the tree's leaves (pdfs)")
p.add_argument("lang_dir")
p.add_argument("ali_dirs", nargs="+")
p.add_argument("out_dir")


def main(a):
    from asrser.hmm.kaldi_import import import_kaldi_targets
    num_classes = import_kaldi_targets(a.lang_dir, a.ali_dirs, a.out_dir, a.targets)
    print(f"{a.out_dir}: alignments of {len(a.ali_dirs)} Kaldi dir(s), {num_classes} {a.targets} classes")


cli.run(main, p.parse_args())
