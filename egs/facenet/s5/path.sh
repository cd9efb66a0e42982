# Source me: the toolkit's environment (installs it on first use) plus this recipe's local/ programs.
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../../path.sh"
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/local:$PATH"
