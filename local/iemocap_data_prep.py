#!/usr/bin/env python3
"""IEMOCAP -> Kaldi data dir <data-dir>/iemocap for SER: utt2emo holds IEMOCAP's emotion codes (the recipe's
class map, conf/iemocap_emotions.map, makes the 4 classes neu ang hap sad of them, exc merged into hap).

Usage: iemocap_data_prep.py <iemocap-dir> <data-dir>
  e.g. iemocap_data_prep.py /corpora/IEMOCAP_full_release data
The IEMOCAP dir is IEMOCAP_full_release (holding Session1..5) or its parent. Writes wav.scp, text, utt2spk,
spk2utt, spk2gender, utt2emo and utt2sess, and prints the utterances per emotion code and speaker.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("iemocap_dir")
p.add_argument("data_dir")


def main(a):
    from asrser.corpora.iemocap import prepare_iemocap
    prepare_iemocap(a.iemocap_dir, a.data_dir)


cli.run(main, p.parse_args())
