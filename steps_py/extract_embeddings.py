#!/usr/bin/env python3
"""Layer embeddings of a pre-trained encoder for every utterance of a data dir, stored once for every SER fold
(<store-dir>/feats.{ark,scp}: one (frames, layers x dim) matrix per utterance; embeddings.json describes them).

Usage: extract_embeddings.py [options] <encoder-spec> <data-dir> <store-dir>
  <encoder-spec>: ctc:PATH (the toolkit's CTC phone recogniser) or hf:DIR (a local wav2vec2 / HuBERT / WavLM
  directory; never downloaded)
  e.g. extract_embeddings.py ctc:exp/ctc/final.pt data/iemocap exp/embeddings/ctc/iemocap
"""
from asrser import cli
from asrser.encoders.extract import DEFAULT_MAX_SECONDS, extract_embeddings

p = cli.parser(__doc__)
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
               help="longer utterances are encoded in overlapping windows of this length, bounding memory "
                    "(0: always whole)")
p.add_argument("--allow-downsample", action="store_true",
               help="resample audio above the encoder's sample rate instead of refusing it")
p.add_argument("--allow-upsample", action="store_true",
               help="resample audio below the encoder's sample rate instead of refusing it")
p.add_argument("encoder_spec")
p.add_argument("data_dir")
p.add_argument("store_dir")


def main(a):
    extract_embeddings(a.encoder_spec, a.data_dir, a.store_dir, a.device, a.max_seconds, a.allow_downsample,
                       a.allow_upsample)


cli.run(main, p.parse_args())
