"""The package's layering: what a module may import."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import asrser


def test_only_generation_imports_the_synthesiser():
    """Importing every module outside asrser.synth loads no part of it (nor libespeak-ng): the readers of real
    corpora and every stage work on a machine without the synthesiser."""
    modules = [m.name for m in pkgutil.walk_packages(asrser.__path__, "asrser.")
               if not m.name.startswith("asrser.synth")]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('asrser.synth') or 'espeak' in m)\n"
            "print(' '.join(loaded))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
    assert len(modules) > 30


def _loaded_by(prefix: str, code_prefixes: tuple[str, ...]) -> list[str]:
    """The modules under `code_prefixes` that importing every module under `prefix` loads."""
    modules = [m.name for m in pkgutil.walk_packages(asrser.__path__, "asrser.") if m.name.startswith(prefix)]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            f"print(' '.join(sorted(m for m in sys.modules if m.startswith({code_prefixes!r}))))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(modules) >= 4, modules
    return run.stdout.split()


def test_the_hmm_depends_on_neither_model_family():
    """HMM code (graphs, alignment, decoding, targets) lives in asrser.hmm, which loads neither the GMMs nor
    the nets nor torch: both model families call it with their scores."""
    assert _loaded_by("asrser.hmm", ("asrser.gmm", "asrser.nnet", "torch")) == []


def test_the_nets_reach_the_hmm_not_through_the_gmms():
    assert _loaded_by("asrser.nnet", ("asrser.gmm",)) == []


def test_the_kaldi_wheels_load_in_any_order_after_the_package():
    """The wheels each link their own OpenFst; loading kaldi_decoder after kaldilm deadlocked at import, so a
    test file collected in another order (or a user's script) hung. The package loads them in an order that
    works, whatever is imported after it."""
    for order in ("asrser.lm, kaldi_decoder", "asrser.lm, kaldi_hmm_gmm, kaldi_decoder", "asrser, kaldilm, kaldi_decoder"):
        proc = subprocess.run([sys.executable, "-c", f"import {order}"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, (order, proc.stderr[-500:])


def test_no_module_uses_pickle():
    """No file the package reads or passes between processes can run code when loaded: nothing unpickles."""
    from pathlib import Path

    users = sorted(str(p.relative_to(Path(asrser.__file__).parent)) for p in Path(asrser.__file__).parent.rglob("*.py")
                   if "pickle" in p.read_text())
    assert users == []
