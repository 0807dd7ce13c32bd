#!/usr/bin/env bash
# bench/bench_expr.sh - events/s of the pre-processing expression evaluator against a
# plain C loop computing the same thing, measured in the same run (bench/bench_expr.c):
# sqrt(MET_px**2+MET_py**2), the jagged cut [Jet_pt > 30 and abs(Jet_eta) < 2.4, "any"]
# (through preproc) and sum(Jet_pt), over 1M synthetic events with ~5 jets each.
# Usage: bash bench/bench_expr.sh [NEVENTS [CHUNK]]
set -eu
cd "$(dirname "$0")/.."
make -s build/bench/bench_expr || exit 1
build/bench/bench_expr "${1:-1000000}" "${2:-100000}"
