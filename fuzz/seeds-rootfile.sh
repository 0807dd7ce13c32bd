#!/usr/bin/env bash
# Seeds for fuzz_rootfile: the small sample ROOT files (they are not copied into the repo).
out=$1
for f in "$(dirname "$0")"/../../shared/data/root/*.root; do
    [ "$(stat -c %s "$f")" -lt 300000 ] && cp "$f" "$out/"
done
true
