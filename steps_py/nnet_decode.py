#!/usr/bin/env python3
"""Hybrid decoding: a trained net's scaled likelihoods (log posterior - log prior) decoded with the HCLG of
the HMM whose states it predicts, LM-weight sweep, sclite scoring; frame error rate against the frames'
targets in <decode-dir>/fer (over the frames that have one; no fer file when none has). Lattices go to
<decode-dir>/lat.1.gz (with num_jobs), scored as decode.py scores them. Every utterance of the frames is
decoded, aligned or not; those that reach no final state of the graph are decoded again at --retry-beam, and
counted.

Usage: nnet_decode.py [--acwt A] [--scoring-unit phone|word] [--phone-map FILE [--phone-map-columns FROM,TO]] <graph-dir> <hmm-model> <net> <frames> <text> <decode-dir>
  e.g. nnet_decode.py --phone-map conf/timit/phones.60-48-39.map --phone-map-columns 2,3 \
         exp/mono/graph exp/mono/final.mdl exp/convnet/final.pt exp/convnet/frames_dev data/dev/text \
         exp/convnet/decode_dev
The net's dir (beside final.pt) holds what decoding needs besides the frames: class_counts (the priors),
classes.txt and global_cmvn.stats (to prepare the frames of new audio: nnet_prepare_frames.py <data>
exp/convnet/global_cmvn.stats <frames>)
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--acwt", type=float, default=0.2, help="acoustic scale (nets: 0.2, as Kaldi's nnet recipes)")
p.add_argument("--beam", type=float, default=13.0)
p.add_argument("--lattice-beam", type=float, default=6.0)
p.add_argument("--max-mem", type=int, default=50_000_000,
               help="lattice determinisation memory bound in bytes, as Kaldi's (beyond it the lattice is pruned "
                    "with a narrower beam)")
p.add_argument("--retry-beam", type=float, default=40.0,
               help="beam for utterances that reach no final state at --beam (not above --beam: no retry)")
p.add_argument("--write-loglikes", action="store_true",
               help="also write <decode-dir>/loglikes.1.ark: the net's log-likelihoods per pdf of <hmm-model>, the "
                    "input of Kaldi's latgen-faster-mapped")
p.add_argument("--lm-weights", default="0.5 0.75 1 1.5 2 3 4 5 6 8 10",
               help="LM weights to score (nets are sharper than GMMs: the sweep starts below 1)")
cli.add_scoring_options(p)
cli.add_hybrid_options(p)
for name in ("graph_dir", "hmm_model", "net", "frames", "text", "decode_dir"):
    p.add_argument(name)


def main(a):
    from pathlib import Path

    from asrser.hmm.decode import DecodeOptions
    from asrser.nnet.decode import decode_hybrid
    from asrser.phones import read_scoring_map, scoring_name
    from asrser.scoring import score_decode

    phone_map = read_scoring_map(a.phone_map, a.phone_map_columns)
    score_opts = cli.scoring_options(a, phone_map, a.graph_dir)      # checked before the decode
    opts = DecodeOptions(acwt=a.acwt, beam=a.beam, lattice_beam=a.lattice_beam, retry_beam=a.retry_beam,
                         max_mem=a.max_mem)
    decode_hybrid(a.graph_dir, a.hmm_model, a.net, a.frames, a.decode_dir, opts, a.device, a.targets,
                  a.write_loglikes)
    score_decode(a.decode_dir, a.text, phone_map, name=scoring_name(phone_map),
                 words_txt=Path(a.graph_dir) / "words.txt", model=a.hmm_model,
                 lm_weights=[float(w) for w in a.lm_weights.split()], **score_opts)


cli.run(main, p.parse_args())
