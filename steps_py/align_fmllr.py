#!/usr/bin/env python3
"""Align a data dir with an SAT system (Kaldi's steps/align_fmllr.sh): a speaker-independent alignment with
final.alimdl (pre_ali.JOB.gz), each speaker's fMLLR transform from it (trans.JOB), and the adapted alignment
with final.mdl (ali.JOB.gz).

Usage: align_fmllr.py [--nj N] [--cmd CMD] [--beam B] [--retry-beam B] [--config conf/gmm.yaml] [--section tri3] <data-dir> <lang-dir> <exp-dir> <ali-dir>
  e.g. align_fmllr.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/tri3 exp/tri3_ali
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=cli.positive_int, default=4)
p.add_argument("--cmd", default="asrser-run")
p.add_argument("--beam", type=float, default=10.0)
p.add_argument("--retry-beam", type=float, default=40.0)
p.add_argument("--boost-silence", type=float, default=1.0)
p.add_argument("--config", default=None,
               help="YAML file whose section gives the fMLLR options (silence weight, minimum count)")
p.add_argument("--section", default="tri3")
p.add_argument("data_dir")
p.add_argument("lang_dir")
p.add_argument("exp_dir")
p.add_argument("ali_dir")


def main(a):
    from asrser.gmm.train import TrainConfig, align_fmllr
    from asrser.hmm.align import AlignOptions
    config = TrainConfig.from_yaml(a.config, a.section) if a.config else TrainConfig()
    align_fmllr(a.data_dir, a.lang_dir, a.exp_dir, a.ali_dir, a.nj, a.cmd,
                AlignOptions(beam=a.beam, retry_beam=a.retry_beam, boost_silence=a.boost_silence), config)


cli.run(main, p.parse_args())
