#!/usr/bin/env python3
"""Triphone GMM-HMM on LDA+MLLT features (Kaldi's steps/train_lda_mllt.sh): train_tri.py --transform lda.

A phonetic decision tree is built from the alignments' statistics, the alignments are converted to it and
the system is trained by EM with realignment and mixing up, with MLLT updates at the config's mllt_iters.

Usage: train_lda_mllt.py [--nj N] [--cmd CMD] [--config conf/gmm.yaml] [--section tri2] <data-dir> <lang-dir> <ali-dir> <exp-dir>
  e.g. train_lda_mllt.py --nj 4 --cmd "$train_cmd" data/train data/lang exp/tri1_ali exp/tri2
"""
from train_tri import program

program("lda", __doc__)
