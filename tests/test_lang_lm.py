"""Lang directory (topology, lexicon FSTs, symbol tables) and the Witten-Bell phone bigram (n-gram models of
any order: tests/test_lm.py)."""

from __future__ import annotations

import math
import random

import kaldifst
import pytest

from asrser.errors import DataError
from asrser.lang import Lang, prepare_phone_lang, read_symbol_table
from asrser.lm import estimate, make_lang_test, read_arpa, train_phone_lm
from asrser.corpora.timit import PHONES48


@pytest.fixture(scope="module")
def lang(tmp_path_factory):
    out = tmp_path_factory.mktemp("lang") / "lang"
    prepare_phone_lang(out, PHONES48, ["sil"])
    return Lang.load(out)


def test_symbol_tables(lang):
    phones = read_symbol_table(lang.path / "phones.txt")
    assert phones["<eps>"] == 0 and phones["sil"] == 1
    assert len([p for p in phones if not p.startswith(("#", "<"))]) == 48
    words = read_symbol_table(lang.path / "words.txt")
    assert {"#0", "<s>", "</s>"} <= set(words) and len(words) == 48 + 4


def test_topology_state_counts(lang):
    topo = lang.topology()
    sil = lang.silence_ids[0]
    nonsil = lang.word_ids(["aa"])[0]  # phone-as-word: same id order for real phones
    assert topo.num_pdf_classes(sil) == 5
    assert topo.num_pdf_classes(read_symbol_table(lang.path / "phones.txt")["aa"]) == 3
    assert nonsil > 0


def test_lexicon_fst_maps_each_phone_to_its_word(lang):
    fst = lang.lexicon_fst()
    words = read_symbol_table(lang.path / "words.txt")
    phones = read_symbol_table(lang.path / "phones.txt")
    pairs = {(arc.ilabel, arc.olabel) for state in range(fst.num_states) for arc in kaldifst.ArcIterator(fst, state)}
    for p in ("sil", "aa", "zh"):
        assert (phones[p], words[p]) in pairs


def _sentences(n, seed=0):
    rng = random.Random(seed)
    return [["sil", *(rng.choice(PHONES48[:20]) for _ in range(8)), "sil"] for _ in range(n)]


def test_bigram_sums_to_one_per_history():
    lm = estimate(_sentences(40), PHONES48, order=2, method="wb")
    vocab = lm.vocabulary()
    for history in ["<s>", "sil", "aa", "zh"]:  # zh never seen: pure backoff
        assert math.isclose(sum(lm.prob(w, history) for w in vocab), 1.0, abs_tol=1e-9)
    assert lm.prob("zh", "sil") > 0  # unseen phone keeps mass


def test_witten_bell_values_by_hand():
    lm = estimate([["a", "b"], ["a", "a"]], ["a", "b"], order=2, method="wb")
    # unigram counts (no <s>): a:3 b:1 </s>:2 -> total 6, 3 types, uniform 1/3
    assert math.isclose(lm.prob("a"), (3 + 1) / 9)
    # history a: followers b:1 a:1 </s>:1 -> count 3, T 3
    assert math.isclose(lm.prob("b", ["a"]), (1 + 3 * lm.prob("b")) / 6)
    assert math.isclose(lm.backoffs[0][("a",)], 0.5)


def test_arpa_round_trip_and_g_fst(lang, tmp_path):
    text = tmp_path / "text"
    text.write_text("".join(f"u{i} {' '.join(s)}\n" for i, s in enumerate(_sentences(30))))
    lm = train_phone_lm(text, lang, tmp_path / "lm.arpa").lm
    back = read_arpa(tmp_path / "lm.arpa")
    for h, w in [("sil", "aa"), ("aa", "zh"), ("<s>", "sil")]:
        assert math.isclose(back.prob(w, h), lm.prob(w, h), rel_tol=1e-5)
    make_lang_test(lang.path, tmp_path / "lm.arpa", tmp_path / "lang_test")
    g = kaldifst.StdVectorFst.read(str(tmp_path / "lang_test" / "G.fst"))
    assert g.num_states > 2
    assert (tmp_path / "lang_test" / "L_disambig.fst").exists()


def test_unknown_word_in_text_names_line(lang, tmp_path):
    text = tmp_path / "text"
    text.write_text("u1 sil aa sil\nu2 sil bogus sil\n")
    with pytest.raises(DataError) as err:
        train_phone_lm(text, lang, tmp_path / "lm.arpa")
    assert "bogus" in str(err.value) and ":2" in str(err.value)


def test_missing_empty_line_or_non_utf8_text_is_named(lang, tmp_path):
    text = tmp_path / "text"
    for content, message in ((None, f"{text}: file does not exist"),
                             (b"u1 sil aa sil\n\nu2 sil sil\n", f"{text}:2: empty line"),
                             (b"u1 sil aa sil\nu2 sil \xe0 sil\n", f"{text}:2: not UTF-8 text")):
        if content is not None:
            text.write_bytes(content)
        with pytest.raises(DataError) as err:
            train_phone_lm(text, lang, tmp_path / "lm.arpa")
        assert str(err.value).startswith(message)
    with pytest.raises(DataError, match=f"^{tmp_path / 'nope.arpa'}: file does not exist$"):
        read_arpa(tmp_path / "nope.arpa")
