#!/usr/bin/env python3
"""Triphone GMM-HMM on deltas (Kaldi's steps/train_deltas.sh).

A phonetic decision tree is built from the alignments' statistics, the alignments are converted to it and
the system is trained by EM with realignment and mixing up.

Usage: train_deltas.py [--nj N] [--cmd CMD] [--config conf/gmm.yaml] [--section tri1] <data-dir> <lang-dir> <ali-dir> <exp-dir>
  e.g. train_deltas.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/mono_ali exp/tri1
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=cli.positive_int, default=4)
p.add_argument("--cmd", default="asrser-run")
p.add_argument("--config", default="conf/gmm.yaml", help="YAML file with the system's section")
p.add_argument("--section", default="tri1", help="section of the config (leaves, Gaussians, iterations)")
p.add_argument("data_dir")
p.add_argument("lang_dir")
p.add_argument("ali_dir")
p.add_argument("exp_dir")


def main(a):
    from asrser.gmm.train import TrainConfig, train_tri
    train_tri(a.data_dir, a.lang_dir, a.ali_dir, a.exp_dir, TrainConfig.from_yaml(a.config, a.section), a.nj,
              a.cmd, transform="delta")


cli.run(main, p.parse_args())
