"""Kaldi's own formats both ways: final.mdl (binary and text), tree, alignment archives, final.occs/final.mat,
matrix archives for latgen-faster-mapped, CompactLattice archives from the wheels' decoder lattices."""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import sys
from pathlib import Path

import kaldi_decoder
import kaldi_hmm_gmm as khg
import kaldifst
import kaldiio
import numpy as np
import pytest

from asrser.errors import AsrserError
from asrser.kaldi_format import (ArchiveWriter, CompactLattice, GmmModel, KaldiFormatError, best_paths,
                                 determinize_lattice, encode_compact_lattice, load_gmm_model, read_alignment_dir,
                                 read_gmm_model, read_graph, read_int_vectors, read_kaldi_matrix,
                                 read_kaldi_vector, read_lattices, read_matrices, read_num_jobs, read_tree,
                                 save_gmm_model, write_gmm_model, write_int_vectors, write_kaldi_matrix,
                                 write_kaldi_vector, write_lattices, write_loglikelihoods, write_num_jobs,
                                 write_tree)
from asrser.kaldi_format.lattice import RawLattice, phone_loop_lattice
from asrser.kaldi_format.stream import Reader, Writer
from asrser.kaldi_format.tree import ContextDependency
from helpers import REPO, tiny_phone_system_data
from kaldi_hand_files import HAND_MODEL, HAND_TREE

HAND_MEANS = {0: (-3.0, -3.0), 1: (-3.0, 3.0), 2: (3.0, -3.0), 3: (3.0, 3.0)}


def one_line(error: Exception, path) -> str:
    message = str(error)
    assert isinstance(error, AsrserError) and "\n" not in message and message.startswith(str(path)), message
    return message


# -- basic I/O ------------------------------------------------------------------------------------------------
def test_basic_types_vectors_and_matrices_in_kaldis_binary_and_text_layout():
    w = Writer(binary=True)
    w.header()
    w.token("<T>")
    w.int32(-2)
    w.uint32(7)
    w.float32(0.5)
    w.int_vector([3, 4])
    w.vector(np.array([1.5], dtype=np.float32))
    w.matrix(np.array([[1.0, 2.0]], dtype=np.float64))
    assert w.getvalue() == (b"\0B<T> " + b"\x04" + struct.pack("<i", -2) + b"\xfc" + struct.pack("<I", 7)
                            + b"\x04" + struct.pack("<f", 0.5) + b"\x04" + struct.pack("<iii", 2, 3, 4)
                            + b"FV \x04" + struct.pack("<if", 1, 1.5)
                            + b"DM \x04" + struct.pack("<i", 1) + b"\x04" + struct.pack("<idd", 2, 1.0, 2.0))
    r = Reader(w.getvalue(), True, "x", 2)
    r.expect("<T>")
    assert (r.int32(), r.uint32(), r.float(), r.int_vector().tolist()) == (-2, 7, 0.5, [3, 4])
    assert r.vector().tolist() == [1.5] and r.matrix().tolist() == [[1.0, 2.0]] and r.at_end()

    t = Writer(binary=False)
    t.token("<T>")
    t.int32(-2)
    t.int_vector([3, 4])
    t.vector(np.log(np.array([1.0, 0.5], dtype=np.float32)))
    t.matrix(np.array([[1, 2], [3, 4]], dtype=np.float32))
    assert t.getvalue() == b"<T> -2 [ 3 4 ]\n [ 0 -0.6931472 ]\n [\n  1 2 \n  3 4 ]\n"


def test_text_numbers_are_kaldis_seven_digits_unless_that_would_lose_bits():
    x = np.array([0.1, 1 / 3, 123456789.0, -1e-10, np.float32(0.9555095405578613)], dtype=np.float32)
    kaldi = Writer(binary=False, lossless=False)
    kaldi.vector(x)
    assert kaldi.getvalue() == b" [ 0.1 0.3333333 1.234568e+08 -1e-10 0.9555095 ]\n"     # C++ << at precision 7
    exact = Writer(binary=False)
    exact.vector(x)
    back = Reader(exact.getvalue(), False, "x").vector()
    assert back.tobytes() == x.tobytes()
    assert exact.getvalue().split()[1:3] == [b"0.1", b"0.33333334"]     # 7 digits where they are exact


