"""The GMM-HMM pipeline on the tiny mini-TIMIT: monophone training through the job runner, HCLG, decoding,
sclite PER, alignment of known utterances against their reference segmentation, skipped utterances."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import kaldifst
import kaldiio
import numpy as np
import pytest
import torch

from asrser.errors import DataError
from asrser.features import FeatureConfig, compute_cmvn_stats, make_features
from asrser.fileio import read_ctm
from asrser.gmm.decode import decode
from asrser.gmm.model import AcousticModel
from asrser.gmm.train import TrainConfig, align_si, train_mono, train_tri
from asrser.hmm.align import AlignOptions, load_alignments
from asrser.hmm.boundaries import alignment_accuracy, fit_boundary_correction
from asrser.hmm.decode import DecodeOptions
from asrser.hmm.graph import graph_properties, mkgraph
from asrser.hmm.targets import monophone_state_classes, write_targets
from asrser.kaldi_format import read_lattices
from asrser.lang import Lang, prepare_phone_lang, read_symbol_table
from asrser.lm import make_lang_test, train_phone_lm
from asrser.corpora.timit import PHONES48
from asrser.phones import read_phone_map
from asrser.scoring import score_decode
from helpers import REPO, TIMIT_PHONE_MAP, run_step

pytestmark = pytest.mark.slow
FOLD_48_TO_39 = read_phone_map(TIMIT_PHONE_MAP, 2, 3)


def score(decode_dir: Path, system: Path, exp: Path, lm_weights: list[float]):
    """score_decode of a decode of the test set with exp's graph and model, as the decode programs call it."""
    return score_decode(decode_dir, system / "data" / "test" / "text", dict(FOLD_48_TO_39),
                        words_txt=exp / "graph" / "words.txt", model=exp / "final.mdl", lm_weights=lm_weights)
CONFIG = TrainConfig(num_iters=10, max_iter_inc=6, total_gauss=250, realign_iters=[1, 2, 3, 4, 6, 8], seed=0)


@pytest.fixture(scope="module")
def system(tiny_timit_data, tmp_path_factory, runner_cmd_session):
    root = tmp_path_factory.mktemp("gmm")
    data = root / "data"
    shutil.copytree(tiny_timit_data, data)
    config = FeatureConfig.from_file("mfcc", REPO / "conf" / "mfcc.conf")
    for split in ("train", "test"):
        make_features(data / split, root / "log", root / "mfcc", config, REPO / "conf" / "mfcc.conf", 2,
                      runner_cmd_session)
        compute_cmvn_stats(data / split, root / "mfcc")
    prepare_phone_lang(data / "lang", ["sil"] + [p for p in PHONES48 if p != "sil"], ["sil"])
    train_phone_lm(data / "train" / "text", Lang.load(data / "lang"), root / "lm.arpa")
    make_lang_test(data / "lang", root / "lm.arpa", data / "lang_test")
    train_mono(data / "train", data / "lang", root / "exp" / "mono", CONFIG, 2, runner_cmd_session)
    return root


@pytest.fixture(scope="module")
def runner_cmd_session():
    import sys
    return f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"


def test_training_is_seeded_and_resumable(system, runner_cmd_session):
    exp = system / "exp" / "mono"
    final = AcousticModel.load(exp / "final.mdl")
    assert final.gmms.num_gauss > final.gmms.num_pdfs          # mixed up
    # a killed run resumes from the last complete model and ends with the same model
    for it in range(6, CONFIG.num_iters + 1):
        (exp / f"{it}.mdl").unlink()
    (exp / "train.done").unlink()
    (exp / "final.mdl").unlink()
    again = train_mono(system / "data" / "train", system / "data" / "lang", exp, CONFIG, 2, runner_cmd_session)
    np.testing.assert_array_equal(again.gmms.means, final.gmms.means)


def test_a_gmm_system_is_a_kaldi_exp_dir(system):
    """final.mdl (TransitionModel + AmDiagGmm), tree, final.occs, num_jobs and ali.JOB.gz in Kaldi's formats, read
    by the format readers alone; the model read back is the model the trainer uses."""
    from asrser.kaldi_format import read_gmm_model, read_int_vectors, read_kaldi_vector, read_num_jobs, read_tree

    exp = system / "exp" / "mono"
    model = AcousticModel.load(exp / "final.mdl")
    assert (exp / "final.mdl").read_bytes().startswith(b"\0B<TransitionModel>")
    stored = read_gmm_model(exp / "final.mdl")
    assert read_tree(exp / "tree", model.trans_model.num_pdfs).num_pdfs == model.trans_model.num_pdfs
    assert len(read_kaldi_vector(exp / "final.occs")) == model.trans_model.num_pdfs
    assert read_num_jobs(exp) == 2 and (exp / "phones.txt").read_text() == (system / "data/lang/phones.txt").read_text()
    alignments = dict(read_int_vectors(exp / "ali.1.gz"))
    assert alignments and all(a.min() >= 1 and a.max() <= model.num_transition_ids for a in alignments.values())
    assert stored is not None and not list(exp.glob("*.npy")) and not list(exp.glob("ali.*.ark"))


