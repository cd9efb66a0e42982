#!/usr/bin/env python3
"""Render every utterance of a data dir as fixed-interval segment images (waveform diagrams or spectrograms,
FaceNet's 160x160) into an image cache: <image-dir>/images.npy, segments (Kaldi format, row i = image i) and
images.json (config, counts of padded and dropped remainders, speed), written last. Nothing is done when the
cache is current (wav.scp, its audio and the config unchanged); a killed run starts again cleanly.

The settings are the `images:` section of the config (asrser/facenet/images.py describes each choice).

Usage: make_images.py [--config conf/facenet.yaml] [--kind waveform|spectrogram] [--nj N] <data-dir> <image-dir>
  e.g. make_images.py --kind spectrogram --nj 2 data/casia exp/facenet/images/casia_spectrogram
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--config", default="conf/facenet.yaml", help="a config with an images: section")
p.add_argument("--kind", choices=["waveform", "spectrogram"], help="overrides the config's kind")
p.add_argument("--nj", type=cli.positive_int, default=1, help="processes")
p.add_argument("data_dir")
p.add_argument("image_dir")


def main(a):
    from dataclasses import replace

    from asrser.facenet.images import ImageConfig, write_images

    config = ImageConfig.from_yaml(a.config)
    if a.kind:
        config = replace(config, kind=a.kind)
    write_images(a.data_dir, a.image_dir, config, nj=a.nj, progress=True)


cli.run(main, p.parse_args())
