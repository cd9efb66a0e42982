#!/usr/bin/env bash
# Runs the test suite, installing what it needs on a fresh machine. Extra arguments go to pytest,
# e.g. tests/run.sh -k datadir, or tests/run.sh -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
. ./path.sh
exec python -m pytest "$@"
