"""prepare_lang from a Kaldi dict dir (utils/prepare_lang.sh), checked against hand-computed expectations."""

from __future__ import annotations

import math
from pathlib import Path

import kaldifst
import pytest

from asrser.errors import DataError
from asrser.lang import Lang, add_lex_disambig, prepare_lang, read_symbol_table
from dict_dirs import LEXICONP, NONSILENCE, plain_lexicon, write_dict_dir
from helpers import run_step

import kaldilm  # noqa: E402  (after asrser, which loads kaldi_hmm_gmm: the other order deadlocks at import)

LN2 = math.log(2)


@pytest.fixture(scope="module")
def lang(tmp_path_factory) -> Lang:
    tmp = tmp_path_factory.mktemp("lang")
    return prepare_lang(write_dict_dir(tmp / "dict"), tmp / "lang", "<UNK>")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def one_word_paths(lang: Lang, fst_name: str = "L.fst") -> dict[str, set[tuple[str, float]]]:
    """{word: {(phones read, cost)}} over every path of L from its start to a final state that writes one word."""
    fst = kaldifst.StdVectorFst.read(str(lang.path / fst_name))
    id2phone, id2word = lang.id2phone, lang.id2word
    paths: dict[str, set[tuple[str, float]]] = {}

    def walk(state: int, phones: list[str], word: str | None, cost: float) -> None:
        final = fst.final(state).value
        if word is not None and math.isfinite(final):
            paths.setdefault(word, set()).add((" ".join(phones), round(cost + final, 4)))
        for arc in kaldifst.ArcIterator(fst, state):
            if arc.olabel and word is not None:
                continue
            walk(arc.nextstate, phones + ([id2phone[arc.ilabel]] if arc.ilabel else []),
                 id2word[arc.olabel] if arc.olabel else word, cost + arc.weight.value)

    walk(fst.start, [], None, 0.0)
    return paths


def test_phones_txt_has_position_variants_silence_first_then_disambiguation(lang):
    phones = lines(lang.path / "phones.txt")
    assert phones[:12] == ["<eps> 0", "SIL 1", "SIL_B 2", "SIL_E 3", "SIL_I 4", "SIL_S 5",
                           "SPN 6", "SPN_B 7", "SPN_E 8", "SPN_I 9", "SPN_S 10", "AH0_B 11"]
    assert phones[11:19] == ["AH0_B 11", "AH0_E 12", "AH0_I 13", "AH0_S 14",
                             "AH1_B 15", "AH1_E 16", "AH1_I 17", "AH1_S 18"]
    # 20 nonsilence phones x 4 positions; homophones TO TWO TOO need #1..#3, #4 disambiguates the silence
    assert phones[-6:] == ["Z_S 90", "#0 91", "#1 92", "#2 93", "#3 94", "#4 95"]
    assert lines(lang.path / "phones/disambig.txt") == ["#0", "#1", "#2", "#3", "#4"]
    assert (lang.path / "phones/disambig.csl").read_text() == "91:92:93:94:95\n"
    assert lines(lang.path / "phones/wdisambig.txt") == ["#0"]
    assert lines(lang.path / "phones/wdisambig_phones.int") == ["91"]
    assert lines(lang.path / "phones/wdisambig_words.int") == ["21"]


def test_words_txt_sorted_then_disambig_and_sentence_marks(lang):
    assert lines(lang.path / "words.txt") == [
        "<eps> 0", "!SIL 1", "<UNK> 2", "A 3", "AN 4", "AND 5", "BE 6", "BED 7", "BEE 8", "CAT 9", "CATS 10",
        "DOG 11", "IS 12", "MORE 13", "NO 14", "ON 15", "SO 16", "THE 17", "TO 18", "TOO 19", "TWO 20",
        "#0 21", "<s> 22", "</s> 23"]
    assert lines(lang.path / "oov.txt") == ["<UNK>"] and lines(lang.path / "oov.int") == ["2"]


