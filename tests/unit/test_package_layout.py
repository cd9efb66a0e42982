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