def test_decode_and_sclite_per(system, runner_cmd_session):
    exp = system / "exp" / "mono"
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    props = graph_properties(kaldifst.StdVectorFst.read(str(graph / "HCLG.fst")))
    assert props["states"] > 50 and props["coaccessible"] == props["states"]     # no dead ends
    assert not props["epsilon_cycles"]
    assert props["stochastic_deviation"] < 1e-3                                 # after pushing in log
    counts = decode(graph, system / "data" / "test", exp, exp / "decode_test", 2, runner_cmd_session, DecodeOptions())
    assert counts["utterances"] == 32 and counts["failed"] == 0 and counts["rtf"] < 0.1
    decode_dir = exp / "decode_test"
    assert (decode_dir / "num_jobs").read_text() == "2\n" and not (decode_dir / "hyp").exists()
    lattices = dict(read_lattices(decode_dir / "lat.1.gz")) | dict(read_lattices(decode_dir / "lat.2.gz"))
    assert len(lattices) == 32
    best = score(decode_dir, system, exp, [3.0, 6.0, 9.0])
    assert best.error_rate < 50.0           # a no-acoustics guess (all 'sil') scores about 100%
    assert (decode_dir / f"score_{best.lmwt:g}" / "ctm_39phn.pra").exists()
    assert (decode_dir / "scoring" / f"score_basic_{best.lmwt:g}" / "39phn.pra").exists()
    # scoring again reads the lattices: other weights need no decoding, and the hypothesis of a weight is the
    # best path of each lattice at acoustic scale 1/LMWT
    stamp = (decode_dir / "decode.done").stat().st_mtime_ns
    score(decode_dir, system, exp, [4.0])
    assert (decode_dir / "decode.done").stat().st_mtime_ns == stamp
    id2word = {i: w for w, i in read_symbol_table(graph / "words.txt").items()}
    hyps = dict(line.split(maxsplit=1) for line in (decode_dir / "scoring" / "4.txt").read_text().splitlines())
    for utt, lattice in list(lattices.items())[:5]:
        assert hyps[utt] == " ".join(id2word[w] for w in lattice.best_path(acoustic_scale=0.25).words)


def test_alignment_against_reference(system, runner_cmd_session):
    ali = system / "exp" / "mono_ali_test"
    counts = align_si(system / "data" / "test", system / "data" / "lang", system / "exp" / "mono", ali, 2,
                      runner_cmd_session, AlignOptions())
    assert counts["failed"] == 0
    acc = alignment_accuracy(ali, system / "data" / "lang", system / "data" / "test" / "ref_phones.ctm")
    assert acc["utterances"] == 32 and acc["within_40ms"] > 80 and acc["within_20ms"] > 40
    classes, n = monophone_state_classes(AcousticModel.load(ali / "final.mdl"))
    assert n == 144 and classes[1:].max() < 144
    assert write_targets(ali, ali / "targets") == 144
    alignments = load_alignments(ali)
    assert len(alignments) == 32


def test_features_extracted_again_with_other_options_make_the_gmm_stages_run_again(system, runner_cmd_session,
                                                                                   tmp_path, caplog):
    """Other dither, same feature dir: feats.scp is byte-identical (its offsets depend on shapes only), yet the
    alignment stage must not count as done."""
    data = tmp_path / "test"
    shutil.copytree(system / "data" / "test", data, ignore=shutil.ignore_patterns("feats.scp", "cmvn.scp", ".*"))
    conf = tmp_path / "mfcc.conf"

    def extract(dither: float) -> bytes:
        conf.write_text((REPO / "conf" / "mfcc.conf").read_text() + f"--dither={dither}\n")
        make_features(data, tmp_path / "log", tmp_path / "mfcc", FeatureConfig.from_file("mfcc", conf), conf, 2,
                      runner_cmd_session)
        compute_cmvn_stats(data, tmp_path / "mfcc")
        return (data / "feats.scp").read_bytes()

    def align() -> bytes:
        align_si(data, system / "data" / "lang", system / "exp" / "mono", tmp_path / "ali", 2, runner_cmd_session,
                 AlignOptions())
        return b"".join(np.asarray(a).tobytes() for _, a in sorted(load_alignments(tmp_path / "ali").items()))

    index = extract(0.0)
    before = align()
    caplog.set_level("INFO")
    assert align() == before and "ali is up to date" in caplog.text
    caplog.clear()
    assert extract(500.0) == index
    assert align() != before and "up to date" not in caplog.text


