#!/usr/bin/env bash
# deploy/run-sample.sh - what `make run` shows (grows into a full workflow run).
set -eu
cd "$(dirname "$0")/.."
f=../shared/data/root/uproot-HZZ.root
echo "mlhep: nothing to run yet"
