#!/usr/bin/env python3
"""Hybrid forced alignment (Kaldi's nnet align): a trained net's scaled likelihoods aligned to each
transcript with the HMM whose states it predicts; writes an alignment dir like align_si.py's.

Usage: nnet_align.py [--device auto] <hmm-model> <lang-dir> <data-dir> <net> <frames> <ali-dir>
  e.g. nnet_align.py exp/mono/final.mdl data/lang data/dev exp/convnet/final.pt exp/convnet/frames_dev \
         exp/convnet_ali_dev
The net's priors and class table are read from its dir (beside final.pt).
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--beam", type=float, default=10.0)
p.add_argument("--retry-beam", type=float, default=40.0)
cli.add_hybrid_options(p)
for name in ("hmm_model", "lang_dir", "data_dir", "net", "frames", "ali_dir"):
    p.add_argument(name)


def main(a):
    from asrser.hmm.align import AlignOptions
    from asrser.nnet.align import align_hybrid

    align_hybrid(a.hmm_model, a.lang_dir, a.data_dir, a.net, a.frames, a.ali_dir,
                 AlignOptions(beam=a.beam, retry_beam=a.retry_beam), a.device, a.targets)


cli.run(main, p.parse_args())
