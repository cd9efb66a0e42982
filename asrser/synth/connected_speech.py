"""Connected speech: the reductions and assimilations of read speech, as rules on espeak's phoneme string.

espeak-ng speaks every word in its citation form. Read speech does not: unstressed vowels reduce, t and d
flap between vowels across word boundaries, word-final t/d in a consonant cluster drop before a consonant,
n takes the place of a following labial or velar, function words lose their h, and s/z before y palatalise.
These rules rewrite espeak's own phoneme transcription of a sentence (`espeak_TextToPhonemes`, ASCII
mnemonics with stress marks, words separated by spaces); the rewritten string is spoken as phoneme input
(`[[...]]`), so the audio realises the rules and espeak's phoneme events, which label the corpus, name the
phones actually spoken. Each rule applies with a probability that comes from the speaker's style (careful ..
casual) and the utterance, and every choice is drawn from a seeded generator.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# espeak-ng's English mnemonics (as its phoneme events name them), longest first for tokenising
_PHONEMES = sorted("""p b t t2 d k g t# ? tS dZ T D S Z h x N n- m- l l# @L r r- j f v s z m n w i: i I I# I2 E
    a aa a# A: 0 A~ V O: O O2 U u: @ @- @2 @5 3 3: eI aI OI aU oU A@ o@ O@ e@ U@ i@3 i@ aI@ aI3 aU@ _ _: ;
    """.split(), key=len, reverse=True)
STRESS = ("'", ",")                     # primary and secondary stress: written just before the stressed vowel
_VOWELS = set("i: i I I# I2 E a aa a# A: 0 A~ V O: O O2 U u: @ @- @2 @5 3 3: eI aI OI aU oU A@ o@ O@ e@ U@ i@3 "
              "i@ aI@ aI3 aU@ @L".split())
_REDUCED = {"@", "@-", "@2", "@5", "I2", "I#", "3", "a#", "i"}
_TO_IX = {"i:", "I", "E", "eI"}         # front vowels reduce to ix (espeak I2); the others to schwa
_REDUCIBLE = _TO_IX | {"a", "aa", "A:", "0", "V", "O:", "O", "O2", "U", "u:", "oU"}
_LABIALS, _VELARS = {"p", "b", "m"}, {"k", "g"}
_CLUSTER_BEFORE_TD = {"s", "n", "l", "f", "k", "p", "S", "z", "v", "m", "N", "T"}
FUNCTION_WORDS = frozenset("""a an the and or but of to in on at for with from by as is are was were be been has have
    had he him his her she it its we you your they them their this that these those than then there who what
    when which would could should will shall can do does did not so if my me us our""".split())
H_WORDS = frozenset("he him his her have has had".split())
RULES = ("reduce", "flap", "drop_td", "assimilate_n", "drop_h", "palatalise")


def tokenize(word: str) -> list[str]:
    """An espeak phoneme word as mnemonics and stress marks, longest match first ('D,a#t#It' -> D , a# t# I t);
    an unknown character stands alone, so joining the tokens gives the word back."""
    return list(_tokens(word))


@functools.lru_cache(maxsize=1 << 16)
def _tokens(word: str) -> tuple[str, ...]:
    """tokenize's result, kept: a corpus tokenises the same few thousand words over and over."""
    out, i = [], 0
    while i < len(word):
        if word[i] in STRESS:
            out.append(word[i])
            i += 1
            continue
        for p in _PHONEMES:
            if word.startswith(p, i):
                out.append(p)
                i += len(p)
                break
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _phones(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t not in STRESS and t != ";"]


@dataclass
class Style:
    """How casually a speaker reads: each rule's probability of applying where it can."""

    probabilities: dict[str, float]

    def for_utterance(self, rng: np.random.Generator, jitter: float = 0.15) -> "Style":
        """This speaker's style in one utterance: every probability moved by the same drawn amount."""
        shift = float(rng.normal(0.0, jitter))
        return Style({r: float(np.clip(p + shift, 0.0, 1.0)) for r, p in self.probabilities.items()})


# the most casual speaker's probabilities; a speaker's casualness (0 careful .. 1 casual) scales them
CASUAL = {"reduce": 0.8, "flap": 0.9, "drop_td": 0.8, "assimilate_n": 0.7, "drop_h": 0.8, "palatalise": 0.8}


def speaker_style(rng: np.random.Generator) -> Style:
    casualness = float(rng.uniform(0.4, 1.0))
    return Style({r: p * casualness for r, p in CASUAL.items()})


def _rejoins(tokens: list[str]) -> bool:
    """True if the tokens, written as one string, read back as the same tokens (e.g. @ before L would read as
    the syllabic @L)."""
    return tokenize("".join(tokens)) == tokens


def apply_rules(words: list[str], text_words: list[list[str]], style: Style, rng: np.random.Generator
                ) -> tuple[list[str], dict[str, int]]:
    """espeak phoneme words (one clause or sentence, `_:` pauses as words of their own) rewritten by the rules;
    text_words[i] are the text words phoneme word i speaks (espeak merges some, e.g. 'on the' -> O2nD@2).
    Returns the new words and how often each rule applied."""
    tokens = [tokenize(w) for w in words]
    counts = dict.fromkeys(RULES, 0)
    p = style.probabilities

    def draw(rule: str) -> bool:
        return bool(rng.random() < p[rule])

    def change(i: int, new: list[str], rule: str, times: int = 1) -> None:
        if _rejoins(new):
            tokens[i] = new
            counts[rule] += times

    function = [bool(ws) and all(w in FUNCTION_WORDS for w in ws) for ws in text_words]
    for i, word in enumerate(tokens):
        # h-dropping: a function word's initial h (he, him, his, her, have, has, had)
        if word and word[0] == "h" and len(text_words[i]) and text_words[i][0] in H_WORDS and i > 0 \
                and draw("drop_h"):
            change(i, word[1:], "drop_h")
            word = tokens[i]
        # vowel reduction: unstressed full vowels of stressed words; any vowel of an unstressed function word
        stressed = any(t in STRESS for t in word)
        if stressed or function[i]:
            new = list(word)
            for k, t in enumerate(word):
                if t in _REDUCIBLE and (k == 0 or word[k - 1] not in STRESS) and draw("reduce"):
                    new[k] = "I2" if t in _TO_IX else "@"
            if new != word:
                change(i, new, "reduce", sum(a != b for a, b in zip(word, new)))
    for i in range(len(tokens) - 1):
        word, nxt = tokens[i], tokens[i + 1]
        phones, next_phones = _phones(word), _phones(nxt)
        if len(phones) < 2 or not next_phones or nxt[0] in ("_", "_:"):
            continue
        last, before, first = phones[-1], phones[-2], next_phones[0]
        if last in ("t", "d") and (before in _VOWELS or before == "r") and first in _VOWELS and draw("flap"):
            change(i, word[:-1] + ["t#"], "flap")
        elif last in ("t", "d") and before in _CLUSTER_BEFORE_TD and first not in _VOWELS and first != "j" \
                and draw("drop_td"):
            change(i, word[:-1], "drop_td")
        elif last == "n" and (first in _LABIALS or first in _VELARS) and draw("assimilate_n"):
            change(i, word[:-1] + ["m" if first in _LABIALS else "N"], "assimilate_n")
        elif last in ("s", "z") and first == "j" and draw("palatalise"):
            change(i, word[:-1] + ["S" if last == "s" else "Z"], "palatalise")
    return ["".join(t) for t in tokens], counts


def edit_distance(a: list[str], b: list[str]) -> int:
    return _edit_distance(tuple(a), tuple(b))


@functools.lru_cache(maxsize=1 << 16)
def _edit_distance(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """edit_distance, kept: align_words compares the same spoken and cited words in every reading of a text."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def align_words(phoneme_words: list[str], text_words: list[str], citation: list[str]) -> list[list[str]]:
    """Which text words each phoneme word speaks: a monotone alignment in which a phoneme word covers one to
    three consecutive text words (espeak merges e.g. 'on the'), scored by the edit distance between the
    phoneme word and the covered words' citation forms (`citation[k]`: text word k spoken alone); pauses
    (`_:`) cover none. Every text word is covered exactly once."""
    speech = [k for k, w in enumerate(phoneme_words) if _phones(tokenize(w)) and not w.startswith("_")]
    n, m = len(speech), len(text_words)
    inf = 10 ** 9
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back = [[0] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0
    cited = [tuple(_phones(tokenize(c))) for c in citation]
    for i in range(1, n + 1):
        spoken = tuple(_phones(tokenize(phoneme_words[speech[i - 1]])))
        # only cells from which the last one is reachable (the other n - i words cover 1..3 text words each):
        # the others cannot lie on the alignment, and skipping them leaves every cell on it as it was
        for j in range(max(1, m - 3 * (n - i)), m - (n - i) + 1):
            for span in (1, 2, 3):
                if j - span < 0 or cost[i - 1][j - span] >= inf:
                    continue
                c = cost[i - 1][j - span] + _edit_distance(spoken, sum(cited[j - span:j], ())) + (span - 1)
                if c < cost[i][j]:
                    cost[i][j], back[i][j] = c, span
    out: list[list[str]] = [[] for _ in phoneme_words]
    if cost[n][m] >= inf:               # espeak split a word in more parts than expected: the last takes the rest
        for i, k in enumerate(speech):
            out[k] = text_words[i:i + 1] if i < n - 1 else text_words[i:]
        return out
    j = m
    for i in range(n, 0, -1):
        span = back[i][j]
        out[speech[i - 1]] = text_words[j - span:j]
        j -= span
    return out
