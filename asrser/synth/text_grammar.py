"""Sentences for the embedded corpora: a small grammar over a word list written for this project.

The word list aims at phonetic variety (every English vowel and consonant, syllabic l/n/m, flaps, glottal
stops, clusters) rather than meaning; sentences are generated, never taken from a licensed prompt list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DETERMINERS = "the a this that every some each one my your her our their no".split()
ADJECTIVES = ("big small little bitter gentle quiet sudden yellow purple orange golden wooden woolen rotten "
              "heavy happy simple sharp smooth rough cheap thick thin fresh ancient modern curious hidden "
              "bottled metal rural muddy shiny lonely noisy ugly huge cozy vivid brown clever").split()
NOUNS = ("cat dog kitten button bottle kettle pencil apple garden mountain fountain button cotton mitten "
         "judge church shoe ship sheep thief path bath voice choice toy boy cowboy oyster mouth house "
         "hour flower tower water butter ladder letter rhythm prism chasm museum album vision measure "
         "treasure garage beige badge bridge fridge engine jungle jacket zebra giraffe pigeon onion "
         "ocean nation station window yellow pillow meadow feather leather weather brother mother "
         "father daughter doctor teacher farmer sailor singer ring king thing wing spring string "
         "puzzle bubble table candle handle tunnel camel signal pool tool fuel cube tube dune "
         "noon moon spoon boot goose youth juice music").split()
VERBS = ("saw found took kept bought brought caught taught fought sought built held told sold painted "
         "wanted needed carried hurried married buried moved loved used chose froze washed watched "
         "pushed pulled bathed breathed judged changed hugged tugged thanked asked helped jumped "
         "shouted counted printed visited divided noticed measured treasured").split()
PREPOSITIONS = "in on under over behind beside near with without through across beyond into toward".split()
ADVERBS = "slowly quickly gently often rarely quietly suddenly happily early today tonight outside".split()
NAMES = "Bob Ted Jim Judy Ann Martha Nathan George Sheila Kenneth Ruth Eugene Agatha Hugo Ingrid".split()


@dataclass(frozen=True)
class Grammar:
    """Word lists and how often the optional parts appear (a probability of 0 draws nothing)."""
    adjectives: tuple[str, ...] = tuple(ADJECTIVES)
    verbs: tuple[str, ...] = tuple(VERBS)
    adverbs: tuple[str, ...] = tuple(ADVERBS)
    p_preposition: float = 0.6
    p_adverb: float = 0.3
    p_second_clause: float = 0.2


def noun_phrase(rng: np.random.Generator, grammar: Grammar = Grammar()) -> list[str]:
    words = [str(rng.choice(DETERMINERS))]
    if rng.random() < 0.6:
        words.append(str(rng.choice(grammar.adjectives)))
    words.append(str(rng.choice(NOUNS)))
    return words


def sentence(rng: np.random.Generator, grammar: Grammar = Grammar()) -> str:
    """One sentence: subject, verb, object, optional prepositional phrase, adverb or second clause."""
    subject = [str(rng.choice(NAMES))] if rng.random() < 0.3 else noun_phrase(rng, grammar)
    words = subject + [str(rng.choice(grammar.verbs))] + noun_phrase(rng, grammar)
    if rng.random() < grammar.p_preposition:
        words += [str(rng.choice(PREPOSITIONS))] + noun_phrase(rng, grammar)
    if rng.random() < grammar.p_adverb:
        words.append(str(rng.choice(grammar.adverbs)))
    if grammar.p_second_clause and rng.random() < grammar.p_second_clause:
        words += ["and"] + noun_phrase(rng, grammar) + [str(rng.choice(grammar.verbs))] + noun_phrase(rng, grammar)
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


# Two calibration sentences read by every speaker (the role of TIMIT's SA sentences; our own text).
SHARED_SENTENCES = (
    "The muddy zebra judged a thin purple bottle by the yellow fountain.",
    "Ingrid usually measures each wooden ring with a cheap metal ruler.",
)