def test_symbol_tables_pass_kaldi_validate_lang_checks(lang):
    """What utils/validate_lang.pl checks of phones.txt and words.txt, and the phone lists against them."""
    for table in ("phones.txt", "words.txt"):
        ids = [int(line.split()[1]) for line in lines(lang.path / table)]
        names = [line.split()[0] for line in lines(lang.path / table)]
        assert ids == list(range(len(ids))), f"{table}: ids not dense from 0"
        assert len(set(names)) == len(names) and names[0] == "<eps>" and "#0" in names
    phones = read_symbol_table(lang.path / "phones.txt")
    listed = [p for f in ("silence", "nonsilence", "disambig") for p in lines(lang.path / f"phones/{f}.txt")]
    assert sorted(listed) == sorted(p for p in phones if p != "<eps>")   # a partition of the phones
    for name in ("silence", "nonsilence", "optional_silence", "disambig", "context_indep"):
        members = lines(lang.path / f"phones/{name}.txt")
        assert lines(lang.path / f"phones/{name}.int") == [str(phones[p]) for p in members]
        assert lines(lang.path / f"phones/{name}.csl") == [":".join(str(phones[p]) for p in members)]
    # the topology covers every real phone once, disambiguation symbols never
    topo = lang.topology()
    covered = sorted(topo.phones)
    assert covered == sorted(phones[p] for p in phones if p != "<eps>" and not p.startswith("#"))
    assert topo.num_pdf_classes(phones["SIL"]) == 5 and topo.num_pdf_classes(phones["AH0_B"]) == 3


def test_sets_roots_and_questions_as_kaldi(lang):
    roots = lines(lang.path / "phones/roots.txt")
    assert roots[:3] == ["shared split SIL SIL_B SIL_E SIL_I SIL_S", "shared split SPN SPN_B SPN_E SPN_I SPN_S",
                         "shared split AH0_B AH0_E AH0_I AH0_S AH1_B AH1_E AH1_I AH1_S"]
    assert len(roots) == 2 + 19 and all(r.startswith("shared split ") for r in roots)
    assert lines(lang.path / "phones/sets.txt") == [r.removeprefix("shared split ") for r in roots]
    questions = lines(lang.path / "phones/extra_questions.txt")
    nonsil = NONSILENCE.split()
    assert questions == ["AH0_B AH0_E AH0_I AH0_S", "AH1_B AH1_E AH1_I AH1_S",
                         *(" ".join(p + s for p in nonsil) for s in ("_B", "_E", "_I", "_S")),
                         "SIL SPN", "SIL_B SPN_B", "SIL_E SPN_E", "SIL_I SPN_I", "SIL_S SPN_S"]
    assert lines(lang.path / "phones/optional_silence.txt") == ["SIL"]
    assert lines(lang.path / "phones/context_indep.txt") == lines(lang.path / "phones/silence.txt") == [
        "SIL", "SIL_B", "SIL_E", "SIL_I", "SIL_S", "SPN", "SPN_B", "SPN_E", "SPN_I", "SPN_S"]


def test_lang_api_maps_position_phones_to_base_phones(lang):
    loaded = Lang.load(lang.path)
    ids = loaded.phones
    assert loaded.position_dependent
    assert loaded.word_boundary[ids["SIL"]] == "nonword" and loaded.word_boundary[ids["AH1_I"]] == "internal"
    assert [loaded.word_boundary[ids[p]] for p in ("K_B", "AE1_I", "T_E", "AH0_S")] == [
        "begin", "internal", "end", "singleton"]
    assert loaded.base_phone[ids["AH1_S"]] == "AH1" and loaded.base_phone[ids["SIL_B"]] == "SIL"
    assert loaded.base_phone[ids["SIL"]] == "SIL" and set(loaded.base_phone) == {ids[p] for p in loaded.real_phones}
    assert loaded.sets[2] == [ids[p] for p in ("AH0_B", "AH0_E", "AH0_I", "AH0_S", "AH1_B", "AH1_E", "AH1_I",
                                               "AH1_S")]
    assert loaded.roots[0] == (True, True, [1, 2, 3, 4, 5]) and len(loaded.roots) == 21
    assert loaded.extra_questions[0] == [ids[p] for p in ("AH0_B", "AH0_E", "AH0_I", "AH0_S")]
    assert loaded.optional_silence_id == ids["SIL"] and loaded.oov_word == "<UNK>"
    assert lines(lang.path / "phones/word_boundary.int")[:2] == ["1 nonword", "2 begin"]


