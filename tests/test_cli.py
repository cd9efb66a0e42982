"""What every stage program shares: usage errors are refused by argparse, before any work."""

import re
import subprocess
import sys

import pytest

from helpers import REPO, run_step

NJ_PROGRAMS = sorted(str(p.relative_to(REPO)) for d in ("steps_py", "local") for p in (REPO / d).glob("*.py")
                     if '"--nj"' in p.read_text() or "from train_tri import program" in p.read_text())


def test_the_programs_with_nj_are_found():
    assert len(NJ_PROGRAMS) >= 9 and "steps_py/make_feats.py" in NJ_PROGRAMS


@pytest.mark.parametrize("program, nj", [(p, "0") for p in NJ_PROGRAMS] + [("steps_py/make_feats.py", "-2")])
def test_nj_below_one_is_a_usage_error(program, nj, tmp_path):
    proc = run_step(f"../{program}", "--nj", nj, *[tmp_path / f"arg{i}" for i in range(4)], check=False)
    assert proc.returncode == 2, proc.stderr
    assert re.search(rf"error: argument --nj: must be at least 1, got {nj}$", proc.stderr.strip()), proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def test_config_and_count_errors_name_the_file(tmp_path):
    """A missing or malformed config, or a <num-classes> that is neither a number nor a file, is one line."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("mono:\n  num_iters: 4\n  beam: [10\n")
    listed = tmp_path / "list.yaml"
    listed.write_text("- mono\n")
    dirs = [tmp_path / name for name in ("data", "lang", "exp")]
    cases = [
        ("train_mono.py", ["--config", tmp_path / "nope.yaml", *dirs], f"{tmp_path / 'nope.yaml'}: GMM config does not exist"),
        ("train_mono.py", ["--config", broken, *dirs], f"{broken}:4: not valid YAML: "),
        ("train_mono.py", ["--config", listed, *dirs], f"{listed}: expected a mapping of GMM config options, "
                                                        "found list"),
        ("nnet_train.py", ["--config", broken, "a", "b", "3", "out"], f"{broken}:4: not valid YAML: "),
        ("nnet_train.py", ["a", "b", tmp_path / "targets/num_classes", "out"],
         f"{tmp_path / 'targets/num_classes'}: <num-classes> must be a number or a file holding one"),
    ]
    for program, args, message in cases:
        proc = run_step(program, *args, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(f"ERROR ({program}): {message}"), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "list.yaml"]


@pytest.mark.parametrize("worker, args, message", [
    ("asrser.features", ["--kind", "fbank", "--config", "{tmp}/nope.conf", "{tmp}/data", "{tmp}/raw"],
     "{tmp}/nope.conf: feature config does not exist"),
    ("asrser.gmm.decode", ["{tmp}/graph", "{tmp}/mono", "{tmp}/data", "{tmp}/decode", "1"],
     "{tmp}/mono/final.mdl: file does not exist"),
    ("asrser.gmm.jobs", ["acc", "{tmp}/1.mdl", "{tmp}/data", "{tmp}/exp", "{tmp}/ali.1", "{tmp}/1.1.acc.npz"],
     "{tmp}/1.mdl: file does not exist"),
])
def test_job_workers_end_with_one_error_line_as_stage_programs_do(worker, args, message, tmp_path):
    """A job's worker (python -m asrser.<module>, run by the job runner into the job's log) reports a user error
    as the stage programs do: its last line is 'ERROR (<module>[ <sub-command>]): message', exit code 1."""
    proc = subprocess.run([sys.executable, "-m", worker, *(a.format(tmp=tmp_path) for a in args)],
                          capture_output=True, text=True)
    program = worker + (f" {args[0]}" if worker == "asrser.gmm.jobs" else "")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"ERROR ({program}): {message.format(tmp=tmp_path)}")


@pytest.mark.parametrize("program, args, section", [
    ("train_deltas.py", [], "tri1"), ("train_lda_mllt.py", [], "tri2"),
    ("train_tri.py", [], "tri1"), ("train_tri.py", ["--transform", "lda"], "tri2"),
    ("train_lda_mllt.py", ["--section", "tri3"], "tri3")])
def test_the_kaldi_names_of_triphone_training_are_one_program(program, args, section, tmp_path):
    """train_deltas.py and train_lda_mllt.py are train_tri.py with the transform fixed (and with it the
    config section read by default); they do not take --transform."""
    config = tmp_path / "gmm.yaml"
    config.write_text("mono:\n  num_iters: 4\n")
    dirs = [tmp_path / name for name in ("data", "lang", "ali", "exp")]
    proc = run_step(program, *args, "--config", config, *dirs, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"ERROR ({program}): {config}: no section {section!r} (sections: mono)"
    if program != "train_tri.py":
        proc = run_step(program, "--transform", "delta", "--config", config, *dirs, check=False)
        assert proc.returncode == 2 and "unrecognized arguments: --transform" in proc.stderr


def test_generic_steps_have_no_corpus_defaults(tmp_path):
    """The SER folds take their validation speakers from the recipe (IEMOCAP's Ses05F Ses05M are its option;
    without one the validation group rotates) and their classes from the data; the phone set and scoring map are
    files, not TIMIT names."""
    option = re.search(r'add_argument\("--validation".*?\)\n', (REPO / "steps_py/ser_make_folds.py").read_text(), re.S)
    assert option and "Ses05" not in option.group(0)
    proc = run_step("ser_make_folds.py", tmp_path / "data", tmp_path / "folds", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == \
        f"ERROR (ser_make_folds.py): {tmp_path / 'data' / 'utt2emo'}: file does not exist"
    proc = run_step("prepare_lang.py", "--phone-set", "timit48", tmp_path / "lang", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == "ERROR (prepare_lang.py): timit48: file does not exist"
    proc = run_step("decode.py", "--phone-map", "timit39", *[tmp_path / d for d in ("g", "d", "e", "o")], check=False)
    assert proc.returncode == 1 and proc.stderr.strip().splitlines()[-1] == "ERROR (decode.py): timit39: file does not exist"
    assert list(tmp_path.iterdir()) == []
