#!/usr/bin/env python3
"""Speaker-independent mean/variance statistics of a training set, for neural-net input normalisation.
Written as a Kaldi binary CMVN-stats matrix (readable by apply-cmvn).

With --cmvn-opts (apply-cmvn's options, e.g. "--norm-means=true"), each speaker's features are first
normalised by that speaker's own statistics (utt2spk), the stats are of the normalised features, and the
options are written beside them as cmvn_opts (as Kaldi's nnet dirs keep theirs): nnet_prepare_frames.py, and
so training, decoding and every other user of the stats, then normalise per speaker too. Without it, a
cmvn_opts left there by an earlier run is removed.

Usage: compute_global_cmvn.py [--cmvn-opts OPTS] <data-dir> <out-stats>
  e.g. compute_global_cmvn.py data/train_fbank exp/nnet/global_cmvn.stats
       compute_global_cmvn.py --cmvn-opts "--norm-means=true" data-fbank/train exp/convnet/global_cmvn.stats
"""
import os
import sys
from pathlib import Path

import kaldiio

from asrser import cli
from asrser.features import SpeakerCmvn, global_cmvn_stats
from asrser.fileio import atomic_write, temp_name
from asrser.nnet.data import SPEAKER_CMVN_OPTS

p = cli.parser(__doc__)
p.add_argument("--cmvn-opts", default=None, help="per-speaker CMVN first, in apply-cmvn's options")
p.add_argument("data_dir")
p.add_argument("out_stats")


def main(a):
    speaker_cmvn = SpeakerCmvn.from_opts(a.cmvn_opts, "--cmvn-opts") if a.cmvn_opts is not None else None
    stats = global_cmvn_stats(os.path.join(a.data_dir, "feats.scp"), speaker_cmvn=speaker_cmvn)
    out = Path(a.out_stats)
    out.parent.mkdir(parents=True, exist_ok=True)
    opts = out.with_name(SPEAKER_CMVN_OPTS)
    if speaker_cmvn is None:
        opts.unlink(missing_ok=True)
    else:
        with atomic_write(opts) as f:
            f.write(speaker_cmvn.opts() + "\n")
    tmp = temp_name(out)
    kaldiio.save_mat(str(tmp), stats)
    os.replace(tmp, out)


def joined_option_values(argv: list[str], option: str) -> list[str]:
    """`OPTION VALUE` as `OPTION=VALUE`: apply-cmvn's options start with "--", which argparse would take for
    options of this program (Kaldi's scripts pass them as --cmvn-opts "--norm-means=true")."""
    out = list(argv)
    while option in out[:-1]:
        i = out.index(option)
        out[i:i + 2] = [f"{option}={out[i + 1]}"]
    return out


cli.run(main, p.parse_args(joined_option_values(sys.argv[1:], "--cmvn-opts")))