def test_align_lexicon_lists_prons_with_positions_and_optional_silence(lang):
    align = lines(lang.path / "phones/align_lexicon.txt")
    assert align[:4] == ["!SIL !SIL SIL_S", "<UNK> <UNK> SPN_S", "<eps> <eps> SIL", "A A AH0_S"]
    assert "THE THE DH_B IY1_E" in align and "CATS CATS K_B AE1_I T_I S_E" in align and len(align) == 22
    words, phones = read_symbol_table(lang.path / "words.txt"), lang.phones
    assert f"{words['CATS']} {words['CATS']} {phones['K_B']} {phones['AE1_I']} {phones['T_I']} {phones['S_E']}" \
        in lines(lang.path / "phones/align_lexicon.int")


def test_lexicon_fst_arcs_by_hand(lang):
    """The exact arcs of L.fst around the start, loop and silence states (make_lexicon_fst.py's topology)."""
    fst = kaldifst.StdVectorFst.read(str(lang.path / "L.fst"))
    id2p, id2w = lang.id2phone, lang.id2word

    def arcs(state):
        return sorted((id2p[a.ilabel], id2w[a.olabel], round(a.weight.value, 5), a.nextstate)
                      for a in kaldifst.ArcIterator(fst, state))

    start, loop, sil = 0, 1, 2
    assert fst.start == start and math.isinf(fst.final(start).value) and fst.final(loop).value == 0.0
    assert arcs(start) == [("<eps>", "<eps>", round(LN2, 5), loop), ("<eps>", "<eps>", round(LN2, 5), sil)]
    assert arcs(sil) == [("SIL", "<eps>", 0.0, loop)]
    out_of_loop = arcs(loop)
    # single-phone words end at once: to the loop without silence, to the silence state with it
    assert ("AH0_S", "A", round(LN2, 5), loop) in out_of_loop and ("AH0_S", "A", round(LN2, 5), sil) in out_of_loop
    assert ("SPN_S", "<UNK>", round(LN2, 5), loop) in out_of_loop
    # longer words write the word on their first arc with the pronunciation cost (THE: 1.0 and 0.4)
    the = [a for a in out_of_loop if a[1] == "THE"]
    assert [a[:3] for a in the] == [("DH_B", "THE", 0.0), ("DH_B", "THE", round(-math.log(0.4), 5))]
    assert len(out_of_loop) == 2 * 3 + 18       # 3 one-phone words (2 arcs each), 18 longer prons
    assert fst.num_states == 3 + sum(len(f) - 3 for f in map(str.split, LEXICONP.splitlines()) if len(f) > 3)


def test_lexicon_fst_paths_by_hand(tmp_path):
    """Every one-word path of L.fst at sil_prob 0.2: optional silence before (0.2) or not (0.8), the same after."""
    lang = prepare_lang(write_dict_dir(tmp_path / "dict"), tmp_path / "lang", "<UNK>", sil_prob=0.2)
    s, n = -math.log(0.2), -math.log(0.8)

    def expect(*prons: tuple[str, float]) -> set[tuple[str, float]]:
        return {(" ".join(filter(None, [before, pron, after])), round(cost + c1 + c2, 4))
                for pron, cost in prons
                for before, c1 in (("", n), ("SIL", s)) for after, c2 in (("", n), ("SIL", s))}

    paths = one_word_paths(lang)
    assert paths["A"] == expect(("AH0_S", 0.0))
    assert paths["!SIL"] == expect(("SIL_S", 0.0))
    assert paths["<UNK>"] == expect(("SPN_S", 0.0))
    assert paths["THE"] == expect(("DH_B AH0_E", 0.0), ("DH_B IY1_E", -math.log(0.4)))
    assert paths["CATS"] == expect(("K_B AE1_I T_I S_E", 0.0))
    assert paths["BEE"] == paths["BE"] == expect(("B_B IY1_E", 0.0))
    assert len(paths) == 20
    # L_disambig: homophones end in #1 #2 (#3), the optional silence is followed by #4
    paths = one_word_paths(lang, "L_disambig.fst")
    assert {p for p, _ in paths["BE"]} == {"B_B IY1_E #1", "SIL #4 B_B IY1_E #1", "B_B IY1_E #1 SIL #4",
                                           "SIL #4 B_B IY1_E #1 SIL #4"}
    assert {p for p, _ in paths["TOO"] if "SIL" not in p} == {"T_B UW1_E #3"}
    assert {p for p, _ in paths["CAT"] if "SIL" not in p} == {"K_B AE1_I T_E"}


