#!/usr/bin/env bash
# deploy/run-sample.sh - what `make run` shows: the native ROOT reader on a sample
# file (grows into a full workflow run as the service lands).
set -eu
cd "$(dirname "$0")/.."
f=../shared/data/root/uproot-HZZ.root
[ -f "$f" ] || { echo "run: sample file $f not found (shared/ must sit beside the project)" >&2; exit 1; }
echo "\$ bin/mlhep-root ls $f"
bin/mlhep-root ls "$f"
echo
echo "\$ bin/mlhep-root stats $f   (first branches)"
bin/mlhep-root stats "$f" | head -n 40
echo "  ..."
