#!/usr/bin/env python3
"""Decode a data dir's fbank with a trained CTC model and score it as every TIMIT system is scored (sclite PER,
e.g. 48 -> 39 phones): greedily (no --lang-test; LM weight 0 in the tables), or with a test lang's G.fst
through the CTC topology (TG.fst in <model-dir>/graph_<lang-name>, made once), lattices in <decode-dir>/lat.1.gz
and the best path at each of --lm-weights.

Usage: ctc_decode.py [--lang-test DIR] [--phone-map FILE --phone-map-columns 2,3] <model> <data> <text> <decode-dir>
  e.g. ctc_decode.py --lang-test data/lang_test_bg --phone-map conf/timit/phones.60-48-39.map \
         --phone-map-columns 2,3 exp/ctc/final.pt data-fbank/dev data/dev/text exp/ctc/decode_dev
"""
from asrser import cli

p = cli.parser(__doc__)
p.add_argument("--lang-test", default=None, help="a lang dir with G.fst (e.g. the phone bigram); none: greedy")
p.add_argument("--acwt", type=float, default=1.0, help="acoustic scale of the decode (the lattice beam's scale)")
p.add_argument("--beam", type=float, default=16.0)
p.add_argument("--lattice-beam", type=float, default=8.0)
p.add_argument("--lm-weights", default="0.1 0.2 0.3 0.5 0.75 1 1.5 2",
               help="LM weights to score (the acoustic scale of each best path is 1/LMWT)")
p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
cli.add_scoring_options(p)
for name in ("model", "data", "text", "decode_dir"):
    p.add_argument(name)


def main(a):
    from pathlib import Path

    from asrser.ctc.decode import decode_ctc, make_ctc_graph
    from asrser.ctc.model import TrainedCtc
    from asrser.hmm.decode import DecodeOptions
    from asrser.phones import read_scoring_map, scoring_name
    from asrser.scoring import score_decode

    phone_map = read_scoring_map(a.phone_map, a.phone_map_columns)
    graph_dir = None
    if a.lang_test:
        graph_dir = Path(a.model).parent / f"graph_{Path(a.lang_test).name.removeprefix('lang_test_')}"
        make_ctc_graph(a.lang_test, TrainedCtc.load(a.model).tokens, graph_dir)
    score_opts = cli.scoring_options(a, phone_map, graph_dir or a.lang_test or "")
    opts = DecodeOptions(acwt=a.acwt, beam=a.beam, lattice_beam=a.lattice_beam, retry_beam=a.beam)
    weights = [float(w) for w in a.lm_weights.split()]
    decode_ctc(a.model, a.data, a.decode_dir, graph_dir=graph_dir, opts=opts, lm_weights=weights, device=a.device)
    score_decode(a.decode_dir, a.text, phone_map, name=scoring_name(phone_map), **score_opts)


cli.run(main, p.parse_args())
