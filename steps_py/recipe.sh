# Shared helpers for recipes. Source after declaring defaults (stage=, stop_stage=, ...):
#   . recipe.sh        parses the options, then gives:
#   log MESSAGE        a time-stamped line on stderr
#   die MESSAGE        log it and exit 1
#   if stage N "what it does" [needs M:PATH ...]; then ... fi
#                      runs the block when stage <= N <= stop_stage and logs "Stage N: what it does";
#                      the same strings make the --help stage list. Each M:PATH is an input of the stage that
#                      stage M makes: when PATH does not exist, the recipe stops with one line naming it and
#                      stage M, before the stage starts (brace expansion works: 3:data/{train,dev}/feats.scp).
#   num_folds F.json   the number of folds of an SER folds.json
#   same_folds A B     true when two SER folds dirs have the same classes, labels, groups and folds
#   take_ser_system S D  an SER system's scored predictions (predictions.tsv, results.json, confusion.png) from
#                      dir S into dir D: another recipe's system on the same folds, not trained again
# A recipe takes options only: a positional argument, a --stage / --stop-stage that is not a whole number, and
# a stage range that holds none of the recipe's stages are errors.
set -euo pipefail

log() { echo "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

(( $# == 0 )) || die "unexpected argument '$1': $(basename "$0") takes options only (--name value; see --help)"

_asrser_check_stage_range() {
  local name n declared=() selected=0
  for name in stage stop_stage; do
    declare -p "$name" >/dev/null 2>&1 || return 0
    [[ ${!name} =~ ^-?[0-9]+$ ]] || die "--${name//_/-} must be a whole number, got '${!name}'"
  done
  (( stage <= stop_stage )) || die "--stage $stage is after --stop-stage $stop_stage: no stage to run"
  mapfile -t declared < <(_asrser_stage_numbers)
  (( ${#declared[@]} )) || return 0
  for n in "${declared[@]}"; do
    (( n >= stage && n <= stop_stage )) && selected=1
  done
  (( selected )) || die "--stage $stage --stop-stage $stop_stage selects none of the stages (${declared[*]}); see --help"
}
_asrser_check_stage_range

stage() {
  local n=$1 what=$2 input
  (( n >= ${stage:-0} && n <= ${stop_stage:-1000} )) || return 1
  shift 2
  if (( $# )); then
    [ "$1" = needs ] || die "stage $n is declared with '$1' where 'needs' was expected"
    shift
    for input in "$@"; do
      [[ $input =~ ^[0-9]+: ]] || die "stage $n: input '$input' does not name the stage that makes it (M:PATH)"
      [ -e "${input#*:}" ] || \
        die "stage $n needs ${input#*:}, which stage ${input%%:*} makes: run stage ${input%%:*} first (--stage ${input%%:*})"
    done
  fi
  log "Stage $n: $what"
  return 0
}

# training_resources NGPU NPROC NODES: the job runner's options for one data-parallel training run of
# nnet_train.py --ngpu NGPU --nproc NPROC on NODES machines: its GPUs and a CPU per process; nothing for a
# single process on one machine (cuda_cmd's own choice then: a GPU where there are GPUs).
training_resources() {
  local ngpu=$1 nproc=$2 nodes=$3
  if (( ngpu > 0 )); then
    echo "--gpu $ngpu --num-threads $ngpu"
  elif (( nproc > 1 )); then
    echo "--gpu 0 --num-threads $nproc"
  fi
  (( nodes == 1 )) || echo "--nodes $nodes"
}

# SER folds (asrser.ser.folds): how many, and whether two folds dirs are the same (then one recipe can take
# over another's predictions on them instead of training again).
num_folds() { python3 -c 'import sys; from asrser.ser.folds import read_folds; print(len(read_folds(sys.argv[1])))' "$1"; }
same_folds() {  # <folds-dir> <folds-dir>
  local f
  for f in classes.txt utt2emo utt2group; do cmp -s "$1/$f" "$2/$f" || return 1; done
  python3 -c 'import sys; from asrser.ser.folds import read_folds; sys.exit(read_folds(sys.argv[1]) != read_folds(sys.argv[2]))' \
    "$1/folds.json" "$2/folds.json"
}
take_ser_system() {  # <system-dir> <into-dir>
  mkdir -p "$2"
  cp "$1/predictions.tsv" "$1/results.json" "$2/"
  [ ! -f "$1/confusion.png" ] || cp "$1/confusion.png" "$2/"
}
