#!/usr/bin/env python3
"""Beyond the paper: how similar the ASR and the SER nets are layer by layer (linear CKA on the same held-out
frames, a table and a heat-map) and both nets' first convolutional filters as an image.

Usage: transfer_analysis.py [--frames 4000] [--seed 0] <timit-recipe> <iemocap-recipe> <out-dir>
  e.g. transfer_analysis.py egs/timit/s5 egs/iemocap/s5 exp/transfer
Writes <out-dir>/{cka.json, cka.png, filters.png}.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--frames", type=int, default=4000, help="held-out frames (half TIMIT test, half IEMOCAP test)")
p.add_argument("--seed", type=int, default=0)
p.add_argument("timit_recipe")
p.add_argument("iemocap_recipe")
p.add_argument("out_dir")


def main(a):
    from pathlib import Path

    from asrser.transfer import stage
    stage.layer_analysis(stage.AsrRecipe(Path(a.timit_recipe)), stage.SerRecipe(Path(a.iemocap_recipe)),
                         a.out_dir, a.frames, a.seed)


cli.run(main, p.parse_args())
