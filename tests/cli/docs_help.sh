#!/usr/bin/env bash
# docs_help.sh - every program has its page in docs/programs/ (purpose, synopsis,
# options, examples, exit codes), linked from the README, and the --help blocks the
# pages show are the programs' current output (docs/programs/sync_help.py --check: a
# usage text changed without `sync_help.py --write` fails here).
. "$(dirname "$0")/../lib.sh"
TOP="${MLHEP_TOP:?}"
for p in "$BIN"/mlhep-*; do
    n=$(basename "$p"); page="$TOP/docs/programs/$n.md"
    if [ ! -f "$page" ]; then bad "docs page of $n" "docs/programs/$n.md missing"; continue; fi
    missing=""
    for h in "## Synopsis" "## Options" "## Example" "## Exit codes" "\$ $n --help"; do
        grep -qF -- "$h" "$page" || missing="$missing '$h'"
    done
    grep -qF "(docs/programs/$n.md)" "$TOP/README.md" || missing="$missing (no link from README.md)"
    [ -z "$missing" ] && ok "docs/programs/$n.md: synopsis, options (--help), examples, exit codes; linked from the README" \
        || bad "docs page of $n" "missing:$missing"
done
python3 "$TOP/docs/programs/sync_help.py" --check
