#!/usr/bin/env python3
"""The best line of a set of WER files, as Kaldi's utils/best_wer.sh prints it.

Usage: best_wer.py [<wer-file> ...]
  e.g. best_wer.py exp/tri1/decode_test/wer_*
       grep WER exp/tri1/decode_test/wer_* /dev/null | best_wer.py
Prints `%WER 12.34 [ 12 / 100, 3 ins, 4 del, 5 sub ] exp/tri1/decode_test/wer_10_0.0`: the file's %WER line of
the lowest rate (the first of equals). Without files it reads `<file>:%WER ...` lines (grep's) from stdin.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("wer_files", nargs="*")


def main(a):
    import sys
    from asrser.fileio import text_lines
    from asrser.scoring import best_wer_line

    if a.wer_files:
        lines = [f"{path}:{line}" for path in a.wer_files for _, line in text_lines(path) if "WER" in line]
    else:
        lines = sys.stdin.read().splitlines()
    print(best_wer_line(lines))


cli.run(main, p.parse_args())
