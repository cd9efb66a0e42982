"""What every stage program shares: usage errors are refused by argparse, before any work."""

import re

import pytest

from helpers import REPO, run_step

NJ_PROGRAMS = sorted(str(p.relative_to(REPO)) for d in ("steps_py", "local") for p in (REPO / d).glob("*.py")
                     if '"--nj"' in p.read_text())


def test_the_programs_with_nj_are_found():
    assert len(NJ_PROGRAMS) >= 9 and "steps_py/make_feats.py" in NJ_PROGRAMS


@pytest.mark.parametrize("program, nj", [(p, "0") for p in NJ_PROGRAMS] + [("steps_py/make_feats.py", "-2")])
def test_nj_below_one_is_a_usage_error(program, nj, tmp_path):
    proc = run_step(f"../{program}", "--nj", nj, *[tmp_path / f"arg{i}" for i in range(4)], check=False)
    assert proc.returncode == 2, proc.stderr
    assert re.search(rf"error: argument --nj: must be at least 1, got {nj}$", proc.stderr.strip()), proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []
