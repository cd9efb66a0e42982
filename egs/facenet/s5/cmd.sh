# How jobs run; see the top-level cmd.sh.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../../cmd.sh"
