"""benchmarks/bench_run_cost.py's parts that do not need a run: the stage list, GNU time's report, the fit."""
import importlib.util
import math
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_run_cost", REPO / "benchmarks/bench_run_cost.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_the_stages_are_the_ones_the_recipes_help_lists():
    stages = bench.recipe_stages(REPO, ".")
    assert [n for n, _ in stages] == ["1", "2", "3", "4", "5", "6", "7", "9"]
    timit = bench.recipe_stages(REPO, "egs/timit/s5")
    assert timit[0] == ("0", "embedded mini-TIMIT (skipped with --timit)") and len(timit) > 20


@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="GNU time is not installed")
def test_gnu_times_report_gives_wall_cpu_peak_memory_and_exit(tmp_path):
    code = ("import time; b = bytearray(200 * 2**20); t = time.time()\n"
            "while time.time() - t < 0.3: pass\nraise SystemExit(3)")
    out = tmp_path / "t"
    subprocess.run(["/usr/bin/time", "-v", "-o", str(out), "python3", "-c", code])
    v = bench.parse_time_v(out.read_text())
    assert v["exit"] == 3 and 0.3 <= v["wall"] < 60 and v["user"] + v["sys"] > 0
    assert 200 * 1024 < v["rss_kb"] < 2000 * 1024


def test_the_exponent_is_the_log_log_slope_over_successful_sizes():
    rows = [dict(stage="1", exit=0, wall_s=10.0 * h ** 1.5, audio_hours=h) for h in (0.1, 1.0, 4.0)]
    rows += [dict(stage="2", exit=0, wall_s=3.0 * h, audio_hours=h) for h in (0.1, 1.0)]
    rows += [dict(stage="2", exit=1, wall_s=1.0, audio_hours=4.0)]            # a failed stage is not a point
    rows += [dict(stage="3", exit=0, wall_s=5.0, audio_hours=0.1)]            # one size: no exponent
    fits = bench.exponents(rows)
    assert fits["1"][0] == pytest.approx(1.5) and fits["2"][0] == pytest.approx(1.0)
    assert math.isnan(fits["3"][0])
