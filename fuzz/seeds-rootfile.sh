#!/usr/bin/env bash
# Seeds for fuzz_rootfile: the small sample ROOT files (they are not copied into the repo):
# ../shared/data/root and the files from real experiments in ../shared/data/root-wild,
# plus, when given as $2, a directory of extra seeds (e.g. files from the writer with
# Double32_t/Float16_t leaves and a split class, see tests/cli/root_sanitized.sh).
out=$1
for f in "$(dirname "$0")"/../../shared/data/root/*.root "$(dirname "$0")"/../../shared/data/root-wild/*.root; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 300000 ] && cp "$f" "$out/"
done
[ -n "${2:-}" ] && [ -d "$2" ] && cp "$2"/*.root "$out/" 2>/dev/null
true
