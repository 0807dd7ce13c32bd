# service_resume.sh - a training job whose worker is stopped (SIGTERM: handed back) or
# killed (SIGKILL: redelivered) mid-training continues on the next worker from the
# checkpoint of its last finished epoch instead of starting over, on a real RabbitMQ +
# Redis (tests/service_lib.sh), and ends with the same weights as the same workflow run
# uninterrupted by mlhep-run (model.mlhep compared byte for byte). "Mid-training" is made
# certain with the workers' test hold in mode "report": the job waits at the step that
# reports epoch 1's validation figures, written after epoch 1's checkpoint.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

svc_up --workers 1 --heartbeat 0.3 --delivery-limit 3 --test-hooks --users alice --data-roots "$DATA"
wait_workers_ready 1 60 || { bad "workers ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; exit 1; }
add_worker() { "$TOP/deploy/local/up.sh" --state "$S" --bin "$BIN" --add-workers 1 >/dev/null; }
hold() { echo "$2" > "$S/hold/$1"; }
release() { rm -f "$S/hold/$1"; }
wait_held() { for _ in $(seq 600); do grep -q "job $1: held at step" "$S"/logs/worker-*.log && return 0; sleep 0.1; done; return 1; }
wf() { # NAME
    printf '{"name": "%s", "tree": "events", "files": [{"path": "uproot-HZZ.root", "label": 1}, {"path": "uproot-HZZ-zstd.root", "label": 0}], "params": {"epochs": 5, "chunk_size": 700, "batch_size": 64}, "model": {"type": "mlp", "layers": [{"dense": 16, "activation": "relu"}, {"dropout": 0.25}, {"dense": 1, "activation": "sigmoid"}], "optimizer": {"adam": {"lr": 0.01}}}}\n' "$1"
}

# the reference: the same workflow, never stopped (the name changes no number)
wf reference > "$TMP/ref.json"
"$BIN/mlhep-run" --quiet --data-root "$DATA" --out "$TMP/ref" "$TMP/ref.json" > /dev/null 2> "$TMP/ref.err" || bad "reference run" "$(cat "$TMP/ref.err")"

for how in TERM KILL; do
    name=resume-$how
    wf "$name" > "$TMP/$name.json"
    hold "$name" report
    id=$(as_alice --no-wait "$TMP/$name.json")
    wait_held "$id" || bad "$how: job held" "$(tail -n 3 "$S"/logs/worker-*.log)"
    w1=$(field "$id" worker); p1=$(cat "$S/pids/worker-${w1#w}.pid")
    kill -$how "$p1"
    for _ in $(seq 200); do alive "$p1" || break; sleep 0.05; done
    rm -f "$S/pids/worker-${w1#w}.pid"
    tmp=$(ls -d "$S/artifacts/alice/.tmp-$id"* 2>/dev/null | head -1)
    if [ -n "$tmp" ] && [ -s "$tmp/checkpoint.mlhep" ]; then ok "$how: the stopped attempt's checkpoint stays in its temp dir"; else bad "$how: checkpoint kept" "$(ls -a "$S/artifacts/alice") $(tail -n 5 "$S/logs/worker-${w1#w}.log")"; fi
    release "$name"
    add_worker
    wait_state "$id" succeeded 120
    st=$(field "$id" state)
    if [ "$st" = succeeded ] && grep -q "job $id: continuing from the checkpoint of an earlier attempt (epoch 1 done)" "$S"/logs/worker-*.log && grep -q "resuming from checkpoint.mlhep: epoch 1/5 done" "$S/artifacts/alice/$id/job.log" && ! grep -q "^epoch 1/5:" "$S/artifacts/alice/$id/job.log"; then ok "$how: the next attempt continued from epoch 1 and succeeded"; else bad "$how: continued" "state=$st $(grep "$id" "$S"/logs/worker-*.log | tail -n 5) $(cat "$S/artifacts/alice/$id/job.log" 2>/dev/null)"; fi
    if cmp -s "$TMP/ref/model.mlhep" "$S/artifacts/alice/$id/model.mlhep" && [ ! -e "$S/artifacts/alice/$id/checkpoint.mlhep" ] && [ -z "$(ls -a "$S/artifacts/alice" | grep -- "^\.tmp-$id")" ]; then ok "$how: final weights bit-identical to the uninterrupted run; no checkpoint or temp dir left"; else bad "$how: weights" "$(cmp "$TMP/ref/model.mlhep" "$S/artifacts/alice/$id/model.mlhep" 2>&1) $(ls -a "$S/artifacts/alice" "$S/artifacts/alice/$id")"; fi
done
if ! grep -q "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log "$TMP/ref.err"; then ok "sanitizer-clean"; else bad "sanitizer" "$(grep -A5 "AddressSanitizer\|runtime error" "$S"/logs/worker-*.log | head -20)"; fi
