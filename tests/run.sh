#!/usr/bin/env bash
# tests/run.sh - runs every mlhep test and prints the closing "N passed, N failed".
#
# Unit tests: every build/asan/tests/test_* binary (built by `make` under
# -fsanitize=address,undefined). Script tests: every tests/cli/*.sh, run with
# MLHEP_BIN pointing at the sanitizer build of the programs. Both kinds print
# "PASS name" / "FAIL name" lines; a binary or script that dies without saying
# FAIL counts as one failure. Optional argument: a substring to select tests.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export MLHEP_TOP="$top"
export MLHEP_BIN="${MLHEP_BIN:-$top/build/asan/bin}"
export MLHEP_SHARED="${MLHEP_SHARED:-$(cd "$top/.." && pwd)/shared}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
filter="${1:-}"
pass=0; fail=0; failed_names=()
logdir=$(mktemp -d /tmp/mlhep-tests.XXXXXX)

count_output() { # $1 = name, $2 = log, $3 = exit code
    local p f
    p=$(grep -c '^PASS ' "$2" || true)
    f=$(grep -c '^FAIL ' "$2" || true)
    if [ "$3" != 0 ] && [ "$f" = 0 ]; then
        f=1; echo "FAIL $1 (exit code $3)"; tail -n 30 "$2"
    fi
    grep -E '^(FAIL|  )' "$2" | head -n 40
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" != 0 ] && failed_names+=("$1")
    printf '%-40s %3d passed, %d failed  (%ss)\n' "$1" "$p" "$f" "$4"
}

for t in build/asan/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    log="$logdir/$name.log"
    t0=$SECONDS
    "$t" >"$log" 2>&1; rc=$?
    count_output "$name" "$log" "$rc" $((SECONDS - t0))
done

# Script tests run MLHEP_TEST_JOBS at a time (default 3: most of their time is spent
# waiting on servers they start, each on its own free ports in its own temp dir); their
# results are printed in name order once each has ended.
# The long ones start first (those that bring up the whole service stack or network
# namespaces: 1-2.5 min each), so that no long test is left to run alone at the end.
jobs_max=${MLHEP_TEST_JOBS:-3}
scripts=(); long=()
for s in tests/cli/*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
    case "$name" in
        service_* | netns_* | infer_service | gateway_api | gateway_batch | grid_*) long+=("$s") ;;
        *) scripts+=("$s") ;;
    esac
done
scripts=("${long[@]}" "${scripts[@]}")
run_script() { # SCRIPT: runs it, leaves its exit code and seconds beside its log
    local name log t0 rc
    name=$(basename "$1" .sh); log="$logdir/$name.log"; t0=$SECONDS
    timeout 600 bash "$1" >"$log" 2>&1; rc=$?
    echo "$rc $((SECONDS - t0))" > "$log.rc"
}
running=0
for s in "${scripts[@]}"; do
    if [ "$running" -ge "$jobs_max" ]; then wait -n; running=$((running - 1)); fi
    run_script "$s" &
    running=$((running + 1))
done
wait
[ "${#scripts[@]}" = 0 ] || mapfile -t scripts < <(printf '%s\n' "${scripts[@]}" | sort)
for s in "${scripts[@]}"; do
    name=$(basename "$s" .sh); log="$logdir/$name.log"
    read -r rc secs < "$log.rc" 2>/dev/null || { rc=1; secs=0; }
    count_output "$name" "$log" "$rc" "$secs"
done

echo "logs in $logdir"
if [ "${#failed_names[@]}" != 0 ]; then echo "failed: ${failed_names[*]}"; fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" != 0 ]
