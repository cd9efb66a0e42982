#!/usr/bin/env python3
"""Word- or phone-level CTM of an alignment dir (Kaldi's steps/get_train_ctm.sh, ali-to-phones --ctm-output):
`utt 1 start duration token` per line. Words come from <data-dir>/text, placed by the word positions of the
phones (<lang-dir>/phones/word_boundary.int, a lang of position-dependent phones); --phone-level writes every
phone as its base phone (AA_B -> AA) and works with any lang.

Usage: get_ctm.py [--frame-shift 0.01] [--phone-level] <data-dir> <lang-dir> <ali-dir> <out-ctm>
  e.g. get_ctm.py data/train data/lang exp/tri1_ali exp/tri1_ali/words.ctm
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--frame-shift", type=float, default=0.01, help="seconds per frame")
p.add_argument("--phone-level", action="store_true", help="a phone CTM (base phones) instead of words")
p.add_argument("data_dir")
p.add_argument("lang_dir")
p.add_argument("ali_dir")
p.add_argument("out_ctm")


def main(a):
    from asrser.hmm.ctm import alignment_ctm, write_alignment_ctm
    ctm = alignment_ctm(a.ali_dir, a.lang_dir, a.data_dir, a.phone_level, a.frame_shift)
    write_alignment_ctm(ctm, a.out_ctm)
    print(f"{a.out_ctm}: {sum(map(len, ctm.values()))} {'phones' if a.phone_level else 'words'} of "
          f"{len(ctm)} utterances")


cli.run(main, p.parse_args())
