#!/usr/bin/env python3
"""Per-speaker CMVN statistics (Kaldi's steps/compute_cmvn_stats.sh); writes <data-dir>/cmvn.scp.

Usage: compute_cmvn_stats.py <data-dir> <cmvn-dir>
"""
from asrser import cli
from asrser.features import compute_cmvn_stats

p = cli.parser(__doc__)
p.add_argument("data_dir")
p.add_argument("cmvn_dir")
cli.run(lambda a: compute_cmvn_stats(a.data_dir, a.cmvn_dir), p.parse_args())
