#!/usr/bin/env python3
"""Forced-alignment phone boundaries against a reference segmentation (the corpus's .PHN, as a CTM):
the share within 10, 20 and 40 ms, written to <ali-dir>/boundary_accuracy.json, and the alignment's
segmentation as <ali-dir>/phones.ctm. --correction (from fit_boundary_correction.py on the training set's
alignments) adds the corrected figures and writes the corrected segmentation as <ali-dir>/phones_corrected.ctm.

Usage: alignment_accuracy.py [--correction JSON] <ali-dir> <lang-dir> <ref-ctm>
  e.g. alignment_accuracy.py --correction exp/tri2_ali_train/boundary_correction.json \
         exp/tri2_ali_test data/lang data/test/ref_phones.ctm
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--correction", help="boundary_correction.json fitted on another set's alignments")
p.add_argument("ali_dir")
p.add_argument("lang_dir")
p.add_argument("ref_ctm")


def main(a):
    from asrser.hmm.boundaries import alignment_accuracy
    r = alignment_accuracy(a.ali_dir, a.lang_dir, a.ref_ctm, a.correction)
    for name, acc in [("", r)] + ([(", corrected", r["corrected"])] if "corrected" in r else []):
        print(f"{a.ali_dir}{name}: {acc['boundaries']} boundaries of {acc['utterances']} utterances: "
              f"{acc['within_10ms']:.1f}% within 10 ms, {acc['within_20ms']:.1f}% within 20 ms, "
              f"{acc['within_40ms']:.1f}% within 40 ms")


cli.run(main, p.parse_args())
