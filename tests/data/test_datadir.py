"""Data-dir validation (every error names its file and line), split, subset, combine, fix."""

from pathlib import Path

import pytest

from asrser.data import (DataDir, check_data_dir, combine_data_dirs, fix_data_dir, split_data_dir,
                         subset_data_dir, validate_data_dir)
from asrser.errors import AsrserError, DataError
from helpers import run_step


def test_valid_dir_has_no_issues(data_dir):
    assert validate_data_dir(data_dir) == []


def edit(path: Path, old: str, new: str):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def append(path: Path, line: str):
    with open(path, "a") as f:
        f.write(line)


# (description, mutation, expected file, expected line or None, expected message fragment)
CASES = [
    ("missing utt2spk", lambda d: (d / "utt2spk").unlink(), "utt2spk", None, "required file is missing"),
    ("missing spk2utt", lambda d: (d / "spk2utt").unlink(), "spk2utt", None, "required file is missing"),
    ("missing text", lambda d: (d / "text").unlink(), "text", None, "required file is missing"),
    ("unsorted", lambda d: (d / "text").write_text("".join(sorted((d / "text").read_text().splitlines(True),
                                                                  reverse=True))),
     "text", 2, "not sorted"),
    ("duplicate key", lambda d: edit(d / "utt2spk", "spkA_u1 spkA", "spkA_u0 spkA"),
     "utt2spk", 2, "duplicate key 'spkA_u0' (first on line 1)"),
    ("wrong field count", lambda d: edit(d / "utt2spk", "spkB_u0 spkB", "spkB_u0 spkB extra"),
     "utt2spk", 3, "expected 2 fields, found 3"),
    ("utterance not speaker-prefixed", lambda d: (edit(d / "utt2spk", "spkA_u1 spkA", "spkA_u1 spkC"),
                                                   edit(d / "spk2utt", "spkA spkA_u0 spkA_u1", "spkA spkA_u0"),
                                                   edit(d / "spk2utt", "spkC spkC_u0 spkC_u1",
                                                        "spkC spkA_u1 spkC_u0 spkC_u1")),
     "utt2spk", 2, "out of order when sorted by speaker"),
    ("spk2utt disagrees", lambda d: edit(d / "spk2utt", "spkB spkB_u0 spkB_u1", "spkB spkB_u0"),
     "spk2utt", 2, "disagree with utt2spk"),
    ("text has unknown utterance", lambda d: append(d / "text", "spkZ_u9 a b\n"),
     "text", 7, "utterance 'spkZ_u9' is not in utt2spk"),
    ("text lacks an utterance", lambda d: edit(d / "text", "spkC_u1 sil a b sil\n", ""),
     "text", None, "1 utterances of utt2spk are missing here: spkC_u1"),
    ("empty transcript", lambda d: edit(d / "text", "spkB_u1 sil a b sil", "spkB_u1"),
     "text", 4, "empty transcript"),
    ("empty line", lambda d: edit(d / "wav.scp", "spkB_u0", "\nspkB_u0"), "wav.scp", 3, "empty line"),
    ("wav.scp lacks an utterance", lambda d: (d / "wav.scp").write_text(
        "".join((d / "wav.scp").read_text().splitlines(True)[:-1])),
     "wav.scp", None, "missing here: spkC_u1"),
    ("feats.scp extra utterance", lambda d: (d / "feats.scp").write_text(
        "".join(f"{u} x.ark:{i}\n" for i, u in enumerate(DataDir(d).utts + ["spkD_u0"]))),
     "feats.scp", 7, "utterance 'spkD_u0' is not in utt2spk"),
    ("cmvn.scp unknown speaker", lambda d: (d / "cmvn.scp").write_text(
        "spkA c.ark:1\nspkB c.ark:2\nspkC c.ark:3\nspkX c.ark:4\n"), "cmvn.scp", 4, "speaker 'spkX'"),
    ("bad gender", lambda d: (d / "spk2gender").write_text("spkA m\nspkB x\nspkC f\n"),
     "spk2gender", 2, "gender must be m or f"),
    ("segments refer to unknown recording", lambda d: (d / "segments").write_text(
        "".join(f"{u} {u if i else 'nowhere'} 0.0 0.5\n" for i, u in enumerate(DataDir(d).utts))),
     "segments", 1, "recording 'nowhere' is not in wav.scp"),
    ("utt2dur not positive", lambda d: (d / "utt2dur").write_text(
        "".join(f"{u} {-1 if i == 2 else 1.0}\n" for i, u in enumerate(DataDir(d).utts))),
     "utt2dur", None, "'spkB_u0': value '-1' is not a positive number"),
    ("extra utt2 table", lambda d: (d / "utt2emo").write_text("spkA_u0 ang\n"),
     "utt2emo", None, "5 utterances of utt2spk are missing here"),
    ("text not UTF-8", lambda d: (d / "text").write_bytes((d / "text").read_bytes().replace(
        b"spkB_u0 sil a", "spkB_u0 sil \u00e9".encode("latin-1"))), "text", 3, "not UTF-8 text (byte 0xe9 at column 13)"),
    ("no utterances", lambda d: [(d / name).write_text("") for name in ("utt2spk", "spk2utt", "text", "wav.scp")],
     "utt2spk", None, "no utterances"),
]


