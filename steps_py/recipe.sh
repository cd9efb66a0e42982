# Shared helpers for recipes. Source after declaring defaults (stage=, stop_stage=, ...):
#   . recipe.sh        parses the options, then gives:
#   log MESSAGE        a time-stamped line on stderr
#   die MESSAGE        log it and exit 1
#   if stage N "what it does"; then ... fi
#                      runs the block when stage <= N <= stop_stage and logs "Stage N: what it does";
#                      the same strings make the --help stage list.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
stage() {
  local n=$1 what=$2
  if [ "$n" -ge "${stage:-0}" ] && [ "$n" -le "${stop_stage:-1000}" ]; then
    log "Stage $n: $what"
    return 0
  fi
  return 1
}
