# tests/remote/server.sh - sourced by the remote tests and bench: starts an xrootd
# serving a directory over root:// and (XrdHttp plugin) http:// on free ports, as
# the xrootd user (xrootd refuses to run as root), and stops it by PID.
#   xrd_start DIR [DIR2]  exports a copy of DIR as /data (and of DIR2 as /gen); sets
#                         XRD_PID XRD_PORT HTTP_PORT XRD_T. The copies live in XRD_T, a
#                         temp dir the xrootd user owns: the server can read them even
#                         when DIR lies in a private tree (a checkout in a 0700 home)
#   xrd_stop           stops it (TERM, then KILL) and waits for the ports to close
# Needs free_port (tests/lib.sh) or defines one; wait_until from tests/wait.sh.
command -v free_port >/dev/null 2>&1 || free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

command -v wait_until >/dev/null 2>&1 || . "$(dirname "${BASH_SOURCE[0]}")/../wait.sh"

# port_open PORT: 0 if something listens on 127.0.0.1:PORT
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# xrd_listening DIR PORT...: xrootd (pidpath DIR/run) wrote its pid and listens on each PORT
xrd_listening() { local d=$1 p; shift; [ -s "$d/run/t/xrootd.pid" ] || return 1; for p in "$@"; do port_open "$p" || return 1; done; }

# xrd_launch DIR CFG LOG PORT...: starts xrootd as the xrootd user on config CFG (its
# pidpath DIR/run), DIR handed to that user (a host key DIR/sec/hostkey.pem kept 0400),
# and waits until it has written its pid and listens on every PORT (30 s at most). Sets
# XRD_PID (also when it timed out but wrote a pid, so the caller can stop it). Variables
# for xrootd go before the call: XDG_CACHE_HOME=... xrd_launch ...
xrd_launch() {
    local dir=$1 cfg=$2 log=$3
    shift 3
    XRD_PID=
    chown -R xrootd:xrootd "$dir"
    chmod 755 "$dir"
    [ -e "$dir/sec/hostkey.pem" ] && chmod 400 "$dir/sec/hostkey.pem"
    xrootd -c "$cfg" -l "$log" -b -n t -R xrootd >/dev/null 2>&1 || return 1
    local rc=0
    wait_until 30 xrd_listening "$dir" "$@" || rc=1
    XRD_PID=$(cat "$dir/run/t/xrootd.pid" 2>/dev/null)
    return $rc
}

# xrd_gsi_conf DIR PKI PORT [LINE...]: DIR/x.cfg for a GSI-only xrootd on PORT exporting
# DIR/root/data, with the host certificate and CA of PKI (tests/remote/pki.sh: pki_host)
# copied into DIR/sec, and any extra config LINEs; start it with xrd_launch DIR DIR/x.cfg.
xrd_gsi_conf() {
    local d=$1 p=$2 port=$3
    shift 3
    mkdir -p "$d/root/data" "$d/admin" "$d/run" "$d/sec" && cp -r "$p/cadir" "$p/host.pem" "$p/hostkey.pem" "$d/sec/" ||
        return 1
    {
        cat <<CFG
xrd.port $port
xrd.network nodnr
all.export /data
oss.localroot $d/root
all.adminpath $d/admin
all.pidpath $d/run
xrootd.seclib libXrdSec.so
sec.protocol gsi -certdir:$d/sec/cadir -cert:$d/sec/host.pem -key:$d/sec/hostkey.pem -gmapopt:0 -crl:0 -ca:1
sec.protbind * only gsi
CFG
        if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
    } >"$d/x.cfg"
}

xrd_start() {
    local dir=$1 dir2=${2:-}
    XRD_T=$(mktemp -d /tmp/mlhep-xrd.XXXXXX)
    mkdir -p "$XRD_T/root/data" "$XRD_T/admin" "$XRD_T/run"
    cp -RL "$dir"/. "$XRD_T/root/data/" || return 1
    if [ -n "$dir2" ]; then mkdir -p "$XRD_T/root/gen" && cp -RL "$dir2"/. "$XRD_T/root/gen/" || return 1; fi
    XRD_PORT=$(free_port)
    HTTP_PORT=$(free_port)
    while [ "$HTTP_PORT" = "$XRD_PORT" ]; do HTTP_PORT=$(free_port); done
    cat >"$XRD_T/xrootd.cfg" <<CFG
xrd.port $XRD_PORT
xrd.network nodnr
all.export /data
all.export /gen
oss.localroot $XRD_T/root
all.adminpath $XRD_T/admin
all.pidpath $XRD_T/run
xrd.protocol XrdHttp:$HTTP_PORT libXrdHttp.so
CFG
    xrd_launch "$XRD_T" "$XRD_T/xrootd.cfg" "$XRD_T/xrootd.log" "$XRD_PORT" "$HTTP_PORT" && return 0
    echo "xrootd did not start; log:" >&2
    cat "$XRD_T"/t/xrootd.log >&2 2>/dev/null
    return 1
}

xrd_stop() {
    [ -n "${XRD_PID:-}" ] || return 0
    kill -TERM "$XRD_PID" 2>/dev/null
    local i
    for i in $(seq 1 50); do
        port_open "$XRD_PORT" || break
        sleep 0.05
    done
    kill -KILL "$XRD_PID" 2>/dev/null
    XRD_PID=
    rm -rf "$XRD_T"
}
