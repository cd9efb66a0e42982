#!/usr/bin/env python3
"""Forced-alignment phone boundaries against a reference segmentation (the corpus's .PHN, as a CTM):
the share within 10, 20 and 40 ms, written to <ali-dir>/boundary_accuracy.json.

Usage: alignment_accuracy.py <ali-dir> <lang-dir> <ref-ctm>
  e.g. alignment_accuracy.py exp/tri2_ali_test data/lang data/test/ref_phones.ctm
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("ali_dir")
p.add_argument("lang_dir")
p.add_argument("ref_ctm")


def main(a):
    from asrser.gmm.boundaries import alignment_accuracy
    r = alignment_accuracy(a.ali_dir, a.lang_dir, a.ref_ctm)
    print(f"{a.ali_dir}: {r['boundaries']} boundaries of {r['utterances']} utterances: "
          f"{r['within_10ms']:.1f}% within 10 ms, {r['within_20ms']:.1f}% within 20 ms, "
          f"{r['within_40ms']:.1f}% within 40 ms")


cli.run(main, p.parse_args())
