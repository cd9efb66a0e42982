#!/usr/bin/env python3
"""Features for a data dir (Kaldi's steps/make_fbank.sh and make_mfcc.sh).

Usage: make_feats.py [options] <data-dir> <log-dir> <feat-dir>
  e.g. make_feats.py --feat-type fbank --config conf/fbank.conf --nj 4 --cmd "$train_cmd" \\
           data/train exp/make_fbank/train fbank
"""
from asrser import cli
from asrser.features import FEATURE_KINDS, FeatureConfig, make_features

p = cli.parser(__doc__)
p.add_argument("--feat-type", choices=FEATURE_KINDS, default="fbank")
p.add_argument("--config", help="Kaldi option file (default conf/<feat-type>.conf)")
p.add_argument("--nj", type=cli.positive_int, default=4)
p.add_argument("--cmd", default="asrser-run", help="job runner, as set in cmd.sh")
p.add_argument("--skip-bad", action="store_true",
               help="log unusable audio to <data-dir>/bad_utts and drop it, instead of failing")
p.add_argument("data_dir")
p.add_argument("log_dir")
p.add_argument("feat_dir")


def main(a):
    config_path = a.config or f"conf/{a.feat_type}.conf"
    make_features(a.data_dir, a.log_dir, a.feat_dir, FeatureConfig.from_file(a.feat_type, config_path),
                  config_path, a.nj, a.cmd, a.skip_bad)


cli.run(main, p.parse_args())
