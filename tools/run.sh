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

if [ -f "$data/mailseald.conf" ] && [ ! -f "$data/private/kms-master.key" ]; then
    echo "== $data predates the key escrow: making it again"
    rm -rf "$data"
fi
if [ ! -f "$data/mailseald.conf" ]; then
    echo "== creating $data"
    echo "   !!! WARNING: --insecure-keys: the CA's private keys are stored"
    echo "   !!! UNENCRYPTED. This data directory is for the demo only."
    mkdir -p "$var"
    "$msd" --init "$data" --insecure-keys | sed 's/^/   /'
else
    echo "== using $data (made earlier; private keys UNENCRYPTED, demo only)"
fi

# The demo's own copy of the config: every module on, the directory too.
conf=$work/mailseald.conf
sed 's/^modules = .*/modules = ca tsa ocsp crl validate kms directory/' \
    "$data/mailseald.conf" >"$conf"
grep -q '^data_dir' "$conf" || echo "data_dir = $data" >>"$conf"
port=8025
offline=
if port_taken "$port"; then
    # Another program has 8025: same data, any free port. The certificates
    # name 127.0.0.1:8025 for OCSP, so opening skips the network check.
    sed -i 's/^listen = .*/listen = 127.0.0.1:0/' "$conf"
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

# ------------------------------------------------ two users, two devices
# Profiles live under $work (never the user's own ~/.local/share/mailseal);
# mailseald's mail (the challenge codes) goes to its spool directory.
export MAILSEAL_HOME=$work/home
spool=$data/spool

# enroll ADDR DEVICE PROFILE: mailseal enroll, the code taken from the
# challenge mail in the spool directory (a person types it from the mail).
enroll() {
    local addr=$1 dev=$2 prof=$3 fifo=$work/$3.fifo f= i rc=0 epid
    rm -f "$fifo"
    mkfifo "$fifo"
    touch "$work/before"
    "$ms" enroll "$addr" --server "$url" --device "$dev" --code - \
        --profile "$prof" <"$fifo" >"$work/$prof.out" 2>&1 &
    epid=$!
    exec 3>"$fifo"
    for i in $(seq 200); do
        f=$(find "$spool" -name '*.eml' -newer "$work/before" \
            -exec grep -l -F "To: <$addr>" {} + 2>/dev/null | head -n 1) || true
        [ -n "$f" ] && break
        sleep 0.05
    done
    [ -n "$f" ] && tr -d '\r' <"$f" | sed -n 's/^ *Code: //p' >&3
    exec 3>&-
    wait "$epid" || rc=$?
    sed 's/^/   | /' "$work/$prof.out"
    return "$rc"
}

echo "== two users, two devices: nobody touches a certificate"
echo "   alice enrolls her laptop (the code from the mail in $spool)"
enroll alice@example.org laptop alice-laptop
echo "   bob enrolls his laptop"
enroll bob@example.org laptop bob-laptop
echo "   alice enrolls her phone: its own signing key, the same escrowed encryption key"
enroll alice@example.org phone alice-phone

# They send through a spool directory here (a relay in real life:
# submit_url = smtp://... in the profile).
for p in alice-laptop alice-phone bob-laptop; do
    sed -i "s|^submit_url *=.*|submit_url = spool:$work/outbox|" \
        "$MAILSEAL_HOME/$p/profile.conf" # GNU sed keeps the file's mode
    grep -q '^submit_url = spool:' "$MAILSEAL_HOME/$p/profile.conf" ||
        echo "submit_url = spool:$work/outbox" >>"$MAILSEAL_HOME/$p/profile.conf"
done
cat >"$work/note.eml" <<'MSG'
From: Alice <alice@example.org>
To: Bob <bob@example.org>
Subject: Lunch on Friday?

Hi Bob, the usual place at noon?
MSG
echo "== alice's laptop: mailseal send bob@example.org"
echo "   (signs, timestamps, finds bob's key in the directory, encrypts)"
"$ms" send --profile alice-laptop bob@example.org <"$work/note.eml"
sent=$(ls -t "$work/outbox"/*.eml | head -n 1)
echo "   sent: $(grep -i -m1 '^Content-Type:' "$sent")"
echo "== bob opens it"
"$ms" open --profile bob-laptop $offline --output "$work/bob.eml" \
    <"$sent" >"$work/bob.out" 2>&1 || true
sed 's/^/   | /' "$work/bob.out"
echo "   | body: $(grep -m1 -F 'Hi Bob' "$work/bob.eml")"
echo "== bob replies; both of alice's devices read the reply"
cat >"$work/reply.eml" <<'MSG'
From: Bob <bob@example.org>
To: Alice <alice@example.org>
Subject: Re: Lunch on Friday?

Yes, see you there.
MSG
"$ms" send --profile bob-laptop alice@example.org <"$work/reply.eml"
reply=$(ls -t "$work/outbox"/*.eml | head -n 1)
for p in alice-laptop alice-phone; do
    echo "   alice's ${p#alice-}:"
    "$ms" open --profile "$p" $offline --output "$work/$p.eml" \
        <"$reply" >"$work/$p.open" 2>&1 || true
    sed 's/^/   | /' "$work/$p.open"
    echo "   | body: $(grep -m1 -F 'see you there' "$work/$p.eml")"
done

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
