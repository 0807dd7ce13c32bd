#!/usr/bin/env bash
# Data layer speed on generated ttH-like files (22 flat + 52 jagged branches), zlib and
# lz4, against the raw decompression of the same baskets measured in the same run.
# BENCH_EVENTS (per file, default 200000), BENCH_CODECS (default "zlib:1 lz4:4"),
# BENCH_REPEAT (runs per figure, best kept; default 3).
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench
make -s build/bench/bench_data || exit 1
N=${BENCH_EVENTS:-200000}
for c in ${BENCH_CODECS:-zlib:1 lz4:4}; do
    s=build/bench/data-sig-$N-${c%%:*}.root; b=build/bench/data-bkg-$N-${c%%:*}.root
    [ -f "$s" ] || bin/mlhep-root gen --events "$N" --class signal --seed 1 --compression "$c" --out "$s" >/dev/null 2>&1
    [ -f "$b" ] || bin/mlhep-root gen --events "$N" --class background --seed 2 --compression "$c" --out "$b" >/dev/null 2>&1
    echo "== $c"
    MLHEP_SCHEMAS=schemas build/bench/bench_data "$PWD/$s" "$PWD/$b"
done