def test_position_independent_lang_disambiguates_prefixes(tmp_path):
    lang = prepare_lang(write_dict_dir(tmp_path / "dict"), tmp_path / "lang", "<UNK>", position_dependent=False,
                        sil_prob=0.0)
    phones = [line.split()[0] for line in lines(lang.path / "phones.txt")]
    assert phones[:4] == ["<eps>", "SIL", "SPN", "AH0"] and "AH0_B" not in phones
    assert not (lang.path / "phones/word_boundary.txt").exists() and not lang.position_dependent
    assert lang.base_phone[lang.phones["AH0"]] == "AH0"
    assert lines(lang.path / "phones/extra_questions.txt") == ["AH0", "AH1"]
    paths = one_word_paths(lang, "L_disambig.fst")
    # without silence, the loop state is the start; AN is a prefix of AND, CAT of CATS
    assert paths["AN"] == {("AE1 N #1", 0.0)} and paths["AND"] == {("AE1 N D", 0.0)}
    assert paths["CAT"] == {("K AE1 T #1", 0.0)} and paths["TWO"] == {("T UW1 #2", 0.0)}
    assert paths["THE"] == {("DH AH0", 0.0), ("DH IY1", round(-math.log(0.4), 4))}


def test_add_lex_disambig_as_kaldi():
    prons = [["a"], ["a", "b"], ["a", "b"], ["c"], ["a", "b", "c"], ["a", "b"]]
    assert add_lex_disambig(prons) == ([["a", "#1"], ["a", "b", "#1"], ["a", "b", "#2"], ["c"], ["a", "b", "c"],
                                        ["a", "b", "#3"]], 3)
    assert add_lex_disambig([["x"], ["y"]]) == ([["x"], ["y"]], 0)


def g_fst(lang: Lang, tmp_path: Path) -> kaldifst.StdVectorFst:
    """A word bigram with backoff (#0 on G's backoff arcs) from kaldilm, over homophones and prefixes."""
    words = [w for w in lang.words if w not in ("<eps>", "#0", "<s>", "</s>")]
    arpa = tmp_path / "g.arpa"
    arpa.write_text("\\data\\\nngram 1=%d\nngram 2=3\n\n\\1-grams:\n-1.0 </s>\n-99 <s> -0.5\n" % (len(words) + 2)
                    + "".join(f"-1.3 {w} -0.3\n" for w in words)
                    + "\n\\2-grams:\n-0.2 <s> CAT\n-0.3 CAT BEE\n-0.3 TO TWO\n\n\\end\\\n")
    kaldilm.arpa2fst(input_arpa=str(arpa), output_fst=str(tmp_path / "G.fst"), disambig_symbol="#0",
                     read_symbol_table=str(lang.path / "words.txt"))
    g = kaldifst.StdVectorFst.read(str(tmp_path / "G.fst"))
    kaldifst.arcsort(g, sort_type="ilabel")
    return g


def test_l_disambig_composed_with_g_determinizes(lang, tmp_path):
    """L_disambig o G determinizes (max_states bounds the work); without the lexicon's disambiguation symbols
    (L.fst plus only the #0 loop) the homophones make L o G non-functional, which Kaldi's determinizer refuses."""
    g = g_fst(lang, tmp_path)
    lg = kaldifst.compose(lang.lexicon_fst(), g)
    assert lg.num_states > 0
    assert kaldifst.determinize_star(lg, max_states=20000) is False     # False: completed
    for state in range(lg.num_states):
        labels = [a.ilabel for a in kaldifst.ArcIterator(lg, state)]
        assert len(labels) == len(set(labels))
    plain = kaldifst.StdVectorFst.read(str(lang.path / "L.fst"))
    kaldifst.add_self_loops(plain, [lang.phones["#0"]], [lang.words["#0"]])
    kaldifst.arcsort(plain, sort_type="olabel")
    lg = kaldifst.compose(plain, g)
    with pytest.raises(RuntimeError, match="not functional"):
        kaldifst.determinize_star(lg, max_states=20000)


