#!/usr/bin/env bash
# bench/run.sh - every benchmark; each prints its figures as ratios against a
# baseline measured in the same run.
set -u
cd "$(dirname "$0")/.."
for b in bench/bench_*.sh; do
    [ -f "$b" ] || continue
    echo "== $b"
    bash "$b"
done
