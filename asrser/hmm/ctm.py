"""Phone- and word-level CTMs from alignments (Kaldi's ali-to-phones --ctm-output and steps/get_train_ctm.sh).

A phone CTM gives each phone of an alignment with its base phone's name (AA_B -> AA). A word CTM groups the
phones into words with the lang's phones/word_boundary.int, as lattice-align-words does: a word begins at a
`begin` or `singleton` phone and ends at an `end` or `singleton` phone; `nonword` phones (silence) lie between
words and are not written. The words are the transcript's, in order (words not in the lang as its OOV word,
as Kaldi's alignment graphs see them). Times are frame * frame_shift: `utt 1 start duration token`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fileio import PhoneSegments, atomic_write, read_key_value
from ..lang import Lang
from .align import read_alignments
from .model import HmmModel
from .tables import alignment_to_phone_segments, tid_tables

FRAME_SHIFT = 0.01


def phone_frames(phone_of: np.ndarray, state_of: np.ndarray, alignment: np.ndarray) -> list[tuple[int, int, int]]:
    """[(phone id, first frame, number of frames)] of an alignment (ali-to-phones --ctm-output in frames)."""
    out, t = [], 0
    for phone, n in alignment_to_phone_segments(phone_of, state_of, alignment):
        out.append((phone, t, n))
        t += n
    return out


def word_frames(phones: list[tuple[int, int, int]], boundary: dict[int, str], words: list[str], where: str
                ) -> list[tuple[str, int, int]]:
    """[(word, first frame, number of frames)]: the phones grouped into the transcript's words by their word
    positions (lattice-align-words); DataError naming `where` when the phones and the words disagree."""
    out: list[tuple[str, int, int]] = []
    start = None
    for phone, t, n in phones:
        kind = boundary.get(phone)
        if kind is None:
            raise DataError(where, f"phone id {phone} is not in phones/word_boundary.int")
        if kind in ("begin", "singleton"):
            if start is not None:
                raise DataError(where, f"a word begins at frame {t} before the word that began at frame {start} "
                                       "ended")
            start = t
        elif kind in ("internal", "end") and start is None:
            raise DataError(where, f"a word-{kind} phone at frame {t} outside a word")
        elif kind == "nonword" and start is not None:
            raise DataError(where, f"a non-word phone at frame {t} inside the word that began at frame {start}")
        if kind in ("end", "singleton"):
            if len(out) == len(words):
                raise DataError(where, f"the alignment has more words than the transcript's {len(words)}")
            out.append((words[len(out)], start, t + n - start))
            start = None
    if start is not None:
        raise DataError(where, f"the word that began at frame {start} does not end")
    if len(out) != len(words):
        raise DataError(where, f"the alignment has {len(out)} words, the transcript {len(words)}")
    return out


def alignment_ctm(ali_dir: str | os.PathLike, lang_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                  phone_level: bool = False, frame_shift: float = FRAME_SHIFT) -> dict[str, PhoneSegments]:
    """{utt: [(token, start, end)]} of an alignment dir in utterance order: base phones (phone_level) or the
    words of data_dir's transcripts."""
    ali_dir, lang_dir = Path(ali_dir), Path(lang_dir)
    lang = Lang.load(lang_dir)
    model = HmmModel.load(ali_dir / "final.mdl")
    phone_of, state_of = tid_tables(model)
    texts: dict[str, list[str]] = {}
    if not phone_level:
        if data_dir is None:
            raise ValueError("a word CTM needs the data dir's transcripts")
        if not lang.position_dependent:
            raise DataError(lang_dir / "phones/word_boundary.int", "file does not exist: a word CTM needs the word "
                                                                    "positions of the phones (a lang of position-"
                                                                    "dependent phones); a phone CTM does not")
        texts = {u: t.split() for u, t in read_key_value(Path(data_dir) / "text").items()}
        oov = lang.oov_word
    ctm: dict[str, PhoneSegments] = {}
    for utt, ali in read_alignments(ali_dir, model.num_transition_ids):
        phones = phone_frames(phone_of, state_of, ali)
        if phone_level:
            tokens = [(lang.base_phone[p], t, n) for p, t, n in phones]
        else:
            if utt not in texts:
                raise DataError(Path(data_dir) / "text", f"no transcript of {utt}, aligned in {ali_dir}")
            words = [w if w in lang.words or oov is None else oov for w in texts[utt]]
            tokens = word_frames(phones, lang.word_boundary, words, f"{ali_dir}, utterance {utt}")
        ctm[utt] = [(tok, t * frame_shift, (t + n) * frame_shift) for tok, t, n in tokens]
    return dict(sorted(ctm.items()))


def write_alignment_ctm(ctm: dict[str, PhoneSegments], path: str | os.PathLike) -> None:
    """`utt 1 start duration token` per line, times to the hundredth (Kaldi's nbest-to-ctm --precision=2)."""
    with atomic_write(path) as f:
        for utt, tokens in ctm.items():
            for token, start, end in tokens:
                f.write(f"{utt} 1 {start:.2f} {end - start:.2f} {token}\n")
