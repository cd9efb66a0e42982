"""Conversational turns for the embedded emotion corpus: a small grammar written for this project.

Turns are what two people say to each other in a short scene: replies, questions, statements built on the
sentence grammar of text_grammar, and short backchannels. The words carry no emotion on purpose: in the
generated corpus emotion lives in the voice (prosody, voice quality), so a text-only classifier learns
nothing and an acoustic one cannot cheat on words. Nothing here is taken from a licensed script.
"""

from __future__ import annotations

import numpy as np

from .text_grammar import ADJECTIVES, ADVERBS, NAMES, VERBS, Grammar, noun_phrase
from .text_grammar import sentence as grammar_sentence

OPENERS = "well so look okay listen now oh right".split()
BACKCHANNELS = (
    "Yeah.", "Okay.", "Right.", "No.", "Sure.", "Maybe.", "I know.", "I see.", "Really?", "What?", "Fine.",
    "Of course.", "I guess so.", "Not really.", "Oh.", "Hmm.", "Is that so?", "All right.",
)
PRONOUNS = "I you we they he she".split()
MODALS = "can could should would will might must".split()
BASE_VERBS = ("find take keep buy bring catch teach build hold tell sell paint want need carry move use "
              "choose wash watch push pull change help ask visit notice measure open close fix check").split()
TIME_PHRASES = ("this morning", "last night", "tomorrow", "next week", "on Monday", "after lunch", "before dinner",
                "at the station", "in the garden", "yesterday", "an hour ago", "every day")
CLAUSES = ("I told you about it", "you said you would call", "we talked about this", "they moved it again",
           "nobody asked me", "you were not there", "it was not my idea", "she kept the letter",
           "he never came back", "we have to decide", "the train was late", "you knew it already",
           "I have been waiting", "it does not matter now", "they changed the plan", "you left it outside")
WH = "where when why how".split()
# adjectives that could tell a text classifier the emotion are left out
NEUTRAL_ADJECTIVES = [a for a in ADJECTIVES if a not in {"happy", "lonely", "bitter", "gentle", "ugly", "rotten",
                                                         "noisy", "cozy", "quiet"}]
TURN_VERBS = [v for v in VERBS if v not in {"loved", "buried", "fought", "shouted", "hugged", "married"}]
TURN_ADVERBS = [a for a in ADVERBS if a not in {"happily", "gently", "quietly", "suddenly"}]


# statements: the sentence grammar with emotion-neutral words, no second clause
STATEMENTS = Grammar(adjectives=tuple(NEUTRAL_ADJECTIVES), verbs=tuple(TURN_VERBS), adverbs=tuple(TURN_ADVERBS),
                     p_preposition=0.5, p_adverb=0.2, p_second_clause=0.0)


def sentence(rng: np.random.Generator) -> str:
    """A statement from the sentence grammar (subject, verb, object, optional phrase), emotion-neutral words."""
    return grammar_sentence(rng, STATEMENTS)


def _np(rng: np.random.Generator) -> str:
    return " ".join(noun_phrase(rng, STATEMENTS))


def _question(rng: np.random.Generator) -> str:
    kind = rng.integers(0, 4)
    if kind == 0:
        return f"{rng.choice(WH).capitalize()} did you put {_np(rng)}?"
    if kind == 1:
        return f"{rng.choice(['Did', 'Do', 'Can', 'Could', 'Would'])} you {rng.choice(BASE_VERBS)} {_np(rng)} " \
               f"{rng.choice(TIME_PHRASES)}?"
    if kind == 2:
        return f"{rng.choice(['Is', 'Was'])} that {_np(rng)} {rng.choice(['yours', 'new', 'still there', 'broken'])}?"
    return f"{rng.choice(WH).capitalize()} {rng.choice(['did', 'would', 'should'])} " \
           f"{rng.choice(['he', 'she', 'they', 'we'])} {rng.choice(BASE_VERBS)} it?"


def _statement(rng: np.random.Generator) -> str:
    kind = rng.integers(0, 4)
    if kind == 0:
        return f"{rng.choice(PRONOUNS).capitalize()} {rng.choice(MODALS)} {rng.choice(BASE_VERBS)} {_np(rng)} " \
               f"{rng.choice(TIME_PHRASES)}."
    if kind == 1:
        text = f"{rng.choice(CLAUSES)}."
        return text[0].upper() + text[1:]
    if kind == 2:
        return f"{rng.choice(NAMES)} {rng.choice(['said', 'thinks', 'knows', 'heard'])} that " \
               f"{rng.choice(CLAUSES)}."
    return sentence(rng)


def turn(rng: np.random.Generator) -> str:
    """One conversational turn of one to three short phrases (about 1 to 5 seconds of speech)."""
    r = rng.random()
    if r < 0.15:
        return str(rng.choice(BACKCHANNELS))
    main = _question(rng) if r < 0.4 else _statement(rng)
    parts = [main]
    if rng.random() < 0.3:
        first = main.split()[0].rstrip("?.,")
        if first not in NAMES and first != "I":
            main = main[0].lower() + main[1:]
        parts = [str(rng.choice(OPENERS)).capitalize() + ",", main]
    if rng.random() < 0.25:
        parts.append(_statement(rng) if rng.random() < 0.6 else str(rng.choice(BACKCHANNELS)))
    if rng.random() < 0.1:
        parts.append(f"{str(rng.choice(TURN_ADVERBS)).capitalize()}.")
    return " ".join(parts)