def test_unalignable_utterances_are_skipped_and_counted(system, runner_cmd_session, tmp_path):
    data = tmp_path / "bad"
    shutil.copytree(system / "data" / "test", data)
    lines = (data / "text").read_text().splitlines()
    utts = [line.split()[0] for line in lines]
    lines[0] = utts[0]                                   # empty transcript
    lines[1] = f"{utts[1]} sil zz sil"                   # a phone missing from phones.txt
    lines[2] = f"{utts[2]} " + " ".join(["aa"] * 400)    # more HMM states than frames: no alignment
    (data / "text").write_text("\n".join(lines) + "\n")
    shutil.rmtree(data / "split2", ignore_errors=True)
    counts = align_si(data, system / "data" / "lang", system / "exp" / "mono", tmp_path / "ali", 2,
                      runner_cmd_session, AlignOptions())
    assert counts["failed"] == 3
    failed = sorted((tmp_path / "ali").glob("ali.*.failed"))
    assert sorted(u for f in failed for u in f.read_text().split()) == sorted(utts[:3])
    logs = " ".join(p.read_text() for p in (tmp_path / "ali" / "log").glob("*.log"))
    assert "empty or missing transcript" in logs and "'zz'" in logs and "no alignment" in logs
    assert len(load_alignments(tmp_path / "ali")) == 29


TRI_CONFIG = TrainConfig(num_iters=8, max_iter_inc=5, num_leaves=250, total_gauss=700, realign_iters=[4],
                         beam=10.0, retry_beam=40.0, mllt_iters=[2, 4], seed=1)


@pytest.fixture(scope="module")
def mono_ali_train(system, runner_cmd_session):
    ali = system / "exp" / "mono_ali"
    align_si(system / "data" / "train", system / "data" / "lang", system / "exp" / "mono", ali, 2,
             runner_cmd_session, AlignOptions())
    return ali


def test_ali_to_targets_names_the_target_type_as_the_hybrid_programs_do(mono_ali_train, tmp_path):
    """--targets (as nnet_decode.py and nnet_align.py spell it), and --kind, its former name, still accepted."""
    for option in ("--targets", "--kind"):
        run_step("ali_to_targets.py", option, "pdf", mono_ali_train, tmp_path / option.strip("-"))
    num_pdfs = AcousticModel.load(mono_ali_train / "final.mdl").trans_model.num_pdfs
    assert (tmp_path / "targets" / "num_classes").read_text() == f"{num_pdfs}\n"
    assert (tmp_path / "kind" / "targets.ark").read_bytes() == (tmp_path / "targets" / "targets.ark").read_bytes()


def test_boundary_correction_fitted_on_train_improves_test(system, mono_ali_train, runner_cmd_session):
    data, lang = system / "data", system / "data" / "lang"
    ali = system / "exp" / "mono_ali_test"
    if not (ali / "final.mdl").exists():
        align_si(data / "test", lang, system / "exp" / "mono", ali, 2, runner_cmd_session, AlignOptions())
    fit_boundary_correction(mono_ali_train, lang, data / "train" / "ref_phones.ctm")
    acc = alignment_accuracy(ali, lang, data / "test" / "ref_phones.ctm", mono_ali_train / "boundary_correction.json")
    corrected = acc["corrected"]
    assert corrected["boundaries"] == acc["boundaries"] > 1000
    assert corrected["within_20ms"] > acc["within_20ms"] + 10 and corrected["within_10ms"] > acc["within_10ms"]
    aligned, corrected = read_ctm(ali / "phones.ctm"), read_ctm(ali / "phones_corrected.ctm")
    assert len(aligned) == len(corrected) == 32 and aligned != corrected
    assert all(b[1] > a[1] for segs in corrected.values() for a, b in zip(segs, segs[1:]))
    with pytest.raises(DataError, match="ref_phones.ctm.*cannot fit"):     # the wrong set's reference
        fit_boundary_correction(mono_ali_train, lang, data / "test" / "ref_phones.ctm")


