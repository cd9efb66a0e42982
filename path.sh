# Source me (". ./path.sh"): makes the asrser venv and stage programs available, installing them first on a
# fresh machine. Recipes under egs/ source this file through their own path.sh.
ASRSER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASRSER_ROOT
"$ASRSER_ROOT/tools/setup.sh" || { echo "path.sh: setup failed (see above)" >&2; return 1 2>/dev/null || exit 1; }
# shellcheck disable=SC1091
. "$ASRSER_ROOT/.venv/bin/activate"
export PATH="$ASRSER_ROOT/steps_py:$PATH"
export PYTHONUNBUFFERED=1
export LC_ALL=C   # Kaldi's sort order for data dirs