@pytest.mark.parametrize("what,mutate,fname,line,message", CASES, ids=[c[0] for c in CASES])
def test_each_validation_error_names_file_and_line(data_dir, what, mutate, fname, line, message):
    mutate(data_dir)
    issues = validate_data_dir(data_dir)
    matching = [i for i in issues if message in i.message]
    assert matching, f"{what}: no issue containing {message!r} in {[str(i) for i in issues]}"
    issue = matching[0]
    assert Path(issue.path).name == fname
    assert issue.line == line
    prefix = f"{data_dir / fname}:{line}:" if line else f"{data_dir / fname}:"
    assert str(issue).startswith(prefix)


def test_non_utf8_tables_are_errors_naming_file_and_line(data_dir):
    from asrser.fileio import read_key_value, read_table
    raw = (data_dir / "utt2spk").read_bytes().replace(b"spkB_u1 spkB", b"spkB_u1 spkB\xff")
    (data_dir / "utt2spk").write_bytes(raw)
    where = f"{data_dir / 'utt2spk'}:4: not UTF-8 text (byte 0xff at column 13)"
    for read in (read_key_value, lambda p: list(read_table(p)), lambda p: DataDir(p.parent).table(p.name)):
        with pytest.raises(DataError) as e:
            read(data_dir / "utt2spk")
        assert str(e.value).startswith(where)
    proc = run_step("subset_data_dir.py", "--first", 2, data_dir, data_dir.parent / "subset", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert where in proc.stderr.strip().splitlines()[-1]


def test_feats_required_when_asked(data_dir):
    issues = validate_data_dir(data_dir, need_feats=True)
    assert [i.message for i in issues] == ["required file is missing"]
    assert issues[0].path.endswith("feats.scp")


def test_missing_directory(tmp_path):
    assert "does not exist" in validate_data_dir(tmp_path / "nope")[0].message


def test_check_data_dir_raises_listing_problems(data_dir):
    edit(data_dir / "utt2spk", "spkB_u0 spkB", "spkB_u0 spkB extra")
    with pytest.raises(DataError, match=r"utt2spk:3: expected 2 fields"):
        check_data_dir(data_dir)


def test_validate_program_exit_status(data_dir):
    assert run_step("validate_data_dir.py", data_dir).returncode == 0
    (data_dir / "text").write_text("spkA_u0 a\n")
    proc = run_step("validate_data_dir.py", data_dir, check=False)
    assert proc.returncode == 1
    assert f"{data_dir / 'text'}: 5 utterances of utt2spk are missing here" in proc.stderr


def test_split_keeps_speakers_whole_and_balances(tmp_path):
    from helpers import make_data_dir
    d = make_data_dir(tmp_path, speakers=[f"s{i}" for i in range(7)], utts_per_speaker=2, seconds=0.1)
    parts = split_data_dir(d, 3)
    assert [p.name for p in parts] == ["1", "2", "3"]
    seen = []
    for p in parts:
        assert validate_data_dir(p) == []
        spk = DataDir(p).speakers
        seen += spk
        assert 2 <= len(spk) <= 3
    assert seen == DataDir(d).speakers     # contiguous, each speaker once
    with pytest.raises(DataError, match="only 7 speakers"):
        split_data_dir(d, 8)
    assert len(split_data_dir(d, 14, per_utt=True)) == 14


def test_split_is_reused_when_current(data_dir):
    parts = split_data_dir(data_dir, 2)
    mtime = (parts[0] / "utt2spk").stat().st_mtime_ns
    split_data_dir(data_dir, 2)
    assert (parts[0] / "utt2spk").stat().st_mtime_ns == mtime


def test_subset_by_speaker_utts_and_first(data_dir, tmp_path):
    sub = subset_data_dir(data_dir, tmp_path / "sub", speakers=["spkB"])
    assert sub.utts == ["spkB_u0", "spkB_u1"]
    assert validate_data_dir(sub.path) == []
    assert subset_data_dir(data_dir, tmp_path / "first", first=3).utts == ["spkA_u0", "spkA_u1", "spkB_u0"]
    with pytest.raises(DataError, match="utt2spk: 1 requested utterances are not in the data dir, e.g. 'bogus'"):
        subset_data_dir(data_dir, tmp_path / "bad", utts=["bogus"])
    with pytest.raises(DataError, match="spk2utt: 1 requested speakers are not in the data dir, e.g. 'nobody'"):
        subset_data_dir(data_dir, tmp_path / "bad", speakers=["spkB", "nobody"])


def test_combine_round_trip(data_dir, tmp_path):
    a = subset_data_dir(data_dir, tmp_path / "a", speakers=["spkA", "spkC"])
    b = subset_data_dir(data_dir, tmp_path / "b", speakers=["spkB"])
    combined = combine_data_dirs(tmp_path / "all", [a.path, b.path])
    for name in ("utt2spk", "spk2utt", "text", "wav.scp"):
        assert (combined.path / name).read_text() == (data_dir / name).read_text()


def test_combine_carries_the_emotion_tables_and_names_each_utterance_s_corpus(data_dir, tmp_path):
    a = subset_data_dir(data_dir, tmp_path / "a", speakers=["spkA", "spkC"])
    b = subset_data_dir(data_dir, tmp_path / "b", speakers=["spkB"])
    for d, sess in ((a, "S1"), (b, "session1")):
        (d.path / "utt2emo").write_text("".join(f"{u} neu\n" for u in d.utts))
        (d.path / "utt2sess").write_text("".join(f"{u} {sess}\n" for u in d.utts))
    (a.path / "utt2corpus").write_text("".join(f"{u} old\n" for u in a.utts))      # replaced, not merged
    (tmp_path / "all").mkdir()
    (tmp_path / "all" / "feats.scp").write_text("stale\n")                           # written whole
    combined = combine_data_dirs(tmp_path / "all", [a.path, b.path], ["first", "second"])
    assert sorted(combined.tables()) == ["spk2utt", "text", "utt2corpus", "utt2emo", "utt2sess", "utt2spk",
                                         "wav.scp"]
    corpus = combined.table("utt2corpus")
    assert list(corpus) == combined.utts and {corpus[u] for u in b.utts} == {"second"}
    assert {corpus[u] for u in a.utts} == {"first"} and combined.table("utt2sess")[b.utts[0]] == "session1"
    run_step("combine_data.py", "--corpus-names", "x y", tmp_path / "xy", a.path, b.path)
    assert set(DataDir(tmp_path / "xy").table("utt2corpus").values()) == {"x", "y"}
    with pytest.raises(AsrserError, match="2 corpus names for 1 data dirs"):
        combine_data_dirs(tmp_path / "bad", [a.path], ["x", "y"])
    with pytest.raises(AsrserError, match="distinct single words"):
        combine_data_dirs(tmp_path / "bad", [a.path, b.path], ["x", "x"])
    with pytest.raises(DataError, match="utterance .* is also in corpus x"):
        combine_data_dirs(tmp_path / "bad", [a.path, a.path], ["x", "y"])


def test_fix_drops_incomplete_utterances_and_sorts(data_dir):
    lines = (data_dir / "text").read_text().splitlines(True)
    (data_dir / "text").write_text("".join(reversed(lines[:-2])))   # drop spkC, unsorted
    removed = fix_data_dir(data_dir)
    assert removed == ["spkC_u0", "spkC_u1"]
    assert validate_data_dir(data_dir) == []
    assert DataDir(data_dir).speakers == ["spkA", "spkB"]
    assert (data_dir / ".backup" / "text").exists()


def test_copy_data_dir_drops_features_and_an_up_to_date_copy_keeps_its_own(data_dir, tmp_path):
    from asrser.data import copy_data_dir

    (data_dir / "feats.scp").write_text("".join(f"{u} x.ark:1\n" for u in (data_dir / "utt2spk").read_text().split()[::2]))
    dst = tmp_path / "copy"
    copy_data_dir(data_dir, dst)
    assert not (dst / "feats.scp").exists() and (dst / "wav.scp").read_text() == (data_dir / "wav.scp").read_text()
    (dst / "feats.scp").write_text("computed for the copy\n")
    copy_data_dir(data_dir, dst)                           # nothing changed: the copy's features stay
    assert (dst / "feats.scp").read_text() == "computed for the copy\n"
    (data_dir / "spk2gender").write_text("".join(f"{s} f\n" for s in sorted(set(
        (data_dir / "utt2spk").read_text().split()[1::2]))))
    copy_data_dir(data_dir, dst)                           # the source changed: a fresh copy
    assert not (dst / "feats.scp").exists() and (dst / "spk2gender").exists()


def test_split_heldout_holds_out_whole_speakers_reproducibly(data_dir, tmp_path):
    from asrser.data import split_heldout
    train, dev = split_heldout(data_dir, tmp_path / "train", tmp_path / "dev", 0.34, seed=3)
    assert len(dev.speakers) == 1 and len(train.speakers) == 2
    assert not set(dev.speakers) & set(train.speakers)
    assert sorted(train.utts + dev.utts) == sorted(DataDir(data_dir).utts)
    again, _ = split_heldout(data_dir, tmp_path / "train2", tmp_path / "dev2", 0.34, seed=3)
    assert again.utts == train.utts
    for d in (train, dev):
        assert validate_data_dir(d.path) == []


def test_split_heldout_of_one_speaker_holds_out_utterances(data_dir, tmp_path):
    from asrser.data import split_heldout
    one = subset_data_dir(data_dir, tmp_path / "one", speakers=["spkA"])
    train, dev = split_heldout(one.path, tmp_path / "train", tmp_path / "dev", 0.5, seed=0)
    assert len(dev.utts) == 1 and len(train.utts) == 1 and dev.speakers == train.speakers


def test_import_data_dirs_names_tests_by_directory_and_keeps_features_on_rerun(data_dir, tmp_path):
    from asrser.data import import_data_dirs
    from asrser.errors import AsrserError
    test = subset_data_dir(data_dir, tmp_path / "eval92", speakers=["spkC"]).path
    dirs = import_data_dirs(data_dir, [test], tmp_path / "data", dev_fraction=0.34, seed=0)
    assert sorted(dirs) == ["dev", "eval92", "train"]
    (tmp_path / "data/train/feats.scp").write_text("made by a later stage\n")
    import_data_dirs(data_dir, [test], tmp_path / "data", dev_fraction=0.34, seed=0)
    assert (tmp_path / "data/train/feats.scp").read_text() == "made by a later stage\n"
    with pytest.raises(AsrserError, match="unique and not train or dev: dev"):
        import_data_dirs(data_dir, [subset_data_dir(data_dir, tmp_path / "x/dev", first=1).path], tmp_path / "d2")