# -- final.mdl --------------------------------------------------------------------------------------------------
def hand_files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "final.mdl").write_text(HAND_MODEL)
    (tmp_path / "tree").write_text(HAND_TREE)
    return tmp_path / "final.mdl", tmp_path / "tree"


def test_hand_made_text_model_reads_aligns_and_decodes_with_the_wheels(tmp_path):
    mdl, tree_path = hand_files(tmp_path)
    model = read_gmm_model(mdl)
    assert model.to_bytes(binary=False, lossless=False).decode() == HAND_MODEL      # printed as Kaldi prints it
    trans_model, gmms = load_gmm_model(mdl)
    tree = read_tree(tree_path, num_pdfs=trans_model.num_pdfs)
    assert (trans_model.num_pdfs, trans_model.num_transition_ids, tree.num_pdfs) == (4, 8, 4)
    assert gmms.gauss_per_pdf().tolist() == [1, 1, 1, 2]
    np.testing.assert_allclose(np.exp(trans_model.log_probs[1:]), 0.5, rtol=1e-6)

    # words 1 and 2 are phones 1 and 2; "1 2 1" as frames near the means of the pdfs of each HMM state
    lexicon = kaldifst.StdVectorFst()
    s = lexicon.add_state()
    lexicon.start = s
    lexicon.set_final(s, 0.0)
    for phone in (1, 2):
        lexicon.add_arc(s, kaldifst.StdArc(phone, phone, 0.0, s))
    opts = khg.TrainingGraphCompilerOptions()
    opts.transition_scale = opts.self_loop_scale = 0.0
    compiler = khg.TrainingGraphCompiler(trans_model=trans_model, ctx_dep=tree, lex_fst=lexicon,
                                         disambig_syms=[], opts=opts)
    graph = compiler.compile_graph_from_text([1, 2, 1])
    khg.add_transition_probs(trans_model=trans_model, transition_scale=1.0, self_loop_scale=0.1, fst=graph)
    pdfs = np.array([0] * 4 + [1] * 3 + [2] * 5 + [3] * 4 + [0] * 3 + [1] * 3)
    feats = (np.array([HAND_MEANS[p] for p in pdfs])
             + 0.3 * np.random.default_rng(0).standard_normal((len(pdfs), 2))).astype(np.float32)
    am = model.gmms.to_wheel()
    decodable = khg.DecodableAmDiagGmmScaled(am=am, tm=trans_model, feats=feats, scale=0.1)
    config = khg.AlignConfig()
    config.beam, config.retry_beam = 10.0, 40.0
    done, *_, alignment, _ = khg.align_utterance_wrapper(
        config=config, utt="u", acoustic_scale=0.1, fst=graph.copy(), decodable=decodable, num_done=0,
        num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
    tid2pdf = np.asarray(trans_model.transition_id_to_pdf_array())
    assert done == 1 and tid2pdf[alignment].tolist() == pdfs.tolist()

    # decoding the same frames over the graph gives the words, through a determinised lattice and an archive
    loglik = gmms.loglik(feats)
    decoder = kaldi_decoder.LatticeSimpleDecoder(graph, kaldi_decoder.LatticeSimpleDecoderConfig())
    decoder.decode(kaldi_decoder.DecodableCtc(np.ascontiguousarray(0.1 * loglik[:, tid2pdf[1:]], dtype=np.float32)))
    ok, raw = decoder.get_raw_lattice()
    clat = determinize_lattice(raw, beam=6.0, acoustic_scale=0.1).lattice
    write_lattices(tmp_path / "lat.1.gz", [("u", clat)])
    [(key, back)] = read_lattices(tmp_path / "lat.1.gz")
    best = back.best_path(acoustic_scale=1.0)
    assert key == "u" and best.words == [1, 2, 1] and best.transition_ids == list(alignment)


def test_binary_and_text_model_files_convert_both_ways_byte_for_byte(tmp_path):
    mdl, _ = hand_files(tmp_path)
    write_gmm_model(tmp_path / "bin.mdl", read_gmm_model(mdl))
    binary = (tmp_path / "bin.mdl").read_bytes()
    assert binary.startswith(b"\0B<TransitionModel> <Topology> ")
    write_gmm_model(tmp_path / "text.mdl", read_gmm_model(tmp_path / "bin.mdl"), binary=False)
    write_gmm_model(tmp_path / "again.mdl", read_gmm_model(tmp_path / "text.mdl"))
    assert (tmp_path / "again.mdl").read_bytes() == binary


def test_tree_files_are_what_the_wheels_own_kaldi_writer_writes(tmp_path):
    _, tree_path = hand_files(tmp_path)
    tree = read_tree(tree_path)
    tree.write(True, str(tmp_path / "wheel.bin"))
    tree.write(False, str(tmp_path / "wheel.txt"))
    write_tree(tmp_path / "ours.bin", tree)
    write_tree(tmp_path / "ours.txt", tree, binary=False)
    assert (tmp_path / "ours.bin").read_bytes() == (tmp_path / "wheel.bin").read_bytes()
    assert (tmp_path / "ours.txt").read_text() == (tmp_path / "wheel.txt").read_text() == HAND_TREE
    # a tree with questions (SE) goes through unchanged as well
    split = ContextDependency.read(Reader(HAND_TREE.replace("CE 3", "SE 0 [ 1 ]\n{ CE 3 CE 4 } \n").encode(),
                                          False, "x"))
    assert split.num_pdfs == 5
    assert ContextDependency.from_wheel(split.to_wheel()).to_bytes(False) == split.to_bytes(False)
    with pytest.raises(KaldiFormatError, match="the tree has 4 pdfs, the model 6"):
        read_tree(tree_path, num_pdfs=6)


def test_files_of_another_kind_or_truncated_are_one_line_errors(tmp_path):
    mdl, tree_path = hand_files(tmp_path)
    write_gmm_model(tmp_path / "bin.mdl", read_gmm_model(mdl))
    binary = (tmp_path / "bin.mdl").read_bytes()
    (tmp_path / "nnet3.raw").write_bytes(b"\0B<Nnet3> \ninput-node name=input dim=40\n")
    (tmp_path / "nnet3.mdl").write_bytes(binary[:binary.index(b"<DIMENSION>")] + b"<Nnet3> \n")
    cases = {tree_path: "expected <TransitionModel> (a Kaldi model), found ContextDependency (a decision tree)",
             tmp_path / "nnet3.raw": "expected <TransitionModel> (a Kaldi model), found <Nnet3> (an nnet3 model)",
             tmp_path / "nnet3.mdl": "expected <DIMENSION> (GMMs of a GMM-HMM model), found <Nnet3> (an nnet3 "
                                     "model)",
             tmp_path / "missing.mdl": "file does not exist"}
    for cut in (3, 40, len(binary) // 2, len(binary) - 5):
        (tmp_path / f"cut{cut}.mdl").write_bytes(binary[:cut])
        cases[tmp_path / f"cut{cut}.mdl"] = "(truncated?)"
    (tmp_path / "cut.txt").write_text(HAND_MODEL[:len(HAND_MODEL) // 2])
    cases[tmp_path / "cut.txt"] = "(truncated?)"
    for path, expected in cases.items():
        with pytest.raises(AsrserError) as e:
            read_gmm_model(path)
        assert expected in one_line(e.value, path)
    with pytest.raises(KaldiFormatError) as e:
        read_tree(mdl)
    assert "expected ContextDependency (a decision tree), found <TransitionModel>" in one_line(e.value, mdl)


@pytest.mark.parametrize("edit, expected", [
    (("1 1 1 \n", "1 5 1 \n"), "no emitting HMM state 5"),
    (("2 1 3 \n", "3 1 3 \n"), "phone 3 is not in the model's topology"),
    (("<Triples> 4 \n1 0 0 \n1 1 1 \n", "<Triples> 4 \n1 1 1 \n1 0 0 \n"), "not sorted"),
    ((" [ 0 -0.6931472 ", " [ 0 0.6931472 "), "at most 0"),
    ((" [ 0 -0.6931472 ", " [ 0 "), "expected 9 transition log-probabilities"),
    (("<NUMPDFS> 4", "<NUMPDFS> 3"), "the transition model has 4 pdfs, the GMMs 3"),
    (("<Transition> 1 0.5 <Transition> 2", "<Transition> 7 0.5 <Transition> 2"), "invalid transition to 7"),
    (("  1 1 \n  1 1 ]", "  1 -1 \n  1 1 ]"), "inverse variances > 0"),
    (("<WEIGHTS>  [ 0.5 0.5 ]", "<WEIGHTS>  [ 0.5 ]"), "do not agree"),
])
def test_crafted_models_are_refused_before_they_reach_the_wheels(tmp_path, edit, expected):
    """What the wheels' C++ would trust (and index out of range with) is checked when reading."""
    assert edit[0] in HAND_MODEL
    (tmp_path / "final.mdl").write_text(HAND_MODEL.replace(edit[0], edit[1], 1))
    with pytest.raises(KaldiFormatError) as e:
        load_gmm_model(tmp_path / "final.mdl")
    assert expected in one_line(e.value, tmp_path / "final.mdl")


def test_a_model_file_cannot_run_code(tmp_path):
    """The reader only parses numbers and tokens: a pickle payload is just a wrong file."""
    import pickle

    class Exploit:
        def __reduce__(self):
            return (Path(tmp_path / "pwned").write_text, ("ran",))

    (tmp_path / "final.mdl").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(KaldiFormatError):
        load_gmm_model(tmp_path / "final.mdl")
    assert not (tmp_path / "pwned").exists()


# -- archives and small files -------------------------------------------------------------------------------------
def test_alignment_archives_are_kaldis_int_vector_holder_byte_for_byte(tmp_path):
    alignments = [("utt1", np.array([1, 2, 300, 2 ** 31 - 1], dtype=np.int32)), ("utt2", np.array([], np.int32))]
    write_int_vectors(tmp_path / "ali.1.gz", alignments)
    plain = gzip.decompress((tmp_path / "ali.1.gz").read_bytes())
    expected = b"".join(key.encode() + b" \0B\x04" + struct.pack("<i", len(a))
                        + b"".join(b"\x04" + struct.pack("<i", v) for v in a) for key, a in alignments)
    theirs = io.BytesIO()
    kaldiio.save_ark(theirs, dict(alignments))
    assert plain == expected == theirs.getvalue()
    write_int_vectors(tmp_path / "ali.2.gz", [("utt3", [5, 6])], binary=False)
    assert gzip.decompress((tmp_path / "ali.2.gz").read_bytes()) == b"utt3 5 6 \n"
    write_num_jobs(tmp_path, 2)
    assert (tmp_path / "num_jobs").read_text() == "2\n" and read_num_jobs(tmp_path) == 2
    table = read_alignment_dir(tmp_path)
    assert list(table) == ["utt1", "utt2", "utt3"] and table["utt1"].tolist() == alignments[0][1].tolist()
    write_int_vectors(tmp_path / "same.gz", alignments)      # gzip without a time stamp: same content, same bytes
    assert (tmp_path / "same.gz").read_bytes() == (tmp_path / "ali.1.gz").read_bytes()

    data = (tmp_path / "ali.1.gz").read_bytes()
    (tmp_path / "ali.2.gz").write_bytes(data[:len(data) - 12])
    with pytest.raises(KaldiFormatError) as e:
        read_alignment_dir(tmp_path)
    assert "truncated" in one_line(e.value, tmp_path / "ali.2.gz")
    (tmp_path / "ali.2.gz").unlink()
    with pytest.raises(AsrserError) as e:
        read_alignment_dir(tmp_path)
    assert "file does not exist" in one_line(e.value, tmp_path / "ali.2.gz")
    feats = tmp_path / "feats.ark"
    kaldiio.save_ark(str(feats), {"utt1": np.zeros((2, 3), dtype=np.float32)})
    with pytest.raises(KaldiFormatError) as e:
        list(read_int_vectors(feats))
    assert "entry utt1" in one_line(e.value, feats)


def test_occs_and_transforms_are_kaldi_vector_and_matrix_files(tmp_path):
    occs = np.array([10.5, 0.0, 3.25], dtype=np.float32)
    write_kaldi_vector(tmp_path / "final.occs", occs)
    assert (tmp_path / "final.occs").read_bytes() == b"\0BFV \x04" + struct.pack("<i3f", 3, *occs)
    assert read_kaldi_vector(tmp_path / "final.occs").tolist() == occs.tolist()
    write_kaldi_vector(tmp_path / "occs.txt", occs, binary=False)
    assert (tmp_path / "occs.txt").read_text() == " [ 10.5 0 3.25 ]\n"
    mat = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    write_kaldi_matrix(tmp_path / "final.mat", mat)
    np.testing.assert_array_equal(read_kaldi_matrix(tmp_path / "final.mat"), mat)
    np.testing.assert_array_equal(kaldiio.load_mat(str(tmp_path / "final.mat")), mat)


def test_loglikelihood_archives_are_what_latgen_faster_mapped_reads(tmp_path):
    rng = np.random.default_rng(0)
    loglik = {"u1": rng.normal(size=(5, 4)).astype(np.float32), "u2": rng.normal(size=(3, 4)).astype(np.float32)}
    write_loglikelihoods(tmp_path / "loglik.ark", loglik.items(), num_pdfs=4)
    theirs = io.BytesIO()
    kaldiio.save_ark(theirs, loglik)
    assert (tmp_path / "loglik.ark").read_bytes() == theirs.getvalue()     # "\0BFM " rows cols floats
    assert {k: v.tolist() for k, v in read_matrices(tmp_path / "loglik.ark")} == {k: v.tolist()
                                                                                 for k, v in loglik.items()}
    with pytest.raises(ValueError, match="one column per pdf"):
        write_loglikelihoods(tmp_path / "bad.ark", [("u1", np.zeros((5, 3)))], num_pdfs=4)
    assert not (tmp_path / "bad.ark").exists()


# -- a trained system of the tiny corpus: model round trip and lattices ---------------------------------------------
@pytest.fixture(scope="module")
def system(tiny_timit_data, tmp_path_factory):
    from asrser.gmm.train import TrainConfig, train_mono
    from asrser.hmm.graph import mkgraph

    cmd = f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"
    root = tmp_path_factory.mktemp("kaldi_format")
    data = tiny_phone_system_data(tiny_timit_data, root, ("train", "test"))
    config = TrainConfig(num_iters=5, max_iter_inc=3, total_gauss=200, realign_iters=[1, 2, 3], seed=0)
    train_mono(data / "train", data / "lang", root / "exp" / "mono", config, 2, cmd)
    mkgraph(data / "lang_test", root / "exp" / "mono", root / "exp" / "mono" / "graph")
    return root


@pytest.mark.slow
def test_trained_model_reads_back_with_identical_likelihoods_and_transitions(system, tmp_path):
    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.gmm.model import AcousticModel

    exp = system / "exp" / "mono"
    model = AcousticModel.load(exp / "final.mdl")
    save_gmm_model(tmp_path / "final.mdl", model.trans_model, model.gmms)
    trans_model, gmms = load_gmm_model(tmp_path / "final.mdl")
    ours, theirs = trans_model.__getstate__(), model.trans_model.__getstate__()
    assert [t.__getstate__() for t in ours[0]] == [t.__getstate__() for t in theirs[0]]
    assert ours[2:] == theirs[2:]      # state2id, id2state, id2pdf, num_pdfs, log-probs, non-self-loop log-probs
    assert ours[1].__getstate__()[:2] == theirs[1].__getstate__()[:2]

    feats = np.concatenate([f for _, f in iter_features(system / "data" / "test", FeaturePipeline.load(exp))])
    # float on disk, as in Kaldi: the first write rounds the trainer's doubles once ...
    np.testing.assert_allclose(gmms.loglik(feats), model.pdf_loglik(feats), rtol=1e-5, atol=1e-3)
    # ... and from then on the model and its likelihoods are the same, bit for bit
    save_gmm_model(tmp_path / "again.mdl", trans_model, gmms)
    assert (tmp_path / "again.mdl").read_bytes() == (tmp_path / "final.mdl").read_bytes()
    _, gmms_again = load_gmm_model(tmp_path / "again.mdl")
    assert np.array_equal(gmms_again.loglik(feats), gmms.loglik(feats))
    # the wheels' GMMs from the file give the same likelihoods as the numpy ones
    am = read_gmm_model(tmp_path / "final.mdl").gmms.to_wheel()
    wheel = np.array([[am.log_likelihood(pdf, row) for pdf in range(am.num_pdfs)] for row in feats[:50]])
    np.testing.assert_allclose(wheel, gmms.loglik(feats[:50]), rtol=1e-4, atol=1e-3)

    # binary -> text -> binary, byte for byte; the tree written by the wheels' writer agrees on pdf counts
    write_gmm_model(tmp_path / "text.mdl", read_gmm_model(tmp_path / "final.mdl"), binary=False)
    assert (tmp_path / "text.mdl").read_bytes().startswith(b"<TransitionModel> \n<Topology> \n<TopologyEntry> \n")
    write_gmm_model(tmp_path / "back.mdl", read_gmm_model(tmp_path / "text.mdl"))
    assert (tmp_path / "back.mdl").read_bytes() == (tmp_path / "final.mdl").read_bytes()
    model.write_tree(tmp_path / "tree")
    tree = read_tree(tmp_path / "tree", num_pdfs=trans_model.num_pdfs)
    assert tree.num_pdfs == model.tree.num_pdfs == GmmModel.from_wheels(trans_model, gmms).gmms.num_pdfs


def raw_best_path(lattice: kaldifst.Lattice, inv_acoustic_scale: float) -> tuple[list[int], list[int]]:
    """(words, transition-ids) of the raw lattice's best path, as the project's scoring computes it today."""
    scaled = lattice.copy()
    kaldifst.scale_lattice(scale=[[1.0, 0.0], [0.0, inv_acoustic_scale]], in_out=scaled)
    best = kaldifst.shortest_path(scaled)
    arcs = {int(f[0]): (int(f[1]), int(f[2]), int(f[3])) for f in map(str.split, str(best).splitlines())
            if len(f) >= 4}
    words, tids, state = [], [], best.start
    while state in arcs:
        state, tid, word = arcs[state]
        words += [word] if word else []
        tids += [tid] if tid else []
    return words, tids


def constrained_best(raw: RawLattice, words: list[int]) -> tuple[float, float] | None:
    """(graph, acoustic) cost of the best raw path with exactly these words (at the decoding's scale)."""
    from asrser.kaldi_format.lattice import _raw_topological_order

    best: list[dict[int, tuple[float, float]]] = [{} for _ in raw.arcs]     # per state: words read -> cost
    best[raw.start][0] = (0.0, 0.0)
    result = None
    for s in _raw_topological_order(raw):
        for k, (g0, a0) in best[s].items():
            final = raw.finals[s]
            if k == len(words) and final is not None and (result is None or g0 + a0 + sum(final) < sum(result)):
                result = (g0 + final[0], a0 + final[1])
            for tid, word, g, a, nxt in raw.arcs[s]:
                if word and (k == len(words) or words[k] != word):
                    continue
                k2, old = k + (word != 0), best[nxt].get(k + (word != 0))
                if old is None or g0 + g + a0 + a < old[0] + old[1]:
                    best[nxt][k2] = (g0 + g, a0 + a)
    return result


def clat_path_cost(clat: CompactLattice, words: list[int]) -> tuple[float, float] | None:
    """The (graph, acoustic) cost of the path of a word sequence in a determinised lattice, or None."""
    state, g, a = clat.start, 0.0, 0.0
    for word in words:
        arc = next((arc for arc in clat.arcs[state] if arc[0] == word), None)
        if arc is None:
            return None
        state, g, a = arc[1], g + arc[2], a + arc[3]
    final = clat.finals[state]
    return None if final is None else (g + final[0], a + final[1])


def raw_best_cost(raw: RawLattice) -> float:
    from asrser.kaldi_format.lattice import _backward_costs, _raw_topological_order

    return _backward_costs(raw, _raw_topological_order(raw))[raw.start]


def test_compiled_determiniser_gives_the_python_reference_lattice():
    raw = phone_loop_lattice(20, 4)
    compiled = determinize_lattice(raw, 4.0, implementation="compiled")
    reference = determinize_lattice(raw, 4.0, implementation="python")
    assert compiled.beam == reference.beam == 4.0
    assert compiled.lattice.num_states > 100 and compiled.lattice.is_deterministic()
    assert encode_compact_lattice(compiled.lattice) == encode_compact_lattice(reference.lattice)
    best = compiled.lattice.best_path()
    assert best.graph_cost + best.acoustic_cost == pytest.approx(raw_best_cost(raw), abs=1e-4)


def test_a_lattice_that_outgrows_max_mem_is_pruned_with_a_narrower_beam_and_keeps_its_best_path():
    raw = phone_loop_lattice(40, 5)
    results = [determinize_lattice(raw, 6.0, max_mem=200_000, implementation=impl)
               for impl in ("compiled", "python")]
    for det in results:
        assert det.beam < 6.0 * 0.5       # narrowed: Kaldi's retry_cutoff
        assert det.lattice.is_deterministic() and det.lattice.num_states < 1000
        best = det.lattice.best_path()
        assert best.graph_cost + best.acoustic_cost == pytest.approx(raw_best_cost(raw), abs=1e-4)
        assert len(best.transition_ids) == 40
    assert encode_compact_lattice(results[0].lattice) == encode_compact_lattice(results[1].lattice)
    # with room enough the same lattice is determinised at the beam asked for
    assert determinize_lattice(phone_loop_lattice(12, 3), 6.0, max_mem=200_000).beam == 6.0


@pytest.mark.slow
def test_decoder_lattices_are_stored_as_kaldi_compact_lattices_and_rescored_without_decoding(system, tmp_path):
    from asrser.gmm.feats import FeaturePipeline, iter_features
    from asrser.gmm.model import AcousticModel

    exp = system / "exp" / "mono"
    model = AcousticModel.load(exp / "final.mdl")
    hclg = kaldifst.StdVectorFst.read(str(exp / "graph" / "HCLG.fst"))
    config = kaldi_decoder.LatticeSimpleDecoderConfig()
    config.beam, config.lattice_beam = 13.0, 6.0
    decoder = kaldi_decoder.LatticeSimpleDecoder(hclg, config)
    acwt, lm_weights, columns = 0.1, [float(w) for w in range(1, 11)], model.tid2pdf[1:]
    raws, lattices = {}, []
    for utt, feats in iter_features(system / "data" / "test", FeaturePipeline.load(exp)):
        scores = np.ascontiguousarray(acwt * model.pdf_loglik(feats)[:, columns], dtype=np.float32)
        decoder.decode(kaldi_decoder.DecodableCtc(scores))
        ok, raw = decoder.get_raw_lattice()
        assert ok
        clat = determinize_lattice(raw, config.lattice_beam, acwt).lattice
        assert clat.is_deterministic() and clat.num_states > 1
        reference = determinize_lattice(raw, config.lattice_beam, acwt, implementation="python").lattice
        assert encode_compact_lattice(reference) == encode_compact_lattice(clat)
        raws[utt] = raw
        lattices.append((utt, clat))
    assert len(lattices) == 32

    write_lattices(tmp_path / "lat.1.gz", lattices)
    stored = list(read_lattices(tmp_path / "lat.1.gz"))
    assert stored == lattices
    write_lattices(tmp_path / "lat.txt", stored, binary=False)
    assert list(read_lattices(tmp_path / "lat.txt")) == lattices
    text = (tmp_path / "lat.txt").read_text()
    assert text.startswith(f"{lattices[0][0]} \n0\t") and "\n\n" in text

    hyps = best_paths(stored, lm_weights, str(tmp_path / "lat.1.gz"))
    rng = np.random.default_rng(0)
    for utt, clat in stored:
        raw, raw_lists = raws[utt], RawLattice.from_kaldifst(raws[utt])
        # at the decoding's own scale the stored best path is the decoder's: words and alignment
        words, tids = raw_best_path(raw, 1.0)
        best = clat.best_path(acoustic_scale=acwt)
        assert (best.words, best.transition_ids) == (words, tids) == (hyps[1 / acwt][utt], tids)
        # at other LM weights the stored lattice keeps, per word sequence, its best alignment at the decoding's
        # scale, as Kaldi's determinised lattices do: where the raw lattice's best words differ from the stored
        # best, those words are in the stored lattice with exactly that cost, or beyond the lattice beam
        best_cost = sum(constrained_best(raw_lists, words))
        for w in lm_weights:
            raw_words = raw_best_path(raw, 1.0 / (acwt * w))[0]
            if raw_words == hyps[w][utt]:
                continue
            decode_cost = constrained_best(raw_lists, raw_words)
            stored_cost = clat_path_cost(clat, raw_words)
            if stored_cost is None:
                assert sum(decode_cost) - best_cost > config.lattice_beam - 1e-2
            else:
                np.testing.assert_allclose(stored_cost, (decode_cost[0], decode_cost[1] / acwt), rtol=1e-5,
                                           atol=1e-2)
        # a random path of the stored lattice is its word sequence's best path in the raw lattice
        state, path_words = clat.start, []
        while clat.arcs[state] and not (clat.finals[state] is not None and rng.random() < 0.3):
            arc = clat.arcs[state][rng.integers(len(clat.arcs[state]))]
            path_words.append(arc[0])
            state = arc[1]
        expected = constrained_best(raw_lists, path_words)
        np.testing.assert_allclose(clat_path_cost(clat, path_words), (expected[0], expected[1] / acwt), rtol=1e-5,
                                   atol=1e-2)

    entries = encode_compact_lattice(stored[0][1])
    assert entries[:4] == struct.pack("<i", 2125659606) and b"\x10\x00\x00\x00compactlattice44" in entries
    with ArchiveWriter(tmp_path / "lat.2.gz") as w:
        w.write_entry(stored[0][0], entries)
    data = (tmp_path / "lat.2.gz").read_bytes()
    (tmp_path / "lat.3.gz").write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(KaldiFormatError) as e:
        list(read_lattices(tmp_path / "lat.3.gz"))
    assert "truncated" in one_line(e.value, tmp_path / "lat.3.gz")
    write_int_vectors(tmp_path / "ali.1.gz", [("u", [1, 2])])
    with pytest.raises(KaldiFormatError) as e:
        list(read_lattices(tmp_path / "ali.1.gz"))
    assert "entry u: expected a lattice" in one_line(e.value, tmp_path / "ali.1.gz")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fstconvert") is None, reason="OpenFst's fstconvert (Debian libfst-tools) is needed")
def test_kaldis_const_hclg_reads_as_the_wheels_vector_fst(system, tmp_path):
    """Kaldi's mkgraph.sh writes HCLG.fst with fstconvert --fst_type=const, a type kaldifst cannot read."""
    import subprocess

    hclg = system / "exp" / "mono" / "graph" / "HCLG.fst"
    vector = kaldifst.StdVectorFst.read(str(hclg))
    for flags in ([], ["--fst_align"]):
        subprocess.run(["fstconvert", "--fst_type=const", *flags, str(hclg), str(tmp_path / "HCLG.fst")], check=True)
        assert (tmp_path / "HCLG.fst").read_bytes()[8:13] == b"const"
        graph = read_graph(tmp_path / "HCLG.fst")
        assert graph.num_states == vector.num_states > 100 and str(graph) == str(vector)
    assert str(read_graph(hclg)) == str(vector)
    model = system / "exp" / "mono" / "final.mdl"
    with pytest.raises(KaldiFormatError) as e:
        read_graph(model)
    assert "expected an FST" in one_line(e.value, model)
