#!/usr/bin/env bash
# layers.sh - every #include inside common/ respects the layer table in common/LAYERS:
# a file in common/F/ includes only headers of F itself and of the folders F lists.
# A project header is named with its folder ("root/ttree.h"), or bare ("ttree.h") for
# one of the same folder. Prints one FAIL line per include that breaks the rule, naming
# the file, the line and the include; one PASS line per folder that keeps it.
set -u
top="${MLHEP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$top" || exit 1
table=common/LAYERS
declare -A allowed
folders=()
while IFS= read -r line; do
    line=${line%%#*}
    [[ "$line" =~ ^([a-z]+):(.*)$ ]] || continue
    f=${BASH_REMATCH[1]}
    folders+=("$f")
    allowed[$f]=" $f ${BASH_REMATCH[2]} "
done < "$table"
[ "${#folders[@]}" -gt 0 ] || { echo "FAIL layers: no folder in $table"; exit 1; }
bad_total=0
# every folder of common/ must be in the table (a new folder needs its rule written down)
for d in common/*/; do
    d=${d%/}; d=${d#common/}
    if [ -z "${allowed[$d]:-}" ]; then
        echo "FAIL layers: common/$d/ is not in $table (add a line saying what it may include)"
        bad_total=$((bad_total + 1))
    fi
done
# nothing but the table and the layer folders directly in common/
for f in common/*; do
    [ -d "$f" ] && continue
    [ "$f" = "$table" ] && continue
    echo "FAIL layers: $f lies directly in common/ (put it in the folder of its layer)"
    bad_total=$((bad_total + 1))
done
for f in "${folders[@]}"; do
    bad=0
    [ -d "common/$f" ] || { echo "FAIL layers: $table names common/$f/, which does not exist"; bad_total=$((bad_total + 1)); continue; }
    while IFS=: read -r file lno text; do
        inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/' <<<"$text")
        case "$inc" in
            */*) dir=${inc%%/*} ;;
            *) if [ -f "common/$f/$inc" ]; then continue; fi
               echo "FAIL layers: $file:$lno: #include \"$inc\" names no header of common/$f/ (write \"FOLDER/$inc\")"
               bad=$((bad + 1)); continue ;;
        esac
        if [[ "${allowed[$f]}" != *" $dir "* ]]; then
            echo "FAIL layers: $file:$lno: #include \"$inc\": common/$f/ may include only $(echo ${allowed[$f]}) (common/LAYERS)"
            bad=$((bad + 1))
        elif [ ! -f "common/$inc" ]; then
            echo "FAIL layers: $file:$lno: #include \"$inc\": no such header in common/"
            bad=$((bad + 1))
        fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "common/$f"/*.[ch] "common/$f"/*.cc 2>/dev/null)
    if [ "$bad" = 0 ]; then echo "PASS layers: common/$f/ includes only: $(echo ${allowed[$f]})"; fi
    bad_total=$((bad_total + bad))
done
[ "$bad_total" = 0 ]
