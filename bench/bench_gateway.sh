#!/usr/bin/env bash
# bench/bench_gateway.sh - what the front door costs (issue 14's speed aims), each figure
# against a baseline measured in the same run on the same 2 cores:
#   1. TFaaS single-row POST /json through gateway -> broker -> mlhep-infer, closed loop
#      with 64 connections (bench/http_load.c, plain HTTP on loopback), against
#      (a) the same request bytes over AMQP without the gateway (bench/infer_load.c, 64
#      in flight) and (b) the gateway answering a trivial route (GET /v2/health/live).
#      Aims: >= 10,000 requests/s, at least 0.7 of the AMQP path. The gateway sends the
#      small predictions of one user that wait together as one broker message (batches,
#      docs/gateway.md); the AMQP client sends one message per request. How many travelled
#      in batches is read from the gateway's /metrics, and the same load is run once more
#      against a gateway with gateway_predict_batch = 1 (every request its own message:
#      what the gateway alone costs).
#   2. p99 at a fixed 5,000 requests/s (open loop: latency from each request's scheduled
#      time). Aim: p99 < 10 ms.
#   3. The same /json load over TLS (wrk, https with the stack's CA), against 1.
#   4. KServe v2 infer with 10,000-row FP32 tensors (binary tensor extension), 4
#      connections, rows/s against binary columnar 10,000-row requests over AMQP (4 in
#      flight). Aim: >= 0.7.
#   5. Job submission: POST /v1/jobs of a small training workflow, 16 connections, no
#      training workers (jobs only queue): accepted jobs/s. Aim: >= 200.
# The stack is deploy/local/up.sh (1 inference worker, its default threads; the gateway
# with its default settings except the per-user rate and concurrency limits, which the
# load test's user must not hit: gateway_rate = 0, gateway_concurrency = 0 in its
# gateway.conf, an operator's setting). Model: the MLP of tests/unit/test_predict.c on a
# synthetic ttH sample (71 branches), as bench_infer.sh.
# Env: SECS (10) seconds per load run; EVENTS (20000) events of the sample.
set -u
cd "$(dirname "$0")/.."
SECS=${SECS:-10}; EVENTS=${EVENTS:-20000}
make -s all build/libmlhep.a || exit 1
mkdir -p build/bench
make -s build/bench/infer_load build/bench/make_models build/bench/http_load || exit 1
T=$(mktemp -d /tmp/mlhep-bench-gw.XXXXXX); S=$T/st
# the plain-HTTP gateways below are ours, not the stack's: down.sh does not know them
trap 'for f in "$S"/pids/gateway-plain*.pid; do p=$(cat "$f" 2>/dev/null) && kill -TERM "$p" 2>/dev/null; done; deploy/local/down.sh --state "$S" >/dev/null 2>&1; rm -rf "$T"' EXIT
mkdir -p "$T/data" "$T/m"
bin/mlhep-root gen --events "$EVENTS" --class signal --out "$T/data/sig.root" --seed 1 >/dev/null 2>&1 || exit 1
bin/mlhep-root gen --events "$EVENTS" --class background --out "$T/data/bkg.root" --seed 2 >/dev/null 2>&1 || exit 1
MLHEP_SCHEMAS=$PWD/schemas build/bench/make_models --make-models "$T/m" "$T/data/sig.root" "$T/data/bkg.root" Events || exit 1
deploy/local/up.sh --state "$S" --workers 0 --infer 1 --bin bin --data-roots "$T/data" > "$T/up.log" 2>&1 || { cat "$T/up.log"; exit 1; }
for _ in $(seq 100); do grep -q ' ready: ' "$S"/logs/infer-1.log 2>/dev/null && break; sleep 0.1; done
# the load test's user is exempt from the per-user limits (operator setting), then restart
kill -TERM "$(cat "$S/pids/gateway.pid")"; for _ in $(seq 100); do kill -0 "$(cat "$S/pids/gateway.pid")" 2>/dev/null || break; sleep 0.05; done
printf 'gateway_rate = 0\ngateway_concurrency = 0\n' >> "$S/gateway.conf"
start_gateway() { # CONF PORTFILE LOG -> pid in GWPID
    rm -f "$2"
    bin/mlhep-gateway --config "$1" --port-file "$2" --quiet > "$3" 2>&1 & GWPID=$!
    for _ in $(seq 200); do [ -s "$2" ] && return 0; sleep 0.05; done
    cat "$3"; return 1
}
start_gateway "$S/gateway.conf" "$T/tls.port" "$S/logs/gateway.log" || exit 1
echo "$GWPID" > "$S/pids/gateway.pid"
TLS_PORT=$(cat "$T/tls.port")
grep -v '^gateway_tls_' "$S/gateway.conf" > "$T/plain.conf"
start_gateway "$T/plain.conf" "$T/plain.port" "$T/plain.log" || exit 1
echo "$GWPID" > "$S/pids/gateway-plain.pid"
PORT=$(cat "$T/plain.port")
{ cat "$T/plain.conf"; echo "gateway_predict_batch = 1"; } > "$T/plain1.conf"
start_gateway "$T/plain1.conf" "$T/plain1.port" "$T/plain1.log" || exit 1
echo "$GWPID" > "$S/pids/gateway-plain1.pid"
PORT1=$(cat "$T/plain1.port")
TOKEN=$(cat "$S/users/alice.token")
AUTH="Authorization: Bearer $TOKEN"
OPCONF=$S/operator.conf; [ -f "$OPCONF" ] || OPCONF=$S/users/alice.conf
J=0123456789abcdef0123456789abcdef
mkdir -p "$S/artifacts/alice/$J"; cp "$T/m/mlp.mlhep" "$S/artifacts/alice/$J/model.mlhep"
curl -sf -H "$AUTH" -d "{\"job\":\"$J\",\"name\":\"tth\"}" "http://127.0.0.1:$PORT/v1/models" >/dev/null || { echo "tagging the model failed"; exit 1; }
jq -c '.model="tth"' "$T/m/req-values.json" > "$T/q1.json"
jq -c '.model="tth" | .columns|=map_values((.+.+.+.)[0:100])' "$T/m/req-columns.json" > "$T/c100.json"
build/bench/infer_load --to-binary "$T/c100.json" "$T/b10k.bin" f32 100 || exit 1
python3 bench/v2_request.py "$T/c100.json" 100 "$T/v2.body" "$T/v2.hlen" || exit 1
cat > "$T/job.json" <<EOF2
{"name": "bench", "files": [{"path": "sig.root", "label": 1}, {"path": "bkg.root", "label": 0}], "tree": "Events",
 "params": {"epochs": 1, "selected_branches": ["MET_pt", "HT", "nJet"]},
 "model": {"type": "mlp", "layers": [{"dense": 8, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}
EOF2
L=(build/bench/infer_load "$OPCONF" "$S/users/alice.token")
H=(build/bench/http_load "$PORT")
val() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); mlhep-infer with $(grep -c ' ready: ' "$S"/logs/infer-1.log) consumer threads; $SECS s per run"
# warm-up: model load, token caches, connections
"${L[@]}" "$T/q1.json" 500 16 1 >/dev/null
"${H[@]}" POST /json "$T/q1.json" 2 16 --header "$AUTH" >/dev/null

metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
echo "## 1. TFaaS single-row POST /json ($(wc -c < "$T/q1.json") B), 64 connections"
m0=$(metric mlhep_gateway_predict_messages_total); r0=$(metric mlhep_gateway_predict_batched_total)
gw=$("${H[@]}" POST /json "$T/q1.json" "$SECS" 64 --header "$AUTH" --header "Content-Type: application/json"); echo "gateway:       $gw"
m1=$(metric mlhep_gateway_predict_messages_total); r1=$(metric mlhep_gateway_predict_batched_total)
echo "# broker messages: $(awk -v a="$m0" -v b="$m1" 'BEGIN{print b - a}') for $(echo "$gw" | sed -n 's/^requests \([0-9]*\).*/\1/p') requests, $(awk -v a="$r0" -v b="$r1" 'BEGIN{print b - a}') of them in batches"
gw1=$(build/bench/http_load "$PORT1" POST /json "$T/q1.json" "$SECS" 64 --header "$AUTH" --header "Content-Type: application/json"); echo "no batches:    $gw1"
n_amqp=$(( SECS * 12000 ))
amqp=$("${L[@]}" "$T/q1.json" "$n_amqp" 64 1); echo "AMQP, no gateway: $amqp"
triv=$("${H[@]}" GET /v2/health/live - "$SECS" 64); echo "trivial route: $triv"
gw_rps=$(echo "$gw" | val rps); amqp_rps=$(echo "$amqp" | sed -n 's/.*requests\/s \([0-9]*\).*/\1/p'); triv_rps=$(echo "$triv" | val rps)
gw1_rps=$(echo "$gw1" | val rps)
awk -v g="$gw_rps" -v a="$amqp_rps" -v t="$triv_rps" 'BEGIN{printf "# gateway %d req/s = %.2f of the AMQP path (%d req/s; aim >= 0.7, and >= 10000 req/s), %.2f of the trivial route (%d req/s)\n", g, g/a, a, g/t, t}'
awk -v g="$gw1_rps" -v a="$amqp_rps" 'BEGIN{printf "# without batches (gateway_predict_batch = 1): %d req/s = %.2f of the AMQP path\n", g, g/a}'

echo "## 2. the same at a fixed 5000 requests/s, 64 connections"
fix=$("${H[@]}" POST /json "$T/q1.json" "$SECS" 64 --rate 5000 --header "$AUTH"); echo "gateway:       $fix"
echo "# p99 at 5000 req/s: $(echo "$fix" | val p99) ms (aim < 10 ms)"

echo "## 3. TFaaS /json over TLS (wrk, 2 threads, 64 connections)"
cat > "$T/post.lua" <<EOF2
wrk.method = "POST"
-- a level-2 long string: the JSON holds "]]" (nested lists end so)
wrk.body = [==[$(cat "$T/q1.json")]==]
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["Content-Type"] = "application/json"
EOF2
if command -v wrk >/dev/null; then
    SSL_CERT_FILE=$S/tls/ca.pem wrk -t2 -c64 -d"${SECS}s" --latency -s "$T/post.lua" "https://127.0.0.1:$TLS_PORT/json" > "$T/wrk.out" 2>&1
    tls_rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$T/wrk.out"); tls_p99=$(sed -n 's/^ *99% *\(.*\)/\1/p' "$T/wrk.out")
    non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$T/wrk.out")
    awk -v s="$tls_rps" -v g="$gw_rps" -v p="$tls_p99" -v b="${non2xx:-0}" 'BEGIN{printf "# TLS: %d req/s (p99 %s) = %.2f of plain HTTP; non-2xx answers: %d\n", s, p, s/g, b}'
else echo "# wrk not installed (deploy/packages-bench.txt)"; fi

echo "## 4. KServe v2 infer, 10000-row FP32 tensors ($(( $(wc -c < "$T/v2.body") / 1024 )) KiB, binary extension), 4 connections"
v2=$("${H[@]}" POST /v2/models/tth/infer "$T/v2.body" "$SECS" 4 --header "$AUTH" --header "Inference-Header-Content-Length: $(cat "$T/v2.hlen")"); echo "gateway:       $v2"
b10k=$("${L[@]}" "$T/b10k.bin" $(( SECS * 40 )) 4 10000); echo "AMQP binary:   $b10k"
v2_rows=$(echo "$v2" | val rps | awk '{print $1 * 10000}'); b_rows=$(echo "$b10k" | sed -n 's/.*rows\/s \([0-9]*\).*/\1/p')
awk -v g="$v2_rows" -v a="$b_rows" 'BEGIN{printf "# v2 %d rows/s = %.2f of the binary AMQP path (%d rows/s; aim >= 0.7)\n", g, g/a, a}'

echo "## 5. job submission, POST /v1/jobs ($(wc -c < "$T/job.json") B workflow), 16 connections, no training workers"
sub=$("${H[@]}" POST /v1/jobs "$T/job.json" "$SECS" 16 --header "$AUTH" --expect 202); echo "gateway:       $sub"
echo "# $(echo "$sub" | val rps) accepted jobs/s (aim >= 200); queued in jobs.train: $(bin/mlhep-worker --config "$S/worker.conf" --queue-depth jobs.train 2>/dev/null | head -1)"
echo "machine load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
