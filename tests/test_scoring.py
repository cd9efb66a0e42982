"""sclite scoring of a decode dir: the basic scoring agrees with kaldialign's sclite-mode edit distance, Kaldi's
TIMIT scoring makes the reference silence optional; each LM weight scores its own hypotheses; the weight is
chosen on dev and test is reported at it; the best lines are read by Kaldi's utils/best_wer.sh."""

from __future__ import annotations

import random
import subprocess
import sys

import kaldialign

from asrser.corpora.timit import PHONES48
from asrser.phones import read_phone_map
from asrser.scoring import best_wer_line, collect_results, decode_error_rates, map_phones, score_decode
from helpers import STEPS, TIMIT_PHONE_MAP, run_step, score_deletions

FOLD_48_TO_39 = read_phone_map(TIMIT_PHONE_MAP, 2, 3)


def _corrupt(phones, rng):
    out = []
    for p in phones:
        r = rng.random()
        if r < 0.1:
            continue                                  # deletion
        out.append(rng.choice(PHONES48) if r < 0.25 else p)
        if rng.random() < 0.05:
            out.append(rng.choice(PHONES48))          # insertion
    return out


def test_basic_sclite_counts_equal_kaldialign(tmp_path):
    rng = random.Random(0)
    refs = {f"spk{i % 3}_utt{i}": [rng.choice(PHONES48) for _ in range(rng.randint(5, 30))] for i in range(25)}
    (tmp_path / "text").write_text("".join(f"{u} {' '.join(p)}\n" for u, p in sorted(refs.items())))
    hyp_dir = tmp_path / "decode" / "hyp"
    hyp_dir.mkdir(parents=True)
    hyps = {}
    for lmwt, noise_seed in [(2, 1), (5, 2)]:
        hyps[lmwt] = {u: _corrupt(p, random.Random(noise_seed * 1000 + i)) for i, (u, p) in enumerate(refs.items())}
        if lmwt == 5:
            hyps[lmwt] = {u: p for u, p in refs.items()}   # weight 5 is perfect: must win
        (hyp_dir / f"{lmwt}.1.txt").write_text("".join(f"{u} {' '.join(p)}\n" for u, p in hyps[lmwt].items()))
    best = score_decode(tmp_path / "decode", tmp_path / "text", dict(FOLD_48_TO_39))
    assert best.lmwt == 5 and best.errors == 0
    table = (tmp_path / "decode" / "scoring" / "per_by_lmwt_basic").read_text().splitlines()[1:]
    lmwt2 = dict(zip(["lmwt", "per", "ref", "sub", "del", "ins"], table[0].split()))
    expected = dict(ins=0, dels=0, sub=0, ref=0)
    for u, ref in refs.items():
        r = map_phones(ref, FOLD_48_TO_39, frozenset())
        h = map_phones(hyps[2][u], FOLD_48_TO_39, frozenset())
        d = kaldialign.edit_distance(r, h, sclite_mode=True)
        expected["ins"] += d["ins"]
        expected["dels"] += d["del"]
        expected["sub"] += d["sub"]
        expected["ref"] += len(r)
    assert int(lmwt2["ref"]) == expected["ref"]
    assert (int(lmwt2["sub"]), int(lmwt2["del"]), int(lmwt2["ins"])) == \
        (expected["sub"], expected["dels"], expected["ins"])
    assert (tmp_path / "decode" / "scoring" / "best_per_basic").read_text().startswith("%WER 0.00")
    assert (tmp_path / "decode" / "scoring" / "score_basic_2" / "39phn.pra").exists()
    assert (tmp_path / "decode" / "wer_2").read_text().startswith(f"%WER {lmwt2['per']} [ ")


def _best_wer(lines: list[str]) -> str:
    """Kaldi's utils/best_wer.sh: the line with the lowest [WS]ER figure ('%' read as a blank)."""
    import re

    best = None
    for line in lines:
        m = re.search(r"[WS]ER (\S+)", re.sub(r"\|(\d)", r"| \1", line).replace("%", " "))
        if m and (best is None or float(m.group(1)) < best[0]):
            best = (float(m.group(1)), line)
    assert best is not None, f"best_wer.sh finds no [WS]ER figure in {lines}"
    return best[1]


