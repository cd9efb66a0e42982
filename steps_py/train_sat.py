#!/usr/bin/env python3
"""Speaker-adapted training with per-speaker fMLLR transforms (Kaldi's steps/train_sat.sh), on the features of
the alignment system (tri2's LDA+MLLT).

Usage: train_sat.py [--nj N] [--cmd CMD] [--config conf/gmm.yaml] [--section tri3] <data-dir> <lang-dir> <ali-dir> <exp-dir>
  e.g. train_sat.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/tri2_ali exp/tri3
The exp dir gets final.mdl, final.alimdl (the speaker-independent model of decode_fmllr.py's first pass) and
the training speakers' transforms trans.JOB (Kaldi archives of d x (d+1) matrices keyed by speaker).
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=cli.positive_int, default=4)
p.add_argument("--cmd", default="asrser-run")
p.add_argument("--config", default="conf/gmm.yaml", help="YAML file with the system's section")
p.add_argument("--section", default="tri3", help="section of the config (leaves, Gaussians, fMLLR iterations)")
for name in ("data_dir", "lang_dir", "ali_dir", "exp_dir"):
    p.add_argument(name)


def main(a):
    from asrser.gmm.train import TrainConfig, train_sat
    train_sat(a.data_dir, a.lang_dir, a.ali_dir, a.exp_dir, TrainConfig.from_yaml(a.config, a.section), a.nj, a.cmd)


cli.run(main, p.parse_args())
