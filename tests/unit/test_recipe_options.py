"""parse_options.sh and recipe.sh, driven through a small recipe as users run them."""

import subprocess
import textwrap
from pathlib import Path

import pytest

from helpers import STEPS

RECIPE = textwrap.dedent("""\
    #!/usr/bin/env bash
    stage=0
    stop_stage=100
    nj=4
    train_set=train
    help_message="Usage: $0 [options]"
    . "{steps}/recipe.sh"
    echo "stage=$stage stop_stage=$stop_stage nj=$nj train_set=$train_set rest=$*"
    if stage 1 "Prepare the data"; then echo ran-1; fi
    if stage 2 "Make features"; then echo ran-2; fi
    if stage 3 "Train the monophone system"; then echo ran-3; fi
    """)


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "run.sh"
    path.write_text(RECIPE.format(steps=STEPS))
    path.chmod(0o755)
    return path


def run(recipe, *args):
    return subprocess.run([str(recipe), *args], capture_output=True, text=True)


def test_options_set_variables(recipe):
    out = run(recipe, "--stage", "2", "--nj=8", "--train-set", "train nodev", "extra")
    assert out.returncode == 0, out.stderr
    assert "stage=2 stop_stage=100 nj=8 train_set=train nodev rest=extra" in out.stdout


def test_stage_range_selects_blocks_and_logs_them(recipe):
    out = run(recipe, "--stage", "2", "--stop-stage", "2")
    assert "ran-2" in out.stdout and "ran-1" not in out.stdout and "ran-3" not in out.stdout
    assert "Stage 2: Make features" in out.stderr


def test_unknown_option_is_an_error(recipe):
    out = run(recipe, "--num-jobs", "3")
    assert out.returncode != 0
    assert "invalid option --num-jobs" in out.stderr


def test_missing_value_is_an_error(recipe):
    out = run(recipe, "--nj")
    assert out.returncode != 0 and "needs a value" in out.stderr


def test_help_lists_numbered_stages(recipe):
    out = run(recipe, "--help")
    assert out.returncode == 0
    assert "Usage:" in out.stdout
    assert "  1  Prepare the data\n  2  Make features\n  3  Train the monophone system" in out.stdout


def test_config_file_is_sourced(recipe, tmp_path):
    conf = tmp_path / "my.conf"
    conf.write_text("nj=16\n")
    out = run(recipe, "--config", str(conf))
    assert "nj=16" in out.stdout


def test_help_works_for_a_recipe_that_changes_into_its_directory(tmp_path):
    (tmp_path / "egs" / "x").mkdir(parents=True)
    path = tmp_path / "egs" / "x" / "run.sh"
    path.write_text(RECIPE.format(steps=STEPS).replace("#!/usr/bin/env bash\n",
                                                        '#!/usr/bin/env bash\ncd "$(dirname "$0")"\n'))
    path.chmod(0o755)
    out = subprocess.run(["egs/x/run.sh", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "  2  Make features" in out.stdout, out.stderr


@pytest.mark.parametrize("recipe_dir, option", [("egs/timit/s5", "--timit"), ("egs/iemocap/s5", "--iemocap")])
def test_a_missing_corpus_directory_stops_before_any_stage(recipe_dir, option, tmp_path):
    """A mistyped corpus path is an error naming it, not a silent fall-back to the embedded corpus."""
    recipe = Path(__file__).resolve().parents[2] / recipe_dir
    before = sorted(p.name for p in recipe.iterdir())
    out = subprocess.run([str(recipe / "run.sh"), option, str(tmp_path / "nowhere"), "--stop-stage", "0"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and f"{option} {tmp_path / 'nowhere'}: no such directory" in out.stderr + out.stdout
    assert sorted(p.name for p in recipe.iterdir()) == before
