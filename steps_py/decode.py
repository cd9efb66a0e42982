#!/usr/bin/env python3
"""Decode a data dir with a GMM system and score it with sclite (Kaldi's steps/decode.sh + local/score.sh).
As decode_fmllr.py (Kaldi's steps/decode_fmllr.sh) it decodes an SAT system in two passes: see --fmllr.

Usage: decode.py [--nj N] [--cmd CMD] [--acwt A] [--beam B] [--retry-beam B] [--scoring-unit phone|word] [--phone-map FILE [--phone-map-columns FROM,TO]] <graph-dir> <data-dir> <exp-dir> <decode-dir>
  e.g. decode.py --nj 4 --cmd "$decode_cmd" --phone-map conf/timit/phones.60-48-39.map --phone-map-columns 2,3 \
         exp/mono/graph data/dev exp/mono exp/mono/decode_dev
Lattices go to <decode-dir>/lat.JOB.gz (with num_jobs), scored per LM weight from the lattices by Kaldi's TIMIT
scoring (score_<LMWT>/, scoring/best_per) and its basic scoring (wer_<LMWT>, scoring/best_per_basic). Utterances
that reach no final state of the graph are decoded again at --retry-beam, and counted. A word task
(--scoring-unit word, the default for a graph whose words are not phones) is scored as Kaldi's
steps/score_kaldi.sh: wer_<LMWT>_<WIP> and scoring_kaldi/best_wer.
"""
from asrser import cli


def program(fmllr: bool | None = None, doc: str = __doc__) -> None:
    """The program; decode_fmllr.py is this program with --fmllr fixed."""
    p = cli.parser(doc)
    p.add_argument("--nj", type=cli.positive_int, default=4)
    p.add_argument("--cmd", default="asrser-run")
    p.add_argument("--acwt", type=float, default=0.1)
    p.add_argument("--beam", type=float, default=13.0)
    p.add_argument("--lattice-beam", type=float, default=6.0)
    p.add_argument("--max-mem", type=int, default=50_000_000,
                   help="lattice determinisation memory bound in bytes, as Kaldi's (beyond it the lattice is "
                        "pruned with a narrower beam)")
    p.add_argument("--retry-beam", type=float, default=40.0,
                   help="beam for utterances that reach no final state at --beam (not above --beam: no retry)")
    p.add_argument("--min-lmwt", type=int, default=1)
    p.add_argument("--max-lmwt", type=int, default=10)
    if fmllr is None:
        p.add_argument("--fmllr", action="store_true",
                       help="an SAT system: speaker-independent pass with final.alimdl into <decode-dir>.si, "
                            "per-speaker fMLLR transforms from its best paths, adapted pass with final.mdl (both "
                            "scored)")
    p.add_argument("--silence-weight", type=float, default=0.01, help="of silence frames in the fMLLR statistics")
    cli.add_scoring_options(p)
    p.add_argument("graph_dir")
    p.add_argument("data_dir")
    p.add_argument("exp_dir")
    p.add_argument("decode_dir")

    def main(a):
        from pathlib import Path
        from asrser.gmm.decode import decode, decode_fmllr
        from asrser.hmm.decode import DecodeOptions
        from asrser.phones import read_scoring_map, scoring_name
        from asrser.scoring import score_decode

        phone_map = read_scoring_map(a.phone_map, a.phone_map_columns)
        score_opts = cli.scoring_options(a, phone_map, a.graph_dir)      # checked before the decode
        opts = DecodeOptions(acwt=a.acwt, beam=a.beam, lattice_beam=a.lattice_beam, retry_beam=a.retry_beam,
                             max_mem=a.max_mem)
        if fmllr or (fmllr is None and a.fmllr):
            decode_fmllr(a.graph_dir, a.data_dir, a.exp_dir, a.decode_dir, a.nj, a.cmd, opts, a.silence_weight)
            decode_dirs = [a.decode_dir.rstrip("/") + ".si", a.decode_dir]
        else:
            decode(a.graph_dir, a.data_dir, a.exp_dir, a.decode_dir, a.nj, a.cmd, opts)
            decode_dirs = [a.decode_dir]
        for decode_dir in decode_dirs:
            score_decode(decode_dir, Path(a.data_dir) / "text", phone_map, name=scoring_name(phone_map),
                         words_txt=Path(a.graph_dir) / "words.txt", model=Path(a.exp_dir) / "final.mdl",
                         lm_weights=[float(w) for w in range(a.min_lmwt, a.max_lmwt + 1)], **score_opts)

    cli.run(main, p.parse_args())


if __name__ == "__main__":
    program()
