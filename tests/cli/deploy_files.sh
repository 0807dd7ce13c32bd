#!/usr/bin/env bash
# deploy_files.sh - the deployment files (deploy/systemd, deploy/docker, deploy/k8s,
# deploy/config) are checked against the project, since no container engine or cluster runs
# here:
#   - every YAML document parses (python3-yaml) and the Kubernetes ones have kind/metadata;
#   - every mlhep-* program they name is built from submit/ or worker/ (mlhep-infer, issue 7,
#     is allowed while worker/mlhep_infer.c has not landed, and checked once it has);
#   - every MLHEP_* variable is a configuration key's (MLHEP_<KEY>, MLHEP_<KEY>_FILE, from
#     the key table in common/service/config.c) or is read by the project's own scripts/programs;
#   - every config file (mlhep.conf.example, the ConfigMap's mlhep.conf) is accepted by
#     `mlhep-worker --print-config` (unknown keys are refused) and every key of config.c is
#     documented in docs/operations.md ("Configuration: every key");
#   - ports are the broker's 5672 and Redis's 6379; repository paths that Dockerfiles COPY
#     and units execute exist;
#   - each program's Dockerfile is multi-stage (debian:12 build, debian:12-slim runtime), its
#     build packages are in deploy/packages.txt, and its runtime stage installs the Debian
#     package of every shared library the built program links directly (readelf NEEDED,
#     resolved with ldd, owner from dpkg -S);
#   - `systemd-analyze verify` passes on every unit (paths mapped to this checkout), with no
#     warning at all; the units carry restart policy, limits and hardening;
#   - no secrets: no password values in deploy/, no secret files tracked by git;
#   - accounts: the broker knows admin, gateway, infer, operator and worker only (users
#     reach the service through the gateway) and no deployment file gives a user a broker or
#     Redis account; the Redis rules of gateway and operator are the same in up.sh, the
#     systemd/Docker ACL script and the netns harness; each component of compose.yaml and
#     the ConfigMap uses its own account (infer: no Redis account, no service key);
#   - gateway: compose.yaml gives every service the secrets its environment names, and
#     gen-secrets.sh makes every secret file compose.yaml and the kustomization read (but
#     the issuer's key and KEDA's URL); the k8s gateway probes GET routes that
#     `mlhep-gateway --routes` lists as open; its Ingress says how TLS is handled; the
#     gateway serves /healthz over TLS with gen-secrets.sh's self-signed certificate (curl
#     checks it against that certificate).
. "$MLHEP_TOP/tests/lib.sh"
T=$MLHEP_TOP
D=$T/deploy
PY=/usr/bin/python3
REL=$T/bin   # release programs (make all); ldd and --print-config use them
[ -x "$REL/mlhep-worker" ] || REL=$BIN

# ---- YAML ------------------------------------------------------------------------------
yamls=("$D"/k8s/*.yaml "$D"/docker/compose.yaml)
if out=$("$PY" - "${yamls[@]}" 2>&1 <<'PY'
import sys, yaml
bad = 0
for f in sys.argv[1:]:
    try:
        docs = [d for d in yaml.safe_load_all(open(f)) if d is not None]
    except Exception as ex:
        print(f"{f}: {ex}"); bad += 1; continue
    if not docs:
        print(f"{f}: empty"); bad += 1
    if "/k8s/" in f:
        for d in docs:
            if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
                print(f"{f}: a document without kind/apiVersion"); bad += 1
            elif d["kind"] != "Kustomization" and "name" not in d.get("metadata", {}):
                print(f"{f}: {d['kind']} without metadata.name"); bad += 1
sys.exit(1 if bad else 0)
PY
); then ok "YAML parses: ${#yamls[@]} files (k8s manifests and compose.yaml)"; else bad "YAML parses" "$out"; fi

# every file the kustomization lists exists, and every manifest is listed
missing=$("$PY" - "$D/k8s" <<'PY'
import os, sys, yaml
d = sys.argv[1]
k = yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))
res = set(k["resources"])
files = {f for f in os.listdir(d) if f.endswith(".yaml") and f != "kustomization.yaml"}
print(" ".join(sorted((res - files) | (files - res))))
PY
)
[ -z "$missing" ] && ok "kustomization lists exactly the manifests" || bad "kustomization resources" "mismatch: $missing"

# ---- programs ----------------------------------------------------------------------------
files=$(find "$D/systemd" "$D/docker" "$D/k8s" "$D/config" -type f ! -name '*.pw')
progs=$(grep -ohE '\bmlhep-(worker|infer|submit|run|prep|root|[a-z]+)\b' $files | sort -u |
        grep -vxE 'mlhep-(rabbitmq|redis|redis-acl|worker@|secrets|config|artifacts|state|env|grid|renew)' )
badp=
for p in $progs; do
    src=$(echo "${p#mlhep-}" | tr - _)
    if [ -f "$T/submit/mlhep_$src.c" ] || [ -f "$T/worker/mlhep_$src.c" ]; then continue; fi
    if [ "$p" = mlhep-infer ]; then echo "# note: mlhep-infer (issue 7) not in worker/ yet: its files are checked by name only"; continue; fi
    badp="$badp $p"
done
[ -z "$badp" ] && ok "programs named in deploy/ are built by the project: $(echo $progs)" || bad "programs exist" "no source for:$badp"

# ---- environment variables -----------------------------------------------------------------
keys=$(sed -n 's/^ *{"\([a-z_]*\)", K_[A-Z]*,.*/\1/p' "$T/common/service/config.c")
[ -n "$keys" ] || bad "config keys" "could not read the key table of common/service/config.c"
envs=$(grep -ohE '\bMLHEP_[A-Z0-9_]+' $files | sort -u)
bade=
for v in $envs; do
    k=$(echo "${v#MLHEP_}" | tr 'A-Z' 'a-z'); k=${k%_file}
    echo "$keys" | grep -qx "$k" && continue
    # not a config key: must be read by the project's own scripts or programs
    grep -rqw "$v" "$T/broker" "$T/submit" "$T/worker" "$T/common" 2>/dev/null && continue
    bade="$bade $v"
done
[ -z "$bade" ] && ok "every MLHEP_* variable in deploy/ is a config key or read by the project ($(echo $envs | wc -w) names)" ||
    bad "environment variables exist" "unknown:$bade"

# ---- config files ----------------------------------------------------------------------------
sec=$TMP/secrets; mkdir -p "$sec"; for n in broker-worker redis-worker broker-infer broker-gateway redis-gateway; do echo x > "$sec/$n.pw"; done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$sec/service.key"
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["mlhep.conf"])' "$D/k8s/configmap.yaml" > "$TMP/cm.conf"
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["infer.conf"])' "$D/k8s/configmap.yaml" > "$TMP/cm-infer.conf"
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["gateway.conf"])' "$D/k8s/configmap.yaml" > "$TMP/cm-gateway.conf"
for c in "$D/config/mlhep.conf.example" "$TMP/cm.conf" "$TMP/cm-infer.conf" "$TMP/cm-gateway.conf"; do
    sed -e "s#/etc/mlhep/secrets/#$sec/#" -e "s#^schemas_dir = .*#schemas_dir = $T/schemas#" "$c" > "$TMP/check.conf"
    if out=$(env -u MLHEP_CONFIG "$REL/mlhep-worker" --config "$TMP/check.conf" --print-config 2>&1); then
        ok "config accepted by mlhep-worker: ${c#$T/}"
    else
        bad "config accepted: ${c#$T/}" "$out"
    fi
