#!/usr/bin/env python3
"""A PNG grid of example images of an image cache (make_images.py): one row per emotion with --utt2emo (the
first segment of the first --count utterances of each, in sorted order), else one row of the first --count.

Usage: plot_images.py [--count 8] [--utt2emo data/casia/utt2emo] <image-dir> <png>
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--count", type=cli.positive_int, default=8, help="images per row")
p.add_argument("--utt2emo", help="labels: one row per class")
p.add_argument("image_dir")
p.add_argument("png")


def main(a):
    from asrser.facenet.images import ImageSet, example_images
    from asrser.fileio import read_key_value
    from asrser.plots import plot_image_grid

    images = ImageSet.read(a.image_dir)
    labels = read_key_value(a.utt2emo) if a.utt2emo else None
    plot_image_grid(example_images(images, labels, a.count), a.png,
                    f"{images.config.kind} images of {a.image_dir}")


cli.run(main, p.parse_args())
