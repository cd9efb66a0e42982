"""A Kaldi experiment made with the wheels alone, as a Kaldi user's egs/timit/s5 would hand it over: a monophone
GMM-HMM built and trained (flat start, Viterbi EM, one Gaussian per state) with kaldi_hmm_gmm's own classes,
its alignments written as Kaldi int-vector archives by kaldiio, and its HCLG compiled by kaldifst and
kaldi_hmm_gmm and written as Kaldi's mkgraph.sh writes it (a ConstFst). No model class or trainer of asrser is
used; the wheels have no writer for TransitionModel and AmDiagGmm, so final.mdl is written by
asrser.kaldi_format from the wheels' objects.

Layout (Kaldi's): <out>/data/lang (a copy of the lang dir), <out>/exp/mono/{final.mdl,tree,graph/},
<out>/exp/mono_ali{,_dev,...}/{final.mdl,tree,ali.N.gz,num_jobs}.

Usage: python tests/wheel_kaldi_experiment.py <data-root with train/ dev/ ...: MFCC feats.scp, cmvn.scp> \\
         <lang> <lang-test with G.fst> <out> [set ...]
"""

from __future__ import annotations

import shutil
import sys
import zlib
from pathlib import Path

import kaldi_hmm_gmm as khg       # the wheels before kaldiio (import order, see the package's __init__)
import kaldifst
import kaldiio
import numpy as np


def read_symbols(path: Path) -> dict[str, int]:
    return {s: int(i) for s, i in (line.split() for line in path.read_text().splitlines() if line.strip())}


def add_deltas(x: np.ndarray, order: int = 2, window: int = 2) -> np.ndarray:
    """Kaldi's add-deltas (edge frames repeated)."""
    out, cur = [x], x
    norm = 2 * sum(n * n for n in range(1, window + 1))
    for _ in range(order):
        padded = np.concatenate([np.repeat(cur[:1], window, 0), cur, np.repeat(cur[-1:], window, 0)])
        cur = sum(n * (padded[window + n:window + n + len(cur)] - padded[window - n:window - n + len(cur)])
                  for n in range(1, window + 1)) / norm
        out.append(cur)
    return np.hstack(out).astype(np.float32)


def load_features(data: Path) -> dict[str, np.ndarray]:
    """MFCC with per-speaker mean normalisation (apply-cmvn's default) and deltas."""
    utt2spk = dict(line.split() for line in (data / "utt2spk").read_text().splitlines())
    cmvn = dict(kaldiio.load_scp(str(data / "cmvn.scp")))
    feats = {}
    for utt, x in kaldiio.load_scp(str(data / "feats.scp")).items():
        stats = cmvn[utt2spk[utt]]
        feats[utt] = add_deltas(x - stats[0, :-1] / stats[0, -1])
    return feats


