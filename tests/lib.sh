# tests/lib.sh - helpers sourced by the script tests (not a test itself).
# Provides: ok NAME, bad NAME WHY, check NAME CMD..., wait_until SECS CMD..., free_port,
# and $BIN, $DATA, $TMP
# (a temp dir removed at exit).
BIN="${MLHEP_BIN:?run through tests/run.sh}"
DATA="${MLHEP_SHARED:?}/data/root"
TMP=$(mktemp -d /tmp/mlhep-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ok()  { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; }
# check NAME CMD... : PASS if CMD exits 0
check() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n" "command failed: $*"; fi; }
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"   # wait_until
# free_port: an unused TCP port on loopback
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
