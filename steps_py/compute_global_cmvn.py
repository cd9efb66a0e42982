#!/usr/bin/env python3
"""Speaker-independent mean/variance statistics of a training set, for neural-net input normalisation.
Written as a Kaldi binary CMVN-stats matrix (readable by apply-cmvn).

Usage: compute_global_cmvn.py <data-dir> <out-stats>
  e.g. compute_global_cmvn.py data/train_fbank exp/nnet/global_cmvn.stats
"""
import os

import kaldiio

from asrser import cli
from asrser.features import global_cmvn_stats
from asrser.fileio import temp_name

p = cli.parser(__doc__)
p.add_argument("data_dir")
p.add_argument("out_stats")


def main(a):
    stats = global_cmvn_stats(os.path.join(a.data_dir, "feats.scp"))
    os.makedirs(os.path.dirname(os.path.abspath(a.out_stats)), exist_ok=True)
    tmp = temp_name(a.out_stats)
    kaldiio.save_mat(str(tmp), stats)
    os.replace(tmp, a.out_stats)


cli.run(main, p.parse_args())
