#!/usr/bin/env python3
"""Witten-Bell phone bigram from training transcripts -> ARPA -> G.fst in a test lang dir (format_lm.sh).

Usage: train_phone_lm.py <train-text> <lang-dir> <lang-test-dir>
  e.g. train_phone_lm.py data/train/text data/lang data/lang_test_bg
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("text")
p.add_argument("lang_dir")
p.add_argument("out_dir")


def main(a):
    import logging
    from pathlib import Path
    from asrser.lang import Lang
    from asrser.lm import make_lang_test, train_phone_lm

    lang = Lang.load(a.lang_dir)
    out = Path(a.out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    arpa = out.parent / f"{out.name}.arpa"
    trained = train_phone_lm(a.text, lang, arpa)
    make_lang_test(lang.path, arpa, out)
    arpa.unlink()
    logging.getLogger("train_phone_lm").info("%s: bigram over %d phones, training perplexity %.2f", out,
                                             len(trained.lm.vocabulary()), trained.training_perplexity)


cli.run(main, p.parse_args())
