#!/usr/bin/env bash
# service_fanout.sh - the fanned-out specs pass (common/train/fanout.h) on a real RabbitMQ + Redis
# (deploy/local/up.sh, 2 workers, fanout_min_files default 2):
#   - a 6-file training job fans its specs pass out (one sub-task per file) and its
#     specs.json equals, value for value, the one mlhep-run computes in one process;
#   - a worker SIGKILLed while it runs a sub-task: the sub-task is redelivered and run by
#     the remaining worker (the coordinator, which helps while it waits: one worker alone
#     finishes), the job succeeds once with the same specs.json;
#   - a corrupt file among the inputs fails the job with that file's reason, and the
#     sub-task results of the job are gone from Redis; jobs.specs ends empty.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../service_lib.sh"

D=$TMP/data
mkdir -p "$D"
# two generated files copied into six inputs (mlhep-root gen, 30k events each; the
# kill test reads all 74 branches so that a sub-task runs long enough to be killed)
"$BIN/mlhep-root" gen --events 30000 --class signal --seed 3 --out "$D/s.root" >/dev/null 2>&1 &
g1=$!
"$BIN/mlhep-root" gen --events 30000 --class background --seed 4 --out "$D/b.root" >/dev/null 2>&1 &
g2=$!
svc_up --workers 2 --users alice --data-roots "$D" --test-hooks
wait $g1 && wait $g2 || { bad "generate inputs" "mlhep-root gen failed"; exit 1; }
for i in 0 1 2; do cp "$D/s.root" "$D/s$i.root"; cp "$D/b.root" "$D/b$i.root"; done
wait_workers_ready 2 60 || { bad "workers ready" "$(tail -n 5 "$S"/logs/worker-*.log)"; exit 1; }

SEL='"selected_branches": ["MET_pt", "HT", "nJet", "Jet_pt", "Jet_eta"], '
wf() { # NAME FILE... -> workflow on stdout ($SEL: the branch selection, may be empty)
    local name=$1; shift
    local files="" f
    for f in "$@"; do files="$files${files:+,}{\"path\": \"$f\", \"label\": $([[ $f == s* ]] && echo 1 || echo 0)}"; done
    printf '{"name": "%s", "tree": "Events", "files": [%s], "params": {%s"epochs": 1, "max_jagged_length": 4}, "model": {"type": "mlp", "layers": [{"dense": 4, "activation": "relu"}, {"dense": 1, "activation": "sigmoid"}]}}\n' "$name" "$files" "$SEL"
}
wf six s0.root b0.root s1.root b1.root s2.root b2.root > "$TMP/six.json"
SEL= wf sixall s0.root b0.root s1.root b1.root s2.root b2.root > "$TMP/sixall.json"

# reference: one process (same data root, so the same resolved paths)
if "$BIN/mlhep-run" --quiet --data-root "$D" --out "$TMP/ref" "$TMP/six.json" > "$TMP/ref.log" 2>&1 && [ -f "$TMP/ref/specs.json" ]; then
    ok "reference specs.json from mlhep-run (one process)"
else
    bad "reference run" "$(tail -n 5 "$TMP/ref.log")"
fi
"$BIN/mlhep-run" --quiet --data-root "$D" --out "$TMP/refall" "$TMP/sixall.json" > "$TMP/refall.log" 2>&1 || bad "reference run (all branches)" "$(tail -n 5 "$TMP/refall.log")"
same_specs() { cmp -s <(jq -S . "${2:-$TMP/ref}/specs.json") <(jq -S . "$1/specs.json"); } # ART [REF]

# --- fanned out over two workers
id=$(as_alice --no-wait "$TMP/six.json")
wait_state "$id" succeeded 120
art=$S/artifacts/alice/$id
logs=$(as_alice logs "$id" 2>&1)
if [ "$(field "$id" state)" = succeeded ] && [[ $logs == *"specs pass fanned out: 6 sub-tasks (one per file)"* ]] && [[ $logs == *"6 sub-tasks merged"* ]]; then
    ok "6-file job fanned out its specs pass (6 sub-tasks) and succeeded"
