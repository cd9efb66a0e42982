#!/usr/bin/env python3
"""The Asterisk voice prompts (Debian's asterisk-core-sounds-en-wav + asterisk-core-sounds-en) -> Kaldi data dirs
<data-dir>/{train,test}, prompt-disjoint, with the dropped prompts in <data-dir>/local/asterisk/dropped.
With --phone-test: one data dir <data-dir> of every prompt (or --max-prompts of them) for phone recognition,
its text TIMIT 39-phone references from the dictionary (CMUdict, espeak-ng G2P for the rest; words in
text.words, the words CMUdict lacks in oov_report.txt).

Usage: asterisk_data_prep.py [--sounds-dir DIR] [--transcripts FILE] [--test-fraction F] [--min-test N]
                             [--seed N] <data-dir>
       asterisk_data_prep.py --phone-test [--max-prompts N] [--sample-rate HZ] [--sounds-dir DIR]
                             [--transcripts FILE] <data-dir>
  e.g. asterisk_data_prep.py --seed 0 data
       asterisk_data_prep.py --phone-test data/asterisk
"""
from asrser import cli
from asrser.corpora.asterisk import SOUNDS_DIR, TRANSCRIPTS

p = cli.parser(__doc__)
p.add_argument("--sounds-dir", default=SOUNDS_DIR, help=f"the voice's folder of wav files (default {SOUNDS_DIR})")
p.add_argument("--transcripts", default=TRANSCRIPTS, help=f"core-sounds-en.txt(.gz) (default {TRANSCRIPTS})")
p.add_argument("--test-fraction", type=float, default=0.15, help="share of the prompts held out for test")
p.add_argument("--min-test", type=cli.positive_int, default=60, help="fewest test prompts")
p.add_argument("--seed", type=int, default=0, help="seed of the prompt-disjoint split")
p.add_argument("--speaker", help="speaker id (default: from the folder name, e.g. en_US_f_Allison -> allison)")
p.add_argument("--gender", choices=("f", "m"), help="speaker's gender (default: from the folder name)")
p.add_argument("--phone-test", action="store_true",
               help="one data dir of all prompts with 39-phone references (no split)")
p.add_argument("--max-prompts", type=cli.positive_int, help="with --phone-test: this many prompts, evenly spaced")
p.add_argument("--sample-rate", type=cli.positive_int,
               help="with --phone-test: resample the audio to this rate in wav.scp (default: as recorded, 8000)")
p.add_argument("data_dir")


def main(a):
    from asrser.corpora.asterisk import prepare_asterisk, prepare_asterisk_phone_test
    from asrser.errors import AsrserError
    if not a.phone_test and (a.max_prompts or a.sample_rate):
        raise AsrserError("--max-prompts and --sample-rate go with --phone-test")
    if a.phone_test:
        prepare_asterisk_phone_test(a.data_dir, a.sounds_dir, a.transcripts, a.max_prompts, a.speaker, a.gender,
                                    sample_rate=a.sample_rate)
        return
    prepare_asterisk(a.data_dir, a.sounds_dir, a.transcripts, a.test_fraction, a.min_test, a.seed, a.speaker,
                     a.gender)


cli.run(main, p.parse_args())
