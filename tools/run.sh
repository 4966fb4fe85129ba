#!/bin/bash
# run.sh BUILD-DIR - the mailseald part of "make run": makes a data
# directory ./var/mailseald (once; keys UNENCRYPTED, demo only), issues
# Jane's V4 signing and John's V2 encryption certificates from fresh CSRs
# with `mailseald issue`, starts mailseald on 127.0.0.1:8025 (or a free
# port), prints its URLs, seals a message from Jane to John with a
# timestamp from the daemon's TSA, opens it as John, then keeps mailseald
# in the foreground until Ctrl-C.
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
msd=$build/services/mailseald
ms=$build/cli/mailseal
var=$top/var
data=$var/mailseald
work=$(mktemp -d)
pid=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port_taken() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ ! -f "$data/mailseald.conf" ]; then
    echo "== creating $data"
    echo "   !!! WARNING: --insecure-keys: the CA's private keys are stored"
    echo "   !!! UNENCRYPTED. This data directory is for the demo only."
    mkdir -p "$var"
    "$msd" --init "$data" --insecure-keys | sed 's/^/   /'
else
    echo "== using $data (made earlier; private keys UNENCRYPTED, demo only)"
fi

conf=$data/mailseald.conf
port=8025
offline=
if port_taken "$port"; then
    # Another program has 8025: same data, any free port. The certificates
    # name 127.0.0.1:8025 for OCSP, so opening skips the network check.
    sed 's/^listen = .*/listen = 127.0.0.1:0/' "$conf" >"$work/mailseald.conf"
    echo "data_dir = $data" >>"$work/mailseald.conf"
    conf=$work/mailseald.conf
    port=0
    offline=--offline
    echo "   (port 8025 is taken: using a free port, OCSP checks skipped)"
fi

echo "== issuing Jane's V4 signing and John's V2 encryption certificates"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/jane.key" -subj "/CN=jane" -out "$work/jane.csr" 2>/dev/null
"$msd" -c "$conf" issue --level 4 --use signing \
    --mailbox jane.roe@bank.example --given-name Jane --surname Roe \
    --org "Bank Example AG" --title Treasurer --country DE \
    --csr "$work/jane.csr" --out "$work/jane.pem" 2>&1 | sed 's/^/   /'
openssl req -new -newkey rsa:2048 -nodes -keyout "$work/john.key" \
    -subj "/CN=john" -out "$work/john.csr" 2>/dev/null
"$msd" -c "$conf" issue --level 2 --use encryption \
    --mailbox john.doe@example.org --given-name John --surname Doe \
    --csr "$work/john.csr" --out "$work/john.pem" 2>&1 | sed 's/^/   /'
cat "$data/certs/v4.pem" >"$work/jane-chain.pem"

echo "== starting mailseald"
"$msd" -c "$conf" --port-file "$work/port" 2>"$var/mailseald.log" &
pid=$!
for _ in $(seq 100); do
    [ -s "$work/port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$var/mailseald.log"; exit 1; }
    sleep 0.05
done
port=$(cat "$work/port")
url=http://127.0.0.1:$port
cat <<URLS
   log:     $var/mailseald.log
   health:  $url/healthz
   TSA:     $url/tsa       (POST application/timestamp-query)
   OCSP:    $url/ocsp      (POST, or GET $url/ocsp/<base64>)
   CRL:     $url/crl/v1.crl .. $url/crl/v4.crl
   CA:      $url/ca/root.crt, $url/ca/v1.crt .. v4.crt, $url/ca/chain.pem
URLS
echo "   healthz says: $(curl -fsS "$url/healthz")"

cat >"$work/msg.eml" <<'MSG'
From: Jane Roe <jane.roe@bank.example>
To: John Doe <john.doe@example.org>
Subject: Payment instructions (timestamped)

Hello John, the new account is valid from today; please call me first.
MSG

echo "== Jane seals a message for John, timestamped by $url/tsa"
"$ms" seal --cert "$work/jane.pem" --key "$work/jane.key" \
    --chain "$work/jane-chain.pem" --tsa "$url/tsa" \
    --recipient-cert "$work/john.pem" <"$work/msg.eml" >"$work/sealed.eml"
echo "   sealed: $(wc -c <"$work/sealed.eml") bytes"

echo "== John opens it"
"$ms" open --cert "$work/john.pem" --key "$work/john.key" \
    --trust "$data/certs/root.pem" --tsa-trust "$data/certs/root.pem" \
    --no-system-trust $offline --output "$work/opened.eml" \
    <"$work/sealed.eml" >"$work/open.out" 2>&1 || true
sed 's/^/   | /' "$work/open.out"
echo "   header fields added for John's mail program:"
grep -i '^X-Mailseal-' "$work/opened.eml" | sed 's/^/   | /'

echo "== mailseald keeps running at $url (Ctrl-C stops it)"
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
rc=0
wait "$pid" || rc=$?
if [ "$rc" -gt 128 ]; then
    # The signal interrupted wait: now wait for the daemon's own exit.
    rc=0
    wait "$pid" || rc=$?
fi
pid=
echo "== mailseald stopped (status $rc)"
