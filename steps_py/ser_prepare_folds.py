#!/usr/bin/env python3
"""Per fold: mean/variance of the training speakers' fbank frames, and the normalised frames with their
frame targets of the training, validation and test speakers (shared by every net trained on the fold).

Usage: ser_prepare_folds.py <fbank-data-dir> <targets-dir> <folds-json> <out-dir>
  e.g. ser_prepare_folds.py data-fbank/iemocap exp/ser_targets exp/ser_folds/folds.json exp/ser_folds
Writes <out-dir>/fold<k>/{fold.json, global_cmvn.stats, frames_train, frames_valid, frames_test} and
<out-dir>/num_folds.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("fbank_dir")
p.add_argument("targets_dir")
p.add_argument("folds_json")
p.add_argument("out_dir")


def main(a):
    from asrser.ser.convnet import prepare_fold_frames
    prepare_fold_frames(a.fbank_dir, a.targets_dir, a.folds_json, a.out_dir)


cli.run(main, p.parse_args())
