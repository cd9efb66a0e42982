#!/usr/bin/env python3
"""The within- and cross-corpus SER table: rows = systems (CTA-RNN ablations: last layer, weighted sum, channel
attention, temporal attention, CTA-RNN; the Fayek ConvNet; eGeMAPS + SVM), columns = WA and UA of IEMOCAP (leave
one session out), IEMOCAP (Fayek speaker folds), MSP-IMPROV (leave one session out), IEMOCAP -> MSP-IMPROV and
MSP-IMPROV -> IEMOCAP; each cell recomputed from the test rows of <exp-dir>/<protocol>/<system>/predictions.tsv,
a dash where a system or protocol has not run. Also a WA / UA table per fold of each protocol.

--layout facenet: the FaceNet SER experiment's cross-training table instead (egs/facenet/s5; asrser.facenet.table):
rows = image kind x pre-training, then the CTA-RNN, the Fayek ConvNet and eGeMAPS + SVM; columns = CASIA and
IEMOCAP WA and UA; the paper's figures below.

Usage: ser_cross_table.py [--layout cta|facenet] [--folds-root DIR] <exp-dir> <table.md>
  e.g. ser_cross_table.py exp exp/cross_table.md
Writes <table.md> and the same figures as JSON (<table>.json). The protocols' classes are read from
<folds-root>/<protocol>/classes.txt (default <exp-dir>/folds).
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--layout", choices=("cta", "facenet"), default="cta", help="which experiment's table")
p.add_argument("--folds-root", default="", help="the protocols' folds dirs (default <exp-dir>/folds)")
p.add_argument("exp_dir")
p.add_argument("table")


def main(a):
    from asrser.ser.cross_table import format_cross_table, write_cross_table
    if a.layout == "facenet":
        from asrser.facenet.table import PAPER_ROW, write_facenet_table
        print(format_cross_table(write_facenet_table(a.exp_dir, a.table), PAPER_ROW), end="")
    else:
        print(format_cross_table(write_cross_table(a.exp_dir, a.table, a.folds_root or None)), end="")


cli.run(main, p.parse_args())
