#!/usr/bin/env python3
"""The SER protocol's folds: 2 validation speakers (early stopping) and leave-one-speaker-out over the other
speakers (train on the rest, test on one). Prints the fold listing.

Usage: ser_make_folds.py --validation "SPK1 SPK2" <data-dir> <folds-json>
  e.g. ser_make_folds.py --validation "Ses05F Ses05M" data/iemocap exp/ser_folds/folds.json
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--validation", required=True, help="the validation speakers, space-separated")
p.add_argument("data_dir")
p.add_argument("folds_json")


def main(a):
    from collections import Counter

    from asrser.fileio import read_key_value
    from asrser.ser.folds import fold_listing, write_folds
    folds = write_folds(a.data_dir, a.validation.split(), a.folds_json)
    print(fold_listing(folds, Counter(read_key_value(f"{a.data_dir}/utt2spk").values())))


cli.run(main, p.parse_args())
