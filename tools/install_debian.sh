#!/usr/bin/env bash
# Makes sure Debian packages are installed: apt-get when run as root, otherwise a message naming the missing
# packages and the command to install them (exit status 1). Quiet and fast when they are all there.
# Usage: tools/install_debian.sh <package> [<package> ...]
#   e.g. tools/install_debian.sh asterisk-core-sounds-en-wav asterisk-core-sounds-en
# Used by tools/setup.sh for the toolkit's own packages and by recipes for their corpora.
set -euo pipefail
if (( $# == 0 )); then
  echo "usage: $0 <package> [<package> ...]" >&2
  exit 2
fi
missing=()
for pkg in "$@"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
(( ${#missing[@]} )) || exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: install them as root:  apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
