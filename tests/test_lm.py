"""N-gram LMs: modified Kneser-Ney and Witten-Bell of any order, Stolcke pruning, the validating ARPA reader,
and ARPA -> G.fst through kaldilm on a word lang."""

from __future__ import annotations

import gzip
import hashlib
import math
import random
import subprocess
import sys
from pathlib import Path

import kaldifst
import pytest

from asrser.corpora.timit import PHONES48
from asrser.errors import AsrserError, DataError
from asrser.lang import Lang, prepare_phone_lang, read_symbol_table, write_symbol_table
from asrser.lm import (BOS, EOS, estimate, kn_discounts, make_lang_test, prune, pruning_deltas, read_arpa,
                       read_text, train_lm, train_phone_lm)

REPO = Path(__file__).resolve().parents[1]

# <s> a b </s>, <s> a b c </s>, <s> b c </s>; d is a vocabulary word never seen
HAND_CORPUS = [["a", "b"], ["a", "b", "c"], ["b", "c"]]
HAND_VOCAB = ["a", "b", "c", "d"]


def test_kn_discounts_from_count_of_counts():
    # n1 = 4, n2 = 2, n3 = 1, n4 = 1: Y = 4 / (4 + 4) = 0.5
    d1, d2, d3 = kn_discounts([1, 1, 1, 1, 2, 2, 3, 4, 5], 3)
    assert math.isclose(d1, 1 - 2 * 0.5 * 2 / 4)        # 0.5
    assert math.isclose(d2, 2 - 3 * 0.5 * 1 / 2)        # 1.25
    assert math.isclose(d3, 3 - 4 * 0.5 * 1 / 1)        # 1.0
    assert kn_discounts([1, 1, 2], 1) == (0.5, 1.0, 1.5)  # n3 = n4 = 0: KenLM's fallback


def test_kneser_ney_values_by_hand():
    lm = estimate(HAND_CORPUS, HAND_VOCAB, order=3, method="kn")
    assert lm.discounts == [(0.5, 1.0, 1.5)] * 3          # every order too small: the fallback
    # unigrams, continuation counts (distinct left words in the bigrams): a 1 (<s>), b 2 (a, <s>), c 1 (b),
    # </s> 2 (b, c); total 6; n1 = 2, n2 = 2 -> gamma = (0.5 * 2 + 1 * 2) / 6 = 0.5; uniform over 5 words
    assert math.isclose(lm.prob("a"), 0.5 / 6 + 0.5 / 5)
    assert math.isclose(lm.prob("b"), 1.0 / 6 + 0.5 / 5)
    assert math.isclose(lm.prob(EOS), 1.0 / 6 + 0.5 / 5)
    assert math.isclose(lm.prob("d"), 0.5 / 5)             # never seen, keeps mass
    p_a, p_b, p_c, p_end = 0.5 / 6 + 0.1, 1 / 6 + 0.1, 0.5 / 6 + 0.1, 1 / 6 + 0.1
    # bigrams: after <s> the raw counts (a 2, b 1; no left context), gamma = (1 * 1 + 0.5 * 1) / 3 = 0.5
    assert math.isclose(lm.prob("a", [BOS]), (2 - 1) / 3 + 0.5 * p_a)
    assert math.isclose(lm.prob("b", [BOS]), (1 - 0.5) / 3 + 0.5 * p_b)
    # after b: continuation counts c 2 (a b c, <s> b c), </s> 1 (a b </s>); gamma = (1 + 0.5) / 3
    assert math.isclose(lm.prob("c", ["b"]), (2 - 1) / 3 + 0.5 * p_c)
    assert math.isclose(lm.prob(EOS, ["b"]), (1 - 0.5) / 3 + 0.5 * p_end)
    assert math.isclose(lm.prob("b", ["a"]), 0.5 + 0.5 * p_b)
    p_b_a, p_c_b, p_end_b = 0.5 + 0.5 * p_b, 1 / 3 + 0.5 * p_c, 0.5 / 3 + 0.5 * p_end
    # trigrams (raw counts): <s> a -> b 2, gamma 1 * 1 / 2; a b -> </s> 1, c 1, gamma (0.5 + 0.5) / 2
    assert math.isclose(lm.prob("b", [BOS, "a"]), (2 - 1) / 2 + 0.5 * p_b_a)
    assert math.isclose(lm.prob("c", ["a", "b"]), 0.5 / 2 + 0.5 * p_c_b)
    assert math.isclose(lm.prob(EOS, ["a", "b"]), 0.5 / 2 + 0.5 * p_end_b)
    assert math.isclose(lm.backoffs[1][("a", "b")], 0.5)
    assert math.isclose(lm.backoffs[0][("b",)], 0.5)
    # an unseen word backs off twice: 0.5 (a b) * 0.5 (b) * p(d)
    assert math.isclose(lm.prob("d", ["a", "b"]), 0.5 * 0.5 * 0.1)
    assert lm.probs[0][(BOS,)] == 0.0 and (EOS,) in lm.probs[0]


