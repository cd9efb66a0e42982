"""Numpy GMMs against the wheels' DiagGmm; ML re-estimation; seeded mixing up; decodable equivalence."""

from __future__ import annotations

import kaldi_hmm_gmm as khg
import numpy as np
import pytest

from asrser.errors import DataError
from asrser.gmm.model import AcousticModel, DiagGmms, MleOptions
from asrser.hmm.tables import scaled_tid_loglik
from asrser.lang import topology_text


def random_gmms(num_pdfs=4, per_pdf=3, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(num_pdfs), per_pdf)
    weights = rng.uniform(0.2, 1.0, len(owner))
    gmms = DiagGmms(owner, weights, rng.normal(size=(len(owner), dim)), rng.uniform(0.5, 2.0, (len(owner), dim)))
    gmms._renormalise()
    return gmms


def test_loglik_matches_wheel_diag_gmm():
    gmms = random_gmms()
    x = np.random.default_rng(1).normal(size=(20, 5)).astype(np.float32)
    am = gmms.to_am()
    ours = gmms.loglik(x)
    for pdf in range(gmms.num_pdfs):
        theirs = [am.get_pdf(pdf).log_likelihood(row) for row in x]
        np.testing.assert_allclose(ours[:, pdf], theirs, rtol=1e-4, atol=1e-3)
    back = DiagGmms.from_am(am)
    np.testing.assert_allclose(back.means, gmms.means, rtol=1e-5)
    np.testing.assert_allclose(back.variances, gmms.variances, rtol=1e-4)


def test_loglik_of_some_pdfs_equals_those_columns_of_the_whole_loglik():
    rng = np.random.default_rng(2)
    owner = np.repeat(np.arange(6), [1, 3, 8, 2, 5, 1])                  # unequal mixtures, ranks of 1 to 8
    gmms = DiagGmms(owner, rng.uniform(0.2, 1.0, len(owner)), rng.normal(size=(len(owner), 5)),
                    rng.uniform(0.5, 2.0, (len(owner), 5)))
    gmms._renormalise()
    x = rng.normal(scale=3.0, size=(40, 5)).astype(np.float32)
    whole = gmms.loglik(x)
    for pdfs in ([0, 1, 2, 3, 4, 5], [2], [5, 1, 4], [0, 5]):
        some = gmms.loglik_of(x, np.array(pdfs))
        assert some.shape == (40, len(pdfs)) and some.dtype == np.float32
        np.testing.assert_allclose(some, whole[:, pdfs], rtol=1e-6, atol=1e-4)


def test_single_gaussian_update_is_maximum_likelihood():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[1.0, -2.0], scale=[0.5, 2.0], size=(5000, 2))
    gmms = DiagGmms.single(1, np.zeros(2), np.ones(2))
    stats = gmms.zero_stats()
    gmms.accumulate(stats, x, np.zeros(len(x), dtype=int))
    new = gmms.updated(stats)
    np.testing.assert_allclose(new.means[0], x.mean(0), rtol=1e-9)
    np.testing.assert_allclose(new.variances[0], x.var(0), rtol=1e-9)
    assert stats.frames == 5000


def test_em_increases_likelihood_and_removes_rare_gaussians():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 1, (400, 1)), rng.normal(3, 1, (400, 1))])
    gmms = DiagGmms(np.array([0, 0, 0]), np.array([0.45, 0.45, 0.1]), np.array([[-1.0], [1.0], [50.0]]),
                    np.ones((3, 1)))
    pdfs = np.zeros(len(x), dtype=int)
    previous = -np.inf
    for _ in range(5):
        stats = gmms.zero_stats()
        gmms.accumulate(stats, x, pdfs)
        assert stats.loglik >= previous - 1e-5 * abs(previous)  # float32 likelihoods at convergence
        previous = stats.loglik
        gmms = gmms.updated(stats, MleOptions(min_gaussian_occupancy=10))
    assert gmms.num_gauss == 2  # the far-away Gaussian got no data and was removed
    assert sorted(np.round(gmms.means[:, 0])) == [-3, 3]


def test_mixup_is_seeded_and_allocates_by_occupancy():
    gmms = random_gmms(num_pdfs=3, per_pdf=1)
    occ = np.array([10000.0, 100.0, 1000.0])
    a = gmms.mixed_up(20, occ, np.random.default_rng(7))
    b = gmms.mixed_up(20, occ, np.random.default_rng(7))
    c = gmms.mixed_up(20, occ, np.random.default_rng(8))
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.array_equal(a.means, c.means)
    per_pdf = a.gauss_per_pdf()
    assert per_pdf[0] > per_pdf[2] > per_pdf[1] >= 1
    assert per_pdf[1] <= 100 / 20  # at most occupancy / min_count
    np.testing.assert_allclose(np.bincount(a.owner, weights=a.weights), 1.0)


@pytest.fixture(scope="module")
def small_model():
    topo = khg.HmmTopology()
    topo.read(topology_text([2, 3], [1]))
    tree = khg.monophone_context_dependency(phones=topo.phones,
                                            phone2num_pdf_classes=topo.get_phone_to_num_pdf_classes())
    tm = khg.TransitionModel(ctx_dep=tree, hmm_topo=topo)
    return AcousticModel(tm, tree, random_gmms(num_pdfs=tree.num_pdfs, per_pdf=2, dim=5))


