"""Decoding through the CTC topology composed with G: the decoder's best path is the brute-force best
labelling's, and #0 backoff arcs are usable; greedy decoding merges repeats and drops blanks."""

import itertools

import kaldifst
import numpy as np
import pytest

from asrser.ctc.decode import GRAPH, ctc_topology, make_ctc_graph
from asrser.ctc.train import greedy_tokens
from asrser.errors import DataError
from asrser.hmm.decode import DecodeOptions, Decoder

TOKENS = ["a", "b", "c"]
WORDS = ["<eps>", "a", "b", "c", "#0", "<s>", "</s>"]
# A bigram G over a b c: state 0 = start, state k = after token k; a backoff state 4 reached by #0.
G_ARCS = [(0, 1, "a", 0.4), (0, 2, "b", 1.2), (0, 3, "c", 2.0),
          (1, 2, "b", 0.3), (1, 1, "a", 2.5), (2, 3, "c", 0.2), (2, 1, "a", 1.5), (3, 1, "a", 0.9),
          (1, 4, "#0", 1.0), (2, 4, "#0", 1.0), (3, 4, "#0", 1.0),
          (4, 1, "a", 1.1), (4, 2, "b", 1.1), (4, 3, "c", 1.1)]
G_FINAL = {1: 0.7, 2: 1.0, 3: 0.3}


def write_lang(lang):
    lang.mkdir()
    ids = {w: i for i, w in enumerate(WORDS)}
    (lang / "words.txt").write_text("".join(f"{w} {i}\n" for w, i in ids.items()))
    text = "".join(f"{s} {d} {ids[w]} {ids[w] if not w.startswith('#') else 0} {c}\n" for s, d, w, c in G_ARCS)
    text += "".join(f"{s} {c}\n" for s, c in G_FINAL.items())
    kaldifst.compile(text, acceptor=False).write(str(lang / "G.fst"))
    return lang


def g_cost(seq: list[int]) -> float:
    """The least cost of a token sequence in G (through backoff or not), by search over G's states."""
    costs = {0: 0.0}
    for t in seq:
        word = TOKENS[t - 1]
        expanded = dict(costs)
        for s, c in costs.items():                  # one #0 step to the backoff state
            for src, dst, w, cost in G_ARCS:
                if src == s and w == "#0":
                    expanded[dst] = min(expanded.get(dst, np.inf), c + cost)
        nxt: dict[int, float] = {}
        for s, c in expanded.items():
            for src, dst, w, cost in G_ARCS:
                if src == s and w == word:
                    nxt[dst] = min(nxt.get(dst, np.inf), c + cost)
        costs = nxt
    return min((c + G_FINAL[s] for s, c in costs.items() if s in G_FINAL), default=np.inf)


def collapse(labels) -> list[int]:
    out = [l for i, l in enumerate(labels) if l != 0 and (i == 0 or labels[i - 1] != l)]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bigram_decoding_finds_the_brute_force_best_path(tmp_path, seed):
    graph = make_ctc_graph(write_lang(tmp_path / "lang"), TOKENS, tmp_path / "graph")
    rng = np.random.default_rng(seed)
    frames = 6
    log_probs = np.log(rng.dirichlet(np.ones(4) * 0.7, size=frames))      # blank + a b c
    best, best_cost = None, np.inf
    for labels in itertools.product(range(4), repeat=frames):
        seq = collapse(labels)
        if not seq:
            continue
        cost = -log_probs[np.arange(frames), labels].sum() + g_cost(seq)
        if cost < best_cost - 1e-6:
            best, best_cost = seq, cost
    decoder = Decoder(graph, np.r_[0, np.arange(4)], DecodeOptions(acwt=1.0, beam=50, lattice_beam=10))
    decoded = decoder.decode(log_probs.astype(np.float32))
    path = decoded.lattice.best_path(acoustic_scale=1.0)
    words = (tmp_path / "graph" / "words.txt").read_text().split()
    id2word = dict(zip(map(int, words[1::2]), words[0::2]))
    assert [id2word[w] for w in path.words] == [TOKENS[t - 1] for t in best]
    assert path.graph_cost + path.acoustic_cost == pytest.approx(best_cost, abs=1e-3)


def test_ctc_topology_accepts_exactly_the_collapsing_labellings():
    topo = ctc_topology([11, 12])
    text = str(topo)
    arcs = [l.split() for l in text.splitlines() if len(l.split()) >= 4]
    assert len(arcs) == 1 + 2 + 2 * (2 + 1)          # blank loop, 2 entries, per token: loop, blank, other
    assert sum(1 for l in text.splitlines() if len(l.split()) <= 2) == 3   # every state final


def test_greedy_merges_repeats_and_drops_blanks():
    labels = [0, 2, 2, 0, 2, 1, 1, 0, 0, 3]
    log_probs = np.log(np.eye(4)[labels] * 0.9 + 0.025)
    assert greedy_tokens(log_probs) == [2, 2, 1, 3]


def test_a_token_missing_from_the_lang_is_named(tmp_path):
    lang = write_lang(tmp_path / "lang")
    with pytest.raises(DataError, match=r"lang/words.txt: the model's token 'zz' is not a word"):
        make_ctc_graph(lang, ["a", "zz"], tmp_path / "graph")
