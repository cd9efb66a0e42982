#!/usr/bin/env python3
"""English dict dir for the words of Kaldi text files: CMUdict, espeak-ng G2P for the words it lacks (the
input of prepare_lang, as Kaldi's local/prepare_dict.sh writes it).

Usage: prepare_dict.py [--g2p espeak|none] [--stress strip|keep] [--pron all|first] [--oov-report FILE]
                       <text-file> [<text-file> ...] <dict-dir>
  e.g. prepare_dict.py --oov-report data/local/dict/oov_report.txt data/train/text data/test/text data/local/dict
Writes lexicon.txt, silence_phones.txt (SIL SPN), optional_silence.txt (SIL), nonsilence_phones.txt,
extra_questions.txt, and the OOV report (default <dict-dir>/oov_report.txt): every word CMUdict lacks, with its
count, and its G2P pronunciation or the reason it maps to <UNK>. Lexicon words are spelled as in the text and
looked up in CMUdict lower-cased.
"""
from asrser import cli
from asrser.lexicon import G2P_MODES, STRESS_MODES, prepare_dict

p = cli.parser(__doc__)
p.add_argument("--g2p", choices=G2P_MODES, default="espeak",
               help="pronunciations for words CMUdict lacks (none: they map to <UNK>)")
p.add_argument("--stress", choices=STRESS_MODES, default="strip",
               help="strip: 39 base phones; keep: stressed vowels are phones of their own")
p.add_argument("--pron", choices=("all", "first"), default="all", help="CMUdict's pronunciations of a word")
p.add_argument("--oov-report", help="where to list the words CMUdict lacks (default <dict-dir>/oov_report.txt)")
p.add_argument("text", nargs="+", help="Kaldi text files (utterance id, then words)")
p.add_argument("dict_dir")


def main(a):
    prepare_dict(a.text, a.dict_dir, a.g2p, a.stress, a.pron == "first", a.oov_report)


cli.run(main, p.parse_args())