def _random_corpus(n, vocab, seed):
    rng = random.Random(seed)
    return [[rng.choice(vocab) for _ in range(rng.randint(0, 9))] for _ in range(n)]


def _check_normalised(lm, histories, tol=1e-9):
    vocab = lm.vocabulary()
    assert BOS not in vocab and EOS in vocab
    for h in histories:
        assert math.isclose(sum(lm.prob(w, h) for w in vocab), 1.0, abs_tol=tol), h


@pytest.mark.parametrize("method,order", [("kn", 1), ("kn", 2), ("kn", 3), ("kn", 4), ("wb", 3), ("wb", 4)])
def test_every_history_sums_to_one(method, order, tmp_path):
    words = [f"w{i}" for i in range(12)]
    lm = estimate(_random_corpus(60, words[:10], order), words, order, method)  # w10, w11 never seen
    histories = [h for k in range(order - 1) for h in lm.backoffs[k]] + [(), ("w11",), ("w10", "w11"), (BOS,)]
    _check_normalised(lm, histories)
    assert lm.prob("w11") > 0
    lm.write_arpa(tmp_path / "lm.arpa.gz")
    back = read_arpa(tmp_path / "lm.arpa.gz")
    assert back.counts() == lm.counts()
    _check_normalised(back, histories, tol=1e-4)       # 6 decimals of log10 in the file


def test_witten_bell_order_2_is_the_phone_bigram(tmp_path):
    """train_phone_lm (TIMIT's G) gives the bytes the Witten-Bell bigram gave before n-grams of any order."""
    rng = random.Random(0)
    sentences = [["sil", *(rng.choice(PHONES48[:20]) for _ in range(8)), "sil"] for _ in range(30)]
    prepare_phone_lang(tmp_path / "lang", PHONES48, ["sil"])
    text = tmp_path / "text"
    text.write_text("".join(f"u{i} {' '.join(s)}\n" for i, s in enumerate(sentences)))
    train_phone_lm(text, Lang.load(tmp_path / "lang"), tmp_path / "lm.arpa")
    make_lang_test(tmp_path / "lang", tmp_path / "lm.arpa", tmp_path / "lang_test")
    digest = {name: hashlib.sha256(path.read_bytes()).hexdigest()
              for name, path in (("arpa", tmp_path / "lm.arpa"), ("G", tmp_path / "lang_test" / "G.fst"))}
    assert digest == {"arpa": "e2f9bbe422e06aa5cad1de68eb149d320b01305cc5d748c68813bee4b86d9a0b",
                      "G": "0ea35cee21ebd249f1f1dcca974792406c5b72471aff6907bcf6baaf0851d74b"}


