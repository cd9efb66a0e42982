"""The SER classes from a data dir's utt2emo, with and without a class map; bad maps and unknown codes."""

from pathlib import Path

import pytest

from asrser.errors import DataError
from asrser.ser.classes import frame_classes, mapped_labels, read_class_map, read_classes, read_labels, write_classes

REPO = Path(__file__).resolve().parents[2]


def utt2emo(tmp_path: Path, codes: list[str]) -> Path:
    path = tmp_path / "utt2emo"
    path.write_text("".join(f"u{k:02d} {code}\n" for k, code in enumerate(codes)))
    return path


def test_without_a_map_every_code_is_a_class_sorted(tmp_path):
    labels = mapped_labels(utt2emo(tmp_path, ["sad", "calm", "angry", "calm"]))
    assert labels == {"u00": "sad", "u01": "calm", "u02": "angry", "u03": "calm"}
    classes = write_classes(tmp_path / "folds", labels)
    assert classes == ("angry", "calm", "sad") and frame_classes(classes) == ("angry", "calm", "sad", "sil")
    assert (tmp_path / "folds" / "classes.txt").read_text() == "angry\ncalm\nsad\n"
    assert read_classes(tmp_path / "folds") == classes and read_labels(tmp_path / "folds") == labels


def test_a_map_merges_and_drops(tmp_path):
    class_map = tmp_path / "emotions.map"
    class_map.write_text("# merge exc into hap, drop xxx\nexc hap\nhap hap   # kept\n\nneu neu\nxxx -\n")
    assert read_class_map(class_map) == {"exc": "hap", "hap": "hap", "neu": "neu", "xxx": None}
    labels = mapped_labels(utt2emo(tmp_path, ["exc", "xxx", "neu", "hap"]), class_map)
    assert labels == {"u00": "hap", "u02": "neu", "u03": "hap"}


def test_the_iemocap_map_gives_the_four_classes(tmp_path):
    codes = ["neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx"]
    labels = mapped_labels(utt2emo(tmp_path, codes), REPO / "conf" / "iemocap_emotions.map")
    assert labels == {"u00": "neu", "u01": "hap", "u02": "hap", "u03": "sad", "u04": "ang"}


def test_an_unknown_code_is_one_error_naming_the_file_and_line(tmp_path):
    class_map = tmp_path / "emotions.map"
    class_map.write_text("neu neu\nsad sad\n")
    path = utt2emo(tmp_path, ["neu", "sad", "joy", "neu"])
    with pytest.raises(DataError) as err:
        mapped_labels(path, class_map)
    assert str(err.value).startswith(f"{path}:3: u02 has emotion code 'joy', which the class map {class_map} "
                                     "does not list")


@pytest.mark.parametrize("text, line, message", [
    ("neu neu\nsad\n", 2, "expected 'CODE CLASS'"),
    ("neu neu\nneu sad\n", 2, r"mapped twice \(first on line 1\)"),
    ("neu sil\n", 1, "the name of the nets' silence class"),
])
def test_a_bad_map_line_is_an_error_naming_it(tmp_path, text, line, message):
    class_map = tmp_path / "emotions.map"
    class_map.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_class_map(class_map)
    assert err.value.line == line and err.value.path == str(class_map)


def test_one_class_is_not_enough(tmp_path):
    with pytest.raises(DataError, match="at least 2 emotion classes"):
        mapped_labels(utt2emo(tmp_path, ["neu", "neu"]))
