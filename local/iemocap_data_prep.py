#!/usr/bin/env python3
"""IEMOCAP -> Kaldi data dir <data-dir>/iemocap for 4-class SER (neu ang hap sad; exc merged into hap).

Usage: iemocap_data_prep.py <iemocap-dir> <data-dir>
  e.g. iemocap_data_prep.py /corpora/IEMOCAP_full_release data
The IEMOCAP dir is IEMOCAP_full_release (holding Session1..5) or its parent. Writes wav.scp, text, utt2spk,
spk2utt, spk2gender, utt2emo and utt2session, and prints the utterances per class and speaker.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("iemocap_dir")
p.add_argument("data_dir")


def main(a):
    from asrser.corpora.iemocap import prepare_iemocap
    prepare_iemocap(a.iemocap_dir, a.data_dir)


cli.run(main, p.parse_args())