class WheelMono:
    """gmm-init-mono, align-equal-compiled, gmm-acc-stats-ali, gmm-est, gmm-align-compiled: with the wheels."""

    def __init__(self, lang: Path, dim: int, global_mean: np.ndarray, global_var: np.ndarray):
        self.topo = khg.HmmTopology()
        self.topo.read((lang / "topo").read_text())
        phones = list(self.topo.phones)
        num_classes = [0] * (max(phones) + 1)
        for p in phones:
            num_classes[p] = self.topo.num_pdf_classes(p)
        self.tree = khg.monophone_context_dependency(phones, num_classes)
        self.trans_model = khg.TransitionModel(self.tree, self.topo)
        self.am = khg.AmDiagGmm()
        for _ in range(self.trans_model.num_pdfs):
            gmm = khg.DiagGmm(1, dim)
            gmm.set_weights(np.ones(1, dtype=np.float32))
            gmm.set_invvars_and_means((1.0 / global_var)[None].astype(np.float32),
                                      global_mean[None].astype(np.float32))
            gmm.compute_gconsts()
            self.am.add_pdf(gmm)
        phone_ids = read_symbols(lang / "phones.txt")
        self.words = read_symbols(lang / "words.txt")
        lexicon = kaldifst.StdVectorFst.read(str(lang / "L_disambig.fst"))
        kaldifst.arcsort(lexicon, sort_type="olabel")
        opts = khg.TrainingGraphCompilerOptions()
        opts.transition_scale = opts.self_loop_scale = 0.0
        self.compiler = khg.TrainingGraphCompiler(
            trans_model=self.trans_model, ctx_dep=self.tree, lex_fst=lexicon,
            disambig_syms=[i for p, i in phone_ids.items() if p.startswith("#")], opts=opts)

    def graph(self, words: list[str]) -> kaldifst.StdVectorFst:
        return self.compiler.compile_graph_from_text([self.words[w] for w in words])

    def equal_align(self, graph, num_frames: int, utt: str) -> list[int] | None:
        ok, path = kaldifst.equal_align(ifst=graph, length=num_frames, rand_seed=zlib.crc32(utt.encode()) & 0x7FFFFFFF)
        ok2, tids, _, _ = kaldifst.get_linear_symbol_sequence(path) if ok else (False, [], [], 0)
        return list(tids) if ok2 and len(tids) == num_frames else None

    def align(self, graph, feats: np.ndarray, utt: str) -> list[int] | None:
        fst = graph.copy()
        khg.add_transition_probs(trans_model=self.trans_model, transition_scale=1.0, self_loop_scale=0.1, fst=fst)
        decodable = khg.DecodableAmDiagGmmScaled(am=self.am, tm=self.trans_model, feats=feats, scale=0.1)
        config = khg.AlignConfig()
        config.beam, config.retry_beam = 10.0, 40.0
        done, *_, alignment, _ = khg.align_utterance_wrapper(
            config=config, utt=utt, acoustic_scale=0.1, fst=fst, decodable=decodable, num_done=0,
            num_error=0, num_retried=0, tot_like=0.0, frame_count=0)
        return list(alignment) if done and len(alignment) == len(feats) else None

    def update(self, feats: dict[str, np.ndarray], alignments: dict[str, list[int]]) -> None:
        flags = khg.str_to_gmm_flags("mvw")
        acc = khg.AccumAmDiagGmm()
        acc.init(self.am, flags)
        tid2pdf = np.asarray(self.trans_model.transition_id_to_pdf_array())
        counts = np.zeros(self.trans_model.num_transition_ids + 1)
        for utt, ali in alignments.items():
            for frame, tid in zip(feats[utt], ali):
                acc.accumulate_for_gmm(self.am, frame, int(tid2pdf[tid]), 1.0)
            counts += np.bincount(ali, minlength=len(counts))      # TransitionModel::Accumulate, prob 1
        khg.mle_am_diag_gmm_update(khg.MleDiagGmmOptions(), acc, flags, self.am)
        self.trans_model.mle_update(counts, khg.MleTransitionUpdateConfig())


def train_mono(data: Path, lang: Path, iters: int = 6) -> tuple[WheelMono, dict[str, list[str]]]:
    feats = load_features(data)
    stacked = np.vstack(list(feats.values()))
    mono = WheelMono(lang, stacked.shape[1], stacked.mean(0), stacked.var(0) + 1e-3)
    text = {u: ws for u, *ws in (line.split() for line in (data / "text").read_text().splitlines())}
    graphs = {u: mono.graph(text[u]) for u in feats if u in text}
    alignments = {u: a for u in graphs if (a := mono.equal_align(graphs[u], len(feats[u]), u)) is not None}
    for _ in range(iters):
        mono.update(feats, alignments)
        alignments = {u: a for u in graphs if (a := mono.align(graphs[u], feats[u], u)) is not None}
    return mono, text


def write_model(mono: WheelMono, exp: Path) -> None:
    from asrser.kaldi_format import save_gmm_model      # the wheels have no TransitionModel/AmDiagGmm writer

    exp.mkdir(parents=True, exist_ok=True)
    save_gmm_model(exp / "final.mdl", mono.trans_model, mono.am)
    mono.tree.write(True, str(exp / "tree"))             # ContextDependency::Write, the wheel's own


