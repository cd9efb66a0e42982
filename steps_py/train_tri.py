#!/usr/bin/env python3
"""Triphone GMM-HMM (Kaldi's steps/train_deltas.sh and steps/train_lda_mllt.sh, one program).

A phonetic decision tree is built from the alignments' statistics, the alignments are converted to it and
the system is trained by EM with realignment and mixing up, on deltas (--transform delta; the config's
section tri1) or on LDA+MLLT features (--transform lda; section tri2). train_deltas.py and
train_lda_mllt.py are this program with the transform fixed.

Usage: train_tri.py [--transform delta|lda] [--nj N] [--cmd CMD] [--config conf/gmm.yaml] [--section S] <data-dir> <lang-dir> <ali-dir> <exp-dir>
  e.g. train_tri.py --transform lda --nj 4 --cmd "$train_cmd" data/train data/lang exp/tri1_ali exp/tri2
"""
from asrser import cli

SECTIONS = {"delta": "tri1", "lda": "tri2"}      # each transform's section of the config by default


def program(transform: str | None = None, doc: str = __doc__) -> None:
    """The program; with a transform, under one of the names that fix it (train_deltas.py, train_lda_mllt.py)."""
    p = cli.parser(doc)
    if transform is None:
        p.add_argument("--transform", choices=sorted(SECTIONS), default="delta",
                       help="the features: deltas (as tri1) or LDA+MLLT (as tri2)")
    p.add_argument("--nj", type=cli.positive_int, default=4)
    p.add_argument("--cmd", default="asrser-run")
    p.add_argument("--config", default="conf/gmm.yaml", help="YAML file with the system's section")
    p.add_argument("--section", default=SECTIONS.get(transform),
                   help="section of the config (leaves, Gaussians, iterations); default: "
                        + (SECTIONS[transform] if transform else "tri1 for delta, tri2 for lda"))
    for name in ("data_dir", "lang_dir", "ali_dir", "exp_dir"):
        p.add_argument(name)

    def main(a):
        from asrser.gmm.train import TrainConfig, train_tri
        chosen = transform or a.transform
        config = TrainConfig.from_yaml(a.config, a.section or SECTIONS[chosen])
        train_tri(a.data_dir, a.lang_dir, a.ali_dir, a.exp_dir, config, a.nj, a.cmd, transform=chosen)

    cli.run(main, p.parse_args())


if __name__ == "__main__":
    program()
