#!/usr/bin/env bash
# Remote reading speed (issue 8): all numeric branches of a generated 200k-event file
# (74 branches, ~80 MB), read block by block (20k entries, 2 decode threads) from
# the local disk, root:// and http:// (one xrootd with XrdHttp), each in three ways
# measured in the same run:
#   naive     one request per basket (the reader without a plan)
#   plan      per block one coalesced vector read, then decode
#   prefetch  the same, with the next block fetched while this one decodes
# first on loopback, then with 20 ms round-trip time: tc netem on a veth pair into a
# network namespace the benchmark creates (removed at exit), or, where the kernel has
# no netem qdisc, a userspace forwarder delaying each direction by 10 ms
# (bench/latency_proxy.py). Prints events/s, requests per block, and speed-ups over
# naive. EVENTS, RTT_MS and LAT_ENTRIES (entries read in the latency runs) can be set.
set -u
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
RTT_MS=${RTT_MS:-20}
LAT_ENTRIES=${LAT_ENTRIES:-60000}
make -s all >/dev/null || { echo "FAIL bench_remote: build"; exit 1; }
mkdir -p build/bench
make -s build/bench/bench_remote || { echo "FAIL bench_remote: compile"; exit 1; }
command -v xrootd >/dev/null || { echo "FAIL bench_remote: xrootd not installed"; exit 1; }
D=$(mktemp -d /tmp/mlhep-bench-remote.XXXXXX)
chmod 755 "$D"
F="$D/f.root"
bin/mlhep-root gen --events "$EVENTS" --class signal --seed 1 --out "$F" >/dev/null 2>&1 || { echo "FAIL bench_remote: gen"; exit 1; }
chmod 644 "$F"
. tests/remote/server.sh
NS=; PROXY=
cleanup() {
    [ -n "$PROXY" ] && kill "$PROXY" 2>/dev/null
    if [ -n "$NS" ]; then ip link del "mlv$$" 2>/dev/null; ip netns del "$NS" 2>/dev/null; fi
    xrd_stop
    rm -rf "$D"
}
trap cleanup EXIT
xrd_start "$D" || { echo "FAIL bench_remote: xrootd"; exit 1; }
echo "file: $EVENTS events, $(du -m "$F" | cut -f1) MB, $(bin/mlhep-root stats "$F" | jq '[.trees[0].branches[] | select(.kind != "group" and .kind != "skipped")] | length') numeric branches; machine: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# run LABEL PREFIX-CMD URL EXTRA-ARGS: one line per mode, and speed-ups over naive
run() {
    local label=$1 pre=$2 url=$3 extra=$4 m line evs naive=
    for m in naive plan prefetch; do
        line=$($pre build/bench/bench_remote $extra "$m" "$url" 2>&1) || { echo "  $label $m: FAILED: $line"; continue; }
        evs=$(sed -n 's/.*events_per_s=\([0-9]*\).*/\1/p' <<<"$line")
        rpb=$(sed -n 's/.*requests_per_block=\([0-9.]*\).*/\1/p' <<<"$line")
        sum=$(sed -n 's/.*checksum=\([-0-9.e+]*\).*/\1/p' <<<"$line")
        opn=$(sed -n 's/.*open_requests=\([0-9]*\) open_ms=\([0-9.]*\).*/\1 req, \2 ms/p' <<<"$line")
        [ "$m" = naive ] && naive=$evs
        printf '  %-22s %-9s %9s events/s  %7s requests/block  x%s vs naive  (open: %s; checksum %s)\n' "$label" "$m" \
            "$evs" "$rpb" "$(awk -v a="$evs" -v b="${naive:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }')" \
            "$opn" "$sum"
    done
}

echo "loopback, all $EVENTS entries, best of 2:"
run local "" "$F" "--reps 2"
run root:// "" "root://localhost:$XRD_PORT//data/f.root" "--reps 2"
run http:// "" "http://localhost:$HTTP_PORT/data/f.root" "--reps 2"

# latency
half=$((RTT_MS / 2))
NS="mlhep-bench-$$"
how=
if ip netns add "$NS" 2>/dev/null && ip link add "mlv$$" type veth peer name "mlp$$" 2>/dev/null &&
    ip link set "mlp$$" netns "$NS" && ip addr add 10.231.77.1/24 dev "mlv$$" && ip link set "mlv$$" up &&
    ip -n "$NS" addr add 10.231.77.2/24 dev "mlp$$" && ip -n "$NS" link set "mlp$$" up && ip -n "$NS" link set lo up &&
    tc qdisc add dev "mlv$$" root netem delay "${half}ms" 2>/dev/null &&
    ip netns exec "$NS" tc qdisc add dev "mlp$$" root netem delay "${half}ms" 2>/dev/null; then
    how="tc netem ${half} ms on each end of a veth pair into netns $NS"
    PRE="ip netns exec $NS"; HOST=10.231.77.1; RP=$XRD_PORT; HP=$HTTP_PORT
else
    ip link del "mlv$$" 2>/dev/null; ip netns del "$NS" 2>/dev/null; NS=
    RP=$(free_port); HP=$(free_port)
    /usr/bin/python3 bench/latency_proxy.py "$RP" "$XRD_PORT" "$half" >"$D/p1.log" 2>&1 & P1=$!
    /usr/bin/python3 bench/latency_proxy.py "$HP" "$HTTP_PORT" "$half" >"$D/p2.log" 2>&1 & P2=$!
    PROXY="$P1 $P2"
    for i in $(seq 100); do grep -q ready "$D/p1.log" && grep -q ready "$D/p2.log" && break; sleep 0.05; done
    how="no netem qdisc in this kernel: userspace forwarder delaying each direction ${half} ms (bench/latency_proxy.py)"
    PRE=; HOST=127.0.0.1
fi
echo "${RTT_MS} ms round trip ($how), first $LAT_ENTRIES entries:"
ping_ms=$($PRE ping -c 3 -q "$HOST" 2>/dev/null | sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p')
[ -n "$ping_ms" ] && [ -n "$NS" ] && echo "  (ping rtt avg $ping_ms ms)"
run "root:// +${RTT_MS}ms" "$PRE" "root://$HOST:$RP//data/f.root" "--max-entries $LAT_ENTRIES"
run "http:// +${RTT_MS}ms" "$PRE" "http://$HOST:$HP/data/f.root" "--max-entries $LAT_ENTRIES"
