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
#   - accounts: the broker knows admin, gateway, operator and worker only (users reach the
#     service through the gateway) and no deployment file gives a user a broker or Redis
#     account.
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
        grep -vxE 'mlhep-(rabbitmq|redis|redis-acl|worker@|secrets|config|artifacts|state|env)' )
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
sec=$TMP/secrets; mkdir -p "$sec"; for n in broker-worker redis-worker; do echo x > "$sec/$n.pw"; done
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$sec/service.key"
"$PY" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["mlhep.conf"])' "$D/k8s/configmap.yaml" > "$TMP/cm.conf"
for c in "$D/config/mlhep.conf.example" "$TMP/cm.conf"; do
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
    for c in "$D/config/mlhep.conf.example" "$TMP/cm.conf"; do
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
    case $p in 5672|6379) ;; *) echo "$p" ;; esac; done | sort -u | tr '\n' ' ')
grep -q 'amqp_port = 5672' "$D/config/mlhep.conf.example" && grep -q 'c->amqp_port = 5672' "$T/common/service/config.c" &&
    grep -q 'c->redis_port = 6379' "$T/common/service/config.c" || badport="$badport (defaults changed in config.c)"
[ -z "$badport" ] && ok "ports: only AMQP 5672 and Redis 6379 ($ports)" || bad "ports" "unexpected: $badport"

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
for f in "$D"/docker/Dockerfile.{worker,infer,submit}; do
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
for u in "$D"/systemd/mlhep-worker@.service "$D"/systemd/mlhep-infer.service "$D"/systemd/mlhep-redis.service "$D"/systemd/mlhep-rabbitmq.service; do
    for k in '^Restart=(always|on-failure)' '^MemoryMax=' '^CPUQuota=' '^LimitNOFILE=' '^NoNewPrivileges=yes' '^ProtectSystem=strict' '^(ReadWritePaths|ReadOnlyPaths)=' '^User='; do
        grep -qE "$k" "$u" || why="$why $(basename "$u"):${k#^}"
    done
done
grep -q '^EnvironmentFile=' "$D/systemd/mlhep-worker@.service" || why="$why worker:EnvironmentFile"
grep -q '^EnvironmentFile=' "$D/systemd/mlhep-rabbitmq.service" || why="$why broker:EnvironmentFile"
grep -q '^ReadWritePaths=/var/lib/mlhep/artifacts' "$D/systemd/mlhep-worker@.service" || why="$why worker:artifact store writable"
grep -q '^appendonly yes' "$D/config/redis.conf" || why="$why redis.conf:appendonly"
[ -z "$why" ] && ok "units have restart policies, MemoryMax/CPUQuota/LimitNOFILE, hardening, env files; Redis AOF on" || bad "unit policies" "missing:$why"

# ---- probes and autoscaling --------------------------------------------------------------------
if "$PY" - "$D/k8s" <<'PY'
import os, sys, yaml
d = sys.argv[1]
docs = [x for f in os.listdir(d) for x in yaml.safe_load_all(open(os.path.join(d, f))) if x]
by = {(x["kind"], x["metadata"]["name"]): x for x in docs if x.get("kind") != "Kustomization"}
import re
for name in ("mlhep-worker", "mlhep-infer"):
    c = by[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]
    for p in ("readinessProbe", "livenessProbe"):
        cmd = c[p]["exec"]["command"]
        assert cmd[0].endswith("/" + name) and any(a.startswith("--check") for a in cmd), (name, p, cmd)
        assert c.get("args", []) == ["--config", "/etc/mlhep/mlhep.conf"], (name, c.get("args"))
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
ok = users == ["admin", "gateway", "operator", "worker"] and all(
    perm[u]["write"] == "^(jobs|predict)$" and perm[u]["read"] == "^$" and perm[u]["configure"] == "^$"
    for u in ("gateway", "operator"))
print("ok" if ok else f"broker users {users}, permissions {[perm.get(u) for u in ('gateway', 'operator')]}")
PY
)
useracc=$(grep -rlE 'submitter|redis-u-|u-<user>|user u-' "$D" "$T/broker" 2>/dev/null)
if [ "$acct" = ok ] && [ -z "$useracc" ]; then
    ok "accounts: broker users admin, gateway, operator, worker (gateway and operator publish only); no per-user broker or Redis account in deploy/"
else
    bad "no user accounts" "$acct; per-user accounts in: $useracc"
fi

# ---- secrets ---------------------------------------------------------------------------------
leak=$("$PY" - "$D" "$T/broker" <<'PY'
import os, re, sys
# a password/secret/token given a literal value; references are fine: empty values,
# $VARS, @PLACEHOLDERS@, files (*_file keys, paths, *.pw names), secret object names
# KEY=value anywhere; KEY: value only as a YAML/JSON mapping key (line start or after { ,)
pat = re.compile(r"(?i)(?:\b[\w-]*(?:password|passwd|secret|token)[\w-]*\s*=|(?:^\s*-?\s*|[{,]\s*)[\"']?[\w-]*(?:password|passwd|secret|token)[\w-]*[\"']?\s*:)\s*([^\s;,)}]*)")
ok = re.compile(r"""^($|["']?\$|@[A-Z_]+@|["']@|<|["']["']|/|\./|\{|\[|\*\*\*|mlhep-secrets|secrets/|[\w.-]+\.pw$|true$|false$)""", re.I)
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
