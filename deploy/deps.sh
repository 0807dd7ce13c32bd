#!/bin/sh
# Installs the Debian packages listed in deploy/packages.txt (or the list files given as
# arguments, e.g. deploy/packages-bench.txt for `make bench`) that are not yet installed.
# Idempotent: when everything is present it does nothing (no apt-get update, no network).
# Run as root on Debian 12. Used by `make deps`, which `make test` and `make run` call.
set -eu
here=$(dirname "$0")
missing=""
lists="$*"
[ -n "$lists" ] || lists="$here/packages.txt"
# shellcheck disable=SC2086
for p in $(cat $lists | sed 's/#.*//' | tr -s ' \n' ' '); do
  # nodejs/npm may come from another repository; accept any working binary
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
  echo "deps: not root; install these packages first:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends $missing
