#!/usr/bin/env python3
"""The SER protocol's classes and folds. Classes: the emotion codes of <data-dir>/utt2emo, through the class
map when given (`exc hap` merges, `xxx -` drops; a code it does not list is an error), sorted. Folds: leave
one speaker (utt2spk) or one session (utt2sess) out; validation on fixed groups (--validation), or, without
them, on the next group of each fold (rotation: every group is tested once). Across corpora (--fold-by corpus,
a data dir combined from two corpora with utt2corpus and utt2sess: combine_data.py --corpus-names): one fold per
direction A->B, testing all of B, validated on A's last session, trained on A's other sessions. Prints the
fold listing.

Usage: ser_make_folds.py [--fold-by speaker|session|corpus] [--validation "G1 G2"] [--class-map MAP] <data-dir> <folds-dir>
  e.g. ser_make_folds.py --validation "Ses05F Ses05M" --class-map conf/iemocap_emotions.map data/iemocap exp/ser_folds
  or   ser_make_folds.py --fold-by corpus --class-map exp/cross_emotions.map data/iemocap_msp exp/folds/cross
Writes <folds-dir>/{folds.json, classes.txt, utt2emo (the mapped labels of the kept utterances), utt2group},
which every later SER step reads.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--fold-by", choices=("speaker", "session", "corpus"), default="speaker",
               help="leave one speaker (utt2spk) or one session (utt2sess) out, or train on one corpus and test "
                    "on the other (utt2corpus)")
p.add_argument("--validation", default="",
               help="the fixed validation speakers or sessions, space-separated; empty: rotate")
p.add_argument("--class-map", default="", help="CODE CLASS lines (CLASS '-' drops the code); empty: none")
p.add_argument("data_dir")
p.add_argument("folds_dir")


def main(a):
    from collections import Counter

    from asrser.fileio import read_key_value
    from asrser.ser.folds import GROUPS_FILE, fold_listing, write_folds
    folds = write_folds(a.data_dir, a.folds_dir, a.fold_by, a.validation.split(), a.class_map or None)
    print(fold_listing(folds, Counter(read_key_value(f"{a.folds_dir}/{GROUPS_FILE}").values())))


cli.run(main, p.parse_args())
