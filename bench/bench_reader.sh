#!/usr/bin/env bash
# Reader throughput vs raw decompression of the same baskets (issue 2), and peak
# memory while streaming: chunked reading keeps RSS near the chunk's size.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build/bench
make -s build/bench/bench_reader || exit 1
D=../shared/data/root
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo "reader: uncompressed basket MB/s, all numeric branches, best of 3 (machine: $(nproc) cores)"
build/bench/bench_reader "$D/uproot-issue412.root" "$D/uproot-hepdata-example.root" "$D/uproot-HZZ-zlib.root" \
    "$D/uproot-HZZ-zstd.root" "$D/uproot-Zmumu-lz4.root" "$D/uproot-issue121.root:Events"
# generated large inputs (written by `mlhep-root gen` when available)
if [ -x bin/mlhep-root ] && bin/mlhep-root gen --help >/dev/null 2>&1; then
    for c in zlib:1 lz4:4 zstd:5; do
        f=build/bench/tth-200k-${c%%:*}.root
        [ -f "$f" ] || bin/mlhep-root gen --events 200000 --class signal --seed 1 --compression "$c" --out "$f" >/dev/null 2>&1
    done
    echo "generated ttH-like files, 200k events, 74 branches; memory while streaming by chunk:"
    for ch in 10000 100000; do
        build/bench/bench_reader --reps 2 --chunk $ch build/bench/tth-200k-zlib.root build/bench/tth-200k-lz4.root \
            build/bench/tth-200k-zstd.root
    done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); dec/inf: ROOT decode / raw decompression of the same baskets (same libraries), 1 thread, aim >= 0.9; cpu d/i: the same ratio by CPU time"
