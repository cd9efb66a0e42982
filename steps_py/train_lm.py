#!/usr/bin/env python3
"""N-gram LM from training text -> ARPA -> G.fst in a copy of a lang dir (estimation plus Kaldi's
utils/format_lm.sh).

Usage: train_lm.py [--order 3] [--method kn|wb] [--prune THRESHOLD] [--dev-text FILE] [--no-utt-ids] \
         <text> <lang-dir> <out-lang-dir>
  e.g. train_lm.py --order 3 --dev-text data/dev/text data/train/text data/lang data/lang_test_tg
The vocabulary is <lang-dir>/words.txt: words of the text outside it become the lang's OOV word (oov.txt) and
are counted. <out-lang-dir> gets the lang dir's files, lm.arpa.gz and G.fst (kaldilm, #0 on backoff arcs).
The log's last line gives the n-gram counts and the training (and dev) perplexity.
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--order", type=cli.positive_int, default=3, help="n-gram order (default 3: trigram)")
p.add_argument("--method", choices=["kn", "wb"], default="kn",
               help="kn: interpolated modified Kneser-Ney (default); wb: interpolated Witten-Bell")
p.add_argument("--prune", type=float, default=0.0, metavar="THRESHOLD",
               help="Stolcke relative-entropy pruning threshold, as SRILM's -prune (e.g. 1e-8); 0: none")
p.add_argument("--dev-text", help="text whose perplexity is reported (same format as <text>)")
p.add_argument("--no-utt-ids", dest="utt_ids", action="store_false",
               help="the texts hold one sentence per line, without Kaldi's utterance ids")
p.add_argument("text")
p.add_argument("lang_dir")
p.add_argument("out_dir")


def main(a):
    import logging
    import tempfile
    from pathlib import Path
    from asrser.lm import make_lang_test, train_lm

    out = Path(a.out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.lm") as scratch:
        arpa = Path(scratch) / "lm.arpa"
        trained = train_lm(a.text, a.lang_dir, arpa, a.order, a.method, a.prune, a.dev_text, a.utt_ids)
        make_lang_test(a.lang_dir, arpa, out, arpa_name="lm.arpa.gz")
    logging.getLogger("train_lm").info("%s: %s LM, %s", out, a.method, trained.summary())


cli.run(main, p.parse_args())
