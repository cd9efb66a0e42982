"""sclite scoring of a decode dir agrees with kaldialign's sclite-mode edit distance; best LM weight."""

from __future__ import annotations

import random

import kaldialign

from asrser.phones import FOLD_48_TO_39, PHONES48
from asrser.scoring import map_phones, score_decode


def _corrupt(phones, rng):
    out = []
    for p in phones:
        r = rng.random()
        if r < 0.1:
            continue                                  # deletion
        out.append(rng.choice(PHONES48) if r < 0.25 else p)
        if rng.random() < 0.05:
            out.append(rng.choice(PHONES48))          # insertion
    return out


def test_sclite_counts_equal_kaldialign(tmp_path):
    rng = random.Random(0)
    refs = {f"spk{i % 3}_utt{i}": [rng.choice(PHONES48) for _ in range(rng.randint(5, 30))] for i in range(25)}
    (tmp_path / "text").write_text("".join(f"{u} {' '.join(p)}\n" for u, p in sorted(refs.items())))
    hyp_dir = tmp_path / "decode" / "hyp"
    hyp_dir.mkdir(parents=True)
    hyps = {}
    for lmwt, noise_seed in [(2, 1), (5, 2)]:
        hyps[lmwt] = {u: _corrupt(p, random.Random(noise_seed * 1000 + i)) for i, (u, p) in enumerate(refs.items())}
        if lmwt == 5:
            hyps[lmwt] = {u: p for u, p in refs.items()}   # weight 5 is perfect: must win
        (hyp_dir / f"{lmwt}.1.txt").write_text("".join(f"{u} {' '.join(p)}\n" for u, p in hyps[lmwt].items()))
    best = score_decode(tmp_path / "decode", tmp_path / "text", dict(FOLD_48_TO_39))
    assert best.lmwt == 5 and best.errors == 0
    table = (tmp_path / "decode" / "scoring" / "per_by_lmwt").read_text().splitlines()[1:]
    lmwt2 = dict(zip(["lmwt", "per", "ref", "sub", "del", "ins"], table[0].split()))
    expected = dict(ins=0, dels=0, sub=0, ref=0)
    for u, ref in refs.items():
        r = map_phones(ref, FOLD_48_TO_39, frozenset())
        h = map_phones(hyps[2][u], FOLD_48_TO_39, frozenset())
        d = kaldialign.edit_distance(r, h, sclite_mode=True)
        expected["ins"] += d["ins"]
        expected["dels"] += d["del"]
        expected["sub"] += d["sub"]
        expected["ref"] += len(r)
    assert int(lmwt2["ref"]) == expected["ref"]
    assert (int(lmwt2["sub"]), int(lmwt2["del"]), int(lmwt2["ins"])) == \
        (expected["sub"], expected["dels"], expected["ins"])
    assert (tmp_path / "decode" / "scoring" / "best_per").read_text().startswith("%PER 0.00")
    assert (tmp_path / "decode" / "scoring" / "score_2" / "39phn.pra").exists()
