#!/usr/bin/env python3
"""eGeMAPS + linear SVM SER baseline on the SER folds: per fold the SVM is fitted on the training speakers and
predicts the validation and the test speakers; WA, UA, E, UE per fold and pooled, confusion matrix.

Usage: egemaps_svm_baseline.py [--nj N] [--C 0.1] [--seed 0] <data-dir> <folds-json> <out-dir>
  e.g. egemaps_svm_baseline.py --nj 2 data/iemocap exp/ser_folds/folds.json exp/egemaps_svm
<data-dir> is a data dir with wav.scp and utt2spk; the classes, labels and folds are those of ser_make_folds.py
(<folds-json> and classes.txt, utt2emo, utt2group beside it). The features are kept in <out-dir>/egemaps.npz,
so that a second run only trains and tests.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=cli.positive_int, default=1, help="parallel feature extraction processes")
p.add_argument("--C", type=float, default=0.1, help="SVM regularisation (fixed, not tuned on the test folds)")
p.add_argument("--seed", type=int, default=0)
p.add_argument("data_dir")
p.add_argument("folds_json")
p.add_argument("out_dir")


def main(a):
    from asrser.ser.baseline import run_baseline
    run_baseline(a.data_dir, a.folds_json, a.out_dir, nj=a.nj, C=a.C, seed=a.seed)


cli.run(main, p.parse_args())
