"""Phone and word CTMs of an alignment of word-position-dependent phones (ali-to-phones --ctm-output,
steps/get_train_ctm.sh), and the same alignment's boundary segmentation in base phones."""

from __future__ import annotations

from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np
import pytest

from asrser.errors import DataError
from asrser.hmm.align import AlignmentWriter
from asrser.hmm.boundaries import alignment_segments
from asrser.hmm.ctm import alignment_ctm, write_alignment_ctm
from asrser.hmm.model import HmmModel
from asrser.hmm.phone_sets import lang_phone_sets
from asrser.hmm.tables import tid_tables
from asrser.kaldi_format import write_num_jobs
from asrser.lang import Lang

from helpers import run_step, word_lang

# SIL, AB (AA_B B_E), SIL, A (AA_S), SIL: frames per phone
SEGMENTS = [("SIL", 10), ("AA_B", 6), ("B_E", 6), ("SIL", 5), ("AA_S", 9), ("SIL", 4)]


@pytest.fixture
def aligned(tmp_path) -> tuple[Path, Path, Path]:
    """(data dir, lang dir, alignment dir) of one utterance "AB A" aligned as SEGMENTS by a monophone model
    whose position variants share their pdfs (gmm-init-mono --shared-phones)."""
    lang_dir = word_lang(tmp_path, {"AB": [["AA", "B"]], "A": [["AA"]]})
    lang = Lang.load(lang_dir)
    topo = lang.topology()
    tree = khg.monophone_context_dependency_shared(lang_phone_sets(lang, list(topo.phones)),
                                                   topo.get_phone_to_num_pdf_classes())
    model = HmmModel(khg.TransitionModel(ctx_dep=tree, hmm_topo=topo), tree)
    ali_dir = tmp_path / "ali"
    ali_dir.mkdir()
    model.save(ali_dir / "final.mdl")
    model.write_tree(ali_dir / "tree")
    phone_of, state_of = tid_tables(HmmModel.load(ali_dir / "final.mdl"))
    alignment = []
    for phone, frames in SEGMENTS:
        pid = lang.phones[phone]
        num_states = topo.num_pdf_classes(pid)
        for k in range(frames):     # the first transition-id of each state, states spread over the frames
            state = min(k * num_states // frames, num_states - 1)
            alignment.append(int(np.flatnonzero((phone_of == pid) & (state_of == state))[0]))
    with AlignmentWriter(ali_dir / "ali.1.gz") as write:
        write("spk1_utt1", alignment)
    write_num_jobs(ali_dir, 1)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "text").write_text("spk1_utt1 AB A\n")
    return data_dir, lang_dir, ali_dir


def test_word_and_phone_ctm_of_position_dependent_phones(aligned, tmp_path):
    data_dir, lang_dir, ali_dir = aligned
    write_alignment_ctm(alignment_ctm(ali_dir, lang_dir, data_dir), tmp_path / "words.ctm")
    assert (tmp_path / "words.ctm").read_text() == ("spk1_utt1 1 0.10 0.12 AB\n"
                                                   "spk1_utt1 1 0.27 0.09 A\n")
    write_alignment_ctm(alignment_ctm(ali_dir, lang_dir, phone_level=True), tmp_path / "phones.ctm")
    assert (tmp_path / "phones.ctm").read_text() == ("spk1_utt1 1 0.00 0.10 SIL\n"
                                                    "spk1_utt1 1 0.10 0.06 AA\n"
                                                    "spk1_utt1 1 0.16 0.06 B\n"
                                                    "spk1_utt1 1 0.22 0.05 SIL\n"
                                                    "spk1_utt1 1 0.27 0.09 AA\n"
                                                    "spk1_utt1 1 0.36 0.04 SIL\n")
    run_step("get_ctm.py", "--frame-shift", "0.02", data_dir, lang_dir, ali_dir, tmp_path / "words_20ms.ctm")
    assert (tmp_path / "words_20ms.ctm").read_text().splitlines()[0] == "spk1_utt1 1 0.20 0.24 AB"


def test_alignment_segments_name_base_phones(aligned):
    _, lang_dir, ali_dir = aligned
    assert [p for p, _, _ in alignment_segments(ali_dir, lang_dir)["spk1_utt1"]] == \
        ["SIL", "AA", "B", "SIL", "AA", "SIL"]


def test_word_ctm_checks_the_transcript_and_the_word_positions(aligned, tmp_path):
    data_dir, lang_dir, ali_dir = aligned
    (data_dir / "text").write_text("spk1_utt1 AB\n")
    with pytest.raises(DataError, match="utterance spk1_utt1: the alignment has more words than the transcript's 1"):
        alignment_ctm(ali_dir, lang_dir, data_dir)
    (lang_dir / "phones/word_boundary.int").unlink()
    with pytest.raises(DataError, match="word_boundary.int: file does not exist"):
        alignment_ctm(ali_dir, lang_dir, data_dir)
    result = run_step("get_ctm.py", data_dir, lang_dir, ali_dir, tmp_path / "w.ctm", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "word_boundary.int: file does not exist" in result.stderr
    # a phone CTM needs no word positions (phone-as-word langs such as TIMIT's)
    run_step("get_ctm.py", "--phone-level", data_dir, lang_dir, ali_dir, tmp_path / "p.ctm")
    assert len((tmp_path / "p.ctm").read_text().splitlines()) == len(SEGMENTS)