else
    bad "fan-out job" "state=$(field "$id" state) error=$(field "$id" error) logs=$(echo "$logs" | tail -n 8)"
fi
if same_specs "$art"; then ok "fanned-out specs.json equals the one-process specs.json exactly"; else bad "specs equal" "$(diff <(jq -S . "$TMP/ref/specs.json") <(jq -S . "$art/specs.json") | head -n 10)"; fi
echo "# sub-tasks run by the non-coordinator: $(cat "$S"/logs/worker-*.log | grep -c "sub-task [0-9]*/6 of job $id")"
if [ "$(queue_depth jobs.specs)" = 0 ]; then ok "jobs.specs drained"; else bad "jobs.specs drained" "depth $(queue_depth jobs.specs)"; fi

# --- a worker killed mid-sub-task: redelivered, the job finishes on the coordinator alone
# (the workers' test hold keeps a sub-task taken from jobs.specs from running, so that the
# kill finds it mid-way)
touch "$S/hold/.specs-subtasks"
id2=$(as_alice --no-wait "$TMP/sixall.json")
victim=""
for _ in $(seq 600); do
    for f in "$S"/logs/worker-*.log; do
        if grep -q "specs sub-task taken" "$f" && [ "$(grep -c "specs sub-task taken" "$f")" -gt "$(grep -c "sub-task [0-9]*/6 of job $id" "$f")" ]; then
            victim=$(basename "$f" .log); victim=${victim#worker-}; break 2
        fi
    done
    sleep 0.02
done
if [ -n "$victim" ]; then
    kill -KILL "$(worker_pid "$victim")"
    rm -f "$S/hold/.specs-subtasks"
    ok "worker $victim SIGKILLed while running a sub-task of job $id2"
else
    bad "kill mid-sub-task" "no worker took a sub-task of $id2 in 12 s"
    rm -f "$S/hold/.specs-subtasks"
fi
wait_state "$id2" succeeded 120
logs2=$(as_alice logs "$id2" 2>&1)
if [ "$(field "$id2" state)" = succeeded ] && [ "$(field "$id2" attempts)" = 1 ] && [[ $logs2 == *"ran a redelivered sub-task here"* ]]; then
    ok "the killed worker's sub-task was redelivered and run by the coordinator; job succeeded (attempt 1)"
else
    bad "redelivery" "state=$(field "$id2" state) attempts=$(field "$id2" attempts) logs=$(echo "$logs2" | grep specs | tail -n 6)"
fi
if same_specs "$S/artifacts/alice/$id2" "$TMP/refall"; then ok "specs.json after the redelivery equals the one-process specs.json"; else bad "specs after redelivery" "differs"; fi

# --- a corrupt input fails the job with the file's reason
head -c 3000 "$D/s.root" > "$D/corrupt.root"
wf bad s0.root b0.root corrupt.root > "$TMP/bad.json"
id3=$(as_alice --no-wait "$TMP/bad.json")
for _ in $(seq 600); do st=$(field "$id3" state); [ "$st" = failed ] || [ "$st" = succeeded ] && break; sleep 0.1; done
err=$(field "$id3" error)
if [ "$st" = failed ] && [[ $err == *"specs pass failed: file corrupt.root"* ]]; then ok "corrupt file fails the job with its reason: $err"; else bad "corrupt file" "state=$st error=$err"; fi
left=$(redis-cli -p "$REDIS_PORT" --user admin --pass "$(cat "$S/secrets/redis-admin.pw" 2>/dev/null)" --no-auth-warning --scan --pattern "mlhep:u:alice:specs:*" 2>/dev/null | wc -l)
if [ "$left" = 0 ]; then ok "no sub-task results left in Redis"; else bad "results left in Redis" "$left keys"; fi
for _ in $(seq 100); do [ "$(queue_depth jobs.specs)" = 0 ] && break; sleep 0.1; done
if [ "$(queue_depth jobs.specs)" = 0 ]; then ok "jobs.specs empty at the end"; else bad "jobs.specs at the end" "depth $(queue_depth jobs.specs)"; fi
