# tests/remote/https.sh - sourced by the grid credential tests: a private CA made with
# openssl in a temp dir, and loopback HTTPS servers that check bearer tokens
# (https_server.py).
#   pki_make DIR          DIR/ca.pem (CA), DIR/ca.key, DIR/srv.pem + DIR/srv.key (for
#                         localhost and 127.0.0.1, signed by the CA), DIR/cadir (the CA
#                         in a hashed directory, as /etc/grid-security/certificates),
#                         DIR/other-ca.pem (a CA that signed nothing here),
#                         DIR/expired-proxy.pem (certificate + key signed by the CA,
#                         valid only on 2020-01-01), DIR/proxy.pem (one valid 2 days)
#   https_start VAR DIR ROOT [server options]   starts a server on a free port serving
#                         ROOT; sets VAR_PORT and VAR_PID; logs to DIR/VAR.log
#   https_stop VAR        stops it by PID
#   jwt_token EXP_OFFSET SUBJECT   prints a JWT-shaped token (unsigned HS256 header,
#                         payload {sub, exp = now + EXP_OFFSET})
HTTPS_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/https_server.py"

pki_make() {
    local d=$1
    mkdir -p "$d/cadir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
        -subj "/CN=mlhep test CA" >/dev/null 2>&1 || return 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other-ca.key" -out "$d/other-ca.pem" -days 2 \
        -subj "/CN=mlhep other CA" >/dev/null 2>&1 || return 1
    openssl req -newkey rsa:2048 -nodes -keyout "$d/srv.key" -out "$d/srv.csr" -subj "/CN=localhost" \
        >/dev/null 2>&1 || return 1
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/srv.ext"
    openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
        -extfile "$d/srv.ext" -out "$d/srv.pem" >/dev/null 2>&1 || return 1
    cp "$d/ca.pem" "$d/cadir/$(openssl x509 -noout -hash -in "$d/ca.pem").0"
    : >"$d/index.txt"; echo 01 >"$d/serial"
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n' \
        "$d" "$d" "$d" >"$d/ca.cnf"
    local which start end
    for which in expired-proxy:20200101000000Z:20200102000000Z proxy::; do
        IFS=: read -r which start end <<<"$which"
        openssl req -newkey rsa:2048 -nodes -keyout "$d/$which.key" -out "$d/$which.csr" -subj "/CN=alice/CN=proxy" \
            >/dev/null 2>&1 || return 1
        openssl ca -batch -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" -in "$d/$which.csr" \
            -out "$d/$which.crt" -notext ${start:+-startdate $start -enddate $end} \
            $( [ -z "$start" ] && echo -days 2 ) >/dev/null 2>&1 || return 1
        cat "$d/$which.crt" "$d/$which.key" >"$d/$which.pem"
    done
}

https_start() {
    local var=$1 d=$2 root=$3; shift 3
    rm -f "$d/$var.port"
    /usr/bin/python3 "$HTTPS_PY" --root "$root" --cert "$d/srv.pem" --key "$d/srv.key" \
        --port-file "$d/$var.port" "$@" >"$d/$var.out" 2>&1 &
    printf -v "${var}_PID" '%s' "$!"
    local i
    for i in $(seq 1 600); do
        [ -s "$d/$var.port" ] && break
        kill -0 "$!" 2>/dev/null || break
        sleep 0.05
    done
    [ -s "$d/$var.port" ] || { cat "$d/$var.out" >&2; return 1; }
    printf -v "${var}_PORT" '%s' "$(cat "$d/$var.port")"
}

https_stop() {
    local pidvar="${1}_PID"
    [ -n "${!pidvar:-}" ] || return 0
    kill "${!pidvar}" 2>/dev/null
    wait "${!pidvar}" 2>/dev/null
    printf -v "$pidvar" '%s' ""
}

jwt_token() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import base64, json, sys, time
b = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
print(b({"alg": "HS256", "typ": "JWT"}) + "." + b({"sub": sys.argv[2], "exp": int(time.time()) + int(sys.argv[1])})
      + ".c2lnbmF0dXJl")
PY
}
