#!/usr/bin/env python3
"""REPORT.md for the whole paper: ASR and SER baselines, transfer tables both ways beside the paper's, the
layer analysis, and the deviations from the paper's protocol.

Usage: make_report.py [--preset fast|paper] [--real-corpora] [--cta-recipe DIR] [--facenet-recipe DIR] <timit-recipe> <iemocap-recipe> <transfer-dir> <out-md>
  e.g. make_report.py --preset fast egs/timit/s5 egs/iemocap/s5 exp/transfer REPORT.md
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--preset", default="fast", choices=["fast", "paper"])
p.add_argument("--real-corpora", action="store_true", help="the run used TIMIT and IEMOCAP, not the embedded ones")
p.add_argument("--cta-recipe", help="the CTA-RNN recipe's dir (egs/cta_rnn/s5): its section of the report")
p.add_argument("--facenet-recipe", help="the FaceNet SER recipe's dir (egs/facenet/s5): its section of the report")
p.add_argument("timit_recipe")
p.add_argument("iemocap_recipe")
p.add_argument("transfer_dir")
p.add_argument("out")


def main(a):
    from asrser.report import write_report
    write_report(a.timit_recipe, a.iemocap_recipe, a.transfer_dir, a.out, a.preset, embedded=not a.real_corpora,
                 cta_recipe=a.cta_recipe, facenet_recipe=a.facenet_recipe)


cli.run(main, p.parse_args())
