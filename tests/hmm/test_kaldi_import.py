"""Importing a Kaldi experiment into the hybrid stages: Kaldi's alignment dirs, lang dir and graph dir, made by
the wheels alone (not by asrser's trainer) or by hand in Kaldi's text format; bad input named in one line."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from asrser.errors import AsrserError, DataError
from asrser.hmm.kaldi_import import import_kaldi_alignments, import_kaldi_targets
from asrser.kaldi_format import read_alignment_dir, read_int_vectors
from helpers import REPO, TIMIT_PHONE_MAP, run_step, tiny_phone_system_data
from kaldi_hand_files import HAND_MODEL, HAND_TREE      # the hand-made Kaldi text-format model and its tree

# The hand model's lang: phones a (1) and b (2), each also a word, as Kaldi's prepare_lang.sh lays it out
HAND_TOPO = HAND_MODEL[HAND_MODEL.index("<Topology>"):HAND_MODEL.index("<Triples>")]
# Alignments of the hand model in Kaldi's text int-vector form: transition-ids 1-8 (a: 1-4, b: 5-8)
HAND_ALI = {"spk_u1": [1, 2, 3, 4, 5, 6, 7, 8], "spk_u2": [5, 6, 6, 7, 8, 1, 2, 3, 4, 4]}


def hand_lang(root: Path, phones=("a", "b")) -> Path:
    import kaldifst

    lang = root / "lang"
    (lang / "phones").mkdir(parents=True)
    symbols = ["<eps>", *phones, "#0"]
    (lang / "phones.txt").write_text("".join(f"{p} {i}\n" for i, p in enumerate(symbols)))
    (lang / "words.txt").write_text("".join(f"{p} {i}\n" for i, p in enumerate(symbols)))
    (lang / "topo").write_text(HAND_TOPO)
    (lang / "phones" / "silence.txt").write_text("")
    lexicon = kaldifst.StdVectorFst()
    s = lexicon.add_state()
    lexicon.start = s
    lexicon.set_final(s, 0.0)
    for i in range(1, len(phones) + 2):
        lexicon.add_arc(s, kaldifst.StdArc(i, i, 0.0, s))
    lexicon.write(str(lang / "L_disambig.fst"))
    return lang


def hand_ali_dir(root: Path, alignments=HAND_ALI, model: str = HAND_MODEL, name: str = "ali") -> Path:
    """A Kaldi alignment dir: the text-format model and tree, ali.1.gz in Kaldi's text int-vector form."""
    ali = root / name
    ali.mkdir(parents=True)
    (ali / "final.mdl").write_text(model)
    (ali / "tree").write_text(HAND_TREE)
    (ali / "ali.1.gz").write_bytes(gzip.compress("".join(f"{u} {' '.join(map(str, a))} \n"
                                                         for u, a in alignments.items()).encode()))
    (ali / "num_jobs").write_text("1\n")
    return ali


def test_a_hand_made_text_format_experiment_is_imported_and_gives_targets(tmp_path):
    lang, ali = hand_lang(tmp_path), hand_ali_dir(tmp_path)
    out = tmp_path / "imported"
    assert import_kaldi_targets(lang, [ali], out, "pdf") == 4
    assert (out / "final.mdl").read_text() == HAND_MODEL and (out / "phones.txt").read_bytes() == \
        (lang / "phones.txt").read_bytes()
    assert {u: a.tolist() for u, a in read_alignment_dir(out).items()} == HAND_ALI
    # the hand model's pdfs: a's states 0, 1 -> pdfs 0, 1; b's -> 2, 3 (transition-ids 1-2, 3-4, 5-6, 7-8)
    targets = dict(read_int_vectors(out / "targets" / "targets.ark"))
    assert targets["spk_u2"].tolist() == [2, 2, 2, 3, 3, 0, 0, 1, 1, 1]
    assert (out / "targets" / "classes.txt").read_text().split()[::2] == ["pdf0", "pdf1", "pdf2", "pdf3"]
    # monophone-state classes are named with the lang's phones
    import_kaldi_targets(lang, [ali], tmp_path / "mono", "mono-state")
    assert (tmp_path / "mono" / "targets" / "classes.txt").read_text().split()[::2] == \
        ["a_0", "class1", "a_2", "b_0", "class4", "b_2"]


def one_line(error: Exception) -> str:
    message = str(error)
    assert "\n" not in message
    return message


