"""The HMM's graphs: training graphs, one per transcript (Kaldi's compile-train-graphs), and HCLG decoding
graphs, built the way Kaldi's utils/mkgraph.sh does with the wheels' OpenFst operations.

    LG    = minimize(determinize*(L_disambig o G))                  (fsttablecompose, fstdeterminizestar)
    CLG   = compose-context(LG)  -> ilabels                          (fstcomposecontext)
    Ha    = make-h-transducer(ilabels, tree, model)                  (transition-scale 1.0, no self-loops)
    HCLGa = minimize(rm-eps(rm-disambig(determinize*(Ha o CLG))))
    HCLG  = add-self-loops(HCLGa, self-loop-scale 0.1, reorder)

A graph dir is Kaldi's: HCLG.fst, disambig_tid.int (the transition-ids standing for disambiguation symbols,
removed from HCLG), num_pdfs, words.txt, phones.txt and phones/ of the lang dir. (Kaldi's mkgraph.sh stores
HCLG.fst as a ConstFst; here it is a VectorFst, which Kaldi's tools read as well; Kaldi's const graphs are read
by asrser.kaldi_format.read_graph.)
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import kaldi_hmm_gmm as khg
import kaldifst

from ..errors import AsrserError
from ..fileio import Stamp, atomic_write, temp_name
from ..lang import Lang
from .model import HmmModel, check_lang, tree_path

log = logging.getLogger(__name__)


class GraphCompiler:
    """compile-train-graphs: one linear-in-words training FST per transcript.

    Kaldi's compile-train-graphs adds no transition probabilities (scales 0); the aligner adds them."""

    def __init__(self, model: HmmModel, lang: Lang):
        opts = khg.TrainingGraphCompilerOptions()
        opts.transition_scale = 0.0
        opts.self_loop_scale = 0.0
        check_lang(lang, model)
        lex = lang.lexicon_fst()
        kaldifst.arcsort(lex, sort_type="olabel")
        self.lang = lang
        self.compiler = khg.TrainingGraphCompiler(trans_model=model.trans_model, ctx_dep=model.require_tree(),
                                                  lex_fst=lex, disambig_syms=lang.disambig_phone_ids,
                                                  opts=opts)

    def compile(self, words: list[str], where: str = "") -> kaldifst.StdVectorFst:
        return self.compiler.compile_graph_from_text(self.lang.word_ids(words, where))


def remove_input_symbols(fst: kaldifst.StdVectorFst, symbols: set[int]) -> kaldifst.StdVectorFst:
    """fstrmsymbols: replace the given input labels by epsilon."""
    lines = []
    for line in str(fst).splitlines():
        fields = line.split()
        if len(fields) >= 4 and int(fields[2]) in symbols:
            fields[2] = "0"
        lines.append(" ".join(fields))
    return kaldifst.compile("\n".join(lines) + "\n", acceptor=False)


def make_hclg(lang: Lang, model: HmmModel, self_loop_scale: float = 0.1,
              transition_scale: float = 1.0) -> tuple[kaldifst.StdVectorFst, list[int]]:
    """HCLG and the transition-ids that stood for the disambiguation symbols (disambig_tid.int)."""
    g_path = lang.path / "G.fst"
    if not g_path.exists():
        raise AsrserError(f"{lang.path}: no G.fst (make the test lang with an LM first)")
    check_lang(lang, model)
    lexicon = kaldifst.StdVectorFst.read(str(lang.path / "L_disambig.fst"))
    kaldifst.arcsort(lexicon, sort_type="olabel")
    grammar = kaldifst.StdVectorFst.read(str(g_path))
    kaldifst.arcsort(grammar, sort_type="ilabel")
    lg = kaldifst.compose(lexicon, grammar)
    kaldifst.determinize_star(lg, use_log=True)
    kaldifst.minimize_encoded(lg)
    tree = model.require_tree()
    clg, ilabels = kaldifst.compose_context(disambig_syms=lang.disambig_phone_ids,
                                            context_width=tree.context_width,
                                            central_position=tree.central_position, ifst=lg)
    kaldifst.arcsort(clg, sort_type="ilabel")
    ha, disambig_tids = khg.get_h_transducer(ilabel_info=ilabels, ctx_dep=tree, trans_model=model.trans_model,
                                             config=khg.HTransducerConfig(transition_scale=transition_scale))
    hclga = kaldifst.compose(ha, clg)
    kaldifst.determinize_star(hclga, use_log=True)
    hclga = remove_input_symbols(hclga, set(disambig_tids))
    kaldifst.rmepsilon(hclga)
    kaldifst.minimize_encoded(hclga)
    hclg = khg.add_self_loops(self_loop_scale=self_loop_scale, disambig_syms=[], reorder=True,
                              trans_model=model.trans_model, ifst=hclga)
    kaldifst.arcsort(hclg, sort_type="ilabel")
    return hclg, sorted(int(t) for t in disambig_tids)


