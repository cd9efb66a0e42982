"""Kaldi dict dirs read and checked as utils/validate_dict_dir.pl does: each problem named by file and line."""

from __future__ import annotations

import pytest

from asrser.dict_dir import read_dict_dir
from asrser.errors import DataError
from asrser.lang import prepare_lang
from dict_dirs import LEXICONP, write_dict_dir


def test_reads_phone_lines_lexicon_and_questions(tmp_path):
    d = read_dict_dir(write_dict_dir(tmp_path / "dict"))
    assert d.silence == [["SIL"], ["SPN"]] and d.nonsilence[0] == ["AH0", "AH1"] and d.optional_silence == "SIL"
    assert d.lexicon_path.name == "lexiconp.txt" and len(d.lexicon) == len(LEXICONP.splitlines())
    assert [(p.word, p.prob, p.phones) for p in d.lexicon if p.word == "THE"] == [
        ("THE", 1.0, ["DH", "AH0"]), ("THE", 0.4, ["DH", "IY1"])]
    assert len(d.words) == 20 and d.extra_questions == [["AH0"], ["AH1"]]


@pytest.mark.parametrize("change, message", [
    (("lexiconp.txt", "DOG 1.0 D AO1 G", "DOG 1.0 D AO1 GG"),
     r"lexiconp\.txt:11: phone 'GG' of 'DOG' is in neither silence_phones\.txt nor nonsilence_phones\.txt"),
    (("lexiconp.txt", "THE 0.4 DH IY1", "THE 0.4x DH IY1"),
     r"lexiconp\.txt:13: pronunciation probability '0\.4x' of 'THE' is not in \(0, 1\]"),
    (("lexiconp.txt", "THE 0.4 DH IY1", "THE 1.5 DH IY1"),
     r"lexiconp\.txt:13: pronunciation probability '1\.5' of 'THE' is not in \(0, 1\]"),
    (("nonsilence_phones.txt", "AO1\n", "AO1 SPN\n"),
     r"nonsilence_phones\.txt:3: phone 'SPN' is listed twice \(also at silence_phones\.txt:2\)"),
    (("nonsilence_phones.txt", "AO1\n", "AO1\nB\n"),
     r"nonsilence_phones\.txt:5: phone 'B' is listed twice \(also at nonsilence_phones\.txt:4\)"),
    (("nonsilence_phones.txt", "AO1\n", "AO1_B\n"), r"nonsilence_phones\.txt:3: phone 'AO1_B' has a reserved form"),
    (("lexiconp.txt", "IS 1.0", "#0 1.0"), r"lexiconp\.txt:17: the word '#0' is reserved"),
    (("lexiconp.txt", "IS 1.0", "<s> 1.0"), r"lexiconp\.txt:17: the word '<s>' is reserved"),
    (("lexiconp.txt", "IS 1.0", "</s> 1.0"), r"lexiconp\.txt:17: the word '</s>' is reserved"),
    (("lexiconp.txt", "IS 1.0", "<eps> 1.0"), r"lexiconp\.txt:17: the word '<eps>' is reserved"),
    (("lexiconp.txt", "IS 1.0 IH1 Z", "IS 1.0"), r"lexiconp\.txt:17: expected at least 3 fields, found 2"),
    (("lexiconp.txt", "ON 1.0 AO1 N\n", "ON 1.0 AO1 N\nON 1.0 AO1 N\n"), r"lexiconp\.txt:19: repeats line 18"),
    (("optional_silence.txt", "SIL", "AH0"), r"optional_silence\.txt:1: phone 'AH0' is not in silence_phones"),
])
def test_bad_dict_dir_is_named_by_file_and_line(tmp_path, change, message):
    d = write_dict_dir(tmp_path / "dict")
    name, old, new = change
    text = (d / name).read_text()
    assert old in text
    (d / name).write_text(text.replace(old, new, 1))
    with pytest.raises(DataError, match=message):
        read_dict_dir(d)
    with pytest.raises(DataError, match=message):      # and no lang dir is left behind
        prepare_lang(d, tmp_path / "lang", "<UNK>")
    assert not (tmp_path / "lang").exists() and not list(tmp_path.glob(".lang*"))


def test_empty_or_missing_dict_files_are_named(tmp_path):
    d = write_dict_dir(tmp_path / "dict", lexiconp="")
    with pytest.raises(DataError, match=r"lexiconp\.txt: the lexicon is empty"):
        read_dict_dir(d)
    (d / "lexiconp.txt").unlink()
    with pytest.raises(DataError, match=r"dict: has neither lexicon\.txt nor lexiconp\.txt"):
        read_dict_dir(d)
    (d / "silence_phones.txt").unlink()
    with pytest.raises(DataError, match=r"silence_phones\.txt: missing from the dict dir"):
        read_dict_dir(d)
