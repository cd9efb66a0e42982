"""Phone sets and maps come from files (Kaldi's conf/phones.60-48-39.map format): TIMIT's file keeps the
standard folding, a user's own corpus brings its own file, and the generic programs read whichever they are
given."""

from __future__ import annotations

import pytest

from asrser.corpora.timit import CONF_DIR, CORE_TEST_SPEAKERS, DEV_SPEAKERS, PHONE_MAP
from asrser.errors import AsrserError, DataError
from asrser.fileio import read_key_value
from asrser.phones import read_phone_map, read_phone_set, read_scoring_map, scoring_name
from helpers import REPO, TIMIT_PHONE_MAP, run_step

# Lee & Hon (1989), as in Kaldi's egs/timit/s5: the labels that 61 -> 48 and 48 -> 39 change (all others keep
# their name); the glottal stop q is deleted.
CHANGED_61_TO_48 = {"q": None, "h#": "sil", "pau": "sil", "pcl": "cl", "tcl": "cl", "kcl": "cl", "bcl": "vcl",
                    "dcl": "vcl", "gcl": "vcl", "ax-h": "ax", "axr": "er", "em": "m", "eng": "ng", "hv": "hh",
                    "nx": "n", "ux": "uw"}
CHANGED_48_TO_39 = {"ao": "aa", "ax": "ah", "ix": "ih", "el": "l", "en": "n", "zh": "sh", "cl": "sil",
                    "vcl": "sil", "epi": "sil"}


def test_timits_map_keeps_the_standard_folding():
    fold_61 = read_phone_map(PHONE_MAP, 1, 2)
    fold_48 = read_phone_map(PHONE_MAP, 2, 3)
    assert len(fold_61) == 61 and {k: v for k, v in fold_61.items() if v != k} == CHANGED_61_TO_48
    assert read_phone_set(PHONE_MAP, 2) == sorted(fold_48) and len(fold_48) == 48
    assert {k: v for k, v in fold_48.items() if v != k} == CHANGED_48_TO_39
    assert len(read_phone_set(PHONE_MAP, 3)) == 39 and scoring_name(fold_48) == "39phn"
    assert PHONE_MAP.read_text().splitlines()[:2] == ["aa\taa\taa", "ae\tae\tae"]   # Kaldi's file, tab-separated


def test_the_recipe_conf_is_the_librarys_copy():
    """conf/timit (what the recipe passes to the generic programs) is the package data that the TIMIT reader
    and the mini-TIMIT generator read: one copy."""
    assert TIMIT_PHONE_MAP.resolve() == PHONE_MAP.resolve()
    assert (REPO / "egs/timit/s5/conf/timit").resolve() == CONF_DIR.resolve()
    assert len(DEV_SPEAKERS) == 50 and len(CORE_TEST_SPEAKERS) == 24 and not set(DEV_SPEAKERS) & set(CORE_TEST_SPEAKERS)
    assert CORE_TEST_SPEAKERS[:3] == ["mdab0", "mwbt0", "felc0"]             # dialect region 1 first


def test_a_users_own_map_and_phone_list(tmp_path):
    two = tmp_path / "phones.map"
    two.write_text("a a\nb a\nc\nd d\n")
    assert read_phone_map(two) == {"a": "a", "b": "a", "c": None, "d": "d"}
    assert read_phone_set(two, 2) == ["a", "d"] and scoring_name(read_phone_map(two)) == "2phn"
    plain = tmp_path / "phones.txt"
    plain.write_text("sil\naa\nbb\n")
    assert read_phone_set(plain) == ["aa", "bb", "sil"]
    assert read_scoring_map(None) is None and scoring_name(None) == "phn"


def test_bad_maps_and_columns_are_named(tmp_path):
    bad = tmp_path / "bad.map"
    bad.write_text("a x\nb y\na z\n")
    with pytest.raises(DataError, match=r"bad\.map:3: 'a' maps to 'z' here but to 'x' on line 1"):
        read_phone_map(bad)
    with pytest.raises(DataError, match=r"phones\.60-48-39\.map: no phone in column 4"):
        read_phone_map(PHONE_MAP, 3, 4)
    with pytest.raises(DataError, match="no phone in column 4"):
        read_phone_set(PHONE_MAP, 4)
    with pytest.raises(AsrserError, match=r"--phone-map-columns must be FROM,TO \(e\.g\. 2,3\), got '48:39'"):
        read_scoring_map(PHONE_MAP, "48:39")
    with pytest.raises(DataError, match=r"nothing\.map: file does not exist"):
        read_phone_map(tmp_path / "nothing.map")


def test_prepare_lang_takes_a_phone_set_from_a_file(tmp_path):
    run_step("prepare_lang.py", "--phone-set", TIMIT_PHONE_MAP, "--phone-set-column", "2", tmp_path / "lang")
    phones = [p for p in read_key_value(tmp_path / "lang/phones.txt") if not p.startswith(("<", "#"))]
    assert phones[0] == "sil" and sorted(phones) == read_phone_set(PHONE_MAP, 2)
    own = tmp_path / "own.txt"
    own.write_text("sil\nx\ny\n")
    run_step("prepare_lang.py", "--phone-set", own, tmp_path / "own_lang")
    assert [p for p in read_key_value(tmp_path / "own_lang/phones.txt")][:4] == ["<eps>", "sil", "x", "y"]
    proc = run_step("prepare_lang.py", "--phone-set", own, "--silence", "pau", tmp_path / "bad", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == (
        "ERROR (prepare_lang.py): silence phone 'pau' is not in the phone set")