done
undoc=
for k in $keys; do grep -q "\`$k\`" "$T/docs/operations.md" || undoc="$undoc $k"; done
[ -z "$undoc" ] && ok "every config key documented in docs/operations.md ($(echo $keys | wc -w) keys)" || bad "config keys documented" "missing in docs/operations.md:$undoc"
# the example file names every key too
unex=
for k in $keys; do grep -qE "^#? ?$k(_file)? =" "$D/config/mlhep.conf.example" || unex="$unex $k"; done
[ -z "$unex" ] && ok "mlhep.conf.example shows every key" || bad "mlhep.conf.example complete" "missing:$unex"

# mlhep-infer accepts both config files too, token verifier (jwt_* keys) included: with a
# real public key in place and nothing listening on the broker port, its --check must fail
# on the connection (exit 1), not on the configuration (exit 3)
if [ -x "$REL/mlhep-infer" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/k.pem" 2>/dev/null &&
        openssl pkey -in "$TMP/k.pem" -pubout -out "$sec/jwt-public.pem" 2>/dev/null
    mkdir -p "$TMP/art"
    for c in "$D/config/mlhep.conf.example" "$TMP/cm.conf" "$TMP/cm-infer.conf"; do
        sed -e "s#/etc/mlhep/secrets/#$sec/#" -e "s#/etc/mlhep/jwt-public.pem#$sec/jwt-public.pem#" \
            -e "s#^amqp_host = .*#amqp_host = 127.0.0.1#" -e "s#^amqp_port = .*#amqp_port = 1#" \
            -e "s#^artifact_dir = .*#artifact_dir = $TMP/art#" -e "s#^schemas_dir = .*#schemas_dir = $T/schemas#" "$c" > "$TMP/infer.conf"
        out=$(env -u MLHEP_CONFIG timeout 20 "$REL/mlhep-infer" --config "$TMP/infer.conf" --check 2>&1); rc=$?
        if [ $rc = 1 ] && echo "$out" | grep -q 'connect'; then ok "config accepted by mlhep-infer (verifier loaded): ${c#$T/}"
        else bad "config accepted by mlhep-infer: ${c#$T/}" "exit $rc: $out"; fi
    done
fi

# ---- ports and paths ------------------------------------------------------------------------
ports=$("$PY" - "$D/k8s" "$D/docker/compose.yaml" <<'PY'
import os, sys, yaml, re
found = set()
def walk(x):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in ("port", "containerPort", "targetPort") and isinstance(v, int):
                found.add(v)
            walk(v)
    elif isinstance(x, list):
        for v in x:
            if isinstance(v, str) and re.fullmatch(r"\d+:\d+", v):
                found.update(int(p) for p in v.split(":"))
            walk(v)
d = sys.argv[1]
for f in os.listdir(d):
    for doc in yaml.safe_load_all(open(os.path.join(d, f))):
        walk(doc)
walk(yaml.safe_load(open(sys.argv[2])))
print(" ".join(str(p) for p in sorted(found)))
PY
)
badport=$(for p in $ports $(grep -ohE '^EXPOSE [0-9]+' "$D"/docker/Dockerfile.* | cut -d' ' -f2) $(sed -n 's/^port //p' "$D/config/redis.conf"); do
    case $p in 5672|6379|8443) ;; *) echo "$p" ;; esac; done | sort -u | tr '\n' ' ')
grep -q 'c->gateway_port = 8443' "$T/common/service/config.c" && grep -q '^gateway_port = 8443' "$D/config/mlhep.conf.example" &&
    grep -q '^EXPOSE 8443$' "$D/docker/Dockerfile.gateway" || badport="$badport (gateway port is not 8443 everywhere)"
grep -lE '^EXPOSE 8443' "$D"/docker/Dockerfile.* | grep -qv Dockerfile.gateway && badport="$badport (8443 exposed by another image)"
grep -q 'amqp_port = 5672' "$D/config/mlhep.conf.example" && grep -q 'c->amqp_port = 5672' "$T/common/service/config.c" &&
    grep -q 'c->redis_port = 6379' "$T/common/service/config.c" || badport="$badport (defaults changed in config.c)"
