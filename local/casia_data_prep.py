#!/usr/bin/env python3
"""CASIA Chinese emotional speech -> Kaldi data dir <data-dir>/casia for SER: utt2emo holds the emotion folder
names angry fear happy neutral sad surprise (`normal` read as neutral; the recipe's class map,
conf/casia_emotions.map, makes the 6 classes ang fea hap neu sad sur of them).

Usage: casia_data_prep.py <casia-dir> <data-dir>
  e.g. casia_data_prep.py /corpora/CASIA data
The CASIA dir holds <speaker>/<emotion>/<n>.wav (the circulated subset) or <subset>/<speaker>/<emotion>/<n>.wav
(the full release's same-text/different-text folders). Writes wav.scp, utt2spk, spk2utt, spk2gender, utt2emo
(and utt2subset for the full release), and prints the utterances per speaker and emotion. Every wav must be
16 kHz mono.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("casia_dir")
p.add_argument("data_dir")


def main(a):
    from asrser.corpora.casia import prepare_casia
    prepare_casia(a.casia_dir, a.data_dir, print_counts=True)


cli.run(main, p.parse_args())
