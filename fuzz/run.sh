#!/usr/bin/env bash
# fuzz/run.sh SECONDS - runs every built libFuzzer target for SECONDS each, seeded
# from fuzz/corpus/NAME (plus generated seeds), keeping new crashes in fuzz/regress/NAME.
set -u
secs=${1:-60}
cd "$(dirname "$0")/.."
for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=${f##*/fuzz_}
    work=build/fuzz/work-$name; mkdir -p "$work" "fuzz/regress/$name"
    seeds=()
    [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
    [ -x "fuzz/seeds-$name.sh" ] && { mkdir -p "build/fuzz/seeds-$name"; bash "fuzz/seeds-$name.sh" "build/fuzz/seeds-$name"; seeds+=("build/fuzz/seeds-$name"); }
    echo "fuzz: $name for ${secs}s"
    "$f" -max_total_time="$secs" -artifact_prefix="fuzz/regress/$name/" -rss_limit_mb=2048 \
        -timeout=10 "$work" "${seeds[@]}" 2>&1 | grep -E '^(#[0-9]+ +DONE|INFO: .*corpus|==|SUMMARY|Done)' | tail -n 5
done