def test_bad_kaldi_experiments_are_one_line_errors_naming_the_file(tmp_path):
    lang = hand_lang(tmp_path)
    # a tree given as the model
    tree_as_model = hand_ali_dir(tmp_path, name="tree_as_model")
    shutil.copyfile(tree_as_model / "tree", tree_as_model / "final.mdl")
    # alignments of another (bigger) model: transition-id 12 of 8
    other = hand_ali_dir(tmp_path, {"spk_u1": [1, 2, 12, 4]}, name="other_model")
    # a truncated archive (gzip stream cut) and an archive whose content ends inside an entry
    cut = hand_ali_dir(tmp_path, name="cut_gzip")
    data = (cut / "ali.1.gz").read_bytes()
    (cut / "ali.1.gz").write_bytes(data[:len(data) // 2])
    cut_entry = hand_ali_dir(tmp_path, name="cut_entry")
    binary = b"spk_u1 \0B\4\10\0\0\0" + b"".join(b"\4" + int(t).to_bytes(4, "little") for t in (1, 2, 3))
    (cut_entry / "ali.1.gz").write_bytes(gzip.compress(binary))
    # a lang whose phones are not the model's (three phones, the model has two)
    wrong_lang = hand_lang(tmp_path / "wrong", phones=("a", "b", "c"))
    # two dirs of different models (b's states swapped in the second's tree of pdfs)
    first = hand_ali_dir(tmp_path, name="first")
    swapped = hand_ali_dir(tmp_path, model=HAND_MODEL.replace("2 0 2 \n2 1 3 \n", "2 0 3 \n2 1 2 \n"),
                           name="swapped")
    cases = [
        (lang, [tree_as_model], tree_as_model / "final.mdl",
         "expected <TransitionModel> (a Kaldi model), found ContextDependency (a decision tree)"),
        (lang, [other], other / "ali.1.gz",
         "utterance spk_u1: transition-id 12 is out of range for the model"),
        (lang, [cut], cut / "ali.1.gz", "truncated"),
        (lang, [cut_entry], cut_entry / "ali.1.gz", "truncated?"),
        (wrong_lang, [hand_ali_dir(tmp_path, name="good")], wrong_lang / "phones.txt",
         "3 phones (ids 1-3), but the topology of"),
        (lang, [first, swapped], swapped / "final.mdl", f"not the HMM of {first / 'final.mdl'}"),
        (lang, [first, first], first / "ali.1.gz", "utterance spk_u1 is aligned again"),
    ]
    for i, (lang_dir, dirs, path, expected) in enumerate(cases):
        out = tmp_path / f"out{i}"
        with pytest.raises(DataError) as e:
            import_kaldi_alignments(lang_dir, dirs, out)
        assert one_line(e.value).startswith(str(path)) and expected in str(e.value), str(e.value)
        assert not (out / "import.done").exists() and not (out / "num_jobs").exists()
    # through the program: one line, no traceback
    proc = run_step("import_kaldi_ali.py", lang, other, tmp_path / "cli", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"ERROR (import_kaldi_ali.py): {other / 'ali.1.gz'}: utterance spk_u1: transition-id 12" in proc.stderr


# -- an experiment written by the wheels alone, through the hybrid stages ---------------------------------------
@pytest.fixture(scope="module")
def wheel_experiment(tiny_timit_data, tmp_path_factory):
    """The tiny corpus (MFCC + CMVN), its lang, a bigram G, and the wheels' Kaldi experiment made from them."""
    from wheel_kaldi_experiment import build

    root = tmp_path_factory.mktemp("kaldi_import")
    data = tiny_phone_system_data(tiny_timit_data, root, ("train", "dev"))
    build(data, data / "lang", data / "lang_test", root / "kaldi", sets=("train", "dev"), iters=4)
    return root


NET = """
input: {context: 5, dim: 13}
layers:
  - {type: conv, channels: 8, kernel: [3, 3], pool: [2, 2]}
  - {type: fc, units: 64}
  - {type: output}
training: {optimizer: sgd, learning_rate: 0.05, momentum: 0.9, batch_size: 64, max_epochs: 2, min_epochs: 1,
           precision: fp32}
"""


@pytest.mark.slow
def test_an_experiment_of_the_wheels_alone_trains_and_decodes_a_hybrid(wheel_experiment):
    """Kaldi's exp/mono_ali{,_dev} (wheel-built model and tree, kaldiio archives) and exp/mono/graph (the wheels'
    HCLG as a ConstFst) through the import, frames, a net of 2 epochs, lattices and a PER."""
    from asrser.features import global_cmvn_stats
    import kaldiio

    root, kaldi = wheel_experiment, wheel_experiment / "kaldi"
    assert (kaldi / "exp" / "mono" / "graph" / "HCLG.fst").read_bytes()[8:13] == b"const"
    exp = root / "exp"
    run_step("import_kaldi_ali.py", "--targets", "pdf", kaldi / "data" / "lang", kaldi / "exp" / "mono_ali",
             kaldi / "exp" / "mono_ali_dev", exp / "kaldi_ali")
    num_pdfs = int((kaldi / "exp" / "mono" / "graph" / "num_pdfs").read_text())
    assert int((exp / "kaldi_ali" / "targets" / "num_classes").read_text()) == num_pdfs
    kaldiio.save_mat(str(exp / "global_cmvn.stats"), global_cmvn_stats(root / "data" / "train" / "feats.scp"))
    for x in ("train", "dev"):
        proc = run_step("nnet_prepare_frames.py", "--targets", exp / "kaldi_ali" / "targets" / "targets.scp",
                        root / "data" / x, exp / "global_cmvn.stats", exp / f"frames_{x}")
        assert ", 0 without targets" in proc.stdout
    (exp / "net.yaml").write_text(NET)
    run_step("nnet_train.py", "--config", exp / "net.yaml", "--device", "cpu", exp / "frames_train",
             exp / "frames_dev", exp / "kaldi_ali" / "targets" / "num_classes", exp / "net")
    decode = exp / "decode_dev"
    proc = run_step("nnet_decode.py", "--targets", "pdf", "--device", "cpu", "--phone-map", TIMIT_PHONE_MAP,
                    "--phone-map-columns", "2,3", "--lm-weights", "1 2", kaldi / "exp" / "mono" / "graph",
                    exp / "kaldi_ali" / "final.mdl", exp / "net" / "final.pt", exp / "frames_dev",
                    root / "data" / "dev" / "text", decode)
    assert (decode / "lat.1.gz").exists() and (decode / "num_jobs").read_text() == "1\n"
    per = float((decode / "scoring" / "best_per").read_text().split()[1])
    fer = float((decode / "fer").read_text().split()[1])
    assert 0.0 < per < 100.0 and 0.0 < fer < 100.0, proc.stderr
