#!/usr/bin/env python3
"""Copy a data dir without its features, to compute different ones (Kaldi's utils/copy_data_dir.sh).

Usage: copy_data_dir.py <src-data-dir> <dest-data-dir>
  e.g. copy_data_dir.py data/train data-fbank/train
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("src")
p.add_argument("dst")


def main(a):
    from asrser.data import copy_data_dir
    copy_data_dir(a.src, a.dst)


cli.run(main, p.parse_args())