def _align_on_model_labels(model, graph, loglik, utt, opts):
    """gmm-align-compiled as Kaldi runs it: the graph with transition probabilities and the model's
    transition-ids, a score matrix with a column per transition-id."""
    import kaldi_hmm_gmm as khg

    from asrser.hmm.tables import scaled_tid_loglik

    fst = graph.copy()
    khg.add_transition_probs(trans_model=model.trans_model, transition_scale=opts.transition_scale,
                             self_loop_scale=opts.self_loop_scale, fst=fst)
    config = khg.AlignConfig()
    config.beam, config.retry_beam, config.careful = opts.beam, opts.retry_beam, False
    done, _, _, _, _, alignment, _ = khg.align_utterance_wrapper(
        config=config, utt=utt, acoustic_scale=opts.acoustic_scale, fst=fst,
        decodable=khg.DecodableCtc(scaled_tid_loglik(loglik, model.tid2pdf, opts.acoustic_scale)),
        num_done=0, num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
    return list(alignment) if done else None


def test_aligning_on_the_graphs_pdfs_and_labels_alone_gives_kaldis_alignments(system, tmp_path):
    """align_job scores only the pdfs of each utterance's training graph (loglik_of) and aligns on the graph
    relabelled to its own transition-ids (DenseGraphs): its alignments are gmm-align-compiled's on the whole
    model's likelihoods and transition-ids, byte for byte; the relabelled graph is the graph with transition
    probabilities, its input labels 1..n over the graph's transition-ids."""
    from asrser.data import DataDir
    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.gmm.jobs import align_job, boost_silence
    from asrser.hmm.align import DenseGraphs
    from asrser.hmm.graph import GraphCompiler
    from asrser.hmm.tables import tid_tables
    from asrser.kaldi_format import read_int_vectors
    import kaldi_hmm_gmm as khg

    exp, lang_dir, data = system / "exp" / "mono", system / "data" / "lang", system / "data" / "train"
    opts = AlignOptions(boost_silence=1.25)
    counts = align_job(str(exp / "final.mdl"), str(lang_dir), str(data), str(exp), str(tmp_path / "ali.1"), opts)
    model, lang = AcousticModel.load(exp / "final.mdl"), Lang.load(lang_dir)
    assert model.gmms.num_gauss > model.trans_model.num_pdfs               # some mixtures, not all single
    compiler, text = GraphCompiler(model, lang), DataDir(data).text()
    silence_pdfs = np.unique(model.tid2pdf[1:][np.isin(tid_tables(model)[0][1:], lang.silence_ids)])
    kaldis = {}
    for utt, feats in iter_features(data, FeaturePipeline.load(exp)):
        loglik = boost_silence(model.pdf_loglik(feats), silence_pdfs, opts.boost_silence)
        kaldis[utt] = _align_on_model_labels(model, compiler.compile(text[utt]), loglik, utt, opts)
    ours = dict(read_int_vectors(tmp_path / "ali.1.gz"))
    assert counts["done"] == len(ours) == len(kaldis) > 50
    assert all(list(ours[utt]) == kaldis[utt] for utt in kaldis)

    graph = compiler.compile(text[utt])
    dense, tids = DenseGraphs(model, opts)(graph)
    with_probs = graph.copy()
    khg.add_transition_probs(trans_model=model.trans_model, transition_scale=opts.transition_scale,
                             self_loop_scale=opts.self_loop_scale, fst=with_probs)
    arcs = [line.split() for line in str(with_probs).splitlines()]
    assert list(tids) == sorted({int(a[2]) for a in arcs if len(a) >= 4} - {0})
    relabelled = [[a[0], a[1], str(np.searchsorted(tids, int(a[2])) + 1 if int(a[2]) else 0), *a[3:]]
                  if len(a) >= 4 else a for a in arcs]
    assert [line.split() for line in str(dense).splitlines()] == relabelled


@pytest.mark.parametrize("transform", ["delta", "lda"])
def test_triphone_tree_and_training(system, mono_ali_train, runner_cmd_session, transform):
    exp = system / "exp" / f"tri_{transform}"
    model = train_tri(system / "data" / "train", system / "data" / "lang", mono_ali_train, exp, TRI_CONFIG, 2,
                      runner_cmd_session, transform=transform)
    lang = Lang.load(system / "data" / "lang")
    # leaves: the lang's roots (each of 47 phones with its 3 states, silence's 5 states unsplit) split towards
    # num_leaves, by the state asked about as well as the context
    assert 146 < model.trans_model.num_pdfs <= TRI_CONFIG.num_leaves
    assert model.tree.context_width == 3 and model.tree.central_position == 1
    questions = [q.split() for q in (exp / "questions.txt").read_text().splitlines()]
    assert ["sil"] in questions and max(map(len, questions)) == len(lang.real_phones)
    # the tree the wheels read answers as the tree that was built: same pdf for each context seen
    stats_model = AcousticModel.load(exp / "1.mdl")
    assert stats_model.gmms.num_gauss == model.trans_model.num_pdfs
    assert model.gmms.num_gauss > model.trans_model.num_pdfs               # mixed up
    if transform == "lda":
        from asrser.kaldi_format import read_kaldi_matrix
        matrix = read_kaldi_matrix(exp / "final.mat")        # Kaldi's float matrix, as est-lda writes it
        assert matrix.shape == (40, 13 * 7)
        assert (exp / "2.mat").exists() and (exp / "4.mat").exists()
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    decode(graph, system / "data" / "test", exp, exp / "decode_test", 2, runner_cmd_session, DecodeOptions())
    best = score(exp / "decode_test", system, exp, [3.0, 6.0])
    assert best.error_rate < 50.0


SMALL_NET = """
input: {context: 5, dim: 13}
layers:
  - {type: conv, channels: 8, kernel: [3, 3], pool: [2, 2], l2: 1.0e-3}
  - {type: fc, units: 64, dropout: 0.2}
  - {type: output}
training: {optimizer: sgd, learning_rate: 0.05, momentum: 0.9, batch_size: 64, max_epochs: 3, min_epochs: 1,
           seed: 3, precision: fp32}
"""


@pytest.fixture(scope="module")
def nnet_frames(system, mono_ali_train, runner_cmd_session):
    """Frames of the tiny corpus (13 MFCCs, global mean/variance) with monophone-state targets."""
    import kaldiio

    from asrser.features import global_cmvn_stats
    from asrser.nnet.data import prepare_frames

    out = system / "exp" / "nnet"
    out.mkdir(parents=True, exist_ok=True)
    kaldiio.save_mat(str(out / "global_cmvn.stats"), global_cmvn_stats(system / "data" / "train" / "feats.scp"))
    ali_test = system / "exp" / "mono_ali_test_nnet"
    align_si(system / "data" / "test", system / "data" / "lang", system / "exp" / "mono", ali_test, 2,
             runner_cmd_session, AlignOptions())
    for name, ali in (("train", mono_ali_train), ("test", ali_test)):
        write_targets(ali, ali / "targets")
        prepare_frames(system / "data" / name, ali / "targets" / "targets.scp", out / "global_cmvn.stats",
                       out / f"frames_{name}")
    (out / "net.yaml").write_text(SMALL_NET)
    return out


def test_nnet_training_loss_falls_and_resume_is_exact(nnet_frames):
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import load_checkpoint, train_net

    config = NetConfig.from_yaml(nnet_frames / "net.yaml")
    frames_train, frames_test = nnet_frames / "frames_train", nnet_frames / "frames_test"
    history = train_net(frames_train, frames_test, nnet_frames / "whole", config, 144, progress=False)
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["valid_fer"] < 90.0
    # killed after epoch 1 (what the run leaves then): the resumed run ends exactly where the uninterrupted one did
    shutil.copytree(nnet_frames / "whole", nnet_frames / "killed")
    for name in ("epoch_2.pt", "epoch_3.pt", "final.pt", "history.json", "train.done"):
        (nnet_frames / "killed" / name).unlink()
    train_net(frames_train, frames_test, nnet_frames / "killed", config, 144, progress=False)
    assert len(json.loads((nnet_frames / "killed" / "history.json").read_text())) == 3
    whole = load_checkpoint(nnet_frames / "whole" / "epoch_3.pt")["model"]
    resumed = load_checkpoint(nnet_frames / "killed" / "epoch_3.pt")["model"]
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(nnet_frames, tmp_path):
    from asrser.errors import AsrserError
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import load_checkpoint, save_checkpoint, train_net

    config = NetConfig.from_yaml(nnet_frames / "net.yaml", max_epochs=2)
    net = tmp_path / "net"
    train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", net, config, 144, progress=False)
    for name in ("epoch_2.pt", "final.pt", "train.done"):         # back to the end of epoch 1...
        (net / name).unlink()
    diverging = load_checkpoint(net / "epoch_1.pt")
    diverging["state"]["lr"] = float("inf")                       # ...with a rate that makes epoch 2 diverge
    save_checkpoint(net / "epoch_1.pt", diverging)
    with pytest.raises(AsrserError, match="loss is nan at epoch 2.*epoch_1.pt"):
        train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", net, config, 144, progress=False)
    assert load_checkpoint(net / "epoch_1.pt")["state"]["epoch"] == 1 and not (net / "epoch_2.pt").exists()


def test_hybrid_decoding_equals_gmm_decoding_on_gmm_likelihoods(system):
    """Scores per monophone-state class, mapped through transition-id -> class, decode exactly as the same
    scores expanded to pdfs and mapped through transition-id -> pdf (the GMM path)."""
    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.hmm.decode import Decoder

    exp = system / "exp" / "mono"
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    model = AcousticModel.load(exp / "final.mdl")
    tid2class, num_classes = monophone_state_classes(model)
    pdf2class = np.zeros(model.trans_model.num_pdfs, dtype=np.int64)
    pdf2class[model.tid2pdf[1:]] = tid2class[1:]
    first_pdf = {int(c): int(p) for p, c in reversed(list(enumerate(pdf2class)))}
    class_decoder = Decoder(graph / "HCLG.fst", tid2class, DecodeOptions())
    pdf_decoder = Decoder(graph / "HCLG.fst", model.tid2pdf, DecodeOptions())
    for n, (_, feats) in enumerate(iter_features(system / "data" / "test", FeaturePipeline.load(exp))):
        pdf_loglik = model.pdf_loglik(feats)
        class_scores = np.full((len(feats), num_classes), -1e10, dtype=np.float32)
        for c, p in first_pdf.items():
            class_scores[:, c] = pdf_loglik[:, p]
        expanded = class_scores[:, pdf2class]
        hyp, expected = class_decoder.decode(class_scores), pdf_decoder.decode(expanded)
        assert hyp.reached_final and expected.reached_final
        best = hyp.lattice.best_path(acoustic_scale=0.2)
        assert best == expected.lattice.best_path(acoustic_scale=0.2) and best.words
        if n == 5:
            break


def test_hybrid_decoding_scores_and_reports_the_nets_frame_error_rate(system, nnet_frames, runner_cmd_session):
    """decode_hybrid: a trained net decoded with the monophone graph; its FER is the posteriors' frame error
    rate (the training's validation FER), not that of the prior-divided scores."""
    from asrser.nnet.data import FrameData
    from asrser.nnet.decode import decode_hybrid
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import autocast_dtype, frame_error_rate, load_model, train_net

    config = NetConfig.from_yaml(nnet_frames / "net.yaml")
    train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", nnet_frames / "whole", config, 144,
              progress=False)
    exp = system / "exp" / "mono"
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    decode_dir = nnet_frames / "decode_test"
    counts = decode_hybrid(graph, exp / "final.mdl", nnet_frames / "whole" / "final.pt",
                           nnet_frames / "frames_test", decode_dir, DecodeOptions(), device="cpu",
                           write_loglikes=True)
    assert counts["utterances"] == len(FrameData(nnet_frames / "frames_test", config.context).utts)
    # the log-likelihoods for Kaldi's latgen-faster-mapped: frames x pdfs, the net's scores per pdf
    from asrser.nnet.decode import Hybrid
    hybrid = Hybrid.load(nnet_frames / "whole" / "final.pt", exp / "final.mdl", nnet_frames / "frames_test")
    written = dict(kaldiio.load_ark(str(decode_dir / "loglikes.1.ark")))
    tid2pdf = hybrid.hmm.tid2pdf
    for utt, loglik in hybrid.log_likelihoods("cpu"):
        assert written[utt].shape == (len(loglik), hybrid.hmm.trans_model.num_pdfs)
        np.testing.assert_allclose(written[utt][:, tid2pdf[1:]], loglik[:, hybrid.tid2class[1:]], rtol=1e-6)
    net = load_model(nnet_frames / "whole" / "final.pt")
    cpu = torch.device("cpu")
    expected = frame_error_rate(net, FrameData(nnet_frames / "frames_test", config.context), cpu,
                                autocast_dtype(cpu, "auto"))
    assert counts["fer"] == pytest.approx(expected, abs=0.2)
    assert (decode_dir / "fer").read_text().startswith(f"%FER {counts['fer']:.2f}")
    best = score(decode_dir, system, exp, [1.0, 3.0])
    assert best.error_rate < 100.0 and (decode_dir / "num_jobs").read_text() == "1\n"


