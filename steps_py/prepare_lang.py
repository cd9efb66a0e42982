#!/usr/bin/env python3
"""Phone-as-word lang dir (Kaldi's utils/prepare_lang.sh with --position-dependent-phones false).

Usage: prepare_lang.py [--phone-set FILE [--phone-set-column N] | --phones-from TEXT] [--silence sil] <lang-dir>
  e.g. prepare_lang.py --phone-set conf/timit/phones.60-48-39.map --phone-set-column 2 data/lang
The phone set is a column of a phone-map file (a plain phone list is a one-column file), or every word of a
Kaldi text file.
"""
from asrser import cli
from asrser.lang import prepare_phone_lang

p = cli.parser(__doc__)
p.add_argument("--phone-set", help="a phone-map file whose --phone-set-column lists the phones")
p.add_argument("--phone-set-column", type=cli.positive_int, default=1)
p.add_argument("--phones-from", help="a Kaldi text file whose words are the phones")
p.add_argument("--silence", default="sil", help="silence phone (also the optional silence)")
p.add_argument("lang_dir")


def main(a):
    from asrser.errors import AsrserError
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
    prepare_phone_lang(a.lang_dir, [a.silence] + [x for x in phones if x != a.silence], [a.silence])


cli.run(main, p.parse_args())
