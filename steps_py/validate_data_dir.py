#!/usr/bin/env python3
"""Check a Kaldi data dir; every problem is printed with its file and line (Kaldi's validate_data_dir.sh).

Usage: validate_data_dir.py [--no-text] [--no-wav] [--need-feats] <data-dir>
"""
import sys

from asrser import cli
from asrser.data import validate_data_dir

p = cli.parser(__doc__)
p.add_argument("--no-text", action="store_true")
p.add_argument("--no-wav", action="store_true")
p.add_argument("--need-feats", action="store_true")
p.add_argument("data_dir")


def main(a):
    issues = validate_data_dir(a.data_dir, need_text=not a.no_text, need_wav=not a.no_wav,
                               need_feats=a.need_feats)
    for issue in issues:
        print(issue, file=sys.stderr)
    if issues:
        print(f"validate_data_dir.py: {a.data_dir}: {len(issues)} problems", file=sys.stderr)
        sys.exit(1)
    print(f"validate_data_dir.py: {a.data_dir} is OK", file=sys.stderr)


cli.run(main, p.parse_args())
