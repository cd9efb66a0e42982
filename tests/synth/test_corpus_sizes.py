"""The embedded corpora's `full` size: the real corpora's numbers of speakers, utterances and labels (plans only;
nothing is synthesised)."""
from collections import Counter

from asrser.corpora.timit import CORE_TEST_SPEAKERS, DEV_SPEAKERS
from asrser.synth import mini_casia, mini_iemocap, mini_msp_improv, mini_timit


def test_full_mini_timit_has_timits_training_set_and_the_standard_test_speakers(tmp_path):
    jobs = mini_timit.plan_corpus(tmp_path, "full", 0)
    train = [j for j in jobs if j.speaker.side == "TRAIN"]
    assert len({j.speaker.id for j in train}) == 462
    assert len([j for j in train if "/SA" not in j.path]) == 3696       # 8 SI/SX each; the SA pair is excluded
    test_speakers = {j.speaker.id.lower() for j in jobs if j.speaker.side == "TEST"}
    assert {s.lower() for s in [*DEV_SPEAKERS, *CORE_TEST_SPEAKERS]} <= test_speakers
    readers = Counter(j.text for j in train if "/SX" in j.path)
    assert 6.5 < sum(readers.values()) / len(readers) < 7.5            # each SX text read by about 7, as in TIMIT


def test_full_mini_iemocap_has_iemocaps_turns_and_four_class_share(tmp_path):
    turns = [t for d in mini_iemocap.plan_corpus(tmp_path, "full", 0) for t in d.turns]
    four = sum(t.label in ("neu", "hap", "exc", "ang", "sad") for t in turns)
    assert 9500 < len(turns) < 10500 and 5300 < four < 5800           # real: 10,039 turns, 5,531 in four classes
    default = [t for d in mini_iemocap.plan_corpus(tmp_path, "default", 0) for t in d.turns]
    assert len(default) == 1300                                       # the default keeps its own shares and size


def test_full_mini_msp_improv_and_mini_casia_have_the_real_sizes(tmp_path):
    kinds = Counter(t.recording for t in mini_msp_improv.plan_corpus(tmp_path, "full", 0))
    assert 8000 < sum(kinds.values()) < 8800 and kinds["R"] == kinds["S"] == 6 * 20 * 4   # real: 8,438
    assert len(mini_casia.plan_corpus(tmp_path, "full", 0)) == 1200                       # the circulated CASIA
