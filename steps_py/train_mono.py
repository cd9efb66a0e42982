#!/usr/bin/env python3
"""Monophone GMM-HMM training (Kaldi's steps/train_mono.sh).

Usage: train_mono.py [--nj N] [--cmd CMD] [--config conf/gmm.yaml] <data-dir> <lang-dir> <exp-dir>
  e.g. train_mono.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/mono
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=cli.positive_int, default=4)
p.add_argument("--cmd", default="asrser-run")
p.add_argument("--config", default="conf/gmm.yaml", help="YAML file with a 'mono' section")
p.add_argument("data_dir")
p.add_argument("lang_dir")
p.add_argument("exp_dir")


def main(a):
    from asrser.gmm.train import TrainConfig, train_mono
    train_mono(a.data_dir, a.lang_dir, a.exp_dir, TrainConfig.from_yaml(a.config, "mono"), a.nj, a.cmd)


cli.run(main, p.parse_args())
