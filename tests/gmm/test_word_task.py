"""A tiny word task end to end on the tiny mini-TIMIT's words: a lexicon from the corpus's .WRD and .PHN files,
prepare_lang (word-position-dependent phones), monophones sharing their pdfs across word positions, frame
targets by base phone, a tri1 tree on the lang's roots and questions, a Witten-Bell word bigram, HCLG,
decoding, WER by sclite, and word CTMs of the alignments against the corpus's word times."""

from __future__ import annotations

import shutil
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from asrser.corpora.timit import FOLD_61_TO_48, read_phn
from asrser.features import FeatureConfig, compute_cmvn_stats, make_features
from asrser.fileio import read_key_value, write_key_value
from asrser.gmm.decode import decode
from asrser.gmm.model import AcousticModel
from asrser.gmm.train import TrainConfig, align_si, train_mono, train_tri
from asrser.hmm.align import AlignOptions
from asrser.hmm.ctm import alignment_ctm
from asrser.hmm.decode import DecodeOptions
from asrser.hmm.graph import mkgraph
from asrser.hmm.targets import read_class_table, write_targets
from asrser.lang import Lang
from asrser.lm import make_lang_test, train_phone_lm
from asrser.scoring import score_decode
from helpers import REPO, run_step, word_lang

pytestmark = pytest.mark.slow
MONO = TrainConfig(num_iters=6, max_iter_inc=4, total_gauss=200, realign_iters=[1, 2, 3, 5], seed=0)
TRI = TrainConfig(num_iters=5, max_iter_inc=3, num_leaves=150, total_gauss=400, realign_iters=[3], beam=10.0,
                  retry_beam=40.0, seed=1)
SAMPLE_RATE = 16000


def corpus_words(timit_dir: Path) -> dict[str, list[tuple[str, float, float, list[str]]]]:
    """{utt: [(word, start, end, 48-phone pronunciation)]} from every .WRD and .PHN of the corpus: a word's
    phones are those that start inside it, silence and deleted labels left out."""
    words = {}
    for wrd in sorted(timit_dir.rglob("*.WRD")):
        phones = [(FOLD_61_TO_48[label], start, end) for label, start, end in read_phn(wrd.with_suffix(".PHN"))]
        entries = []
        for line in wrd.read_text().splitlines():
            start, end, word = line.split()
            pron = [p for p, s, _ in phones if int(start) <= s < int(end) and p not in (None, "sil")]
            entries.append((word.upper(), int(start) / SAMPLE_RATE, int(end) / SAMPLE_RATE, pron))
        words[f"{wrd.parent.name.lower()}_{wrd.stem.lower()}"] = entries
    return words


@pytest.fixture(scope="module")
def word_task(tiny_timit, tiny_timit_data, tmp_path_factory):
    """<root>/data/{train,test} with word transcripts and MFCC + CMVN, data/lang from the corpus's lexicon (each
    word's two most frequent pronunciations), data/lang_test with a word bigram; the words with their times."""
    root = tmp_path_factory.mktemp("words")
    words = corpus_words(tiny_timit)
    prons: dict[str, Counter] = defaultdict(Counter)
    for entries in words.values():
        for word, _, _, pron in entries:
            if pron:
                prons[word][tuple(pron)] += 1
    lang = word_lang(root / "data", {w: [list(p) for p, _ in c.most_common(2)] for w, c in prons.items()})
    cmd = f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"
    config = FeatureConfig.from_file("mfcc", REPO / "conf" / "mfcc.conf")
    for split in ("train", "test"):
        data = root / "data" / split
        shutil.copytree(tiny_timit_data / split, data)
        utts = read_key_value(data / "text")
        write_key_value(data / "text", [(u, " ".join(w for w, _, _, pron in words[u] if pron)) for u in utts])
        make_features(data, root / "log", root / "mfcc", config, REPO / "conf" / "mfcc.conf", 2, cmd)
        compute_cmvn_stats(data, root / "mfcc")
    train_phone_lm(root / "data/train/text", Lang.load(lang), root / "lm.arpa")
    make_lang_test(lang, root / "lm.arpa", root / "data/lang_test")
    return root, cmd, words


