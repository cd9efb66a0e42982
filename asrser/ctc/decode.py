"""Decoding a CTC model: greedy (best token per frame, repeats merged, blanks dropped) and with the recipe's
phone bigram through a graph, scored by the recipe's sclite PER (asrser.scoring, text hypotheses).

The graph is TG = T o G: T the CTC topology (EESEN's), whose input labels are the net's output columns + 1
(1 = blank, k + 1 = token k) and whose outputs are the tokens' word ids in the lang's words.txt; G the test
lang's G.fst with its backoff disambiguation symbol (#0) made epsilon. It is decoded like every graph of the
toolkit (hmm.decode.Decoder: the wheels' lattice decoder over DecodableCtc, lattices determinised), with
the "transition-id" k + 1 reading column k of the net's log-probabilities; the lattices go to lat.1.gz, and
the best path per LM weight to hyp/<LMWT>.1.txt, which scoring reads (there is no HMM to time the phones,
so no num_jobs: the scoring takes the text hypotheses). A greedy decode writes hyp/0.1.txt: weight 0, no LM.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import kaldifst
import numpy as np
import torch

from ..errors import AsrserError, DataError
from ..fileio import Stamp, atomic_write
from ..lang import read_symbol_table
from ..nnet.train import autocast_dtype, select_device
from .data import Utterances
from .model import BLANK, TrainedCtc
from .train import greedy_tokens, run_model

log = logging.getLogger(__name__)

GRAPH = "TG.fst"


def ctc_topology(token_words: list[int]) -> kaldifst.StdVectorFst:
    """T: state 0 (start, final) loops on blank; token k (input k + 2, output token_words[k]) enters state
    k + 1, which loops on its token, returns to 0 on blank and goes to state j + 1 on any other token j; every
    state is final."""
    blank = BLANK + 1
    lines = [f"0 0 {blank} 0"]
    for k, word in enumerate(token_words):
        lines.append(f"0 {k + 1} {k + 2} {word}")
    for k in range(len(token_words)):
        lines.append(f"{k + 1} {k + 1} {k + 2} 0")
        lines.append(f"{k + 1} 0 {blank} 0")
        for j, word in enumerate(token_words):
            if j != k:
                lines.append(f"{k + 1} {j + 1} {j + 2} {word}")
    lines += [str(s) for s in range(len(token_words) + 1)]
    return kaldifst.compile("\n".join(lines) + "\n", acceptor=False)


def make_ctc_graph(lang_dir: str | os.PathLike, tokens: list[str], out_dir: str | os.PathLike) -> Path:
    """<out_dir>/TG.fst for a model's tokens and a test lang (G.fst, words.txt); up to date while they are
    the same. A token that is not a word of the lang is an error naming its words.txt."""
    from ..hmm.graph import remove_input_symbols

    lang_dir, out_dir = Path(lang_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    graph = out_dir / GRAPH
    stamp = Stamp(out_dir / "graph.done", [lang_dir / "G.fst", lang_dir / "words.txt"], tokens=tokens)
    if stamp.is_current(graph):
        return graph
    if not (lang_dir / "G.fst").exists():
        raise DataError(lang_dir / "G.fst", "file does not exist (make the test lang with an LM first)")
    words = read_symbol_table(lang_dir / "words.txt")
    missing = [t for t in tokens if t not in words]
    if missing:
        raise DataError(lang_dir / "words.txt", f"the model's token {missing[0]!r} is not a word of the lang "
                                                "(a model trained on another lang)")
    grammar = kaldifst.StdVectorFst.read(str(lang_dir / "G.fst"))
    grammar = remove_input_symbols(grammar, {i for w, i in words.items() if w.startswith("#")})
    kaldifst.arcsort(grammar, sort_type="ilabel")
    topology = ctc_topology([words[t] for t in tokens])
    kaldifst.arcsort(topology, sort_type="olabel")
    tg = kaldifst.compose(topology, grammar)
    kaldifst.connect(tg)
    if tg.num_states == 0:
        raise AsrserError(f"{lang_dir}: the CTC topology composed with G.fst accepts nothing")
    kaldifst.arcsort(tg, sort_type="ilabel")
    tmp = out_dir / f".{GRAPH}.tmp"
    tg.write(str(tmp))
    tmp.replace(graph)
    with atomic_write(out_dir / "words.txt") as f:
        f.write((lang_dir / "words.txt").read_text())
    stamp.write()
    log.info("%s: %d states, %d tokens + blank", graph, tg.num_states, len(tokens))
    return graph


def utterance_log_probs(trained: TrainedCtc, data_dir: str | os.PathLike, device: str = "auto",
                        precision: str = "auto", batch_frames: int = 20000):
    """(utt, (T', tokens + 1) log-probabilities) for every utterance of <data_dir>/feats.scp, in its order."""
    data = Utterances.load(data_dir, trained.tokens, need_text=False)
    dev = select_device(device)
    model = trained.model.to(dev)
    out = [None] * len(data.utts)
    for i, log_probs in run_model(model, data, trained.mean.numpy(), trained.std.numpy(), dev,
                                  autocast_dtype(dev, precision), batch_frames):
        out[i] = log_probs
    return list(zip(data.utts, out))


def decode_ctc(model_path: str | os.PathLike, data_dir: str | os.PathLike, decode_dir: str | os.PathLike, *,
               graph_dir: str | os.PathLike | None = None, opts=None, lm_weights=(1.0,),
               device: str = "auto") -> dict:
    """Decode <data_dir>'s fbank into decode_dir's hyp/<LMWT>.1.txt: greedily (no graph_dir; weight 0), or
    through <graph_dir>/TG.fst (make_ctc_graph) with lattices in lat.1.gz and the best path at each LM weight.
    Returns the decoder's counts (hmm.decode.decode_counts)."""
    from ..hmm.decode import (DecodeOptions, Decoder, clear_decode_outputs, decode_counts, decode_utterances,
                              log_decode_counts, write_job_counts)
    from ..kaldi_format import read_lattices
    from ..kaldi_format.lattice import best_paths

    decode_dir = Path(decode_dir)
    opts = opts or DecodeOptions(acwt=1.0)
    inputs = [Path(model_path), Path(data_dir) / "feats.scp"]
    if graph_dir is not None:
        inputs.append(Path(graph_dir) / GRAPH)
    stamp = Stamp(decode_dir / "decode.done", inputs, greedy=graph_dir is None, lm_weights=list(lm_weights),
                  options=vars(opts))
    if stamp.is_current():
        return decode_counts(decode_dir)
    trained = TrainedCtc.load(model_path)
    decode_dir.mkdir(parents=True, exist_ok=True)
    clear_decode_outputs(decode_dir)
    hyp_dir = decode_dir / "hyp"
    hyp_dir.mkdir(exist_ok=True)
    start = time.perf_counter()
    utterances = utterance_log_probs(trained, data_dir, device)
    if graph_dir is None:
        with atomic_write(hyp_dir / "0.1.txt") as f:
            for utt, log_probs in utterances:
                f.write(" ".join([utt, *(trained.tokens[t - 1] for t in greedy_tokens(log_probs))]) + "\n")
        counts = dict(utterances=len(utterances), frames=sum(len(lp) for _, lp in utterances), retried=0,
                      partial=0, failed=0, partial_utts=[], failed_utts=[])
    else:
        graph_dir = Path(graph_dir)
        num_columns = len(trained.tokens) + 1
        tid2column = np.r_[0, np.arange(num_columns)]
        decoder = Decoder(graph_dir / GRAPH, tid2column, opts, model_path)
        counts = decode_utterances(decoder, utterances, decode_dir, 1)
        id2word = {i: w for w, i in read_symbol_table(graph_dir / "words.txt").items()}
        paths = best_paths(read_lattices(decode_dir / "lat.1.gz"), lm_weights, str(decode_dir / "lat.1.gz"))
        for w, by_utt in paths.items():
            with atomic_write(hyp_dir / f"{w:g}.1.txt") as f:
                for utt, word_ids in by_utt.items():
                    f.write(" ".join([utt, *(id2word[i] for i in word_ids)]) + "\n")
    counts["seconds"] = time.perf_counter() - start
    write_job_counts(decode_dir, 1, counts)
    stamp.write()
    counts = decode_counts(decode_dir)
    log_decode_counts(decode_dir, counts, opts)
    return counts
