#!/usr/bin/env python3
"""Combine data dirs into one (Kaldi's combine_data.sh).

Usage: combine_data.py <dest-dir> <src-dir1> <src-dir2> ...
"""
from asrser import cli
from asrser.data import combine_data_dirs

p = cli.parser(__doc__)
p.add_argument("dest_dir")
p.add_argument("src_dirs", nargs="+")
cli.run(lambda a: combine_data_dirs(a.dest_dir, a.src_dirs), p.parse_args())
