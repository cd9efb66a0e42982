#!/usr/bin/env python3
"""Split a data dir into N parts, speakers kept whole (Kaldi's split_data.sh): <data-dir>/splitN/{1..N}.

Usage: split_data.py [--per-utt] <data-dir> <num-parts>
"""
from asrser import cli
from asrser.data import split_data_dir

p = cli.parser(__doc__)
p.add_argument("--per-utt", action="store_true", help="split by utterance (splitNutt); speakers may straddle")
p.add_argument("data_dir")
p.add_argument("num_parts", type=cli.positive_int)
cli.run(lambda a: split_data_dir(a.data_dir, a.num_parts, a.per_utt), p.parse_args())
