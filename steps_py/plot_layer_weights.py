#!/usr/bin/env python3
"""The mean layer weight per emotion as a heatmap (rows: emotions, columns: the encoder's layers) over the
utterances of one or more layer_weights.tsv files (cta_train_fold.py writes one per fold).

Usage: plot_layer_weights.py [--title T] <layer_weights.tsv>... <png>
  e.g. plot_layer_weights.py exp/cta/fold*/layer_weights.tsv exp/cta/layer_weights.png
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--title", default="", help="default: the number of files and utterances")
p.add_argument("tables", nargs="+", help="layer_weights.tsv files")
p.add_argument("png")


def main(a):
    from asrser.plots import plot_layer_weights
    from asrser.ser.cta_rnn import mean_layer_weights
    emotions, layers, weights = mean_layer_weights(a.tables)
    plot_layer_weights(weights, emotions, layers, a.png, a.title or f"mean layer weight per emotion "
                                                                    f"({len(a.tables)} file(s))")


cli.run(main, p.parse_args())
