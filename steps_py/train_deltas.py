#!/usr/bin/env python3
"""Triphone GMM-HMM on deltas (Kaldi's steps/train_deltas.sh): train_tri.py --transform delta.

A phonetic decision tree is built from the alignments' statistics, the alignments are converted to it and
the system is trained by EM with realignment and mixing up.

Usage: train_deltas.py [--nj N] [--cmd CMD] [--config conf/gmm.yaml] [--section tri1] <data-dir> <lang-dir> <ali-dir> <exp-dir>
  e.g. train_deltas.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/mono_ali exp/tri1
"""
from train_tri import program

program("delta", __doc__)
