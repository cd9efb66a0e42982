#!/usr/bin/env python3
"""Decode a data dir with an SAT system and score it (Kaldi's steps/decode_fmllr.sh): decode.py --fmllr.

A speaker-independent pass with final.alimdl writes its lattices to <decode-dir>.si (scored, as Kaldi's
decode_<set>.si); each speaker's fMLLR transform is estimated from that pass's best paths (silence weighted
--silence-weight; Kaldi uses the whole lattice's posteriors) into <decode-dir>/trans.JOB; the adapted pass with
final.mdl writes <decode-dir>/lat.JOB.gz, scored as decode.py scores.

Usage: decode_fmllr.py [--nj N] [--cmd CMD] [--acwt A] [--beam B] [--silence-weight W] [--phone-map FILE [--phone-map-columns FROM,TO]] <graph-dir> <data-dir> <exp-dir> <decode-dir>
  e.g. decode_fmllr.py --nj 4 --cmd "$decode_cmd" exp/tri3/graph data/dev exp/tri3 exp/tri3/decode_dev
"""
from decode import program

program(True, __doc__)
