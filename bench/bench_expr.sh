#!/usr/bin/env bash
# bench/bench_expr.sh - events/s of the pre-processing expression evaluator against a
# plain C loop computing the same thing, measured in the same run (bench/bench_expr.c):
# sqrt(MET_px**2+MET_py**2), the jagged cut [Jet_pt > 30 and abs(Jet_eta) < 2.4, "any"]
# (through preproc) and sum(Jet_pt), over 1M synthetic events with ~5 jets each.
# Usage: bash bench/bench_expr.sh [NEVENTS [CHUNK]]
set -eu
cd "$(dirname "$0")/.."
make -s build/libmlhep.a
mkdir -p build/bench
gcc -std=c17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -Icommon bench/bench_expr.c build/libmlhep.a \
    -ljansson -lm -o build/bench/bench_expr
build/bench/bench_expr "${1:-1000000}" "${2:-100000}"
