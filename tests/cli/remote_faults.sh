#!/usr/bin/env bash
# Remote failures (issue 8): a wrong port gives "URL: connection refused after 3
# attempts" quickly; a server killed (SIGKILL) in the middle of reading gives a clean
# error naming the URL, within a bounded time, for root:// and http://, through
# `mlhep-root stats` and through the data layer's readahead (mlhep-prep); a hung
# server (SIGSTOP) gives a time-out error, not a hang.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../remote/server.sh"
R="$BIN/mlhep-root"
if ! command -v xrootd >/dev/null; then bad remote_setup "xrootd not installed (deploy/packages.txt)"; exit 1; fi
trap '[ -n "${XRD_PID:-}" ] && kill -CONT "$XRD_PID" 2>/dev/null; xrd_stop; rm -rf "$TMP"' EXIT
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# 1. nothing listens on the port
p=$(free_port)
for u in "root://localhost:$p//data/x.root" "http://localhost:$p/data/x.root"; do
    t0=$(now)
    out=$("$R" stats "$u" 2>&1); rc=$?
    t=$(elapsed "$t0")
    if [ "$rc" = 2 ] && [[ "$out" == *"$u: connection refused after 3 attempts"* ]] && lt "$t" 15; then
        ok "wrong_port_${u%%:*} (${t}s)"
    else
        bad "wrong_port_${u%%:*}" "rc=$rc after ${t}s: $out"
    fi
done

# a file big enough to be still reading when the server goes away
G="$TMP/gen"; mkdir -p "$G"   # xrd_start hands xrootd a copy it can read
GEN="$MLHEP_TOP/bin/mlhep-root"; [ -x "$GEN" ] || GEN="$R"
"$GEN" gen --events 150000 --class signal --compression none --out "$G/big.root" --seed 5 >/dev/null 2>&1 || { bad gen "gen failed"; exit 1; }
cp "$G/big.root" "$G/big2.root"
chmod 644 "$G"/*.root
cat >"$TMP/wf.json" <<J
{"name":"m","files":[{"path":"root://localhost:PORT//gen/big.root","label":1},{"path":"root://localhost:PORT//gen/big2.root","label":0}],"params":{"chunk_size":-1}}
J

# run_clients: starts stats over root:// and http:// and mlhep-prep over root://
# in the background (pids in C1 C2 C3, outputs in $TMP/o.*)
run_clients() {
    sed "s/PORT/$XRD_PORT/g" "$TMP/wf.json" >"$TMP/wfp.json"
    "$R" stats "root://localhost:$XRD_PORT//gen/big.root" >/dev/null 2>"$TMP/o.root" & C1=$!
    "$R" stats "http://localhost:$HTTP_PORT/gen/big.root" >/dev/null 2>"$TMP/o.http" & C2=$!
    "$BIN/mlhep-prep" "$TMP/wfp.json" --out "$TMP/prep" >"$TMP/o.prep" 2>&1 & C3=$!
}

# check_clients NAME CAUSE-REGEX LIMIT: each client failed (rc 2 for stats, 3 for
# prep) with a message naming the URL and matching the cause, within LIMIT seconds
check_clients() {
    local name=$1 cause=$2 limit=$3 t0=$4 c rc out kind
    for c in root:$C1 http:$C2 prep:$C3; do
        kind=${c%%:*}
        wait "${c#*:}"; rc=$?
        out=$(grep -v '^specs:\|^chunk' "$TMP/o.$kind" | tail -2)
        local want=2; [ "$kind" = prep ] && want=3
        local url="root://localhost:$XRD_PORT//gen/big"; [ "$kind" = http ] && url="http://localhost:$HTTP_PORT/gen/big"
        echo "# $name $kind rc=$rc: $out"
        if [ "$rc" = "$want" ] && [[ "$out" == *"$url"* ]] && [[ "$out" =~ $cause ]]; then
            ok "${name}_$kind"
        elif [ "$rc" = 0 ]; then
            bad "${name}_$kind" "finished before the fault (inconclusive)"
        else
            bad "${name}_$kind" "rc=$rc: $out"
        fi
    done
    local t; t=$(elapsed "$t0")
    lt "$t" "$limit" && ok "${name}_bounded (${t}s)" || bad "${name}_bounded" "took ${t}s (limit ${limit}s)"
}

# 2. server killed in the middle of the reads
xrd_start "$DATA" "$G" || { bad remote_setup "xrootd did not start"; exit 1; }
run_clients
sleep 0.3
t0=$(now)
kill -KILL "$XRD_PID"
check_clients killed "connection refused|onnection|closed|reset|short answer|Partial|ecv" 30 "$t0"
XRD_PID=; rm -rf "$XRD_T"

# 3. hung server: stopped, then each operation times out (2 s, 2 attempts)
export MLHEP_REMOTE_TIMEOUT=2 MLHEP_REMOTE_ATTEMPTS=2
xrd_start "$DATA" "$G" || { bad remote_setup "xrootd did not start"; exit 1; }
run_clients
sleep 0.3
t0=$(now)
kill -STOP "$XRD_PID"
check_clients hung "timed out|expired|[Tt]imeout" 30 "$t0"
kill -CONT "$XRD_PID"
