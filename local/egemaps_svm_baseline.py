#!/usr/bin/env python3
"""eGeMAPS + linear SVM SER baseline, leave one speaker out: UA and WA per fold and overall, confusion matrix.

Usage: egemaps_svm_baseline.py [--nj N] [--C 0.1] [--seed 0] [--cache feats.npz] <data-dir> <out-json>
  e.g. egemaps_svm_baseline.py --nj 2 data/iemocap exp/egemaps_svm/results.json
<data-dir> is a data dir with wav.scp, utt2spk and utt2emo (as iemocap_data_prep.py writes). --cache keeps
the features (an .npz) so that a second run only trains and tests.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--nj", type=int, default=1, help="parallel feature extraction processes")
p.add_argument("--C", type=float, default=0.1, help="SVM regularisation (fixed, not tuned on the test folds)")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--cache", default=None, help="features file (.npz) to reuse or write")
p.add_argument("data_dir")
p.add_argument("out_json")


def main(a):
    from asrser.ser.baseline import run_baseline
    run_baseline(a.data_dir, a.out_json, nj=a.nj, C=a.C, seed=a.seed, cache=a.cache)


cli.run(main, p.parse_args())
