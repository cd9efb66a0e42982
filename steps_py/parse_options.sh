# Kaldi-style option parsing for recipes. Source it after declaring every option as a shell variable with its
# default:   stage=0; nj=4; . parse_options.sh
# Then "--stop-stage 3" sets stop_stage=3, "--nj=8" sets nj=8, "--config FILE" sources FILE first.
# An option with no variable of that name is an error. "--help" prints $help_message and, when the
# recipe declares stages with   if stage N "what it does"; then   (or   if GUARD && stage N "...": a stage that
# runs only when the function GUARD succeeds) the numbered stage list.
# Positional arguments that follow the options stay in "$@".

# The recipe's own file (recipes cd into their directory first, so a relative $0 may need its basename).
_asrser_recipe=$0
[ -f "$_asrser_recipe" ] || _asrser_recipe=$(basename "$0")

# A corpus recipe that runs its own data preparation and then hands the later stages to another recipe (the
# generic egs/template/s5/run.sh) names that recipe in $stages_continue_in: its stages are listed and accepted too.
_asrser_stage_files() {
  echo "$_asrser_recipe"
  [ -z "${stages_continue_in:-}" ] || echo "$stages_continue_in"
}
_asrser_print_stages() {
  # The stage list is read from the recipe itself so that it cannot drift from what the recipe does.
  _asrser_stage_files | xargs sed -nE 's/^[[:space:]]*if ([a-z_]+ && )?stage ([0-9]+) "([^"]*)".*/  \2  \3/p'
}
_asrser_stage_numbers() {
  _asrser_stage_files | xargs sed -nE 's/^[[:space:]]*if ([a-z_]+ && )?stage ([0-9]+) ".*/\2/p'
}

while true; do
  [ $# -eq 0 ] && break
  case "$1" in
    --help|-h)
      [ -n "${help_message:-}" ] && printf '%s\n' "$help_message" || echo "Usage: $0 [options]"
      if grep -qE '^[[:space:]]*if ([a-z_]+ && )?stage [0-9]+ "' "$_asrser_recipe"; then
        echo "Stages:"; _asrser_print_stages
      fi
      exit 0 ;;
    --config)
      [ $# -ge 2 ] || { echo "$0: --config needs a file" >&2; exit 1; }
      [ -f "$2" ] || { echo "$0: config file $2 does not exist" >&2; exit 1; }
      # shellcheck disable=SC1090
      . "$2"; shift 2 ;;
    --*=*)
      _name=${1%%=*}; _value=${1#*=}
      _name=${_name#--}; _name=${_name//-/_}
      if ! declare -p "$_name" >/dev/null 2>&1; then
        echo "$0: invalid option ${1%%=*} (the recipe has no variable $_name)" >&2; exit 1
      fi
      printf -v "$_name" '%s' "$_value"; shift ;;
    --*)
      _name=${1#--}; _name=${_name//-/_}
      if ! declare -p "$_name" >/dev/null 2>&1; then
        echo "$0: invalid option $1 (the recipe has no variable $_name)" >&2; exit 1
      fi
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "$_name" '%s' "$2"; shift 2 ;;
    *) break ;;
  esac
done
unset _name _value
true