def write_alignments(mono: WheelMono, data: Path, ali_dir: Path, nj: int = 2) -> int:
    """Kaldi's align_si.sh output: final.mdl, tree, ali.JOB.gz (kaldiio through gzip, as `ark:|gzip -c >`)."""
    feats = load_features(data)
    text = {u: ws for u, *ws in (line.split() for line in (data / "text").read_text().splitlines())}
    utts = sorted(u for u in feats if u in text)
    write_model(mono, ali_dir)
    done = 0
    for job in range(1, nj + 1):
        with kaldiio.WriteHelper(f"ark:| gzip -c > {ali_dir / f'ali.{job}.gz'}") as writer:
            for utt in utts[job - 1::nj]:
                ali = mono.align(mono.graph(text[utt]), feats[utt], utt)
                if ali is not None:
                    writer(utt, np.asarray(ali, dtype=np.int32))
                    done += 1
    (ali_dir / "num_jobs").write_text(f"{nj}\n")
    return done


def write_graph(mono: WheelMono, lang_test: Path, graph_dir: Path) -> None:
    """mkgraph.sh with the wheels: HCLG = min(det(H o min(det(C o min(det(L o G)))))) with self-loops, the
    disambiguation transition-ids made epsilon (fstrmsymbols), written as a ConstFst."""
    phone_ids = read_symbols(lang_test / "phones.txt")
    disambig = [i for p, i in phone_ids.items() if p.startswith("#")]
    lexicon = kaldifst.StdVectorFst.read(str(lang_test / "L_disambig.fst"))
    kaldifst.arcsort(lexicon, sort_type="olabel")
    grammar = kaldifst.StdVectorFst.read(str(lang_test / "G.fst"))
    kaldifst.arcsort(grammar, sort_type="ilabel")
    lg = kaldifst.compose(lexicon, grammar)
    kaldifst.determinize_star(lg, use_log=True)
    kaldifst.minimize_encoded(lg)
    clg, ilabels = kaldifst.compose_context(disambig_syms=disambig, context_width=mono.tree.context_width,
                                            central_position=mono.tree.central_position, ifst=lg)
    kaldifst.arcsort(clg, sort_type="ilabel")
    ha, disambig_tids = khg.get_h_transducer(ilabel_info=ilabels, ctx_dep=mono.tree, trans_model=mono.trans_model,
                                             config=khg.HTransducerConfig(transition_scale=1.0))
    hclga = kaldifst.compose(ha, clg)
    kaldifst.determinize_star(hclga, use_log=True)
    drop = set(disambig_tids)
    lines = []
    for line in str(hclga).splitlines():                 # fstrmsymbols
        fields = line.split()
        if len(fields) >= 4 and int(fields[2]) in drop:
            fields[2] = "0"
        lines.append(" ".join(fields))
    hclga = kaldifst.compile("\n".join(lines) + "\n", acceptor=False)
    kaldifst.rmepsilon(hclga)
    kaldifst.minimize_encoded(hclga)
    hclg = khg.add_self_loops(self_loop_scale=0.1, disambig_syms=[], reorder=True, trans_model=mono.trans_model,
                              ifst=hclga)
    kaldifst.arcsort(hclg, sort_type="ilabel")
    graph_dir.mkdir(parents=True, exist_ok=True)
    kaldifst.StdConstFst(hclg).write(str(graph_dir / "HCLG.fst"))
    (graph_dir / "disambig_tid.int").write_text("".join(f"{t}\n" for t in sorted(disambig_tids)))
    (graph_dir / "num_pdfs").write_text(f"{mono.trans_model.num_pdfs}\n")
    for name in ("words.txt", "phones.txt"):
        shutil.copyfile(lang_test / name, graph_dir / name)
    shutil.copytree(lang_test / "phones", graph_dir / "phones", dirs_exist_ok=True)


def build(data_root: Path, lang: Path, lang_test: Path, out: Path, sets=("train", "dev"), iters: int = 6) -> Path:
    """The experiment under `out` (see the module's docstring); returns `out`."""
    shutil.copytree(lang, out / "data" / "lang", dirs_exist_ok=True)
    mono, _ = train_mono(data_root / "train", lang, iters)
    write_model(mono, out / "exp" / "mono")
    write_graph(mono, lang_test, out / "exp" / "mono" / "graph")
    for name in sets:
        suffix = "" if name == "train" else f"_{name}"
        write_alignments(mono, data_root / name, out / "exp" / f"mono_ali{suffix}")
    return out


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    root, lang_dir, lang_test_dir, out_dir = map(Path, sys.argv[1:5])
    build(root, lang_dir, lang_test_dir, out_dir, tuple(sys.argv[5:]) or ("train", "dev"))
    print(out_dir)
