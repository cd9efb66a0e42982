#!/usr/bin/env python3
"""MSP-IMPROV -> Kaldi data dir <data-dir>/msp_improv for SER: utt2emo holds MSP-IMPROV's consensus codes
A H S N O X (the recipe's class map, conf/msp_improv_emotions.map, makes the 4 classes ang hap neu sad of them).

Usage: msp_improv_data_prep.py [--sample-rate 16000] [--resample] <msp-dir> <data-dir>
  e.g. msp_improv_data_prep.py /corpora/MSP-IMPROV data
The MSP-IMPROV dir holds session1..6 (directly or in Audio/), with Evaluation.txt (or Evalution.txt) in it or one
level up. Writes wav.scp, utt2spk, spk2utt, spk2gender, utt2emo and utt2sess (session1..6), and prints the
utterances per emotion code and speaker. Every wav must be at --sample-rate, or with --resample it is read
through sox at that rate (`sox FILE -r 16000 -t wav - |` in wav.scp).
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--sample-rate", type=cli.positive_int, default=16000, help="the rate every wav must have")
p.add_argument("--resample", action="store_true", help="read wavs at another rate through sox at --sample-rate")
p.add_argument("msp_dir")
p.add_argument("data_dir")


def main(a):
    from asrser.corpora.msp_improv import prepare_msp_improv
    prepare_msp_improv(a.msp_dir, a.data_dir, sample_rate=a.sample_rate, resample=a.resample)


cli.run(main, p.parse_args())
