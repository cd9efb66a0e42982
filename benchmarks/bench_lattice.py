#!/usr/bin/env python3
"""Speed of lattice determinisation: the compiled determiniser (latdet.cc) against the Python reference on the
same raw lattices, as a ratio measured in the same run, with determinised states per second and the share of
the time spent converting the result into Python objects.

Raw lattices: synthetic phone-loop lattices (a net that cannot tell the phones apart: the hard case; see
asrser.kaldi_format.lattice.phone_loop_lattice) of growing length, and optionally a directory of raw lattices
(kaldifst.Lattice binary files, e.g. written with `lattice.write(path)` from a decoder's get_raw_lattice()).

Measured on the 2-core VM, once quiet and once under a load average of 7 (the ratios hold, the seconds do not):
32 raw lattices of the tiny corpus's hybrid ConvNet (dev, acoustic scale 0.2, lattice beam 6; 171,145 raw
states -> 23,038 determinised): compiled 2.4 s quiet, 12.7 s loaded; Python 10.4 s / 58 s: 4.3-4.6 times faster.
Phone loops of 4 phones, beam 4, loaded: 10 frames 5.3 times, 20 frames 2.1 times, 30 frames (11,611 states)
1.7 times faster: there the result's long transition-id strings, converted into Python tuples, take most of it.

Usage: benchmarks/bench_lattice.py [--raw DIR] [--beam 6] [--acwt 0.2]
"""
import argparse
import sys
import time
from pathlib import Path

import kaldifst

from asrser.kaldi_format.lattice import RawLattice, determinize_lattice, phone_loop_lattice


def timed(raws: list[RawLattice], beam: float, acwt: float, implementation: str) -> tuple[float, int]:
    start = time.perf_counter()
    states = sum(determinize_lattice(r, beam, acwt, implementation=implementation).lattice.num_states
                 for r in raws)
    return time.perf_counter() - start, states


def report(name: str, raws: list[RawLattice], beam: float, acwt: float) -> None:
    compiled, states = timed(raws, beam, acwt, "compiled")
    python, python_states = timed(raws, beam, acwt, "python")
    assert states == python_states
    raw_states = sum(len(r.arcs) for r in raws)
    print(f"{name}: {len(raws)} lattices, {raw_states} raw states -> {states} determinised; compiled {compiled:.2f} s "
          f"({states / compiled:,.0f} states/s), Python {python:.2f} s: {python / compiled:.1f} times faster")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raw", type=Path, help="a directory of raw lattices (*.fst, kaldifst.Lattice binary)")
    p.add_argument("--beam", type=float, default=6.0)
    p.add_argument("--acwt", type=float, default=0.2)
    a = p.parse_args()
    for frames in (10, 20, 30):
        report(f"phone loop, 4 phones, {frames} frames, beam 4", [phone_loop_lattice(frames, 4)], 4.0, 1.0)
    if a.raw:
        raws = [RawLattice.from_kaldifst(kaldifst.Lattice.read(str(f))) for f in sorted(a.raw.glob("*.fst"))]
        if not raws:
            sys.exit(f"{a.raw}: no *.fst raw lattices")
        report(f"{a.raw}, beam {a.beam:g}, acoustic scale {a.acwt:g}", raws, a.beam, a.acwt)


if __name__ == "__main__":
    main()