def test_kaldi_timit_scoring_makes_the_reference_silence_optional(tmp_path):
    """score_sclite.sh: a hypothesis without the reference's silences has no error, one with an inserted
    silence has one; score_basic.sh counts each missing silence as a deletion. best_wer.sh reads both."""
    (tmp_path / "text").write_text("spk_u1 sil aa b sil k sil\n")
    (tmp_path / "decode" / "hyp").mkdir(parents=True)
    (tmp_path / "decode" / "hyp" / "1.1.txt").write_text("spk_u1 aa b k\n")
    (tmp_path / "decode" / "hyp" / "2.1.txt").write_text("spk_u1 sil aa sil b sil k sil\n")
    best = score_decode(tmp_path / "decode", tmp_path / "text", dict(FOLD_48_TO_39))
    assert (best.lmwt, best.errors, best.ref_words) == (1.0, 0, 6)
    rates = {r[0]: r[1:] for r in (line.split() for line in
                                   (tmp_path / "decode/scoring/per_by_lmwt").read_text().splitlines()[1:])}
    basic = {r[0]: r[1:] for r in (line.split() for line in
                                   (tmp_path / "decode/scoring/per_by_lmwt_basic").read_text().splitlines()[1:])}
    assert rates["1"][:5] == ["0.00", "6", "0", "0", "0"] and rates["2"][:5] == ["16.67", "6", "0", "0", "1"]
    assert basic["1"][:5] == ["50.00", "6", "0", "3", "0"] and basic["2"][:5] == ["16.67", "6", "0", "0", "1"]
    assert (tmp_path / "decode/score_1/ctm_39phn.sys").exists()
    for name, figure in (("best_per", "0.00"), ("best_per_basic", "16.67")):
        line = (tmp_path / "decode/scoring" / name).read_text().strip()
        assert _best_wer([line]).startswith(f"%WER {figure} ")
    assert _best_wer([(tmp_path / f"decode/wer_{w}").read_text() for w in (1, 2)]).startswith("%WER 16.67")


def _write_text(path, transcripts):
    path.write_text("".join(f"{u} {' '.join(p)}\n" for u, p in sorted(transcripts.items())))


def _expected_counts(refs, hyps):
    total = dict(ref=0, sub=0, dels=0, ins=0)
    for u, ref in refs.items():
        r = map_phones(ref, FOLD_48_TO_39, frozenset())
        d = kaldialign.edit_distance(r, map_phones(hyps[u], FOLD_48_TO_39, frozenset()), sclite_mode=True)
        total["ref"] += len(r)
        total["sub"], total["dels"], total["ins"] = total["sub"] + d["sub"], total["dels"] + d["del"], \
            total["ins"] + d["ins"]
    return total


def test_weights_sharing_a_prefix_score_their_own_hypotheses(tmp_path):
    """hyp/1.<job>.txt, hyp/1.5.<job>.txt and hyp/10.<job>.txt are three weights: weight 1 must not read
    1.5's files (a glob on "1.*" does), and the per-weight counts are each weight's own."""
    rng = random.Random(1)
    refs = {f"spk{i % 4}_utt{i}": [rng.choice(PHONES48) for _ in range(rng.randint(8, 25))] for i in range(20)}
    _write_text(tmp_path / "text", refs)
    hyp_dir = tmp_path / "decode" / "hyp"
    hyp_dir.mkdir(parents=True)
    noise = {1.0: 0.3, 1.5: 0.0, 10.0: 0.6}          # weight 1.5 is perfect, 1 noisy, 10 noisier
    hyps = {}
    for w, level in noise.items():
        r = random.Random(int(w * 10))
        hyps[w] = {u: [q for q in p if r.random() >= level] for u, p in refs.items()}   # deletions only
        utts = sorted(refs)
        for job, part in ((1, utts[:10]), (2, utts[10:])):
            _write_text(hyp_dir / f"{w:g}.{job}.txt", {u: hyps[w][u] for u in part})
    best = score_decode(tmp_path / "decode", tmp_path / "text", dict(FOLD_48_TO_39))
    assert best.lmwt == 1.5 and best.errors == 0
    table = [line.split() for line in (tmp_path / "decode/scoring/per_by_lmwt_basic").read_text().splitlines()[1:]]
    assert [float(row[0]) for row in table] == [1.0, 1.5, 10.0]
    for row in table:
        expected = _expected_counts(refs, hyps[float(row[0])])
        assert [int(x) for x in row[2:6]] == [expected[k] for k in ("ref", "sub", "dels", "ins")], row
    assert table[0][1] != table[1][1]                 # weight 1 is not weight 1.5's score