def test_lexiconp_wins_and_must_agree_with_lexicon(tmp_path):
    d = write_dict_dir(tmp_path / "dict")
    (d / "lexicon.txt").write_text(plain_lexicon())
    lang = prepare_lang(d, tmp_path / "lang", "<UNK>", sil_prob=0.0)
    assert one_word_paths(lang)["THE"] == {("DH_B AH0_E", 0.0), ("DH_B IY1_E", round(-math.log(0.4), 4))}
    (d / "lexiconp.txt").unlink()           # lexicon.txt alone: every pronunciation has probability 1
    lang = prepare_lang(d, tmp_path / "lang", "<UNK>", sil_prob=0.0)
    assert one_word_paths(lang)["THE"] == {("DH_B AH0_E", 0.0), ("DH_B IY1_E", 0.0)}
    (d / "lexiconp.txt").write_text(LEXICONP.replace("BED 1.0 B EH1 D", "BED 1.0 B IY1 D"))
    with pytest.raises(DataError, match=r"lexicon\.txt:8: differs from lexiconp\.txt:8 \(BED B IY1 D\)"):
        prepare_lang(d, tmp_path / "lang", "<UNK>")


def test_output_replaces_an_earlier_lang_dir(tmp_path):
    d = write_dict_dir(tmp_path / "dict")
    prepare_lang(d, tmp_path / "lang", "<UNK>")
    assert (tmp_path / "lang/phones/word_boundary.txt").exists()
    prepare_lang(d, tmp_path / "lang", "<UNK>", position_dependent=False)
    assert not (tmp_path / "lang/phones/word_boundary.txt").exists()
    assert not list(tmp_path.glob(".lang*"))


def test_oov_word_must_have_a_pronunciation(tmp_path):
    d = write_dict_dir(tmp_path / "dict")
    with pytest.raises(DataError, match=r"lexiconp\.txt: the OOV word '<unk>' has no pronunciation in the lexicon"):
        prepare_lang(d, tmp_path / "lang", "<unk>")
    assert not (tmp_path / "lang").exists()


def test_prepare_lang_program_kaldi_form(tmp_path):
    d = write_dict_dir(tmp_path / "dict")
    run_step("prepare_lang.py", "--position-dependent-phones", "false", "--sil-prob", "0.3", "--num-sil-states",
             "3", d, "<UNK>", tmp_path / "tmp", tmp_path / "lang")
    lang = Lang.load(tmp_path / "lang")
    assert not lang.position_dependent and lang.topology().num_pdf_classes(lang.phones["SIL"]) == 3
    assert lines(tmp_path / "tmp/lexiconp_disambig.txt")[3] == "AN\t1\tAE1 N #1"
    assert lines(tmp_path / "tmp/lex_ndisambig") == ["4"]
    proc = run_step("prepare_lang.py", d, "<NOPE>", tmp_path / "tmp", tmp_path / "lang2", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        f"ERROR (prepare_lang.py): {d}/lexiconp.txt: the OOV word '<NOPE>' has no pronunciation in the lexicon")
    proc = run_step("prepare_lang.py", "--position-dependent-phones", "yes", d, "<UNK>", tmp_path / "t",
                    tmp_path / "l", check=False)
    assert proc.returncode == 2 and "expected true or false, got 'yes'" in proc.stderr
    proc = run_step("prepare_lang.py", d, "<UNK>", tmp_path / "lang3", check=False)
    assert proc.returncode == 1 and "expected 4 arguments" in proc.stderr


def test_lang_api_on_a_phone_lang(tmp_path):
    """The TIMIT-style phone lang: no word positions, each phone its own base phone, silence roots not split."""
    from asrser.lang import prepare_phone_lang

    lang = prepare_phone_lang(tmp_path / "lang", ["sil", "aa", "b"], ["sil"])
    ids = lang.phones
    assert not lang.position_dependent and lang.word_boundary == {}
    assert lang.base_phone == {ids["sil"]: "sil", ids["aa"]: "aa", ids["b"]: "b"}
    assert lang.roots == [(False, False, [ids["sil"]]), (True, True, [ids["aa"]]), (True, True, [ids["b"]])]
    assert lang.sets == [[ids["sil"]], [ids["aa"]], [ids["b"]]] and lang.extra_questions == []
    assert lang.optional_silence_id == ids["sil"] and lang.oov_word == "sil"
