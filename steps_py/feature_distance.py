#!/usr/bin/env python3
"""How far one data dir's features sit from another's: per dimension |mean - mean_ref| / std_ref over every
frame (global CMVN stats), its mean over dimensions ("distance", in the reference's standard deviations) and
maximum, as JSON. E.g. real test audio against the synthetic training set.

Usage: feature_distance.py <reference-data-dir> <data-dir> <out-json>
  e.g. feature_distance.py data-fbank/train data-fbank/asterisk exp/real_test/asterisk/fbank_distance.json
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("reference_data_dir")
p.add_argument("data_dir")
p.add_argument("out_json")


def main(a):
    import json
    import os

    from asrser.features import feature_distance, global_cmvn_stats
    from asrser.fileio import atomic_write

    reference, other = (global_cmvn_stats(os.path.join(d, "feats.scp")) for d in (a.reference_data_dir, a.data_dir))
    result = {"reference": a.reference_data_dir, "data": a.data_dir, **feature_distance(reference, other)}
    with atomic_write(a.out_json) as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"{a.data_dir}: mean |mean - mean_ref| / std_ref over {len(result['per_dim'])} dims {result['distance']:.2f} "
          f"(max {result['max']:.2f}) from {a.reference_data_dir}")


cli.run(main, p.parse_args())