def test_hybrid_decoding_does_not_depend_on_alignments(system, nnet_frames, tmp_path):
    """A dev/test utterance the aligner could not align (here: its targets removed) is still decoded and
    scored; it is left out of the FER only, and the fer file says so."""
    import kaldiio

    from asrser.nnet.data import prepare_frames
    from asrser.nnet.decode import decode_hybrid
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import train_net
    from asrser.scoring import decode_error_rates

    train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", nnet_frames / "whole",
              NetConfig.from_yaml(nnet_frames / "net.yaml"), 144, progress=False)
    exp = system / "exp" / "mono"
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    targets = dict(kaldiio.load_scp(str(system / "exp/mono_ali_test_nnet/targets/targets.scp")))
    unaligned = sorted(targets)[0]
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/t.ark,{tmp_path}/targets.scp") as w:
        for utt in sorted(targets):
            if utt != unaligned:
                w(utt, targets[utt])
    frames = tmp_path / "frames_test"
    counts = prepare_frames(system / "data" / "test", tmp_path / "targets.scp", nnet_frames / "global_cmvn.stats",
                            frames)
    assert counts["utterances"] == 32 and counts["untargeted"] == 1
    decode_dir = tmp_path / "decode_test"
    decoded = decode_hybrid(graph, exp / "final.mdl", nnet_frames / "whole" / "final.pt", frames, decode_dir,
                            DecodeOptions(), device="cpu")
    assert decoded["utterances"] == 32 and decoded["fer_untargeted_utterances"] == 1
    best = score(decode_dir, system, exp, [1.0, 3.0])
    from asrser.scoring import read_scored_set
    hyp = {line.split()[0]: line.split()[1:] for line in (decode_dir / "scoring/1.txt").read_text().splitlines()}
    assert len(hyp[unaligned]) > 3                       # decoded, not an empty (all-deletions) hypothesis
    assert read_scored_set(decode_dir)["scored"] == 32 and best.utterances == 32
    assert (decode_dir / "fer").read_text().endswith(" 31 utterances with targets, 1 without\n")
    assert decode_error_rates(decode_dir)["fer_untargeted"] == 1


