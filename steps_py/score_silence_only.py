#!/usr/bin/env python3
"""The PER of outputting silence alone for every utterance of a data dir: the floor a recogniser of that set
must beat. Hypotheses in <out-dir>/hyp/1.1.txt, scored as decode.py scores a decode (<out-dir>/scoring,
score_1/, wer_1).

Usage: score_silence_only.py [--phone-map FILE [--phone-map-columns FROM,TO]] <data-dir> <out-dir>
  e.g. score_silence_only.py --phone-map conf/timit/phones.60-48-39.map --phone-map-columns 2,3 \\
         data/asterisk exp/real_test/asterisk/silence_only
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--phone-map", help="phone map applied before scoring (e.g. 48 -> 39 for TIMIT); default none")
p.add_argument("--phone-map-columns", default="1,2", help="FROM,TO: the --phone-map columns mapped from and to")
p.add_argument("data_dir")
p.add_argument("out_dir")


def main(a):
    from pathlib import Path

    from asrser.phones import read_scoring_map, scoring_name
    from asrser.scoring import score_silence_only

    phone_map = read_scoring_map(a.phone_map, a.phone_map_columns)
    result = score_silence_only(Path(a.data_dir) / "text", a.out_dir, phone_map, scoring_name(phone_map))
    print(f"{a.out_dir}: silence only, PER {result.error_rate:.2f}% ({result.errors} / {result.ref_words})")


cli.run(main, p.parse_args())