def mkgraph(lang_dir: str | os.PathLike, model_dir: str | os.PathLike, graph_dir: str | os.PathLike) -> Path:
    """utils/mkgraph.sh: <graph_dir>/{HCLG.fst, disambig_tid.int, num_pdfs, words.txt, phones.txt, phones/};
    skipped when up to date."""
    lang = Lang.load(lang_dir)
    model_dir, graph_dir = Path(model_dir), Path(graph_dir)
    stamp = Stamp(graph_dir / "graph.done", [lang.path / "G.fst", lang.path / "L_disambig.fst",
                                             model_dir / "final.mdl", tree_path(model_dir / "final.mdl")])
    if stamp.is_current():
        log.info("%s is up to date", graph_dir)
        return graph_dir
    model = HmmModel.load(model_dir / "final.mdl")
    hclg, disambig_tids = make_hclg(lang, model)
    graph_dir.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(graph_dir / "HCLG.fst")
    hclg.write(str(tmp))
    os.replace(tmp, graph_dir / "HCLG.fst")
    with atomic_write(graph_dir / "disambig_tid.int") as f:
        f.writelines(f"{t}\n" for t in disambig_tids)
    with atomic_write(graph_dir / "num_pdfs") as f:
        f.write(f"{model.trans_model.num_pdfs}\n")
    for name in ("words.txt", "phones.txt"):
        shutil.copyfile(lang.path / name, graph_dir / name)
    shutil.copytree(lang.path / "phones", graph_dir / "phones", dirs_exist_ok=True)
    log.info("%s: HCLG with %d states", graph_dir, hclg.num_states)
    stamp.write()
    return graph_dir


def graph_properties(fst: kaldifst.StdVectorFst) -> dict:
    """Sanity figures for a decoding graph, as fstinfo and fstisstochastic would report them.

    `stochastic_deviation` is the largest |log sum of outgoing probabilities| over states after pushing the
    weights towards the initial state in the log semiring; a graph from a proper LM pushes to ~0. The push
    solves beta = final + A beta exactly, so it also fails (inf/nan) when the total path weight diverges.
    """
    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    src, dst, ilabel, weight, final = [], [], [], [], {}
    for line in str(fst).splitlines():
        fields = line.split()
        if len(fields) >= 4:
            src.append(int(fields[0]))
            dst.append(int(fields[1]))
            ilabel.append(int(fields[2]))
            weight.append(float(fields[4]) if len(fields) > 4 else 0.0)
        elif fields:
            final[int(fields[0])] = float(fields[1]) if len(fields) > 1 else 0.0
    n = fst.num_states
    src_a, dst_a, ilabel_a = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.array(ilabel)
    prob = np.exp(-np.array(weight))
    final_prob = np.zeros(n)
    for state, w in final.items():
        final_prob[state] = np.exp(-w)

    transitions = sp.csr_matrix((prob, (src_a, dst_a)), shape=(n, n))
    beta = spla.spsolve((sp.identity(n, format="csc") - transitions.tocsc()), final_prob)
    with np.errstate(divide="ignore", invalid="ignore"):
        out_mass = np.bincount(src_a, weights=prob * beta[dst_a], minlength=n) + final_prob
        deviation = np.abs(np.log(out_mass / beta))

    # coaccessible: states from which a final state is reachable (reverse search from the final states)
    reverse = sp.csr_matrix((np.ones(len(src_a)), (dst_a, src_a)), shape=(n, n))
    reached = np.zeros(n, dtype=bool)
    frontier = np.array(sorted(final), dtype=np.int64)
    reached[frontier] = True
    while frontier.size:
        nxt = np.unique(reverse[frontier].indices)
        frontier = nxt[~reached[nxt]]
        reached[frontier] = True

    # epsilon cycles: a cycle in the subgraph of input-epsilon arcs (Kahn's algorithm leaves it unsorted)
    eps = ilabel_a == 0
    eps_graph = sp.csr_matrix((np.ones(eps.sum()), (src_a[eps], dst_a[eps])), shape=(n, n))
    indegree = np.asarray((eps_graph != 0).sum(axis=0)).ravel()
    ready = list(np.flatnonzero(indegree == 0))
    removed = 0
    while ready:
        state = ready.pop()
        removed += 1
        for t in eps_graph[state].indices:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return {"states": n, "arcs": len(src), "final_states": len(final), "coaccessible": int(reached.sum()),
            "epsilon_arcs": int(eps.sum()), "epsilon_cycles": removed < n,
            "stochastic_deviation": float(np.nanmax(deviation)) if n else 0.0}