def test_hybrid_decoding_without_targets_reports_no_frame_error_rate(system, nnet_frames, tmp_path):
    """Frames without any target decode and score, but give no FER: not a perfect-looking 0 / 0 frames."""
    from asrser.nnet.data import prepare_frames
    from asrser.nnet.decode import decode_hybrid
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import train_net
    from asrser.scoring import decode_error_rates

    train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", nnet_frames / "whole",
              NetConfig.from_yaml(nnet_frames / "net.yaml"), 144, progress=False)
    exp = system / "exp" / "mono"
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    untargeted = tmp_path / "frames_untargeted"
    prepare_frames(system / "data" / "test", None, nnet_frames / "global_cmvn.stats", untargeted)
    no_fer = tmp_path / "decode_untargeted"
    decode_hybrid(graph, exp / "final.mdl", nnet_frames / "whole" / "final.pt", untargeted, no_fer,
                  DecodeOptions(), device="cpu")
    score(no_fer, system, exp, [1.0])
    assert not (no_fer / "fer").exists() and "fer" not in decode_error_rates(no_fer)
    assert "per" not in decode_error_rates(no_fer)          # no dev decode beside it to choose the weight


def test_a_trained_nets_dir_is_all_that_decoding_new_audio_needs(system, nnet_frames, tmp_path):
    """final.pt, class_counts (the priors: training frames per class), classes.txt and global_cmvn.stats copied
    alone into a new dir score new audio (frames prepared with the net's stats, no targets) as the net in its
    training dir scores the prepared test frames, and decode it; a class table of other states than the HMM's
    is one line naming it."""
    from asrser.kaldi_format import read_kaldi_vector
    from asrser.nnet.data import prepare_frames
    from asrser.nnet.decode import Hybrid, decode_hybrid
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import train_net

    train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", nnet_frames / "whole",
              NetConfig.from_yaml(nnet_frames / "net.yaml"), 144, progress=False)
    trained = nnet_frames / "whole"
    targets = np.load(nnet_frames / "frames_train" / "targets.npy")
    np.testing.assert_array_equal(read_kaldi_vector(trained / "class_counts"),
                                  np.bincount(targets[targets >= 0], minlength=144))
    net = tmp_path / "net"
    net.mkdir()
    for name in ("final.pt", "class_counts", "classes.txt", "global_cmvn.stats"):
        shutil.copyfile(trained / name, net / name)
    assert (net / "global_cmvn.stats").read_bytes() == (nnet_frames / "global_cmvn.stats").read_bytes()
    exp = system / "exp" / "mono"
    utts = sorted(line.split()[0] for line in (system / "data" / "test" / "text").read_text().splitlines())[:3]
    frames = tmp_path / "frames_new"
    prepare_frames(system / "data" / "test", None, net / "global_cmvn.stats", frames, utts=utts)
    new = dict(Hybrid.load(net / "final.pt", exp / "final.mdl", frames).log_likelihoods("cpu"))
    for utt, loglik in Hybrid.load(trained / "final.pt", exp / "final.mdl", nnet_frames / "frames_test"
                                   ).log_likelihoods("cpu"):
        if utt in new:
            np.testing.assert_array_equal(new.pop(utt), loglik)
    assert not new
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    decode_hybrid(graph, exp / "final.mdl", net / "final.pt", frames, tmp_path / "decode_new", DecodeOptions(),
                  device="cpu")
    lattices = dict(read_lattices(tmp_path / "decode_new" / "lat.1.gz"))
    assert sorted(lattices) == utts and all(lat.best_path(0.2).words for lat in lattices.values())
    names = (net / "classes.txt").read_text().splitlines()
    names[3], names[4] = names[4].split()[0] + " 3", names[3].split()[0] + " 4"
    (net / "classes.txt").write_text("\n".join(names) + "\n")
    with pytest.raises(DataError, match=f"^{net / 'classes.txt'}: the net was trained on other classes than the "
                                        "mono-state classes of"):
        Hybrid.load(net / "final.pt", exp / "final.mdl", frames)


