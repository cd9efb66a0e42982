#!/usr/bin/env python3
"""A subset of a data dir (Kaldi's subset_data_dir.sh).

Usage: subset_data_dir.py (--utt-list FILE | --spk-list FILE | --first N) <src-dir> <dest-dir>
"""
from asrser import cli
from asrser.data import subset_data_dir

p = cli.parser(__doc__)
g = p.add_mutually_exclusive_group(required=True)
g.add_argument("--utt-list", help="file whose first field per line is an utterance id")
g.add_argument("--spk-list", help="file whose first field per line is a speaker id")
g.add_argument("--first", type=int, help="the first N utterances")
p.add_argument("src_dir")
p.add_argument("dest_dir")


def first_fields(path):
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def main(a):
    subset_data_dir(a.src_dir, a.dest_dir,
                    utts=first_fields(a.utt_list) if a.utt_list else None,
                    speakers=first_fields(a.spk_list) if a.spk_list else None, first=a.first)


cli.run(main, p.parse_args())
