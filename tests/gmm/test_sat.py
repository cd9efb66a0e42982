"""Speaker-adapted training on the tiny mini-TIMIT (Kaldi's train_sat.sh, align_fmllr.sh, decode_fmllr.sh):
mono -> tri2 (LDA+MLLT) -> tri3 (SAT), the two-pass fMLLR decode against tri2's and the first pass's PER."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asrser.gmm.decode import decode, decode_fmllr
from asrser.gmm.feats import FeaturePipeline
from asrser.gmm.fmllr import identity_transform, read_speaker_transforms
from asrser.gmm.model import AcousticModel
from asrser.gmm.train import TrainConfig, align_fmllr, align_si, train_mono, train_sat, train_tri
from asrser.hmm.align import AlignOptions, load_alignments
from asrser.hmm.decode import DecodeOptions
from asrser.hmm.graph import mkgraph
from asrser.kaldi_format import read_lattices, read_matrices
from asrser.phones import read_phone_map
from asrser.scoring import score_decode
from helpers import TIMIT_PHONE_MAP, tiny_phone_system_data

pytestmark = pytest.mark.slow
MONO = TrainConfig(num_iters=10, max_iter_inc=6, total_gauss=250, realign_iters=[1, 2, 3, 4, 6, 8], seed=0)
TRI2 = TrainConfig(num_iters=8, max_iter_inc=5, num_leaves=200, total_gauss=600, realign_iters=[4],
                   mllt_iters=[2, 4], beam=10.0, retry_beam=40.0, seed=2)
TRI3 = TrainConfig(num_iters=8, max_iter_inc=5, num_leaves=200, total_gauss=600, realign_iters=[4],
                   fmllr_iters=[2, 4, 6], beam=10.0, retry_beam=40.0, seed=3)
LM_WEIGHTS = [2.0, 4.0, 6.0, 8.0]


def per(decode_dir: Path, data: Path, exp: Path) -> float:
    return score_decode(decode_dir, data / "test" / "text", dict(read_phone_map(TIMIT_PHONE_MAP, 2, 3)),
                        words_txt=exp / "graph" / "words.txt", model=exp / "final.mdl",
                        lm_weights=LM_WEIGHTS).error_rate


@pytest.fixture(scope="module")
def runner_cmd() -> str:
    import sys
    return f"{Path(sys.executable).parent / 'asrser-run'} --backend local --max-jobs 2"


@pytest.fixture(scope="module")
def sat_system(tiny_timit_data, tmp_path_factory, runner_cmd):
    root = tmp_path_factory.mktemp("sat")
    data = tiny_phone_system_data(tiny_timit_data, root, ("train", "test"))
    exp = root / "exp"
    train_mono(data / "train", data / "lang", exp / "mono", MONO, 2, runner_cmd)
    opts = AlignOptions(beam=10.0, retry_beam=40.0)
    align_si(data / "train", data / "lang", exp / "mono", exp / "mono_ali", 2, runner_cmd, opts)
    train_tri(data / "train", data / "lang", exp / "mono_ali", exp / "tri2", TRI2, 2, runner_cmd, transform="lda")
    align_si(data / "train", data / "lang", exp / "tri2", exp / "tri2_ali", 2, runner_cmd, opts)
    train_sat(data / "train", data / "lang", exp / "tri2_ali", exp / "tri3", TRI3, 2, runner_cmd)
    return root, data, exp


def test_sat_exp_dir_has_the_kaldi_layout_and_speaker_transforms(sat_system):
    root, data, exp = sat_system
    tri3 = exp / "tri3"
    model, alimdl = AcousticModel.load(tri3 / "final.mdl"), AcousticModel.load(tri3 / "final.alimdl")
    assert alimdl.gmms.num_gauss == model.gmms.num_gauss                  # the same Gaussians, SI means
    assert not np.allclose(alimdl.gmms.means, model.gmms.means)
    transforms = read_speaker_transforms(tri3)
    speakers = (data / "train" / "spk2utt").read_text().split("\n")
    assert sorted(transforms) == sorted(line.split()[0] for line in speakers if line)
    assert all(m.shape == (40, 41) for m in transforms.values())
    assert not all(np.allclose(m, identity_transform(40)) for m in transforms.values())
    assert [k for k, _ in read_matrices(tri3 / "trans.1")]                # a Kaldi matrix archive
    assert (tri3 / "trans.iter").read_text().strip() == "6"
    assert FeaturePipeline.load(tri3).fmllr and not FeaturePipeline.load(tri3, speaker_independent=True).fmllr
    assert np.array_equal(FeaturePipeline.load(tri3).matrix, FeaturePipeline.load(exp / "tri2").matrix)


def test_fmllr_decode_gives_lattices_and_a_per_no_worse_than_the_speaker_independent_pass(sat_system, runner_cmd):
    root, data, exp = sat_system
    for system in ("tri2", "tri3"):
        mkgraph(data / "lang_test", exp / system, exp / system / "graph")
    decode(exp / "tri2" / "graph", data / "test", exp / "tri2", exp / "tri2" / "decode_test", 2, runner_cmd,
           DecodeOptions())
    tri3 = exp / "tri3"
    decode_fmllr(tri3 / "graph", data / "test", tri3, tri3 / "decode_test", 2, runner_cmd, DecodeOptions())
    utts = [line.split()[0] for line in (data / "test" / "text").read_text().splitlines()]
    lattices = {utt: lat for j in (1, 2) for utt, lat in read_lattices(tri3 / "decode_test" / f"lat.{j}.gz")}
    assert sorted(lattices) == sorted(utts) and all(lat.start >= 0 for lat in lattices.values())
    assert sorted(read_speaker_transforms(tri3 / "decode_test")) == sorted(
        line.split()[0] for line in (data / "test" / "spk2utt").read_text().splitlines())
    si, adapted = per(tri3 / "decode_test.si", data, tri3), per(tri3 / "decode_test", data, tri3)
    tri2 = per(exp / "tri2" / "decode_test", data, exp / "tri2")
    print(f"PER tri2 {tri2:.2f}, tri3 speaker-independent pass {si:.2f}, tri3 adapted {adapted:.2f}")
    assert adapted <= si + 2.0


def test_align_fmllr_writes_transforms_and_adapted_alignments(sat_system, runner_cmd):
    root, data, exp = sat_system
    out = exp / "tri3_ali_test"
    counts = align_fmllr(data / "test", data / "lang", exp / "tri3", out, 2, runner_cmd,
                         AlignOptions(beam=10.0, retry_beam=40.0), TRI3)
    assert counts["failed"] == 0
    alignments = load_alignments(out)
    pre = {utt: ali for j in (1, 2) for utt, ali in load_alignments_prefix(out / f"pre_ali.{j}.gz").items()}
    assert sorted(alignments) == sorted(pre) and len(alignments) > 0
    assert any(not np.array_equal(alignments[u], pre[u]) for u in alignments)     # adaptation moved some frames
    assert (out / "trans.1").exists() and (out / "num_jobs").read_text().strip() == "2"


def load_alignments_prefix(path: Path) -> dict[str, np.ndarray]:
    from asrser.kaldi_format import read_int_vectors
    return dict(read_int_vectors(path))
