#!/usr/bin/env bash
# Prepares a machine for asrser: Debian tools (apt when root), then a .venv with the pinned Python packages.
# Idempotent: when everything is in place it returns in well under a second.
# Environment: ASRSER_PYTHON (interpreter for the venv, default python3),
#              ASRSER_PIP_ARGS (extra pip arguments, e.g. a CPU-only torch index).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
venv="$root/.venv"
stamp="$venv/.asrser-installed"
debian_packages=(sctk espeak-ng libespeak-ng1 espeak-ng-data sox libfst-tools g++
                 festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)

"$root/tools/install_debian.sh" "${debian_packages[@]}"

# The compiled lattice determiniser (C++ with a C interface, loaded through ctypes): rebuilt when its source is
# newer. Without it lattices are determinised by the Python reference, several times slower.
latdet_src="$root/asrser/kaldi_format/latdet.cc"
latdet_lib="$root/asrser/kaldi_format/liblatdet.so.1"
if [[ ! -e "$latdet_lib" || "$latdet_src" -nt "$latdet_lib" ]]; then
  echo "setup: compiling $latdet_src" >&2
  g++ -O2 -std=c++17 -shared -fPIC -o "$latdet_lib.tmp" "$latdet_src"
  mv "$latdet_lib.tmp" "$latdet_lib"
fi

# The stamp records the package spec the venv was built from (pyproject's [project] tables: pins and entry
# points) and the checkout it was built in; changing the spec reinstalls. The package itself is installed
# editable, so code changes need nothing. A venv holds absolute paths (its scripts' shebangs, activate, the
# editable install), so a moved or copied checkout would run the old checkout's code, or nothing: there the
# venv is rebuilt from scratch.
spec=$(sed -n '/^\[project/,/^\[tool/p' "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)
want="$spec $root"
have=$(cat "$stamp" 2>/dev/null || true)
if [[ "$have" == "$want" && -x "$venv/bin/python" ]]; then
  exit 0
fi
python=${ASRSER_PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "setup: $python is missing or older than 3.10; set ASRSER_PYTHON to a newer interpreter" >&2
  exit 1
fi
built_in=; [[ "$have" != *" "* ]] || built_in=${have#* }
if [[ -e "$venv" && "$built_in" != "$root" ]]; then
  echo "setup: $venv was built ${built_in:+for $built_in, }not for this checkout; rebuilding it" >&2
  "$python" -m venv --clear "$venv"
fi
[[ -x "$venv/bin/python" ]] || { echo "setup: creating $venv" >&2; "$python" -m venv "$venv"; }
echo "setup: installing pinned Python packages into $venv (about a minute)" >&2
# One pip call: torch must be resolved together with lhotse, otherwise lhotse pulls a CUDA build of torch.
# shellcheck disable=SC2086
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ${ASRSER_PIP_ARGS:-} -e "$root[test]" >&2
echo "$want" > "$stamp"
echo "setup: done" >&2
