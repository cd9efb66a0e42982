#!/usr/bin/env python3
"""Beyond the paper: how similar the ASR and the SER nets are layer by layer (linear CKA on the same held-out
frames, a table and a heat-map) and both nets' first convolutional filters as an image.

Usage: transfer_analysis.py [--frames 4000] [--seed 0] <asr-net> <ser-net> <asr-frames> <ser-frames> <out-dir>
  e.g. transfer_analysis.py egs/timit/s5/exp/convnet/final.pt egs/iemocap/s5/exp/convnet/fold1/final.pt \\
         egs/timit/s5/exp/convnet/frames_test egs/iemocap/s5/exp/ser_folds/fold1/frames_test exp/transfer
Writes <out-dir>/{cka.json, cka.png, filters.png}; the frames are held-out frames of either task
(nnet_prepare_frames.py), half of them drawn from each.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--frames", type=int, default=4000, help="held-out frames (half from each frames dir)")
p.add_argument("--seed", type=int, default=0)
for name in ("asr_net", "ser_net", "asr_frames", "ser_frames", "out_dir"):
    p.add_argument(name)


def main(a):
    from asrser.transfer import stage
    stage.layer_analysis(a.asr_net, a.ser_net, a.asr_frames, a.ser_frames, a.out_dir, a.frames, a.seed)


cli.run(main, p.parse_args())
