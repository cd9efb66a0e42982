#!/usr/bin/env python3
"""HCLG decoding graph (Kaldi's utils/mkgraph.sh).

Usage: mkgraph.py <lang-test-dir> <exp-dir> <graph-dir>
  e.g. mkgraph.py data/lang_test_bg exp/mono exp/mono/graph
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("lang_dir")
p.add_argument("exp_dir")
p.add_argument("graph_dir")


def main(a):
    from asrser.hmm.graph import mkgraph
    mkgraph(a.lang_dir, a.exp_dir, a.graph_dir)


cli.run(main, p.parse_args())
