"""A Kaldi dict dir (data/local/dict) of 20 words, for the tests of dict dirs, lang dirs and what uses them."""

from __future__ import annotations

from pathlib import Path

# 20 words: homophones (BE BEE; TO TWO TOO), prefixes (AN of AND, CAT of CATS: they need disambiguation
# symbols only without word positions, where AE1_B N_E is no prefix of AE1_B N_I D_E), single-phone words
# (_S), <UNK> -> SPN, !SIL -> SIL, and one word with two pronunciations and probabilities (THE).
LEXICONP = """\
!SIL 1.0 SIL
<UNK> 1.0 SPN
A 1.0 AH0
AN 1.0 AE1 N
AND 1.0 AE1 N D
BE 1.0 B IY1
BEE 1.0 B IY1
BED 1.0 B EH1 D
CAT 1.0 K AE1 T
CATS 1.0 K AE1 T S
DOG 1.0 D AO1 G
THE 1.0 DH AH0
THE 0.4 DH IY1
TO 1.0 T UW1
TWO 1.0 T UW1
TOO 1.0 T UW1
IS 1.0 IH1 Z
ON 1.0 AO1 N
NO 1.0 N OW1
SO 1.0 S OW1
MORE 1.0 M AO1 R
"""
SILENCE = "SIL\nSPN\n"
# AH0 AH1 share a root (stress variants, as a CMUdict dict dir has them)
NONSILENCE = "AH0 AH1\nAE1\nAO1\nB\nD\nDH\nEH1\nG\nIH1\nIY1\nK\nM\nN\nOW1\nR\nS\nT\nUW1\nZ\n"
EXTRA_QUESTIONS = "AH0\nAH1\n"


def write_dict_dir(path: Path, lexiconp: str = LEXICONP, nonsilence: str = NONSILENCE,
                   silence: str = SILENCE) -> Path:
    """The dict dir at `path` (lexiconp.txt only; optional silence SIL); returns `path`."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "silence_phones.txt").write_text(silence)
    (path / "optional_silence.txt").write_text("SIL\n")
    (path / "nonsilence_phones.txt").write_text(nonsilence)
    (path / "extra_questions.txt").write_text(EXTRA_QUESTIONS)
    (path / "lexiconp.txt").write_text(lexiconp)
    return path


def plain_lexicon(lexiconp: str = LEXICONP) -> str:
    """lexicon.txt of a lexiconp.txt (the probabilities dropped)."""
    return "".join(" ".join([f[0], *f[2:]]) + "\n" for f in map(str.split, lexiconp.splitlines()))