def test_every_set_is_reported_at_the_lm_weight_chosen_on_dev(tmp_path):
    """dev's best weight (2) is the weight of every set of the system; test's own best (5) is only the oracle
    column, and best_per keeps Kaldi's best_wer line of each set's own best."""
    system = tmp_path / "exp" / "tri1"
    score_deletions(system / "decode_dev", {1: 9, 2: 7, 5: 8})
    score_deletions(system / "decode_test", {1: 8, 2: 6, 5: 4})
    rates = decode_error_rates(system / "decode_test")
    assert rates["per"] == 6.0                        # test at dev's weight 2, not at its own best
    assert (rates["lmwt"], rates["per_oracle"], rates["lmwt_oracle"]) == (2.0, 4.0, 5.0)
    assert decode_error_rates(system / "decode_dev")["per"] == 7.0
    assert (system / "decode_test/scoring/best_per").read_text().startswith(
        "%WER 4.00 [ 4 / 100, 0 ins, 4 del, 0 sub ] ")
    printed = run_step("collect_results.py", "--title", "t", tmp_path / "exp", tmp_path / "RESULTS.md").stdout
    assert (f"{system / 'decode_test'}: PER 6.00 at LM weight 2 (chosen on dev), basic scoring (silence a phone) "
            "6.00; oracle %WER 4.00 [ 4 / 100, 0 ins, 4 del, 0 sub ] ") in printed
    lines = (tmp_path / "RESULTS.md").read_text().splitlines()
    assert "| tri1 | dev | 7.00 | 7 / 100 | 0 | 7 | 0 | 2 | 7.00 | 2 | 7.00 | 2 | 7.00 | 1 | - |" in lines
    assert "| tri1 | test | 6.00 | 6 / 100 | 0 | 6 | 0 | 2 | 4.00 | 5 | 6.00 | 2 | 4.00 | 1 | - |" in lines

    from asrser.scoring import set_per
    per = set_per(system / "decode_test")
    assert per.tuned.lmwt == 2.0 and per.oracle.lmwt == 5.0 and per.tuning_dir == system / "decode_dev"
    # a weight dev chose that test did not score: no tuned figure, and RESULTS.md says so
    other = tmp_path / "exp" / "mono"
    score_deletions(other / "decode_dev", {3: 1, 4: 2})
    score_deletions(other / "decode_test", {4: 2})
    assert set_per(other / "decode_test").tuned is None and "per" not in decode_error_rates(other / "decode_test")
    collect_results(tmp_path / "exp", tmp_path / "RESULTS.md", "t")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| mono | test | - | - | - | - | - | - | 2.00 | 4 | - | - | 2.00 | 1 | - |" in text
    assert "mono/decode_test: no PER at a dev-chosen LM weight" in text


def test_position_dependent_phones_are_scored_as_their_base_phones():
    # a lang of word-position-dependent phones decodes aa_B ... ix_E; the 48 -> 39 map names base phones
    assert map_phones(["sil", "aa_B", "ix_E", "cl_S", "ao_I"], FOLD_48_TO_39, frozenset({"sil"})) == \
        ["aa", "ih", "aa"]
    assert map_phones(["A_B"], None, frozenset()) == ["A_B"]      # words (no phone map) stay as they are


# -- word scoring (Kaldi's steps/score_kaldi.sh) ---------------------------------------------------------------------
WORD_REFS = {"spk1_u1": "the cat sat on the mat", "spk1_u2": "a dog ran", "spk2_u3": "hello world"}   # 11 words
WORD_HYPS = {
    7: {"spk1_u1": "the cat sat on mat", "spk1_u2": "a big dog ran", "spk2_u3": "hello word"},  # 1 del 1 ins 1 sub
    8: {"spk1_u1": "the cat sat on the mat", "spk1_u2": "a dog", "spk2_u3": "hello word"},      # 1 del 1 sub
    9: {"spk1_u1": "the cat sat on the mat", "spk1_u2": "a dog ran", "spk2_u3": "yellow word"},  # 2 sub
}


