#!/bin/bash
# mailseald-smoke.sh MAILSEALD SCRATCH - the whole daemon once, end to end
# on 127.0.0.1: --init (insecure keys), start on port 0 with --port-file,
# /healthz, one certificate issued by the command, `openssl ocsp` says good,
# one timestamp verified by `openssl ts -verify`, a CRL verified by
# `openssl crl -CAfile`, SIGTERM exits 0. Every wait is a bounded poll.
# Fails at once when curl or openssl is missing (make deps installs them).
set -euo pipefail

bin=${1:?usage: mailseald-smoke.sh MAILSEALD SCRATCH}
dir=${2:?usage: mailseald-smoke.sh MAILSEALD SCRATCH}
for tool in curl openssl; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool is not installed (make deps installs it)"
        exit 1
    fi
done
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

# --- init and start ----------------------------------------------------------
"$bin" --init "$data" --insecure-keys --listen 127.0.0.1:0 >"$dir/init.out" ||
    fail "--init"
grep -q "^root certificate SHA-256 fingerprint: [0-9A-F:]\{95\}$" \
    "$dir/init.out" || fail "--init output: $(cat "$dir/init.out")"
"$bin" -n -d "$data" >/dev/null || fail "-n rejects the generated config"
ok "--init makes a data directory whose config passes -n"

"$bin" -d "$data" --port-file "$dir/port" 2>"$log" &
pid=$!
poll 30 test -s "$dir/port" || fail "no port file"
url=http://127.0.0.1:$(cat "$dir/port")
health=$(curl -fsS "$url/healthz") || fail "GET /healthz"
for m in ca tsa ocsp crl; do
    case $health in *"\"$m\""*) ;; *) fail "module $m missing: $health" ;; esac
done
ok "daemon up with ca tsa ocsp crl"

# --- issue by command, OCSP good ----------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/jane.key" -subj "/CN=ignored" -out "$dir/jane.csr" \
    2>/dev/null || fail "openssl req"
"$bin" -d "$data" issue --level 4 --use signing --mailbox jane@bank.example \
    --given-name Jane --surname Roe --org "Bank Example" --title Treasurer \
    --country DE --csr "$dir/jane.csr" --out "$dir/jane.pem" \
    2>"$dir/issue.err" || fail "issue: $(cat "$dir/issue.err")"
serial=$(openssl x509 -in "$dir/jane.pem" -noout -serial | cut -d= -f2 |
    tr 'A-F' 'a-f')
grep -q "^issued serial=$serial level=V4 use=signing mailbox=jane@bank.example$" \
    "$dir/issue.err" || fail "issue message: $(cat "$dir/issue.err")"
ok "issue writes the certificate and names its serial"

root=$data/certs/root.pem
out=$(openssl ocsp -issuer "$data/certs/v4.pem" -cert "$dir/jane.pem" \
    -url "$url/ocsp" -CAfile "$root" 2>&1) || fail "openssl ocsp: $out"
case $out in
*"Response verify OK"*"$dir/jane.pem: good"*) ;;
*) fail "ocsp answer: $out" ;;
esac
ok "openssl ocsp: good, response verified"

# --- a timestamp ---------------------------------------------------------------
printf 'smoke test\n' >"$dir/data.txt"
openssl ts -query -data "$dir/data.txt" -sha256 -cert -out "$dir/q.tsq" \
    2>/dev/null || fail "openssl ts -query"
code=$(curl -sS -o "$dir/r.tsr" -w '%{http_code}' \
    -H 'Content-Type: application/timestamp-query' \
    --data-binary @"$dir/q.tsq" "$url/tsa") || fail "POST /tsa"
[ "$code" = 200 ] || fail "POST /tsa: HTTP $code"
out=$(openssl ts -verify -data "$dir/data.txt" -in "$dir/r.tsr" \
    -CAfile "$root" 2>&1) || fail "openssl ts -verify: $out"
ok "openssl ts -verify accepts the timestamp"

# --- a CRL ---------------------------------------------------------------------
curl -fsS -o "$dir/v4.crl" "$url/crl/v4.crl" || fail "GET /crl/v4.crl"
cat "$root" "$data/certs/v4.pem" >"$dir/v4-chain.pem"
out=$(openssl crl -inform DER -in "$dir/v4.crl" -CAfile "$dir/v4-chain.pem" \
    -noout 2>&1) || fail "openssl crl: $out"
[ "$out" = "verify OK" ] || fail "openssl crl: $out"
ok "openssl crl -CAfile verifies the V4 CRL"

# --- stop ------------------------------------------------------------------------
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "SIGTERM: exit status $rc"
grep -q "info: stopped" "$log" || fail "no 'stopped' line"
out=$("$bin" -d "$data" audit-verify) || fail "audit-verify: $out"
ok "SIGTERM exits 0; $out"
