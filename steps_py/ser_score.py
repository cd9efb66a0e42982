#!/usr/bin/env python3
"""Score an SER system's folds: <system-dir>/fold*/predictions.tsv pooled into <system-dir>/predictions.tsv,
results.json (WA, UA, E, UE of the validation and test speakers, per fold and pooled) and confusion.png, over
the classes of the folds dir (classes.txt). The system's description in results.json is the one its folds
wrote (fold1/description.json, e.g. by cta_train_fold.py), else the frame ConvNet's.

Usage: ser_score.py <folds-dir> <system-dir>...
  e.g. ser_score.py exp/ser_folds exp/convnet
       ser_score.py exp/folds/iemocap_session exp/iemocap_session/{last,cta}   (several systems, one start-up)
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("folds_dir")
p.add_argument("system_dirs", nargs="+")


def main(a):
    from asrser.ser.convnet import score_folds
    for system_dir in a.system_dirs:
        score_folds(a.folds_dir, system_dir)


cli.run(main, p.parse_args())