def _word_decode(tmp_path):
    (tmp_path / "text").write_text("".join(f"{u} {t}\n" for u, t in WORD_REFS.items()))
    hyp_dir = tmp_path / "decode" / "hyp"
    hyp_dir.mkdir(parents=True)
    for lmwt, hyps in WORD_HYPS.items():
        (hyp_dir / f"{lmwt}.1.txt").write_text("".join(f"{u} {t}\n" for u, t in hyps.items()))
    return tmp_path / "decode"


def test_word_scoring_writes_kaldis_layout(tmp_path):
    decode = _word_decode(tmp_path)
    best = score_decode(decode, tmp_path / "text", unit="word")
    # by hand: weight 7 has 3 errors of 11 words (27.27%), 8 and 9 have 2 (18.18%): the first of equals wins
    assert (decode / "wer_7_0.0").read_text() == (
        "%WER 27.27 [ 3 / 11, 1 ins, 1 del, 1 sub ]\n%SER 100.00\nScored 3 sentences, 0 not present in hyp.\n")
    assert (decode / "wer_9_0.0").read_text().startswith("%WER 18.18 [ 2 / 11, 0 ins, 0 del, 2 sub ]\n%SER 33.33\n")
    assert (decode / "scoring_kaldi" / "best_wer").read_text() == \
        f"%WER 18.18 [ 2 / 11, 0 ins, 1 del, 1 sub ] {decode}/wer_8_0.0\n"
    assert (best.lmwt, best.errors, best.ref_words) == (8, 2, 11)
    kaldi = decode / "scoring_kaldi"
    assert (kaldi / "wer_details" / "lmwt").read_text() == "8\n"
    assert (kaldi / "wer_details" / "wip").read_text() == "0.0\n"
    assert (kaldi / "test_filt.txt").read_text() == (tmp_path / "text").read_text()
    assert (kaldi / "penalty_0.0" / "9.txt").read_text().splitlines()[2] == "spk2_u3 yellow word"
    assert (kaldi / "penalty_0.0" / "score_9" / "wer.pra").exists()      # sclite's own reports
    assert not (decode / "scoring" / "per_by_lmwt").exists()              # no PER for a word task
    proc = run_step("best_wer.py", *sorted(decode.glob("wer_*")))
    assert proc.stdout == (kaldi / "best_wer").read_text()
    grep = "".join(f"{p}:{p.read_text().splitlines()[0]}\n" for p in sorted(decode.glob("wer_*")))
    piped = subprocess.run([sys.executable, str(STEPS / "best_wer.py")], input=grep, capture_output=True, text=True)
    assert piped.stdout == proc.stdout


def test_best_wer_line_as_kaldis_best_wer_sh():
    lines = ["exp/a/wer_10_0.0:%WER 12.50 [ 5 / 40, 1 ins, 2 del, 2 sub ]",
             "exp/a/wer_11_0.0:%WER 10.00 [ 4 / 40, 1 ins, 1 del, 2 sub ]",
             "exp/a/wer_12_0.5:%WER 10.00 [ 4 / 40, 0 ins, 2 del, 2 sub ]"]
    assert best_wer_line(lines) == "%WER 10.00 [ 4 / 40, 1 ins, 1 del, 2 sub ] exp/a/wer_11_0.0"


def test_word_insertion_penalty_on_lattices(tmp_path):
    """lattice-add-penalty: two words at graph cost 1.0 against one at 1.6; the penalty 1.0 turns the choice."""
    from asrser.kaldi_format.lattice import CompactLattice, write_lattices
    from asrser.lang import write_symbol_table

    decode = tmp_path / "decode"
    decode.mkdir()
    write_symbol_table(tmp_path / "words.txt", ["<eps>", "w1", "w2", "w3"])
    lattice = CompactLattice(0, [[(1, 1, 1.0, 2.5, (1,)), (3, 2, 1.6, 5.0, (1,))], [(2, 2, 0.0, 2.5, (1,))], []],
                             [None, None, (0.0, 0.0, ())])
    write_lattices(decode / "lat.1.gz", [("spk_u1", lattice)])
    (decode / "num_jobs").write_text("1\n")
    (tmp_path / "text").write_text("spk_u1 w1 w2\n")
    score_decode(decode, tmp_path / "text", words_txt=tmp_path / "words.txt", lm_weights=[1.0], unit="word")
    penalties = {wip: (decode / "scoring_kaldi" / f"penalty_{wip}" / "1.txt").read_text() for wip in
                 ("0.0", "0.5", "1.0")}
    assert penalties == {"0.0": "spk_u1 w1 w2\n", "0.5": "spk_u1 w1 w2\n", "1.0": "spk_u1 w3\n"}
    assert (decode / "wer_1_1.0").read_text().startswith("%WER 100.00 [ 2 / 2, 0 ins, 1 del, 1 sub ]")
    assert (decode / "scoring_kaldi" / "best_wer").read_text() == f"%WER 0.00 [ 0 / 2, 0 ins, 0 del, 0 sub ] " \
                                                                    f"{decode}/wer_1_0.0\n"


