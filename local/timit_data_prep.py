#!/usr/bin/env python3
"""TIMIT -> Kaldi data dirs <data-dir>/{train,dev,test} (standard splits, 48-phone text, reference segmentation).

Usage: timit_data_prep.py [--sample-rate HZ] <timit-dir> <data-dir>
  e.g. timit_data_prep.py /corpora/LDC93S1/TIMIT data
       timit_data_prep.py --sample-rate 8000 /corpora/LDC93S1/TIMIT data   # wav.scp resamples through sox
The TIMIT dir may use upper- or lower-case names and may be the Kaggle copy with a leading data/.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--sample-rate", type=cli.positive_int, default=None,
               help="audio rate of the data dirs (default: TIMIT's 16000; another rate resamples in wav.scp)")
p.add_argument("timit_dir")
p.add_argument("data_dir")


def main(a):
    from asrser.corpora.timit import prepare_timit
    prepare_timit(a.timit_dir, a.data_dir, a.sample_rate)


cli.run(main, p.parse_args())
