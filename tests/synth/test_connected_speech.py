"""Connected-speech rules on espeak phoneme strings, each checked by hand."""

from __future__ import annotations

import numpy as np

from asrser.synth import connected_speech as cs

ALWAYS = cs.Style(dict.fromkeys(cs.RULES, 1.0))
NEVER = cs.Style(dict.fromkeys(cs.RULES, 0.0))


def _apply(words: str, text: str, style: cs.Style = ALWAYS) -> tuple[list[str], dict[str, int]]:
    return cs.apply_rules(words.split(), [[w] for w in text.split()], style, np.random.default_rng(0))


def test_tokenize_round_trips_and_takes_the_longest_mnemonic():
    assert cs.tokenize("D,a#t#It") == ["D", ",", "a#", "t#", "I", "t"]
    assert cs.tokenize("tS'e@") == ["tS", "'", "e@"]
    assert "".join(cs.tokenize("b'aNk_:_:")) == "b'aNk_:_:"


def test_flapping_across_a_word_boundary():
    words, counts = _apply("g'Et 'Vp", "get up")
    assert words == ["g'Et#", "'Vp"] and counts["flap"] == 1


def test_final_t_or_d_in_a_cluster_drops_before_a_consonant():
    words, counts = _apply("w'Ent h'oUm", "went home")
    assert words[0] == "w'En" and counts["drop_td"] == 1
    assert _apply("w'Ent 'aUt", "went out")[0][0] == "w'Ent"         # not before a vowel


def test_n_assimilates_to_a_following_labial_or_velar():
    assert _apply("t'En b'OIz", "ten boys")[0][0] == "t'Em"
    assert _apply("t'En k'Ats", "ten cats")[0][0] == "t'EN"
    assert _apply("t'En s'Ats", "ten sats")[0][0] == "t'En"


def test_h_drops_in_function_words_but_not_at_the_start():
    words, counts = _apply("hi: s'Ed hIz n'eIm", "he said his name", cs.Style({**ALWAYS.probabilities, "reduce": 0.0}))
    assert words[0].startswith("h") and words[2] == "Iz" and counts["drop_h"] == 1


def test_palatalisation_of_s_before_y():
    words, counts = _apply("m'Is ju:", "miss you", cs.Style({**ALWAYS.probabilities, "reduce": 0.0}))
    assert words == ["m'IS", "ju:"] and counts["palatalise"] == 1


def test_unstressed_vowels_reduce_stressed_do_not():
    words, counts = _apply("and hi: s'Ed", "and he said", cs.Style({**NEVER.probabilities, "reduce": 1.0}))
    assert words == ["@nd", "hI2", "s'Ed"] and counts["reduce"] == 2
    # a reduction that would read back as another phoneme (@ before L is the syllabic @L) is not made
    assert cs.apply_rules(["'ELp"], [["x"]], ALWAYS, np.random.default_rng(0))[0] == ["'ELp"]


def test_careful_speech_is_left_alone_and_draws_are_seeded():
    words = "hi: w'Ent t@ D@2 b'aNk and b'O:t D@2 g'Ud br'Ed".split()
    text = [[w] for w in "he went to the bank and bought the good bread".split()]
    assert cs.apply_rules(words, text, NEVER, np.random.default_rng(0))[0] == words
    half = cs.Style(dict.fromkeys(cs.RULES, 0.5))
    assert cs.apply_rules(words, text, half, np.random.default_rng(3)) == \
        cs.apply_rules(words, text, half, np.random.default_rng(3))


def test_words_align_to_merged_phoneme_words():
    phoneme_words = "s'at O2nD@2 tS'e@ _: and".split()
    text = "sat on the chair and".split()
    citation = ["s'at", "O2n", "D@2", "tS'e@", "and"]
    assert cs.align_words(phoneme_words, text, citation) == [["sat"], ["on", "the"], ["chair"], [], ["and"]]