def test_mapped_decodable_equals_wheel_gmm_decodable(small_model):
    x = np.random.default_rng(3).normal(size=(6, 5)).astype(np.float32)
    ours = khg.DecodableCtc(scaled_tid_loglik(small_model.pdf_loglik(x), small_model.tid2pdf, 0.1))
    am = small_model.gmms.to_am()  # the decodable keeps a pointer: keep the object alive
    theirs = khg.DecodableAmDiagGmmScaled(am=am, tm=small_model.trans_model, feats=x, scale=0.1)
    for t in range(len(x)):
        for tid in range(1, small_model.trans_model.num_transition_ids + 1):
            assert ours.log_likelihood(t, tid) == pytest.approx(theirs.log_likelihood(t, tid), abs=1e-3)


def test_model_save_load_round_trip(small_model, tmp_path):
    """final.mdl is Kaldi's (TransitionModel + AmDiagGmm, float parameters), the tree Kaldi's file beside it;
    a model read back and written again is the same file."""
    small_model.save(tmp_path / "1.mdl")
    small_model.write_tree(tmp_path / "tree")
    assert (tmp_path / "1.mdl").read_bytes().startswith(b"\0B<TransitionModel>")
    assert (tmp_path / "tree").read_bytes().startswith(b"\0B")
    back = AcousticModel.load(tmp_path / "1.mdl")
    np.testing.assert_allclose(back.gmms.means, small_model.gmms.means, rtol=1e-6)   # Kaldi keeps floats
    np.testing.assert_array_equal(back.tid2pdf, small_model.tid2pdf)
    np.testing.assert_array_equal(back.trans_model.log_probs, small_model.trans_model.log_probs)
    assert back.tree.num_pdfs == small_model.tree.num_pdfs
    back.save(tmp_path / "2.mdl")
    assert (tmp_path / "2.mdl").read_bytes() == (tmp_path / "1.mdl").read_bytes()
    back.save(tmp_path / "text.mdl", binary=False)
    x = np.random.default_rng(4).normal(size=(7, 5)).astype(np.float32)
    np.testing.assert_array_equal(AcousticModel.load(tmp_path / "text.mdl").pdf_loglik(x), back.pdf_loglik(x))


def test_a_crafted_model_file_runs_no_code(tmp_path):
    """A model file that unpickles to a shell command is refused as not a Kaldi model, without running it."""
    import pickle
    import subprocess

    class Payload:
        def __reduce__(self):
            return subprocess.call, (["touch", str(tmp_path / "ran")],)

    with open(tmp_path / "final.mdl", "wb") as f:
        blob = np.frombuffer(pickle.dumps(Payload()), dtype=np.uint8)
        np.savez(f, format=np.array("asrser-gmm-hmm-1"), trans_model=blob, tree=blob, owner=np.zeros(1),
                 weights=np.ones(1), means=np.zeros((1, 1)), variances=np.ones((1, 1)))
    with pytest.raises(DataError, match=f"^{tmp_path / 'final.mdl'}: "):
        AcousticModel.load(tmp_path / "final.mdl")
    assert not (tmp_path / "ran").exists()


def test_alignments_lang_or_graph_of_another_model_are_one_line_errors(small_model, tmp_path):
    """Each names the file and what it should have matched, before the wheels see it."""
    import re

    import kaldifst

    from asrser.hmm.align import read_alignments
    from asrser.hmm.decode import DecodeOptions, Decoder
    from asrser.hmm.graph import GraphCompiler
    from asrser.kaldi_format import write_int_vectors, write_num_jobs
    from asrser.lang import prepare_phone_lang

    exp = tmp_path / "exp"
    exp.mkdir()
    small_model.save(exp / "final.mdl")
    small_model.write_tree(exp / "tree")
    model = AcousticModel.load(exp / "final.mdl")
    n = model.num_transition_ids
    write_int_vectors(exp / "ali.1.gz", [("spk_u1", [1, 2, n + 5])])
    write_num_jobs(exp, 1)
    with pytest.raises(DataError, match=re.escape(f"{exp / 'ali.1.gz'}: utterance spk_u1: transition-id {n + 5} "
                                                  "is out of range")):
        list(read_alignments(exp, n))
    lang = prepare_phone_lang(tmp_path / "lang", ["sil", "a", "b", "c"], ["sil"])
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'lang' / 'phones.txt'}: 4 phones (ids 1-4), but "
                                                  f"the topology of {exp / 'final.mdl'} has 3")):
        GraphCompiler(model, lang)
    graph = kaldifst.StdVectorFst()
    start, end = graph.add_state(), graph.add_state()
    graph.start = start
    graph.add_arc(start, kaldifst.StdArc(n + 1, 1, 0.0, end))
    graph.set_final(end, 0.0)
    graph.write(str(tmp_path / "HCLG.fst"))
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'HCLG.fst'}: the graph uses transition-ids up to "
                                                  f"{n + 1}, {exp / 'final.mdl'} has {n}")):
        Decoder(tmp_path / "HCLG.fst", model.tid2pdf, DecodeOptions(), exp / "final.mdl")
