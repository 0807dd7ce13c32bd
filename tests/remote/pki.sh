# tests/remote/pki.sh - sourced by the grid tests (remote_gsi.sh, remote_ztn.sh,
# grid_proxy.sh): a private PKI made by openssl in a temp dir, as a WLCG site's would be.
#   pki_openssl ARGS...   openssl quietly; says which command failed (stderr), returns 1
#   pki_host DIR "CA NAME"
#       a CA (DIR/ca.pem, ca.key; DIR/cadir/HASH.0, the hashed directory X509_CERT_DIR
#       wants) and a host certificate for localhost and 127.0.0.1 (host.pem, hostkey.pem)
#   pki_user DIR
#       after pki_host: alice's user certificate (usercert.pem, userkey.pem), an RFC 3820
#       proxy of it (x509up = proxy, its key, the user certificate; made from proxy.csr,
#       proxykey.pem and proxy.ext), an `openssl ca` set-up that signs proxies with
#       alice's certificate keeping their DN (ca.cnf: pki_proxy), and an expired proxy
#       (x509up-expired, valid on 2020-01-01 only)
#   pki_proxy DIR START END OUT
#       a proxy of alice valid from START to END (openssl dates, YYYYMMDDHHMMSSZ) into OUT
pki_openssl() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $1 failed" >&2; return 1; }; }

pki_host() {
    local P=$1 name=$2
    mkdir -p "$P/cadir"
    pki_openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 -subj "/DC=test/CN=$name" &&
        cp "$P/ca.pem" "$P/cadir/$(openssl x509 -noout -hash -in "$P/ca.pem").0" || return 1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$P/host.ext"
    pki_openssl req -newkey rsa:2048 -nodes -keyout "$P/hostkey.pem" -out "$P/host.csr" -subj "/DC=test/CN=localhost" &&
        pki_openssl x509 -req -in "$P/host.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
            -extfile "$P/host.ext" -out "$P/host.pem"
}

pki_proxy() {
    local P=$1 start=$2 end=$3 out=$4
    pki_openssl ca -batch -config "$P/ca.cnf" -cert "$P/usercert.pem" -keyfile "$P/userkey.pem" -in "$P/proxy.csr" \
        -out "$out.pem" -notext -startdate "$start" -enddate "$end" -extfile "$P/proxy.ext" || return 1
    cat "$out.pem" "$P/proxykey.pem" "$P/usercert.pem" >"$out" && chmod 600 "$out"
}

pki_user() {
    local P=$1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' >"$P/user.ext"
    pki_openssl req -newkey rsa:2048 -nodes -keyout "$P/userkey.pem" -out "$P/user.csr" -subj "/DC=test/CN=alice" &&
        pki_openssl x509 -req -in "$P/user.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
            -extfile "$P/user.ext" -out "$P/usercert.pem" || return 1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nproxyCertInfo=critical,language:id-ppl-inheritAll\n' >"$P/proxy.ext"
    pki_openssl req -newkey rsa:2048 -nodes -keyout "$P/proxykey.pem" -out "$P/proxy.csr" -subj "/DC=test/CN=alice/CN=4242" &&
        pki_openssl x509 -req -in "$P/proxy.csr" -CA "$P/usercert.pem" -CAkey "$P/userkey.pem" -set_serial 4242 -days 1 \
            -extfile "$P/proxy.ext" -out "$P/proxycert.pem" || return 1
    cat "$P/proxycert.pem" "$P/proxykey.pem" "$P/usercert.pem" >"$P/x509up"
    chmod 600 "$P/x509up"
    : >"$P/index.txt"
    echo 01 >"$P/serial"
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\npreserve = yes\n[p]\ndomainComponent = optional\ncommonName = supplied\n' "$P" "$P" "$P" >"$P/ca.cnf"
    pki_proxy "$P" 20200101000000Z 20200102000000Z "$P/x509up-expired"
}
