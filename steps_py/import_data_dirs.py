#!/usr/bin/env python3
"""Bring a corpus's Kaldi data dirs into a recipe: <out>/train, <out>/dev and <out>/<name> for each test dir
(named by its directory name), each checked (Kaldi's validate_data_dir.sh) and copied without features. Without
--dev, a seeded fraction of the training speakers is held out as dev (of the utterances, for one speaker).

Usage: import_data_dirs.py [--dev DIR | --dev-fraction F] [--seed N] <train-dir> "<test-dir>..." <out-dir>
  e.g. import_data_dirs.py --dev-fraction 0.1 /corpus/data/train "/corpus/data/test" data
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--dev", default="", help="the dev data dir; empty: held out from the training dir")
p.add_argument("--dev-fraction", type=float, default=0.1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("train")
p.add_argument("tests", help="test data dirs, separated by spaces")
p.add_argument("out_dir")


def main(a):
    from asrser.data import import_data_dirs
    import_data_dirs(a.train, a.tests.split(), a.out_dir, dev=a.dev or None, dev_fraction=a.dev_fraction,
                     seed=a.seed)


cli.run(main, p.parse_args())
