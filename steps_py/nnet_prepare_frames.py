#!/usr/bin/env python3
"""Frames for neural-net training or decoding: a data dir's features normalised by global mean/variance
statistics, with per-frame targets, as memory-mapped arrays (<out-dir>/feats.npy, targets.npy, utts.json).
Every utterance with features is kept: one without targets (no alignment) carries target -1, so it is
decoded but left out of training and frame error rates; such utterances are counted.

Usage: nnet_prepare_frames.py [--targets SCP] <data-dir> <global-cmvn-stats> <out-dir>
  e.g. nnet_prepare_frames.py --targets exp/tri2_ali_train/targets/targets.scp data-fbank/train \
         exp/convnet/global_cmvn.stats exp/convnet/frames_train
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--targets", default=None, help="per-frame integer targets (scp), e.g. from ali_to_targets.py")
p.add_argument("data_dir")
p.add_argument("global_cmvn")
p.add_argument("out_dir")


def main(a):
    from asrser.nnet.data import prepare_frames
    counts = prepare_frames(a.data_dir, a.targets, a.global_cmvn, a.out_dir)
    print(f"{a.out_dir}: {counts['frames']} frames of {counts['utterances']} utterances, "
          f"{counts['untargeted']} without targets")


cli.run(main, p.parse_args())