def test_decodes_reaching_no_final_state_are_retried_counted_and_reported(system, runner_cmd_session, tmp_path):
    """Kaldi's "did not reach end-state": an utterance whose surviving paths end in no final state of the graph
    is decoded again at the retry beam; one that still reaches none (2 frames: shorter than any phone) is
    scored with its partial path, logged, counted per decode and reported in RESULTS.md."""
    import kaldiio

    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.hmm.decode import Decoder

    exp = system / "exp" / "mono"
    graph = mkgraph(system / "data" / "lang_test", exp, exp / "graph")
    data = tmp_path / "data"
    shutil.copytree(system / "data" / "test", data)
    shutil.rmtree(data / "split2", ignore_errors=True)
    feats = (data / "feats.scp").read_text().splitlines()
    short = feats[0].split()[0]
    kaldiio.save_mat(str(tmp_path / "short.ark"), kaldiio.load_mat(feats[0].split()[1])[:2])
    (data / "feats.scp").write_text("\n".join([f"{short} {tmp_path / 'short.ark'}"] + feats[1:]) + "\n")
    decode_dir = tmp_path / "exp" / "mono" / "decode_test"
    counts = decode(graph, data, exp, decode_dir, 2, runner_cmd_session, DecodeOptions())
    assert counts["utterances"] == 32 and counts.get("partial_utts") == [short] and counts["retried"] == 1
    assert "did not reach end-state" in " ".join(p.read_text() for p in (decode_dir / "log").glob("*.log"))
    score_decode(decode_dir, data / "text", dict(FOLD_48_TO_39), words_txt=graph / "words.txt",
                 model=exp / "final.mdl", lm_weights=[3.0, 6.0])
    from asrser.scoring import collect_results, read_scored_set
    scored = read_scored_set(decode_dir)
    assert scored["partial"] == [short] and scored["no_final_state_at_beam"] == 1 and scored["scored"] == 32
    collect_results(tmp_path / "exp", tmp_path / "RESULTS.md", "t")
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| 32 | 1 / 1 |" in text and f"1 utterance(s) reached no final state, partial path scored: {short}" in text

    model = AcousticModel.load(exp / "final.mdl")
    narrow = Decoder(graph / "HCLG.fst", model.tid2pdf, DecodeOptions(beam=1.0, retry_beam=0.0))
    retrying = Decoder(graph / "HCLG.fst", model.tid2pdf, DecodeOptions(beam=1.0, retry_beam=13.0))
    loglik = [model.pdf_loglik(f) for _, f in iter_features(system / "data" / "test", FeaturePipeline.load(exp))]
    without_retry = [narrow.decode(x) for x in loglik]
    with_retry = [retrying.decode(x) for x in loglik]
    assert not any(r.retried for r in without_retry)
    assert sum(not r.reached_final for r in without_retry) >= 3        # a beam of 1 loses the final states
    assert all(r.reached_final for r in with_retry) and sum(r.retried for r in with_retry) >= 3