def test_word_task_trains_decodes_and_aligns_words(word_task):
    root, cmd, words = word_task
    data, lang_dir, exp = root / "data", root / "data" / "lang", root / "exp"
    lang = Lang.load(lang_dir)
    assert lang.position_dependent
    nonsil_bases = sorted(set(lang.base_phone.values()) - {lang.base_phone[p] for p in lang.silence_ids})
    num_nonsil = len(nonsil_bases)

    # monophones: the word-position variants of a phone share its pdfs (gmm-init-mono --shared-phones)
    mono = train_mono(data / "train", lang_dir, exp / "mono", MONO, 2, cmd)
    assert mono.trans_model.num_pdfs == 3 * num_nonsil + 5
    align_si(data / "train", lang_dir, exp / "mono", exp / "mono_ali", 2, cmd, AlignOptions())

    # frame targets: one class set per base phone, named after it
    num_classes = write_targets(exp / "mono_ali", exp / "mono_ali" / "targets")
    assert num_classes == 3 * (num_nonsil + 1)
    classes = read_class_table(exp / "mono_ali" / "targets" / "classes.txt")
    assert "SIL_0" in classes and not any(name.rsplit("_", 1)[0].endswith(("_B", "_E", "_I", "_S"))
                                          for name in classes)

    # tri1: the lang's roots (one per base phone, its variants and states together) and questions
    tri = train_tri(data / "train", lang_dir, exp / "mono_ali", exp / "tri1", TRI, 2, cmd)
    assert 3 * num_nonsil + 5 < tri.trans_model.num_pdfs <= TRI.num_leaves
    questions = {tuple(q.split()) for q in (exp / "tri1" / "questions.txt").read_text().splitlines()}
    assert any(len(q) > 4 and all(p.endswith("_B") for p in q) for q in questions)      # extra_questions.int
    shared = 0
    for base in nonsil_bases:
        begin, end = lang.phones[f"{base}_B"], lang.phones[f"{base}_E"]
        left = right = lang.phones["SIL"]
        shared += tri.tree.compute([left, begin, right], 1)[1] == tri.tree.compute([left, end, right], 1)[1]
    assert shared > 0           # some variants share a leaf: impossible with a root per (phone, state)

    # a word bigram, HCLG, decoding and WER by sclite
    graph = mkgraph(data / "lang_test", exp / "tri1", exp / "tri1" / "graph")
    counts = decode(graph, data / "test", exp / "tri1", exp / "tri1" / "decode_test", 2, cmd, DecodeOptions())
    assert counts["failed"] == 0
    wer = score_decode(exp / "tri1" / "decode_test", data / "test" / "text", name="words",
                       words_txt=graph / "words.txt", model=exp / "tri1" / "final.mdl", lm_weights=[6.0, 10.0],
                       scorings=("basic",))
    assert wer.ref_words > 100 and 0.0 <= wer.error_rate < 25.0

    # word CTM of the test alignments (get_ctm.py): the transcripts' words, near the corpus's word times
    align_si(data / "test", lang_dir, exp / "tri1", exp / "tri1_ali_test", 2, cmd, AlignOptions())
    run_step("get_ctm.py", data / "test", lang_dir, exp / "tri1_ali_test", exp / "tri1_ali_test" / "words.ctm")
    ctm = alignment_ctm(exp / "tri1_ali_test", lang_dir, data / "test")
    errors = []
    for utt, hyp in ctm.items():
        ref = [(w, start, end) for w, start, end, pron in words[utt] if pron]
        assert [w for w, _, _ in hyp] == [w for w, _, _ in ref]
        errors += [abs(h[1] - r[1]) for h, r in zip(hyp, ref)]
    assert len(ctm) == 32 and np.median(errors) < 0.03
    lines = (exp / "tri1_ali_test" / "words.ctm").read_text().splitlines()
    assert len(lines) == sum(map(len, ctm.values())) and lines[0].split()[1] == "1"
