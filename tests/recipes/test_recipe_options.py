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
    out = run(recipe, "--stage", "2", "--nj=8", "--train-set", "train nodev")
    assert out.returncode == 0, out.stderr
    assert "stage=2 stop_stage=100 nj=8 train_set=train nodev rest=" in out.stdout


def test_parse_options_leaves_positional_arguments_to_the_script(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text(f'nj=1\n. "{STEPS}/parse_options.sh"\necho "nj=$nj rest=$*"\n')
    out = subprocess.run(["bash", str(script), "--nj", "3", "a", "b"], capture_output=True, text=True)
    assert out.stdout == "nj=3 rest=a b\n"


@pytest.mark.parametrize("args, message", [
    (["extra"], "unexpected argument 'extra': run.sh takes options only (--name value; see --help)"),
    (["--stage", "2", "extra"], "unexpected argument 'extra': run.sh takes options only (--name value; see --help)"),
    (["--stage", "two"], "--stage must be a whole number, got 'two'"),
    (["--stop-stage", "3.5"], "--stop-stage must be a whole number, got '3.5'"),
    (["--stage", "3", "--stop-stage", "2"], "--stage 3 is after --stop-stage 2: no stage to run"),
    (["--stage", "4"], "--stage 4 --stop-stage 100 selects none of the stages (1 2 3); see --help"),
])
def test_misuse_is_one_line_and_runs_nothing(recipe, args, message):
    out = run(recipe, *args)
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and out.stderr.rstrip().endswith(f"ERROR: {message}"), out.stderr
    assert "ran-" not in out.stdout


NEEDS = textwrap.dedent("""\
    #!/usr/bin/env bash
    stage=0
    stop_stage=100
    . "{steps}/recipe.sh"
    if stage 1 "Prepare the data"; then mkdir -p data/train; touch data/train/text; fi
    if stage 2 "Make features" needs 1:data/train/text; then touch data/train/feats.scp; fi
    if stage 3 "Train" needs 1:data/{{train,dev}} 2:data/train/feats.scp; then echo ran-3; fi
    """)


@pytest.fixture
def needs_recipe(tmp_path):
    path = tmp_path / "run.sh"
    path.write_text(NEEDS.format(steps=STEPS))
    path.chmod(0o755)
    return path


def test_a_stage_whose_input_is_missing_names_it_and_the_stage_that_makes_it(needs_recipe):
    out = subprocess.run([str(needs_recipe), "--stage", "2"], capture_output=True, text=True, cwd=needs_recipe.parent)
    assert out.returncode != 0
    assert out.stderr.rstrip().endswith("ERROR: stage 2 needs data/train/text, which stage 1 makes: run stage 1 "
                                        "first (--stage 1)")
    assert "Stage 2" not in out.stderr                 # refused before it starts
    out = subprocess.run([str(needs_recipe)], capture_output=True, text=True, cwd=needs_recipe.parent)
    assert "ERROR: stage 3 needs data/dev, which stage 1 makes" in out.stderr      # brace expansion, each checked
    (needs_recipe.parent / "data/dev").mkdir()
    out = subprocess.run([str(needs_recipe), "--stage", "3"], capture_output=True, text=True, cwd=needs_recipe.parent)
    assert out.returncode == 0 and "ran-3" in out.stdout, out.stderr


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


# The real recipes, copied into an empty directory (their path.sh and cmd.sh source the toolkit's): every stage
# that takes inputs is refused with one line naming the missing input and the stage that makes it, before it
# runs anything (stage 0 generates a corpus; the top level's stages 1 and 2 run the corpus recipes).
REPO = Path(__file__).resolve().parents[2]
RECIPES = {"egs/timit/s5": [0], "egs/iemocap/s5": [0], ".": [1, 2]}


def recipe_copy(tmp_path: Path, recipe_dir: str) -> Path:
    where = tmp_path / "recipe"
    where.mkdir()
    (where / "run.sh").write_text((REPO / recipe_dir / "run.sh").read_text())
    (where / "run.sh").chmod(0o755)
    local = f'export PATH="{REPO / recipe_dir / "local"}:$PATH"\n' if (REPO / recipe_dir / "local").is_dir() else ""
    (where / "path.sh").write_text(f'. "{REPO}/path.sh"\n{local}')
    (where / "cmd.sh").write_text(f'. "{REPO}/cmd.sh"\n')
    (where / "conf").symlink_to(REPO / "conf")
    return where


def declared_stages(recipe_dir: str) -> list[int]:
    import re
    return [int(n) for n in re.findall(r'^\s*if (?:[a-z_]+ && )?stage (\d+) "', (REPO / recipe_dir / "run.sh").read_text(),
                                        re.M)]


def kaldi_options(recipe_dir: str, n: int, tmp_path: Path) -> list[str]:
    """The options of the TIMIT recipe's stages on an imported Kaldi experiment (skipped without them), and of
    its real test (stage 23, skipped without --real-test)."""
    if recipe_dir == "egs/timit/s5" and n == 23:
        return ["--real-test", "asterisk"]
    if recipe_dir != "egs/timit/s5" or not 17 <= n <= 20:
        return []
    (tmp_path / "kaldi").mkdir()
    return ["--kaldi-lang", str(tmp_path / "kaldi"), "--kaldi-ali", str(tmp_path / "kaldi"),
            "--kaldi-graph", str(tmp_path / "kaldi")]


CASES = [(d, n) for d, skip in RECIPES.items() for n in declared_stages(d) if n not in skip]


@pytest.mark.parametrize("recipe_dir, n", CASES, ids=[f"{d}:{n}" for d, n in CASES])
def test_every_stage_of_the_recipes_refuses_to_run_without_its_inputs(recipe_dir, n, tmp_path):
    where = recipe_copy(tmp_path, recipe_dir)
    out = subprocess.run(["./run.sh", "--stage", str(n), "--stop-stage", str(n), *kaldi_options(recipe_dir, n, tmp_path)],
                         capture_output=True, text=True, cwd=where)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert f"ERROR: stage {n} needs " in last and "which stage " in last, out.stderr
    assert "Traceback" not in out.stderr and f"Stage {n}:" not in out.stderr
    assert sorted(p.name for p in where.iterdir()) == ["cmd.sh", "conf", "path.sh", "run.sh"]   # nothing written


@pytest.mark.parametrize("recipe_dir, args, message", [
    ("egs/timit/s5", ["extra"], "unexpected argument 'extra': run.sh takes options only"),
    ("egs/timit/s5", ["--stage", "x"], "--stage must be a whole number, got 'x'"),
    ("egs/timit/s5", ["--stage", "25", "--stop-stage", "25"], "selects none of the stages (0 1 2 3 4 5 6 7 8 9 10 11 "
                                                              "12 13 14 15 16 17 18 19 20 21 22 23 24)"),
    ("egs/timit/s5", ["--stage", "17", "--kaldi-lang", "."],
     "--kaldi-lang, --kaldi-ali and --kaldi-graph go together (a Kaldi experiment's lang, alignments and graph)"),
    ("egs/timit/s5", ["--stage", "17", "--kaldi-lang", ".", "--kaldi-ali", "none", "--kaldi-graph", "."],
     "none: no such directory"),
    ("egs/timit/s5", ["--stage", "14", "--stop-stage", "14"],
     "stage 14 needs exp/tri3_ali_train/targets/num_classes, which stage 12 makes: run stage 12 first (--stage 12)"),
    ("egs/timit/s5", ["--stage", "24"], "stage 24 needs exp/mono/decode_test/decode.done, which stage 5 makes"),
    ("egs/timit/s5", ["--stage", "22", "--stop-stage", "22"],
     "stage 22 needs data/lang_test_bg/G.fst, which stage 2 makes"),
    ("egs/iemocap/s5", ["--stage", "6", "--stop-stage", "6"],
     "stage 6 needs exp/ser_folds/num_folds, which stage 4 makes"),
    ("egs/iemocap/s5", ["--stage", "7", "--stop-stage", "9"], "selects none of the stages (0 1 2 3 4 5 6 20)"),
    (".", ["--stage", "9"], "stage 9 needs egs/timit/s5/RESULTS.md, which stage 1 makes"),
    (".", ["--stage", "8", "--stop-stage", "8"], "selects none of the stages (1 2 3 4 5 6 7 9)"),
])
def test_misuse_of_the_recipes(recipe_dir, args, message, tmp_path):
    where = recipe_copy(tmp_path, recipe_dir)
    out = subprocess.run(["./run.sh", *args], capture_output=True, text=True, cwd=where)
    assert out.returncode != 0
    assert message in out.stderr.strip().splitlines()[-1], out.stderr
    assert sorted(p.name for p in where.iterdir()) == ["cmd.sh", "conf", "path.sh", "run.sh"]


def test_the_kaldi_import_stages_are_skipped_without_a_kaldi_experiment(tmp_path):
    where = recipe_copy(tmp_path, "egs/timit/s5")
    out = subprocess.run(["./run.sh", "--stage", "17", "--stop-stage", "20"], capture_output=True, text=True, cwd=where)
    assert out.returncode == 0 and "Stage 1" not in out.stderr, out.stderr
    assert sorted(p.name for p in where.iterdir()) == ["cmd.sh", "conf", "path.sh", "run.sh"]


@pytest.mark.parametrize("args, config", [
    ([], "conf/gmm.yaml"),                                       # the mini-TIMIT: sizes scaled to it
    (["--timit", "{corpus}"], "conf/gmm_full.yaml"),              # a real corpus: Kaldi's TIMIT sizes
    (["--corpus-size", "full"], "conf/gmm_full.yaml"),            # the mini-TIMIT at TIMIT's size: the same
    (["--corpus-size", "tiny"], "conf/gmm.yaml"),
    (["--corpus-size", "full", "--gmm-config", "my.yaml"], "my.yaml"),
    (["--timit", "{corpus}", "--gmm-config", "my.yaml"], "my.yaml")])
def test_the_timit_recipe_takes_kaldis_gmm_sizes_for_a_real_corpus(args, config, tmp_path):
    """With --timit or --corpus-size full the GMM systems get Kaldi's TIMIT sizes (conf/gmm_full.yaml: 2500
    leaves / 15000 Gaussians for tri1-tri3); otherwise the sizes scaled to the embedded corpus; --gmm-config
    overrides both."""
    from asrser.config import load_config
    from asrser.gmm.train import TrainConfig

    where = recipe_copy(tmp_path, "egs/timit/s5")
    (tmp_path / "TIMIT").mkdir()
    args = [a.format(corpus=tmp_path / "TIMIT") for a in args]
    out = subprocess.run(["./run.sh", *args, "--stage", "4", "--stop-stage", "4"], capture_output=True, text=True,
                         cwd=where)
    assert f"GMM sizes: {config}" in out.stderr, out.stderr
    full = load_config(dict[str, TrainConfig], REPO / "conf/gmm_full.yaml")
    mini = load_config(dict[str, TrainConfig], REPO / "conf/gmm.yaml")
    assert sorted(full) == sorted(mini) == ["mono", "tri1", "tri2", "tri3"]
    for system in ("tri1", "tri2", "tri3"):
        assert (full[system].num_leaves, full[system].total_gauss) == (2500, 15000)
        assert mini[system].total_gauss < full[system].total_gauss
        assert {k: v for k, v in vars(full[system]).items() if k not in ("num_leaves", "total_gauss")} == \
            {k: v for k, v in vars(mini[system]).items() if k not in ("num_leaves", "total_gauss")}
    assert full["mono"] == mini["mono"]
