#!/usr/bin/env python3
"""Combine data dirs into one (Kaldi's combine_data.sh): every table the sources share (utt2emo, utt2sess, ...).
With --corpus-names, also utt2corpus (each utterance's source, named in the order of the sources), which
cross-corpus SER folds group by (ser_make_folds.py --fold-by corpus).

Usage: combine_data.py [--corpus-names "NAME1 NAME2 ..."] <dest-dir> <src-dir1> <src-dir2> ...
  e.g. combine_data.py --corpus-names "iemocap msp_improv" data/iemocap_msp data/iemocap data/msp_improv
"""
from asrser import cli
from asrser.data import combine_data_dirs

p = cli.parser(__doc__)
p.add_argument("--corpus-names", default="", help="one name per source dir, space-separated; writes utt2corpus")
p.add_argument("dest_dir")
p.add_argument("src_dirs", nargs="+")
cli.run(lambda a: combine_data_dirs(a.dest_dir, a.src_dirs, a.corpus_names.split() or None), p.parse_args())
