#!/usr/bin/env python3
"""Lang dir from a Kaldi dict dir (utils/prepare_lang.sh), or a phone-as-word lang dir.

Usage: prepare_lang.py [options] <dict-src-dir> <oov-dict-entry> <tmp-dir> <lang-dir>
  e.g. prepare_lang.py data/local/dict "<UNK>" data/local/lang data/lang
  <dict-src-dir> holds lexicon.txt or lexiconp.txt, silence_phones.txt, optional_silence.txt,
  nonsilence_phones.txt and optionally extra_questions.txt. Options as Kaldi's:
  --position-dependent-phones true|false (default true), --sil-prob 0.5, --num-sil-states 5,
  --num-nonsil-states 3.

   or: prepare_lang.py [--phone-set FILE [--phone-set-column N] | --phones-from TEXT] [--silence sil] <lang-dir>
  e.g. prepare_lang.py --phone-set conf/timit/phones.60-48-39.map --phone-set-column 2 data/lang
  Phone recognition (Kaldi's TIMIT lang, --position-dependent-phones false): the words are the phones, taken
  from a column of a phone-map file (a plain phone list is a one-column file), or every word of a Kaldi text file.
"""
import argparse

from asrser import cli


def true_false(value: str) -> bool:
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value == "true"


p = cli.parser(__doc__)
p.add_argument("--position-dependent-phones", type=true_false, default=True, metavar="true|false",
               help="word-position-dependent phones (_B _E _I _S); dict-dir form only")
p.add_argument("--sil-prob", type=float, default=0.5, help="probability of optional silence between words")
p.add_argument("--num-sil-states", type=cli.positive_int, default=5)
p.add_argument("--num-nonsil-states", type=cli.positive_int, default=3)
p.add_argument("--phone-set", help="a phone-map file whose --phone-set-column lists the phones")
p.add_argument("--phone-set-column", type=cli.positive_int, default=1)
p.add_argument("--phones-from", help="a Kaldi text file whose words are the phones")
p.add_argument("--silence", default="sil", help="silence phone (also the optional silence)")
p.add_argument("dirs", nargs="+", metavar="<dict-src-dir> <oov-dict-entry> <tmp-dir> <lang-dir> | <lang-dir>")


def main(a):
    from asrser.errors import AsrserError
    if len(a.dirs) == 4:
        if a.phone_set or a.phones_from:
            raise AsrserError("--phone-set/--phones-from make a phone-as-word lang: give only <lang-dir>")
        from asrser.lang import prepare_lang
        dict_dir, oov, tmp_dir, lang_dir = a.dirs
        prepare_lang(dict_dir, lang_dir, oov, position_dependent=a.position_dependent_phones,
                     sil_prob=a.sil_prob, num_nonsil_states=a.num_nonsil_states,
                     num_sil_states=a.num_sil_states, tmp_dir=tmp_dir)
        return
    if len(a.dirs) != 1:
        raise AsrserError(f"expected 4 arguments (<dict-src-dir> <oov-dict-entry> <tmp-dir> <lang-dir>) or "
                          f"1 (<lang-dir> with --phone-set or --phones-from), got {len(a.dirs)}")
    from asrser.lang import prepare_phone_lang
    if a.phone_set:
        from asrser.phones import read_phone_set
        phones = read_phone_set(a.phone_set, a.phone_set_column)
    elif a.phones_from:
        from asrser.fileio import read_table
        phones = sorted({w for _, fields in read_table(a.phones_from, 1) for w in fields[1:]})
    else:
        raise AsrserError("give --phone-set or --phones-from")
    if a.silence not in phones:
        raise AsrserError(f"silence phone {a.silence!r} is not in the phone set")
    prepare_phone_lang(a.dirs[0], [a.silence] + [x for x in phones if x != a.silence], [a.silence],
                       a.num_nonsil_states, a.num_sil_states)


cli.run(main, p.parse_args())
