#!/bin/bash
# rotate.sh MAILSEALD SCRATCH - `mailseald rotate` end to end on 127.0.0.1:
# a certificate issued before the rotation, then the OCSP responders and
# the TSA rotated and the daemon restarted: `openssl ocsp` still says good,
# now signed by the new responder; a new timestamp verifies with the new
# TSA certificate; the old files are in retired/; a wrong command changes
# nothing; the audit chain holds a row per item. Bounded polls only.
set -euo pipefail

bin=${1:?usage: rotate.sh MAILSEALD SCRATCH}
dir=${2:?usage: rotate.sh MAILSEALD SCRATCH}
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data=$dir/data
log=$dir/log
pid=

fail() {
    echo "not ok - $*"
    [ -f "$log" ] && sed 's/^/  log: /' "$log"
    exit 1
}
ok() { echo "ok - $*"; }
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

poll() { # poll SECONDS COMMAND...: every 50 ms until it succeeds
    local limit=$(($1 * 20)) i=0
    shift
    until "$@"; do
        i=$((i + 1))
        [ "$i" -ge "$limit" ] && return 1
        sleep 0.05
    done
}
start() {
    rm -f "$dir/port"
    "$bin" -d "$data" --port-file "$dir/port" 2>"$log" &
    pid=$!
    poll 30 test -s "$dir/port" || fail "no port file"
    url=http://127.0.0.1:$(cat "$dir/port")
}
stop() {
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    pid=
    [ "$rc" = 0 ] || fail "SIGTERM: exit status $rc"
}
serial_of() { # lower-case hex serial of a PEM certificate
    openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'
}
ocsp_good() { # ocsp_good RESPONDER-CERT: good, signed by that responder
    local out
    out=$(openssl ocsp -issuer "$data/certs/v2.pem" -cert "$dir/john.pem" \
        -url "$url/ocsp" -CAfile "$data/certs/root.pem" -no_nonce \
        -respout "$dir/resp.der" 2>&1) || fail "openssl ocsp: $out"
    case $out in
    *"Response verify OK"*"$dir/john.pem: good"*) ;;
    *) fail "ocsp answer: $out" ;;
    esac
    # The response must verify with exactly this responder certificate
    # as the only one trusted for signing it (-VAfile).
    out=$(openssl ocsp -respin "$dir/resp.der" -VAfile "$1" \
        -issuer "$data/certs/v2.pem" -cert "$dir/john.pem" 2>&1) ||
        fail "not signed by $1: $out"
    case $out in *"Response verify OK"*) ;; *) fail "VAfile: $out" ;; esac
}
stamp_ok() { # a new timestamp verifies; its signer is the current TSA
    local code out
    printf 'rotate test %s\n' "$1" >"$dir/data.txt"
    openssl ts -query -data "$dir/data.txt" -sha256 -cert -out "$dir/q.tsq" \
        2>/dev/null || fail "openssl ts -query"
    code=$(curl -sS -o "$dir/r.tsr" -w '%{http_code}' \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$dir/q.tsq" "$url/tsa") || fail "POST /tsa"
    [ "$code" = 200 ] || fail "POST /tsa: HTTP $code"
    out=$(openssl ts -verify -data "$dir/data.txt" -in "$dir/r.tsr" \
        -CAfile "$data/certs/root.pem" 2>&1) || fail "ts -verify: $out"
    openssl ts -reply -in "$dir/r.tsr" -token_out -out "$dir/tok.der" \
        2>/dev/null || fail "ts -token_out"
    openssl pkcs7 -inform DER -in "$dir/tok.der" -print_certs \
        -out "$dir/tok-certs.pem" 2>/dev/null || fail "token certificates"
    # The token carries the TSA certificate (and the root): split them.
    rm -f "$dir"/tok-cert-*.pem
    awk -v d="$dir" '/BEGIN CERT/ { n++ } n { print > (d "/tok-cert-" n ".pem") }' \
        "$dir/tok-certs.pem"
    local c found=
    for c in "$dir"/tok-cert-*.pem; do
        [ -f "$c" ] || fail "token carries no certificate"
        [ "$(serial_of "$c")" = "$(serial_of "$data/certs/tsa.pem")" ] &&
            found=1
    done
    [ -n "$found" ] || fail "token does not carry the current TSA certificate"
}

"$bin" --init "$data" --insecure-keys --listen 127.0.0.1:0 >/dev/null ||
    fail "--init"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/john.key" -subj "/CN=ignored" -out "$dir/john.csr" \
    2>/dev/null || fail "openssl req"
"$bin" -d "$data" issue --level 2 --use signing --mailbox john@example.org \
    --given-name John --surname Doe --csr "$dir/john.csr" \
    --out "$dir/john.pem" 2>/dev/null || fail "issue"
cp "$data/certs/ocsp-v2.pem" "$dir/old-ocsp-v2.pem"
cp "$data/certs/tsa.pem" "$dir/old-tsa.pem"
start
ocsp_good "$dir/old-ocsp-v2.pem"
stamp_ok before
stop
ok "before rotation: OCSP good from the first responder, timestamp verifies"

before=$("$bin" -d "$data" audit-verify | sed 's/[^0-9]//g')
if "$bin" -d "$data" rotate ocsp --level 2 >/dev/null 2>&1; then
    fail "rotate ocsp --level accepted"
fi
cmp -s "$data/certs/ocsp-v2.pem" "$dir/old-ocsp-v2.pem" ||
    fail "a refused rotate changed a certificate"
"$bin" -d "$data" rotate ocsp >"$dir/rotate.out" || fail "rotate ocsp"
"$bin" -d "$data" rotate tsa >>"$dir/rotate.out" || fail "rotate tsa"
[ "$(grep -c '^rotated ' "$dir/rotate.out")" = 5 ] ||
    fail "rotate output: $(cat "$dir/rotate.out")"
old=$(serial_of "$dir/old-ocsp-v2.pem")
[ "$(serial_of "$data/certs/ocsp-v2.pem")" != "$old" ] ||
    fail "ocsp-v2 not replaced"
cmp -s "$data/certs/retired/ocsp-v2-$old.pem" "$dir/old-ocsp-v2.pem" ||
    fail "old responder not in retired/"
after=$("$bin" -d "$data" audit-verify | sed 's/[^0-9]//g')
[ "$after" = $((before + 5)) ] || fail "audit rows $before -> $after"
ok "rotate ocsp + tsa: five new certificates, old ones retired, five audit rows"

start
ocsp_good "$data/certs/ocsp-v2.pem"
if openssl ocsp -respin "$dir/resp.der" -VAfile "$dir/old-ocsp-v2.pem" \
    -issuer "$data/certs/v2.pem" -cert "$dir/john.pem" 2>&1 |
    grep -q "Response verify OK"; then
    fail "the new answer verifies with the retired responder"
fi
stamp_ok after
stop
ok "after restart: OCSP good from the new responder, timestamp by the new TSA"