def test_scoring_unit_default(tmp_path):
    from asrser.lang import write_symbol_table
    from asrser.scoring import scoring_unit

    write_symbol_table(tmp_path / "phones.txt", ["<eps>", "sil", "aa", "b", "#0"])
    write_symbol_table(tmp_path / "words.txt", ["<eps>", "sil", "aa", "b", "#0", "<s>", "</s>"])
    assert scoring_unit(None, None, tmp_path) == "phone"                 # phone-as-word (TIMIT)
    write_symbol_table(tmp_path / "words.txt", ["<eps>", "<UNK>", "ab", "ba", "#0", "<s>", "</s>"])
    assert scoring_unit(None, None, tmp_path) == "word"
    assert scoring_unit(None, {"aa": "aa"}, tmp_path) == "phone"         # a phone map: phones
    assert scoring_unit("phone", None, tmp_path) == "phone"


def test_word_decodes_are_collected_at_the_weight_and_penalty_chosen_on_dev(tmp_path):
    """RESULTS.md of a word task: dev picks weight 8 (2 errors, the first of the tied 8 and 9); test is reported
    there (by hand: its weight-8 hypotheses have 1 error in 11 words) though its own best is weight 9 (0)."""
    for name, hyps in (("dev", WORD_HYPS),
                       ("test", {7: WORD_HYPS[7], 8: {**WORD_HYPS[8], "spk2_u3": "hello world"},
                                 9: {**WORD_HYPS[9], "spk2_u3": "hello world"}})):
        case = tmp_path / name
        case.mkdir()
        (case / "text").write_text("".join(f"{u} {t}\n" for u, t in WORD_REFS.items()))
        hyp_dir = tmp_path / "exp/tri3" / f"decode_{name}" / "hyp"
        hyp_dir.mkdir(parents=True)
        for lmwt, by_utt in hyps.items():
            (hyp_dir / f"{lmwt}.1.txt").write_text("".join(f"{u} {t}\n" for u, t in by_utt.items()))
        score_decode(hyp_dir.parent, case / "text", unit="word")
    rows = collect_results(tmp_path / "exp", tmp_path / "RESULTS.md", "words")
    text = (tmp_path / "RESULTS.md").read_text()
    assert [(r["set"], r["wer"].tuned.lmwt, r["wer"].tuned.errors, r["wer"].oracle.errors) for r in rows] == \
        [("dev", 8, 2, 2), ("test", 8, 1, 0)]
    assert "| tri3 | dev | 18.18 | 2 / 11 | 0 | 1 | 1 | 8, 0 |" in text
    test_row = next(line for line in text.splitlines() if line.startswith("| tri3 | test |"))
    assert test_row.startswith("| tri3 | test | 9.09 | 1 / 11 | 0 | 1 | 0 | 8, 0 | 0.00 |"), test_row
    assert "Phone error rate" not in text and (tmp_path / "RESULTS_wer.png").exists()


def test_an_sat_systems_first_pass_is_tuned_on_the_first_pass_of_dev(tmp_path):
    """decode_<set>.si (decode_fmllr's speaker-independent pass) takes its LM weight from decode_dev.si, not
    from the adapted decode_dev."""
    from asrser.scoring import set_per

    system = tmp_path / "exp" / "tri3"
    score_deletions(system / "decode_dev", {2: 5, 5: 7})
    score_deletions(system / "decode_dev.si", {2: 9, 5: 8})
    score_deletions(system / "decode_test.si", {2: 6, 5: 7})
    per = set_per(system / "decode_test.si")
    assert per.tuning_dir == system / "decode_dev.si" and per.tuned.lmwt == 5.0 and per.tuned.error_rate == 7.0
    assert set_per(system / "decode_dev").tuned.lmwt == 2.0
    collect_results(tmp_path / "exp", tmp_path / "RESULTS.md", "t")
    assert "| tri3 | test.si | 7.00 | 7 / 100 |" in (tmp_path / "RESULTS.md").read_text()


