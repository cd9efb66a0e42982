#!/usr/bin/env python3
"""A user's ARPA LM -> G.fst in a copy of a lang dir (Kaldi's utils/format_lm.sh).

Usage: format_lm.py <lang-dir> <arpa[.gz]> <out-lang-dir>
  e.g. format_lm.py data/lang data/local/lm/lm_tg.arpa.gz data/lang_test_tg
The ARPA file is validated first (one error line naming the file and line). n-grams with words outside
<lang-dir>/words.txt are left out of G.fst, as Kaldi's arpa2fst does, and counted in a warning.
<out-lang-dir> gets the lang dir's files, lm.arpa.gz and G.fst (kaldilm, #0 on backoff arcs).
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("lang_dir")
p.add_argument("arpa")
p.add_argument("out_dir")


def main(a):
    import logging
    from pathlib import Path
    from asrser.lm import make_lang_test

    Path(a.out_dir).parent.mkdir(parents=True, exist_ok=True)
    lm = make_lang_test(a.lang_dir, a.arpa, a.out_dir, arpa_name="lm.arpa.gz")
    counts = ", ".join(f"{k}-grams {c}" for k, c in enumerate(lm.counts(), 1))
    logging.getLogger("format_lm").info("%s: G.fst from %s (order %d: %s)", a.out_dir, a.arpa, lm.order, counts)


cli.run(main, p.parse_args())
