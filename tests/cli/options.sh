# Numbers on command lines (base/numarg.h): every program refuses a number it cannot
# read whole or that lies outside its range, with a message naming the option, what
# was given and what is accepted, and its usage exit code - before doing anything else.
. "$(dirname "$0")/../lib.sh"
F="$DATA/uproot-HZZ.root"
W=$TMP
echo '{}' > "$W/wf.json"

# refused NAME WANT_RC WANT_TEXT COMMAND...: the command exits WANT_RC and says WANT_TEXT
refused() {
    local name=$1 rc=$2 text=$3 out got
    shift 3
    out=$("$@" 2>&1 </dev/null)
    got=$?
    if [ "$got" = "$rc" ] && printf '%s' "$out" | grep -qF -- "$text"; then ok "$name"; else bad "$name" "exit $got: $out"; fi
}

refused "mlhep-root --threads abc" 1 "--threads: 'abc' is not a whole number" "$BIN/mlhep-root" stats "$F" --threads abc
refused "mlhep-root --threads 0" 1 "--threads: 0 is out of range (1 to 16)" "$BIN/mlhep-root" stats "$F" --threads 0
refused "mlhep-root --entries 5x:" 1 "--entries (first): '5x' is not a whole number" \
    "$BIN/mlhep-root" dump "$F" --tree events --branch NJet --entries 5x:
refused "mlhep-root --entries :-3" 1 "--entries (end): -3 is out of range" \
    "$BIN/mlhep-root" dump "$F" --tree events --branch NJet --entries :-3

refused "mlhep-infer --cache-mb abc" 2 "--cache-mb: 'abc' is not a whole number" "$BIN/mlhep-infer" --cache-mb abc --check
refused "mlhep-infer --prefetch 0" 2 "--prefetch: 0 is out of range (1 to 65535)" "$BIN/mlhep-infer" --prefetch 0 --check
refused "mlhep-infer --threads 1.5" 2 "--threads: '1.5' is not a whole number" "$BIN/mlhep-infer" --threads 1.5 --check
refused "mlhep-infer --cache-models ''" 2 "--cache-models: '' is not a whole number" "$BIN/mlhep-infer" --cache-models '' --check

refused "mlhep-prep --max-chunks ten" 1 "--max-chunks: 'ten' is not a whole number" \
    "$BIN/mlhep-prep" "$W/wf.json" --out "$W/out" --max-chunks ten
refused "mlhep-prep --gzip 10" 1 "--gzip: 10 is out of range (0 to 9)" \
    "$BIN/mlhep-prep" "$W/wf.json" --out "$W/out" --gzip 10
refused "mlhep-run --threads 99999999999999999999" 2 "--threads: 99999999999999999999 is out of range (1 to 256)" \
    "$BIN/mlhep-run" --threads 99999999999999999999 --out "$W/run" "$W/wf.json"
refused "mlhep-submit --timeout soon" 2 "--timeout: 'soon' is not a number" "$BIN/mlhep-submit" --timeout soon list
refused "mlhep-submit --timeout -1" 2 "--timeout: -1 is out of range" "$BIN/mlhep-submit" --timeout -1 list

# a configuration number is checked the same way (service/config.c), exit 3
printf 'amqp_port = 56x\n' > "$W/bad.conf"
refused "mlhep-worker config amqp_port 56x" 3 "amqp_port: '56x' is not a whole number" \
    "$BIN/mlhep-worker" --config "$W/bad.conf" --print-config