def test_pruning_order_and_normalisation():
    words = [f"w{i}" for i in range(8)]
    lm = estimate(_random_corpus(80, words, 5), words, 3, "kn")
    deltas = pruning_deltas(lm, 3)
    assert all(d >= -1e-12 for d in deltas.values())     # removing an n-gram never lowers the perplexity
    ranked = sorted(deltas.values())
    previous: set = set()
    for threshold in (ranked[len(ranked) // 4], ranked[len(ranked) // 2], ranked[3 * len(ranked) // 4]):
        pruned = estimate(_random_corpus(80, words, 5), words, 3, "kn")
        removed = prune(pruned, threshold)
        gone = set(lm.probs[2]) - set(pruned.probs[2])
        assert gone == {ng for ng, d in deltas.items() if d < threshold}   # the smallest first, none else
        assert previous <= gone                          # a higher threshold removes a superset
        previous = gone
        assert removed >= len(gone) > 0
        for k in (2, 3):                                 # no orphan: every history is an n-gram
            assert all(ng[:-1] in pruned.probs[k - 2] for ng in pruned.probs[k - 1])
        histories = [h for k in range(2) for h in pruned.backoffs[k]] + [("w1", "w2"), ()]
        _check_normalised(pruned, histories)
    assert prune(lm, 0.0) == 0


def _word_lang(path: Path, words: list[str], oov: str = "<UNK>") -> Path:
    """A lang dir as far as G needs it: words.txt (Kaldi's layout: <eps>, words, #0, <s>, </s>) and oov.txt."""
    path.mkdir(parents=True)
    write_symbol_table(path / "words.txt", ["<eps>", oov, *words, "#0", BOS, EOS])
    (path / "oov.txt").write_text(f"{oov}\n")
    return path


def _g_cost(g: kaldifst.StdVectorFst, ids: dict[str, int], words: list[str]) -> float:
    """The cost of a sentence in G, walked as a backoff LM: a word's arc, else the #0 arc and try again."""
    def arcs(state):
        return list(kaldifst.ArcIterator(g, state))

    state, cost = g.start, 0.0
    for w in [*words, None]:
        while True:
            if w is None:
                final = g.final(state).value
                if math.isfinite(final):
                    return cost + final
            else:
                hit = [a for a in arcs(state) if a.olabel == ids[w]]
                if hit:
                    cost, state = cost + hit[0].weight.value, hit[0].nextstate
                    break
            back = [a for a in arcs(state) if a.ilabel == ids["#0"]]
            assert len(back) == 1, f"state {state}: no backoff arc"
            cost, state = cost + back[0].weight.value, back[0].nextstate


@pytest.mark.parametrize("threshold", [0.0, 0.05])
def test_word_trigram_to_g_fst(tmp_path, threshold):
    words = ["the", "cat", "dog", "sat", "ran", "on", "mat", "zebra"]
    lang = _word_lang(tmp_path / "lang", words)
    text = tmp_path / "text"
    text.write_text("u1 the cat sat on the mat\nu2 the dog ran\nu3 the cat ran on the mat\n"
                    "u4 a dog sat\nu5 the dog sat on the cat\n")
    dev = tmp_path / "dev"
    dev.write_text("d1 the zebra sat on the mat\n")
    trained = train_lm(text, lang, tmp_path / "lm.arpa", order=3, method="kn", prune_threshold=threshold,
                       dev_text=dev)
    assert (trained.pruned > 0) == (threshold > 0)
    assert trained.text.oov_tokens == 1 and trained.text.oov_types == {"a": 1}      # u4's 'a' -> <UNK>
    assert trained.dev_perplexity > trained.training_perplexity > 1
    assert "dev perplexity" in trained.summary() and "3-grams" in trained.summary()
    make_lang_test(lang, tmp_path / "lm.arpa", tmp_path / "lang_test", arpa_name="lm.arpa.gz")
    out = tmp_path / "lang_test"
    assert gzip.decompress((out / "lm.arpa.gz").read_bytes()) == (tmp_path / "lm.arpa").read_bytes()
    g = kaldifst.StdVectorFst.read(str(out / "G.fst"))
    ids = read_symbol_table(out / "words.txt")
    lm = read_arpa(tmp_path / "lm.arpa")
    for sentence in (["the", "cat", "sat"], ["zebra", "on", "the", "mat"], ["<UNK>", "dog"], ["the", "dog", "sat"]):
        expected = -sum(math.log(lm.prob(w, [BOS, *sentence][:i + 1])) for i, w in enumerate([*sentence, EOS]))
        assert math.isclose(_g_cost(g, ids, sentence), expected, rel_tol=1e-4), sentence


def test_text_outside_vocabulary_without_oov_word_names_line(tmp_path):
    text = tmp_path / "text"
    text.write_text("the cat\n\nthe yak\n")
    assert read_text(text, utt_ids=False).sentences == [["the", "cat"], ["the", "yak"]]
    with pytest.raises(DataError, match=f"^{text}:3: 'yak' is not in the vocabulary"):
        read_text(text, ["the", "cat"], None, utt_ids=False)
    with pytest.raises(AsrserError, match="unknown LM method"):
        estimate([["a"]], ["a"], 2, "good-turing")


GOOD_ARPA = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-99\t<s>\t-0.3
-0.5\ta\t-0.2
-0.6\tb
-0.4\t</s>

\\2-grams:
-0.1\t<s> a
-0.2\ta b

\\end\\
"""


@pytest.mark.parametrize("broken,line,message", [
    (GOOD_ARPA.replace("ngram 2=2", "ngram 2=3"), 11, r"the \\2-grams: section has 2 n-grams, \\data\\ declares 3"),
    (GOOD_ARPA.replace("ngram 1=4", "ngram 1=3"), 9, r"more 1-grams than the 3"),
    (GOOD_ARPA.replace("\\2-grams:", "\\2-gram:"), 11, r"expected '\\\\2-grams:', found '\\\\2-gram:'"),
    (GOOD_ARPA.replace("-0.6\tb", "-0.6x\tb"), 8, r"log10 probability '-0.6x' is not a number"),
    (GOOD_ARPA.replace("-0.2\ta b", "-0.2\ta b -0.1"), 13, r"a 2-gram line needs 3 fields"),
    (GOOD_ARPA.replace("-0.5\ta\t-0.2", "-0.5"), 7, r"a 1-gram line needs 2 or 3 fields"),
    (GOOD_ARPA.replace("\\end\\\n", ""), 14, r"ends without \\end\\"),
    (GOOD_ARPA.replace("\\data\\", "data"), 15, r"no \\data\\ line"),
    (GOOD_ARPA.replace("-0.1\t<s> a", "0.1\t<s> a"), 12, r"log10 probability 0.1 is above 0"),
    (GOOD_ARPA + "-1 c\n", 16, r"text after \\end\\"),
])
def test_malformed_arpa_names_file_and_line(tmp_path, broken, line, message):
    arpa = tmp_path / "lm.arpa"
    arpa.write_text(broken)
    with pytest.raises(DataError, match=f"^{arpa}:{line}: {message}"):
        read_arpa(arpa)
    lang = _word_lang(tmp_path / "lang", ["a", "b"])
    with pytest.raises(DataError, match=f"^{arpa}:{line}: "):      # before kaldilm ever sees it
        make_lang_test(lang, arpa, tmp_path / "lang_test")
    assert not (tmp_path / "lang_test").exists()


def test_good_arpa_reads(tmp_path):
    arpa = tmp_path / "lm.arpa"
    arpa.write_text(GOOD_ARPA)
    lm = read_arpa(arpa)
    assert lm.order == 2 and lm.counts() == [4, 2]
    assert math.isclose(lm.prob("b", ["<s>"]), 10 ** -0.3 * 10 ** -0.6)


def _program(name, *args):
    return subprocess.run([sys.executable, str(REPO / "steps_py" / name), *map(str, args)],
                          capture_output=True, text=True)


def test_train_lm_and_format_lm_programs(tmp_path):
    lang = _word_lang(tmp_path / "lang", ["the", "cat", "dog", "sat"])
    text = tmp_path / "text"
    text.write_text("u1 the cat sat\nu2 the dog sat\nu3 the cat\n")
    proc = _program("train_lm.py", "--order", "2", "--method", "wb", "--dev-text", text, text, lang,
                    tmp_path / "lang_bg")
    assert proc.returncode == 0, proc.stderr
    assert "training perplexity" in proc.stderr and "dev perplexity" in proc.stderr
    out = tmp_path / "lang_bg"
    assert {"G.fst", "lm.arpa.gz", "words.txt", "oov.txt"} <= {p.name for p in out.iterdir()}
    proc = _program("format_lm.py", lang, out / "lm.arpa.gz", tmp_path / "lang_user")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "lang_user" / "G.fst").read_bytes() == (out / "G.fst").read_bytes()
    bad = tmp_path / "bad.arpa"
    bad.write_text(GOOD_ARPA.replace("ngram 2=2", "ngram 2=3"))
    proc = _program("format_lm.py", lang, bad, tmp_path / "lang_bad")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"ERROR (format_lm.py): {bad}:11: ")