def test_the_seed_spread_reads_every_run_at_its_own_dev_chosen_weight(tmp_path):
    """Each run's figure is its own dev-chosen weight's (not the test set's best, not another run's weight); the
    spread is the sample standard deviation; a run that lacks a system is named."""
    import pytest

    from asrser.errors import DataError
    from asrser.scoring import seed_spread

    # run a: dev chooses weight 2 (test 6); run b: dev chooses 5 (test 8, not its best 3); first pass of tri3
    for run, dev, test in (("a", {2: 5, 5: 7}, {2: 6, 5: 9}), ("b", {2: 9, 5: 4}, {2: 3, 5: 8})):
        for name in ("decode_dev", "decode_dev.si"):
            score_deletions(tmp_path / run / "exp" / "tri3" / name, dev)
        for name in ("decode_test", "decode_test.si"):
            score_deletions(tmp_path / run / "exp" / "tri3" / name, test)
    score_deletions(tmp_path / "a" / "exp" / "mono" / "decode_dev", {1: 20})
    out, plot = tmp_path / "spread.md", tmp_path / "spread.png"
    rows = seed_spread([tmp_path / "a" / "exp", tmp_path / "b" / "exp"], out=out, plot=plot)
    assert [(r["system"], r["set"]) for r in rows] == [("tri3", "dev"), ("tri3", "test"), ("tri3.si", "dev"),
                                                        ("tri3.si", "test")]      # mono is not in run b
    test = rows[1]
    assert test["runs"] == [6.0, 8.0] and test["lmwts"] == [2.0, 5.0]
    assert test["per"] == 7.0 and abs(test["sd"] - 2 ** 0.5) < 1e-12
    lines = out.read_text().splitlines()
    assert lines[0] == ("| system | dev, mean ± sd | test, mean ± sd | dev, a / b | test, a / b | "
                        "LM weight (from dev), a / b |")
    assert "| tri3 | 4.50 ± 0.71 | 7.00 ± 1.41 | 5.00 / 4.00 | 6.00 / 8.00 | 2 / 5 |" in lines
    assert plot.stat().st_size > 0
    with pytest.raises(DataError, match="b/exp/mono/decode_dev"):
        seed_spread([tmp_path / "a" / "exp", tmp_path / "b" / "exp"], systems=["mono"], sets=["dev"])
    printed = run_step("seed_spread.py", "--labels", "0 1", "--systems", "tri3", tmp_path / "a" / "exp",
                       tmp_path / "b" / "exp", out).stdout
    assert "tri3 test: PER 7.00 ± 1.41 (6.00, 8.00; LM weights 2, 5)" in printed
    assert "| dev, 0 / 1 |" in out.read_text()


def test_silence_only_is_scored_as_a_decode(tmp_path):
    """Every phone but the (optional) silences is a deletion; sclite counts the reference's optional silences
    (TIMIT's closures among them) as words, so silence alone scores below 100%."""
    from asrser.scoring import score_silence_only

    (tmp_path / "text").write_text("spk_u1 sil dh ah sil k ae sil t sil\nspk_u2 sil iy sil\n")
    result = score_silence_only(tmp_path / "text", tmp_path / "silence", dict(FOLD_48_TO_39))
    assert (tmp_path / "silence/hyp/1.1.txt").read_text() == "spk_u1 sil\nspk_u2 sil\n"
    assert (result.deletions, result.insertions, result.substitutions) == (6, 0, 0)
    assert result.errors == 6 and result.ref_words == 12
    assert decode_error_rates(tmp_path / "silence")["per_oracle"] == 50.0
    basic = (tmp_path / "silence/scoring/per_by_lmwt_basic").read_text().splitlines()[1].split()
    assert basic[:6] == ["1", "83.33", "12", "0", "10", "0"]    # silence a phone: one per utterance matched