def test_hybrid_alignment_follows_the_transcripts(system, nnet_frames):
    """nnet align: class scores mapped through transition-id -> class align exactly as the same scores
    expanded to pdfs (the GMM path); a trained net's alignment spells each transcript, is written like the
    GMMs' alignment dirs, and is not redone when nothing changed."""
    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.hmm.align import viterbi_align
    from asrser.hmm.graph import GraphCompiler
    from asrser.hmm.tables import alignment_to_phone_segments, tid_tables
    from asrser.nnet.align import align_hybrid
    from asrser.nnet.model import NetConfig
    from asrser.nnet.train import train_net

    exp = system / "exp" / "mono"
    model = AcousticModel.load(exp / "final.mdl")
    lang = Lang.load(system / "data" / "lang")
    tid2class, num_classes = monophone_state_classes(model)
    pdf2class = np.zeros(model.trans_model.num_pdfs, dtype=np.int64)
    pdf2class[model.tid2pdf[1:]] = tid2class[1:]
    text = {line.split()[0]: line.split()[1:] for line in (system / "data" / "test" / "text").read_text().splitlines()}
    compiler = GraphCompiler(model, lang)
    for n, (utt, feats) in enumerate(iter_features(system / "data" / "test", FeaturePipeline.load(exp))):
        pdf_loglik = model.pdf_loglik(feats)
        class_scores = np.stack([pdf_loglik[:, pdf2class == c].max(1) if (pdf2class == c).any() else
                                 np.full(len(feats), -1e10) for c in range(num_classes)], axis=1)
        graph = compiler.compile(text[utt])
        by_class, _, _ = viterbi_align(model, graph, class_scores, utt, AlignOptions(), tid2class)
        by_pdf, _, _ = viterbi_align(model, graph, class_scores[:, pdf2class], utt, AlignOptions())
        assert by_class is not None and by_class == by_pdf
        if n == 3:
            break

    config = NetConfig.from_yaml(nnet_frames / "net.yaml")
    train_net(nnet_frames / "frames_train", nnet_frames / "frames_test", nnet_frames / "whole", config, 144,
              progress=False)
    ali = nnet_frames / "ali_test"
    args = (exp / "final.mdl", system / "data" / "lang", system / "data" / "test", nnet_frames / "whole" / "final.pt",
            nnet_frames / "frames_test", ali, AlignOptions())
    counts = align_hybrid(*args, device="cpu")
    assert counts["done"] == 32 and counts["failed"] == 0
    phone_of, state_of = tid_tables(AcousticModel.load(ali / "final.mdl"))
    for utt, alignment in load_alignments(ali).items():
        phones = [lang.id2phone[p] for p, _ in alignment_to_phone_segments(phone_of, state_of, alignment)]
        assert phones == text[utt]
    acc = alignment_accuracy(ali, system / "data" / "lang", system / "data" / "test" / "ref_phones.ctm")
    assert acc["utterances"] == 32 and acc["within_40ms"] > 80
    mtime = (ali / "ali.1.gz").stat().st_mtime_ns
    assert align_hybrid(*args, device="cpu") == counts and (ali / "ali.1.gz").stat().st_mtime_ns == mtime
    assert (ali / "num_jobs").read_text() == "1\n" and (ali / "tree").exists()
