#!/usr/bin/env python3
"""Align a data dir with a trained GMM system (Kaldi's steps/align_si.sh).

Usage: align_si.py [--nj N] [--cmd CMD] [--beam B] [--retry-beam B] <data-dir> <lang-dir> <exp-dir> <ali-dir>
  e.g. align_si.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/mono exp/mono_ali
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=cli.positive_int, default=4)
p.add_argument("--cmd", default="asrser-run")
p.add_argument("--beam", type=float, default=10.0)
p.add_argument("--retry-beam", type=float, default=40.0)
p.add_argument("--boost-silence", type=float, default=1.0)
p.add_argument("data_dir")
p.add_argument("lang_dir")
p.add_argument("exp_dir")
p.add_argument("ali_dir")


def main(a):
    from asrser.gmm.train import align_si
    from asrser.hmm.align import AlignOptions
    align_si(a.data_dir, a.lang_dir, a.exp_dir, a.ali_dir, a.nj, a.cmd,
             AlignOptions(beam=a.beam, retry_beam=a.retry_beam, boost_silence=a.boost_silence))


cli.run(main, p.parse_args())
