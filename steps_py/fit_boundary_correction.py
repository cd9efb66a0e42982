#!/usr/bin/env python3
"""Boundary-specific correction of an aligner: the median offset of each (previous phone, phone) boundary
of a training set's alignments against its reference segmentation, written to
<ali-dir>/boundary_correction.json for alignment_accuracy.py --correction to apply to other sets.

Usage: fit_boundary_correction.py [--shrink K] <ali-dir> <lang-dir> <ref-ctm>
  e.g. fit_boundary_correction.py exp/tri2_ali_train data/lang data/train/ref_phones.ctm
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--shrink", type=float, default=3.0,
               help="pseudo-count pulling a rare pair's offset towards its phone's median offset")
p.add_argument("ali_dir")
p.add_argument("lang_dir")
p.add_argument("ref_ctm")


def main(a):
    if a.shrink < 0:
        p.error(f"--shrink must be >= 0, not {a.shrink:g}")
    from asrser.hmm.boundaries import fit_boundary_correction
    c = fit_boundary_correction(a.ali_dir, a.lang_dir, a.ref_ctm, a.shrink)
    offsets = sorted(c.pair_offset.values())
    print(f"{a.ali_dir}/boundary_correction.json: {len(offsets)} phone pairs from {c.boundaries} boundaries, "
          f"offsets {offsets[0] * 1000:+.1f} to {offsets[-1] * 1000:+.1f} ms (median {c.default_offset * 1000:+.1f})")


cli.run(main, p.parse_args())