[ -z "$badport" ] && ok "ports: only AMQP 5672, Redis 6379 and the gateway's 8443 ($ports)" || bad "ports" "unexpected: $badport"

badpath=
for f in "$D"/docker/Dockerfile.*; do
    for src in $(sed -n 's/^COPY \([^-][^ ]*\) .*/\1/p' "$f"); do
        [ -e "$T/$src" ] || badpath="$badpath $(basename "$f"):$src"
    done
done
for u in "$D"/systemd/*.service; do
    for p in $(grep -ohE '/usr/lib/mlhep/[A-Za-z0-9_./-]+' "$u" | sed 's/\.$//'); do
        [ -e "$T/${p#/usr/lib/mlhep/}" ] || [ -e "$D/${p#/usr/lib/mlhep/}" ] || badpath="$badpath $(basename "$u"):$p"
    done
done
[ -z "$badpath" ] && ok "paths COPY'd by Dockerfiles and run by units exist in the repository" || bad "paths exist" "$badpath"

# ---- Dockerfiles -----------------------------------------------------------------------------
pkgs=$(sed 's/#.*//' "$D/packages.txt" | tr -s ' \n' '\n')
for f in "$D"/docker/Dockerfile.{worker,infer,submit,gateway}; do
    name=$(basename "$f"); prog=mlhep-${name#Dockerfile.}
    why=
    [ "$(grep -c '^FROM ' "$f")" = 2 ] || why="$why; not two stages"
    grep -q '^FROM debian:12 AS build' "$f" || why="$why; build stage is not debian:12"
    grep -q '^FROM debian:12-slim$' "$f" || why="$why; runtime stage is not debian:12-slim"
    grep -q "^ENTRYPOINT \[\"/usr/local/bin/$prog\"\]" "$f" || why="$why; entrypoint is not $prog"
    grep -q "COPY --from=build /src/bin/$prog /usr/local/bin/$prog" "$f" || why="$why; $prog not copied from the build stage"
    grep -q '^USER ' "$f" || why="$why; runs as root"
    stage1=$(awk '/^FROM debian:12 AS build/ { s = 1; next } /^FROM / { s = 0 } s' "$f")
    stage2=$(awk '/^FROM debian:12-slim/ { s = 1; next } s' "$f")
    for p in $(echo "$stage1" | grep -oE '\b[a-z0-9.+-]+-dev\b|build-essential|pkg-config' | sort -u); do
        echo "$pkgs" | grep -qx "$p" || why="$why; build package $p not in deploy/packages.txt"
    done
    echo "$stage2" | grep -qE '\bgcc\b|build-essential|[a-z0-9]-dev\b' && why="$why; compiler or -dev package in the runtime stage"
    if [ -x "$REL/$prog" ]; then
        # the libraries the program links directly (NEEDED); apt brings their dependencies
        needed=$(readelf -d "$REL/$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        for lib in $(ldd "$REL/$prog" | awk -v need="$needed" 'BEGIN { n = split(need, a, "\n"); for (i = 1; i <= n; i++) w[a[i]] = 1 }
                                                              ($1 in w) && $3 ~ /^\// { print $3 }'); do
            pk=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "*/$(basename "$(readlink -f "$lib")")" 2>/dev/null)
            pk=${pk%%:*}
            [ -z "$pk" ] && { why="$why; no package owns $lib"; continue; }
            [ "$pk" = libc6 ] && continue   # in the base image
            echo "$stage2" | grep -qw -- "$pk" || why="$why; runtime stage lacks $pk (for $(basename "$lib"))"
        done
    elif [ "$prog" != mlhep-infer ]; then
        why="$why; $REL/$prog not built"
    fi
    [ -z "$why" ] && ok "$name: multi-stage, build packages known, runtime has every linked library's package" || bad "$name" "${why#; }"
done
# the gateway's image ships the dashboard and the schemas where its environment points
f=$D/docker/Dockerfile.gateway; why=
grep -q '^COPY submit/web/ /usr/share/mlhep/web/$' "$f" && grep -q 'MLHEP_GATEWAY_WEB_DIR=/usr/share/mlhep/web' "$f" || why="$why; dashboard files"
grep -q '^COPY schemas/ /usr/share/mlhep/schemas/$' "$f" || why="$why; schemas"
grep -q 'MLHEP_GATEWAY_BIND=0.0.0.0' "$f" && grep -q '^HEALTHCHECK .*mlhep-gateway --check' "$f" || why="$why; bind/healthcheck"
[ -f "$T/submit/web/index.html" ] || why="$why; submit/web/index.html missing"
[ -z "$why" ] && ok "Dockerfile.gateway: dashboard files and schemas installed, binds all addresses, healthcheck --check" || bad "Dockerfile.gateway contents" "${why#; }"

# ---- systemd ---------------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    U=$TMP/units; mkdir -p "$U"
    for u in "$D"/systemd/*.service "$D"/systemd/*.target; do
        # map installed paths onto this checkout; mlhep-infer (pending) onto mlhep-worker
        infer=$REL/mlhep-infer; [ -x "$infer" ] || infer=$REL/mlhep-worker
        sed -e "s#/usr/bin/mlhep-infer#$infer#g" -e "s#/usr/bin/mlhep-\([a-z]*\)#$REL/mlhep-\1#g" \
            -e "s#/usr/lib/mlhep/broker/#$T/broker/#g" -e "s#/usr/lib/mlhep/systemd/#$D/systemd/#g" \
            "$u" > "$U/$(basename "$u")"
    done
    ln -s mlhep-worker@.service "$U/mlhep-worker@1.service"
    ln -s mlhep-worker@.service "$U/mlhep-worker@2.service"
    allok=1
    for u in "$U"/*.service "$U"/*.target; do
        case $u in *@.service) continue ;; esac
        out=$(cd "$U" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "./$(basename "$u")" 2>&1); rc=$?
        # units of other packages (redis-server, rabbitmq-server, network-online) may be absent
        out=$(echo "$out" | grep -v -E "(rabbitmq-server|redis-server)\.service|^$")
        if [ $rc != 0 ] || [ -n "$out" ]; then allok=0; bad "systemd-analyze verify $(basename "$u")" "$(echo "$out" | head -3)"; fi
    done
    [ $allok = 1 ] && ok "systemd-analyze verify: every unit clean ($(ls "$D"/systemd/*.service "$D"/systemd/*.target | wc -l) units, worker@ as instances 1 and 2)"
else
    bad "systemd-analyze verify" "systemd-analyze not installed (package systemd)"
fi
why=
for u in "$D"/systemd/mlhep-worker@.service "$D"/systemd/mlhep-infer.service "$D"/systemd/mlhep-gateway.service "$D"/systemd/mlhep-redis.service "$D"/systemd/mlhep-rabbitmq.service; do
    for k in '^Restart=(always|on-failure)' '^MemoryMax=' '^CPUQuota=' '^LimitNOFILE=' '^NoNewPrivileges=yes' '^ProtectSystem=strict' '^(ReadWritePaths|ReadOnlyPaths)=' '^User='; do
        grep -qE "$k" "$u" || why="$why $(basename "$u"):${k#^}"
    done
done
grep -q '^EnvironmentFile=' "$D/systemd/mlhep-worker@.service" || why="$why worker:EnvironmentFile"
grep -q '^EnvironmentFile=' "$D/systemd/mlhep-rabbitmq.service" || why="$why broker:EnvironmentFile"
grep -q '^ReadWritePaths=/var/lib/mlhep/artifacts' "$D/systemd/mlhep-worker@.service" || why="$why worker:artifact store writable"
grep -q '^ExecStart=/usr/bin/mlhep-gateway --config /etc/mlhep/gateway.conf$' "$D/systemd/mlhep-gateway.service" || why="$why gateway:own config"
grep -q '^ExecStart=/usr/bin/mlhep-infer --config /etc/mlhep/infer.conf$' "$D/systemd/mlhep-infer.service" || why="$why infer:own config"
grep -q '^ReadOnlyPaths=/var/lib/mlhep/artifacts' "$D/systemd/mlhep-gateway.service" && ! grep -q '^ReadWritePaths=' "$D/systemd/mlhep-gateway.service" || why="$why gateway:writes nothing"
grep -q '^PartOf=mlhep.target' "$D/systemd/mlhep-gateway.service" && grep -q '^Wants=.*mlhep-gateway.service' "$D/systemd/mlhep.target" || why="$why gateway:part of mlhep.target"
grep -q '^appendonly yes' "$D/config/redis.conf" || why="$why redis.conf:appendonly"
[ -z "$why" ] && ok "units (gateway included) have restart policies, MemoryMax/CPUQuota/LimitNOFILE, hardening, env files, own configs; Redis AOF on" || bad "unit policies" "missing:$why"

# ---- probes and autoscaling --------------------------------------------------------------------
if "$PY" - "$D/k8s" <<'PY'
import os, sys, yaml
d = sys.argv[1]
docs = [x for f in os.listdir(d) for x in yaml.safe_load_all(open(os.path.join(d, f))) if x]
by = {(x["kind"], x["metadata"]["name"]): x for x in docs if x.get("kind") != "Kustomization"}
import re
for name, conf in (("mlhep-worker", "mlhep.conf"), ("mlhep-infer", "infer.conf")):
    c = by[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]
    for p in ("readinessProbe", "livenessProbe"):
        cmd = c[p]["exec"]["command"]
        assert cmd[0].endswith("/" + name) and any(a.startswith("--check") for a in cmd), (name, p, cmd)
        assert c.get("args", []) == ["--config", "/etc/mlhep/" + conf], (name, c.get("args"))
        assert cmd[1:3] == ["--config", "/etc/mlhep/" + conf], (name, p, cmd)
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/etc/mlhep/" + conf]["subPath"] == conf, (name, mounts)
# the worker: liveness independent of the broker and Redis, readiness separate from it
w = by[("Deployment", "mlhep-worker")]["spec"]["template"]["spec"]
c = w["containers"][0]
assert "--check=live" in c["livenessProbe"]["exec"]["command"], c["livenessProbe"]
assert "--check=ready" in c["readinessProbe"]["exec"]["command"], c["readinessProbe"]
cm = by[("ConfigMap", "mlhep-config")]["data"]["mlhep.conf"]
grace = float(re.search(r"^worker_stop_grace = ([0-9.]+)", cm, re.M).group(1))
assert re.search(r"^worker_health_path = /run/mlhep/", cm, re.M), "worker_health_path under /run/mlhep"
# scaling never preempts: no ScaledObject on the workers; a ScaledJob whose pods take one
# job each and end by themselves; every worker pod has time to finish or hand back
assert not any(k == "ScaledObject" for k, _ in by), "a ScaledObject would scale busy workers in"
sj = by[("ScaledJob", "mlhep-worker-burst")]["spec"]
t = sj["triggers"][0]
assert t["type"] == "rabbitmq" and t["metadata"]["queueName"] == "jobs.train" and t["metadata"]["vhostName"] == "mlhep"
js = sj["jobTargetRef"]["template"]["spec"]
jc = js["containers"][0]
assert jc["args"][:2] == ["--config", "/etc/mlhep/mlhep.conf"] and "--max-jobs" in jc["args"], jc["args"]
assert "--check=live" in jc["livenessProbe"]["exec"]["command"] and "readinessProbe" not in jc
for spec in (w, js):
    assert spec["terminationGracePeriodSeconds"] > grace + 10, (spec["terminationGracePeriodSeconds"], grace)
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert "/run/mlhep" in mounts, mounts
assert ("StatefulSet", "rabbitmq") in by and ("StatefulSet", "redis") in by and ("ConfigMap", "mlhep-config") in by
PY
then ok "k8s: worker liveness --check=live, readiness --check=ready (infer --check); KEDA ScaledJob on jobs.train (one job per pod, never scaled in), grace periods above worker_stop_grace; broker, Redis, ConfigMap present"
else bad "k8s probes and autoscaling" "see the assertion above"; fi
# the queue and vhost names used exist in the broker definitions
"$PY" - "$T/broker/definitions.json" <<'PY' && ok "queue jobs.train and vhost mlhep exist in broker/definitions.json" || bad "queue names" "jobs.train/mlhep not in the definitions"
import json, sys
d = json.load(open(sys.argv[1]))
assert any(q["name"] == "jobs.train" and q["vhost"] == "mlhep" for q in d["queues"])
PY

# ---- accounts: the service's components and operators only; users have none (they reach
# the service through the gateway, with their token)
acct=$("$PY" - "$T/broker/definitions.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
users = sorted(u["name"] for u in d["users"])
perm = {p["user"]: p for p in d["permissions"]}
ok = users == ["admin", "gateway", "infer", "operator", "worker"] and all(
    perm[u]["write"] == "^(jobs|predict)$" and perm[u]["read"] == "^$" and perm[u]["configure"] == "^$"
    for u in ("gateway", "operator")) and perm["infer"] == {
    "user": "infer", "vhost": "mlhep", "configure": "^$", "write": "^amq\\.default$", "read": "^predict\\.requests$"} and \
    perm["worker"]["write"] == "^amq\\.default$" and "predict" not in perm["worker"]["read"] and perm["worker"]["configure"] == "^$"
print("ok" if ok else f"broker users {users}, permissions {[perm.get(u) for u in ('gateway', 'operator')]}")
PY
)
useracc=$(grep -rlE 'submitter|redis-u-|u-<user>|user u-' "$D" "$T/broker" 2>/dev/null)
if [ "$acct" = ok ] && [ -z "$useracc" ]; then
    ok "accounts: broker users admin, gateway, infer, operator, worker (gateway and operator publish only; infer reads only predict.requests, worker not); no per-user broker or Redis account in deploy/"
else
    bad "no user accounts" "$acct; per-user accounts in: $useracc"
fi

# ---- accounts per component: the same Redis rules everywhere, each component its own account
aclrule() { grep -ohE "user $1 on >.*" "$2" | sed -E 's/^user [a-z]+ on >\$\([^)]*\) //; s/"$//'; }
why=
for u in gateway operator; do
    r0=$(aclrule $u "$D/local/up.sh"); r1=$(aclrule $u "$D/systemd/mlhep-redis-acl.sh")
    [ -n "$r0" ] && [ "$r0" = "$r1" ] || why="$why; $u: up.sh '$r0' vs mlhep-redis-acl.sh '$r1'"
done
r2=$(aclrule operator "$T/tests/netns/lib.sh"); [ "$r2" = "$(aclrule operator "$D/local/up.sh")" ] || why="$why; operator rule differs in tests/netns/lib.sh"
echo "$(aclrule gateway "$D/local/up.sh")" | grep -q '%RW~mlhep:u:\*:idem:\*' || why="$why; gateway may write more than idempotency keys"
# render the ACL file as the units and the Redis image do, from gen-secrets.sh's files
gs=$TMP/gensecrets
if out=$(sh "$D/docker/gen-secrets.sh" "$gs" gw.example.org 2>&1); then
    sh "$D/systemd/mlhep-redis-acl.sh" "$gs" "$TMP/users.acl" 2>&1 || why="$why; mlhep-redis-acl.sh failed"
    [ "$(cut -d' ' -f2 "$TMP/users.acl" 2>/dev/null | tr '\n' ' ')" = "default admin worker gateway operator " ] || why="$why; ACL users: $(cut -d' ' -f2 "$TMP/users.acl" | tr '\n' ' ')"
    grep -q 'user infer' "$TMP/users.acl" && why="$why; infer has a Redis user"
else why="$why; gen-secrets.sh failed: $out"; fi
[ -z "$why" ] && ok "Redis rules of gateway and operator identical in up.sh, mlhep-redis-acl.sh (and netns); the rendered ACL has default, admin, worker, gateway, operator (no infer)" || bad "Redis ACL rules" "${why#; }"

# gen-secrets.sh: every secret file compose.yaml and the kustomization read (but the
# issuer's public key and KEDA's URL, written by the operator), modes 0600 (the
# certificate 0644), and a certificate naming the hosts asked for
why=
want=$("$PY" - "$D/docker/compose.yaml" "$D/k8s/kustomization.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1])); k = yaml.safe_load(open(sys.argv[2]))
names = {v["file"].split("/")[-1] for v in c["secrets"].values()}
for g in k["secretGenerator"]:
    names |= {f.split("=")[-1].split("/")[-1] for f in g["files"]}
print(" ".join(sorted(names - {"jwt-public.pem", "keda-amqp-url"})))
PY
)
for f in $want; do [ -s "$gs/$f" ] || why="$why; gen-secrets.sh does not make $f"; done
for f in "$gs"/*.pw "$gs"/service.key "$gs"/gateway.key; do [ "$(stat -c %a "$f")" = 600 ] || why="$why; $(basename "$f") mode $(stat -c %a "$f")"; done
san=$(openssl x509 -in "$gs/gateway.pem" -noout -ext subjectAltName 2>/dev/null | tail -n1)
for n in DNS:localhost "IP Address:127.0.0.1" DNS:gateway DNS:mlhep-gateway DNS:gw.example.org; do [[ $san == *"$n"* ]] || why="$why; certificate lacks $n"; done
[ -z "$why" ] && ok "gen-secrets.sh makes every secret compose and k8s read ($(echo $want | wc -w) files, 0600) and a certificate for localhost, 127.0.0.1, gateway, mlhep-gateway and the names given" || bad "gen-secrets.sh" "${why#; }"

# the gateway runs with that certificate: TLS on loopback, curl checks it (no broker needed
# for /healthz; /readyz says 503 without one)
if [ -x "$REL/mlhep-gateway" ] && [ -s "$gs/gateway.pem" ]; then
    cat > "$TMP/gw.conf" <<CONF
amqp_host = 127.0.0.1
amqp_port = 1
redis_host = 127.0.0.1
redis_port = 1
artifact_dir = $TMP/art
schemas_dir = $T/schemas
gateway_web_dir = $T/submit/web
gateway_bind = 127.0.0.1
gateway_port = 0
gateway_tls_cert = $gs/gateway.pem
gateway_tls_key = $gs/gateway.key
service_key_file = $gs/service.key
auth_mode = dev
CONF
    mkdir -p "$TMP/art"
    env -u MLHEP_CONFIG "$REL/mlhep-gateway" --config "$TMP/gw.conf" --port-file "$TMP/gw.port" --quiet > "$TMP/gw.log" 2>&1 &
    gwpid=$!
    for _ in $(seq 200); do [ -s "$TMP/gw.port" ] && break; kill -0 $gwpid 2>/dev/null || break; sleep 0.05; done
    gp=$(cat "$TMP/gw.port" 2>/dev/null)
    h=$(curl -sS --max-time 10 --cacert "$gs/gateway.pem" "https://localhost:$gp/healthz" 2>&1)
    r=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$gs/gateway.pem" "https://127.0.0.1:$gp/readyz" 2>&1)
    kill -TERM $gwpid 2>/dev/null; wait $gwpid 2>/dev/null
    if [[ $h == *'"status":"ok"'* ]] && [ "$r" = 503 ]; then ok "the gateway serves TLS with gen-secrets.sh's certificate (curl verifies it): /healthz ok, /readyz 503 without a broker"
    else bad "gateway with gen-secrets.sh's certificate" "healthz: $h; readyz: $r; $(tail -n 3 "$TMP/gw.log")"; fi
fi

# compose.yaml: every secret a service's environment names is given to that service, every
# secret it lists is defined; each component its own accounts; users' CLI has none
if out=$("$PY" - "$D/docker/compose.yaml" <<'PY'
import re, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
defined = set(c["secrets"])
bad = []
def names(lst):
    return {x if isinstance(x, str) else x["source"] for x in lst or []}
def targets(lst):
    return {("/run/secrets/" + x) if isinstance(x, str) else x.get("target", "/run/secrets/" + x["source"]) for x in lst or []}
for name, s in c["services"].items():
    env = s.get("environment") or {}
    given = names(s.get("secrets"))
    for n in given - defined:
        bad.append(f"{name}: secret {n} not defined at the top level")
    paths = {v for v in env.values() if isinstance(v, str) and v.startswith("/run/secrets/")}
    for p in paths - targets(s.get("secrets")):
        bad.append(f"{name}: reads {p} but is not given that secret")
    a, r = env.get("MLHEP_AMQP_USER"), env.get("MLHEP_REDIS_USER")
    if a and env.get("MLHEP_AMQP_PASSWORD_FILE") != f"/run/secrets/broker-{a}.pw":
        bad.append(f"{name}: broker account {a} with password {env.get('MLHEP_AMQP_PASSWORD_FILE')}")
    if r and env.get("MLHEP_REDIS_PASSWORD_FILE") != f"/run/secrets/redis-{r}.pw":
        bad.append(f"{name}: Redis account {r} with password {env.get('MLHEP_REDIS_PASSWORD_FILE')}")
    want = {"gateway": ("gateway", "gateway", True), "worker": ("worker", "worker", True), "infer": ("infer", None, False)}
    if name in want:
        wa, wr, key = want[name]
        if (a, r, "MLHEP_SERVICE_KEY_FILE" in env) != (wa, wr, key):
            bad.append(f"{name}: accounts broker={a} redis={r} service key={'MLHEP_SERVICE_KEY_FILE' in env}")
    if name == "submit":
        if a or r or "MLHEP_SERVICE_KEY_FILE" in env or not env.get("MLHEP_GATEWAY_URL", "").startswith("https://gateway:"):
            bad.append("submit: the users' CLI must hold the gateway's URL and no account")
        if given - {"gateway.pem"}:
            bad.append(f"submit: users' CLI given {given}")
b = c["services"]["broker"]
for u in ("admin", "operator", "worker", "gateway", "infer"):
    if f"broker-{u}.pw" not in names(b["secrets"]):
        bad.append(f"broker: no password for {u}")
for u in ("admin", "worker", "gateway", "operator"):
    if f"redis-{u}.pw" not in names(c["services"]["redis"]["secrets"]):
        bad.append(f"redis: no password for {u}")
g = c["services"]["gateway"]
if "8443:8443" not in g.get("ports", []):
    bad.append("gateway: port 8443 not published")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
); then ok "compose.yaml: every service has the secrets it reads; gateway, worker, infer use their own accounts (infer: no Redis, no service key); users' CLI only the gateway's URL and certificate; 8443 published"
else bad "compose.yaml secrets and accounts" "$out"; fi

# k8s: the gateway's probes are GET routes the gateway has, open (no token); the
# ConfigMap's configs use their own accounts; the Secret items each pod mounts exist in
# the generator; the Ingress says how TLS is handled
"$REL/mlhep-gateway" --routes > "$TMP/routes.txt" 2>&1
if out=$("$PY" - "$D/k8s" "$TMP/routes.txt" <<'PY'
import os, re, sys, yaml
d = sys.argv[1]
routes = [l.split() for l in open(sys.argv[2]) if l.strip()]
open_get = {r[1] for r in routes if r[0] == "GET" and r[-1] == "open"}
docs = [x for f in os.listdir(d) for x in yaml.safe_load_all(open(os.path.join(d, f))) if x]
by = {(x["kind"], x["metadata"]["name"]): x for x in docs if x.get("kind") != "Kustomization"}
bad = []
dep = by[("Deployment", "mlhep-gateway")]["spec"]["template"]["spec"]
c = dep["containers"][0]
port = {p["name"]: p["containerPort"] for p in c["ports"]}
for p, want in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
    h = c[p].get("httpGet", {})
    if h.get("path") != want or h.get("path") not in open_get or h.get("scheme") != "HTTPS" or h.get("port") not in port:
        bad.append(f"{p}: {h} (open GET routes: {sorted(open_get)})")
if port.get("https") != 8443 or c.get("args") != ["--config", "/etc/mlhep/gateway.conf"]:
    bad.append(f"gateway container ports {port} args {c.get('args')}")
svc = by[("Service", "mlhep-gateway")]["spec"]
if svc["selector"] != dep.get("selector", by[("Deployment", "mlhep-gateway")]["spec"]["selector"]["matchLabels"]) and \
        svc["selector"] != by[("Deployment", "mlhep-gateway")]["spec"]["selector"]["matchLabels"]:
    bad.append("Service selector does not match the Deployment")
ing = by[("Ingress", "mlhep-gateway")]
be = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
if be["name"] != "mlhep-gateway" or be["port"].get("name") != "https":
    bad.append(f"Ingress backend {be}")
if ing["metadata"].get("annotations", {}).get("nginx.ingress.kubernetes.io/ssl-passthrough") != "true" and "tls" not in ing["spec"]:
    bad.append("Ingress neither passes TLS through nor terminates it")
src = open(os.path.join(d, "gateway.yaml")).read()
if not re.search(r"TLS: passed through", src):
    bad.append("gateway.yaml does not say how TLS is handled and why")
cm = by[("ConfigMap", "mlhep-config")]["data"]
def kv(text):
    return dict(re.findall(r"^(\w+) = (.*)$", text, re.M))
acc = {n: kv(cm[n]) for n in ("mlhep.conf", "infer.conf", "gateway.conf")}
for n, (a, r, key) in {"mlhep.conf": ("worker", "worker", True), "infer.conf": ("infer", None, False),
                       "gateway.conf": ("gateway", "gateway", True)}.items():
    k = acc[n]
    got = (k.get("amqp_user"), k.get("redis_user"), "service_key_file" in k)
    if got != (a, r, key):
        bad.append(f"{n}: accounts {got}")
    if k.get("amqp_password_file") != f"/etc/mlhep/secrets/broker-{a}.pw":
        bad.append(f"{n}: broker password {k.get('amqp_password_file')}")
g = acc["gateway.conf"]
if g.get("gateway_tls_cert") != "/etc/mlhep/tls/tls.crt" or g.get("gateway_tls_key") != "/etc/mlhep/tls/tls.key" or g.get("gateway_bind") != "0.0.0.0":
    bad.append("gateway.conf: TLS files or bind")
kus = yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))
gen = {g["name"]: {f.split("=")[0].split("/")[-1] for f in g["files"]} for g in kus["secretGenerator"]}
for (kind, name), x in by.items():
    if kind not in ("Deployment", "StatefulSet", "ScaledJob"):
        continue
    spec = x["spec"]["jobTargetRef"]["template"]["spec"] if kind == "ScaledJob" else x["spec"]["template"]["spec"]
    for v in spec.get("volumes", []):
        s = v.get("secret")
        if s and not s.get("optional"): # optional: made by the operator (grid credentials, docs/grid.md)
            items = {i["key"] for i in s.get("items", [])}
            if s["secretName"] not in gen or items - gen[s["secretName"]]:
                bad.append(f"{name}: secret {s['secretName']} items {items - gen.get(s['secretName'], set())} not generated")
    vols = {v["name"] for v in spec.get("volumes", [])} | {t["metadata"]["name"] for t in x["spec"].get("volumeClaimTemplates", [])}
    for c in spec["containers"]:
        for m in c.get("volumeMounts", []):
            if m["name"] not in vols:
                bad.append(f"{name}: mount {m['name']} has no volume")
rs = by[("StatefulSet", "rabbitmq")]["spec"]["template"]["spec"]["volumes"]
ritems = {i["key"] for v in rs if v.get("secret") for i in v["secret"]["items"]}
for u in ("admin", "operator", "worker", "gateway", "infer"):
    if f"broker-{u}.pw" not in ritems:
        bad.append(f"rabbitmq: no password for {u}")
inf = by[("Deployment", "mlhep-infer")]["spec"]["template"]["spec"]["volumes"]
iitems = {i["key"] for v in inf if v.get("secret") for i in v["secret"]["items"]}
if iitems != {"broker-infer.pw", "jwt-public.pem"}:
    bad.append(f"infer mounts secrets {sorted(iitems)}")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
); then ok "k8s gateway: readiness GET /readyz and liveness GET /healthz over HTTPS are open routes of mlhep-gateway --routes; Service, Ingress (TLS passthrough, explained); configs with their own accounts; every Secret item mounted is generated"
else bad "k8s gateway" "$out"; fi

# ---- secrets ---------------------------------------------------------------------------------
leak=$("$PY" - "$D" "$T/broker" <<'PY'
import os, re, sys
# a password/secret/token given a literal value; references are fine: empty values,
# $VARS, @PLACEHOLDERS@, files (*_file keys, paths, *.pw names), secret object names
# KEY=value anywhere; KEY: value only as a YAML/JSON mapping key (line start or after { ,)
pat = re.compile(r"(?i)(?:\b[\w-]*(?:password|passwd|secret|token)[\w-]*\s*=|(?:^\s*-?\s*|[{,]\s*)[\"']?[\w-]*(?:password|passwd|secret|token)[\w-]*[\"']?\s*:)\s*([^\s;,)}]*)")
ok = re.compile(r"""^($|["']?\$|@[A-Z_]+@|["']@|<|["']["']|/|\./|\{|\[|\*\*\*|mlhep-secrets|mlhep-gateway-tls$|secrets/|[\w.-]+\.pw$|true$|false$)""", re.I)
for root in sys.argv[1:]:
    for dp, dn, fn in os.walk(root):
        for f in fn:
            path = os.path.join(dp, f)
            try:
                lines = open(path, encoding="utf-8").read().splitlines()
            except (UnicodeDecodeError, OSError):
                continue
            for i, line in enumerate(lines, 1):
                if line.lstrip().startswith("#"):
                    continue
                for m in pat.finditer(line):
                    if "file" in m.group(0).lower() or ok.match(m.group(1)):
                        continue
                    print(f"{path}:{i}: {line.strip()[:120]}")
PY
)
tracked=$(cd "$T" && git ls-files | grep -E '\.pw$|/secrets/|\.pem$|\.key$' || true)
if [ -z "$leak" ] && [ -z "$tracked" ]; then ok "no secrets in deploy/ or broker/, no secret files tracked by git"
else bad "no secrets in the repository" "$(echo "$leak $tracked" | head -3)"; fi
grep -q '^/deploy/docker/secrets/' "$T/.gitignore" && grep -q '^/deploy/k8s/secrets/' "$T/.gitignore" &&
    ok "generated secret dirs are git-ignored" || bad "secret dirs ignored" ".gitignore lacks deploy/*/secrets/"

# ---- grid credentials (issue 18, docs/grid.md) ------------------------------------------------
# images that read root:// carry XRootD's security plugins (GSI, ztn tokens: xrootd-plugins;
# libxrdcl3 only recommends them and the images install --no-install-recommends)
why=
for f in "$D"/docker/Dockerfile.{worker,infer,submit}; do
    stage2=$(awk '/^FROM debian:12-slim/ { s = 1; next } s' "$f")
    for p in xrootd-plugins xrootd-client-plugins; do
        echo "$stage2" | grep -qw -- "$p" || why="$why; $(basename "$f") lacks $p"
    done
done
for lib in libXrdSecgsi-5.so libXrdSecztn-5.so; do # the plugins are in that package here
    own=$(dpkg -S "*/$lib" 2>/dev/null | cut -d: -f1 | sort -u)
    if [ -n "$own" ]; then [ "$own" = xrootd-plugins ] || why="$why; $lib comes from $own, not xrootd-plugins"
    elif ! apt-cache show xrootd-plugins 2>/dev/null | grep -q '^Package: xrootd-plugins'; then
        why="$why; neither $lib installed nor xrootd-plugins known to apt"; fi
done
[ -z "$why" ] && ok "images reading root:// install xrootd-plugins (GSI, ztn) and xrootd-client-plugins" || bad "grid plugins in images" "${why#; }"
# the worker sees the grid CA directory and the renewed service credential, read-only
why=$("$PY" - "$D/docker/compose.yaml" "$D/k8s/worker.yaml" <<'PY'
import sys, yaml
bad = []
c = yaml.safe_load(open(sys.argv[1]))
vols = c["services"]["worker"]["volumes"]
for want in ("/etc/grid-security/certificates:ro", "/var/lib/mlhep/grid:ro"):
    if not any(v.endswith(want) for v in vols): bad.append(f"compose worker lacks {want}")
if c["services"]["worker"]["environment"].get("MLHEP_REMOTE_CA_DIR") != "/etc/grid-security/certificates":
    bad.append("compose worker: MLHEP_REMOTE_CA_DIR")
for d in yaml.safe_load_all(open(sys.argv[2])):
    if not d or d.get("kind") != "Deployment": continue
    m = {x["mountPath"]: x for x in d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    for p in ("/etc/grid-security/certificates", "/var/lib/mlhep/grid"):
        if not m.get(p, {}).get("readOnly"): bad.append(f"k8s worker lacks read-only {p}")
print("; ".join(bad))
PY
)
[ -z "$why" ] && ok "compose and k8s workers mount the grid CA directory and the credential directory read-only" || bad "grid mounts" "$why"
# systemd: PrivateTmp hides /tmp/x509up_u$UID; the configured paths are under /var/lib/mlhep/grid,
# which the unit may read
u=$D/systemd/mlhep-worker@.service; why=
grep -q '^PrivateTmp=yes' "$u" || why="$why; worker unit without PrivateTmp (expected)"
grep -qE '^ReadOnlyPaths=.*/var/lib/mlhep/grid' "$u" || why="$why; worker unit cannot read /var/lib/mlhep/grid"
for k in remote_x509_proxy remote_token_path; do
    v=$(grep -hE "^#? ?$k = " "$D/config/mlhep.conf.example" | head -1 | sed 's/.*= //')
    case "$v" in /var/lib/mlhep/grid/*) ;; *) why="$why; mlhep.conf.example: $k is '$v', not under /var/lib/mlhep/grid";; esac
done
[ -z "$why" ] && ok "systemd worker reads the credentials under /var/lib/mlhep/grid (PrivateTmp hides /tmp)" || bad "systemd grid paths" "${why#; }"
