#!/usr/bin/env python3
"""Sort a data dir and drop utterances missing from any table (Kaldi's fix_data_dir.sh).
Originals are kept in <data-dir>/.backup.

Usage: fix_data_dir.py <data-dir>
"""
from asrser import cli
from asrser.data import fix_data_dir

p = cli.parser(__doc__)
p.add_argument("data_dir")
cli.run(lambda a: fix_data_dir(a.data_dir), p.parse_args())
