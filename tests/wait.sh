# tests/wait.sh - sourced by tests/lib.sh and tests/remote/server.sh (which bench scripts
# source without lib.sh): the one way a test waits.
# wait_until SECS CMD...: runs CMD until it succeeds, for at most SECS seconds (a
# deadline, not a count of tries: on a loaded machine one try may take long); returns 1
# if CMD never succeeded. For waiting on a final state, never on a transient one.
wait_until() { local end=$((SECONDS + $1)); shift; until "$@"; do [ "$SECONDS" -ge "$end" ] && return 1; sleep 0.05; done; }
