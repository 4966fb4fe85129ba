#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# send.sh - mailseal send (the sendmail drop-in) and mailseal lookup with
# real processes on 127.0.0.1: an SMTP sink (aiosmtpd), the test TSA
# (tests/support/tsa-server.py, openssl ts) and a canned directory
# (tests/support/dir-stub.py). alice's profile signs with ec-sign
# (alice@example.net); "bob" is eve@example.net (v1-enc in alice's cache),
# carol is info@example.com (v3-enc, only in the directory), jane is
# jane.roe@bank.example (no certificate anywhere).
# Usage: send.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
SUPPORT=$(realpath -- "$(dirname "$0")/../support")
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3

require openssl jq
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    not_ok "python3-aiosmtpd is installed (tools/install-deps.sh)"
    finish
fi

BOB=eve@example.net
CAROL=info@example.com
JANE=jane.roe@bank.example
PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    cleanup
}
trap stop_all EXIT

poll() {
    local limit=$(($1 * 20)) i=0
    shift
    until "$@"; do
        i=$((i + 1))
        [ "$i" -lt "$limit" ] || return 1
        sleep 0.05
    done
}

# ---- servers ----

mkdir -p sink tsa dir
"$PY" "$SUPPORT/smtp-sink.py" --port-file sink/port --outdir sink/out \
    --idle-exit 100 --max-life 170 2>sink/log &
PIDS+=("$!")
cp "$PKI/tsa.cnf" "$PKI/tsa.pem" "$PKI/tsa.key" "$PKI/tsa-serial" tsa/
"$PY" "$SUPPORT/tsa-server.py" --config "$WORK/tsa/tsa.cnf" \
    --port-file tsa/port 2>tsa/log &
PIDS+=("$!")
"$PY" "$SUPPORT/dir-stub.py" --port-file dir/port --answers "$WORK/dir" \
    --max-life 170 2>dir/log &
PIDS+=("$!")
for s in sink tsa dir; do
    if ! poll 20 test -s "$s/port"; then
        not_ok "$s server starts"
        sed 's/^/#   /' "$s/log"
        finish
    fi
done
SMTP_PORT=$(cat sink/port)
TSA_URL="http://127.0.0.1:$(cat tsa/port)/tsa"
DIR_URL="http://127.0.0.1:$(cat dir/port)"

# An unused port: a relay or TSA that is down.
DOWN_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# carol's directory entry: her encryption certificate with its CA (one pem
# bundle) and her signing certificate; mallory's names eve's certificate.
jq -n --arg enc "$(cat "$PKI/v3-enc.pem" "$PKI/ca-v3.pem")" \
    --arg sig "$(cat "$PKI/v3-sign.pem" "$PKI/ca-v3.pem")" \
    --arg a "$CAROL" \
    '{address: $a, certificates: [
        {use: "encryption", level: 3, status: "valid", pem: $enc},
        {use: "signing", level: 3, status: "valid", pem: $sig}]}' \
    >"dir/$CAROL.json"
jq -n --arg enc "$(cat "$PKI/v1-enc.pem" "$PKI/ca-v1.pem")" \
    '{address: "mallory@example.net", certificates: [
        {use: "encryption", level: 1, status: "valid", pem: $enc}]}' \
    >dir/mallory@example.net.json
jq -n --arg enc "$(cat "$PKI/v2-enc.pem" "$PKI/ca-v2.pem")" \
    '{address: "revoked@example.org", certificates: [
        {use: "encryption", level: 2, status: "revoked", pem: $enc}]}' \
    >dir/revoked@example.org.json

# ---- alice's profile ----

export MAILSEAL_HOME="$WORK/home"
unset MAILSEAL_PROFILE MAILSEAL_PASSPHRASE_FILE
PROF=$MAILSEAL_HOME/default
printf 'interop\n' >pw
chmod 600 pw
openssl pkcs12 -export -in "$PKI/ec-sign.pem" -inkey "$PKI/ec-sign.key" \
    -certfile "$PKI/ca-v1.pem" -name sign -passout pass:interop -out sign.p12
openssl pkcs12 -export -in "$PKI/ec-enc.pem" -inkey "$PKI/ec-enc.key" \
    -certfile "$PKI/ca-v1.pem" -name enc -passout pass:interop -out enc.p12
"$MS" import --password-file pw sign.p12 2>/dev/null
"$MS" import --password-file pw enc.p12 2>/dev/null
cp "$PKI/root.pem" "$PROF/anchors.pem"
chmod 600 "$PROF/anchors.pem"
mkdir -m 700 "$PROF/certs"
cat "$PKI/v1-enc.pem" "$PKI/ca-v1.pem" >"$PROF/certs/$BOB.pem"
chmod 600 "$PROF/certs/$BOB.pem"

# set_conf KEY VALUE: replaces one profile.conf line.
set_conf() {
    sed -i "/^$1 = /d" "$PROF/profile.conf"
    printf '%s = %s\n' "$1" "$2" >>"$PROF/profile.conf"
}

# base_conf: the working settings (a failed check may leave others).
base_conf() {
    set_conf submit_url "smtp://127.0.0.1:$SMTP_PORT"
    set_conf tsa_url "$TSA_URL"
    set_conf server_url "$DIR_URL"
    set_conf encrypt auto
}
base_conf
# with_base FN: FN after base_conf (every check runs so).
with_base() {
    base_conf
    "$@"
}

msgs() {
    find "$WORK/sink/out" -mindepth 1 -maxdepth 1 -name 'msg-*' 2>/dev/null | wc -l
}
last() {
    echo "$WORK/sink/out/msg-$(msgs)"
}

# mail FILE TO SUBJECT BODY: a message with LF line ends, as a pipe gives.
mail() {
    printf 'From: Alice <alice@example.net>\nTo: %s\nSubject: %s\n\n%s\n' \
        "$2" "$3" "$4" >"$1"
}

# send_expect STATUS ARGS... <MSG: mailseal send exits STATUS; stderr in
# send.err.
send_expect() {
    local want=$1 rc=0
    shift
    "$MS" send "$@" >send.out 2>send.err || rc=$?
    cat send.err
    [ "$rc" -eq "$want" ] || { echo "exit $rc, want $want"; return 1; }
}

OPEN=(--trust "$PKI/root.pem" --tsa-trust "$PKI/root.pem" --offline
    --no-system-trust --json)

# ---- checks ----

encrypted_to_bob() {
    mail m1.eml "Bob <$BOB>" "sealed" "the original body, sealed"
    before=$(msgs)
    send_expect 0 -v -i "$BOB" <m1.eml
    grep -q 'signed, timestamped and encrypted, sent to 1 recipient' send.err
    [ "$(msgs)" -eq $((before + 1)) ]
    m=$(last)
    [ "$(cat "$m/mail_from")" = alice@example.net ]
    [ "$(cat "$m/rcpt_to")" = "$BOB" ]
    mime_head "$m/data" | tr -d '\r\n' |
        grep_q -i 'content-type: application/pkcs7-mime; smime-type=enveloped-data'
    ! grep -q 'the original body' "$m/data"
    # bob opens it: verdict, timestamp, original body
    "$MS" open --cert "$PKI/v1-enc.pem" --key "$PKI/v1-enc.key" "${OPEN[@]}" \
        --output open.eml <"$m/data" >open.json
    cat open.json
    json_expect open.json .verdict '"mailbox-validated"' .encrypted true \
        .signer.email '"alice@example.net"' .timestamp.valid true
    tr -d '\r' <open.eml | grep_q -x 'the original body, sealed'
    # openssl decrypts it with bob's key, and the signature verifies
    openssl cms -decrypt -in "$m/data" -recip "$PKI/v1-enc.pem" \
        -inkey "$PKI/v1-enc.key" -out dec.eml
    openssl cms -verify -in dec.eml -CAfile "$PKI/root.pem" \
        -purpose smimesign -out verified.txt
    tr -d '\r' <verified.txt | grep_q -x 'the original body, sealed'
    # the signature carries an RFC 3161 timestamp token
    openssl cms -verify -in dec.eml -noverify -out /dev/null \
        -signer signer.pem
    mime_split_signed dec.eml content.bin sig.der
    openssl cms -cmsout -inform DER -in sig.der -print |
        grep_q 'id-smime-aa-timeStampToken'
    # alice can read her sent copy with her own encryption key
    openssl cms -decrypt -in "$m/data" -recip "$PKI/ec-enc.pem" \
        -inkey "$PKI/ec-enc.key" -out /dev/null
}
check "bob in the cache: delivered signed, timestamped, encrypted; open and openssl cms read it" \
    with_base encrypted_to_bob

always_unknown() {
    mail m2.eml "$JANE" "never in clear" "secret"
    before=$(msgs)
    send_expect 69 --encrypt always "$BOB" "$JANE" <m2.eml
    grep -q "no certificate for $JANE; nothing was sent" send.err
    ! grep -q "$BOB" send.err
    [ "$(msgs)" -eq "$before" ]
    set_conf encrypt always
    send_expect 69 -oi "$JANE" <m2.eml
    set_conf encrypt auto
    [ "$(msgs)" -eq "$before" ]
}
check "--encrypt always with a recipient lacking a certificate: exit 69 naming it, nothing sent" \
    with_base always_unknown

auto_signed_only() {
    mail m3.eml "$JANE" "signed only" "plain but signed"
    send_expect 0 "$JANE" "$BOB" <m3.eml
    m=$(last)
    mime_head "$m/data" | tr -d '\r\n' | grep_q -i 'content-type: multipart/signed'
    printf '%s\n%s\n' "$JANE" "$BOB" | cmp - "$m/rcpt_to"
    "$MS" verify "${OPEN[@]}" <"$m/data" >v.json
    json_expect v.json .verdict '"mailbox-validated"' .timestamp.valid true
    send_expect 0 --encrypt never "$BOB" <m1.eml
    mime_head "$(last)/data" | tr -d '\r\n' | grep_q -i 'multipart/signed'
}
check "auto with a recipient lacking a certificate (and never): sent signed and timestamped only" \
    with_base auto_signed_only

bcc_removed() {
    printf 'From: alice@example.net\nTo: Bob <%s>\nCc: "Team": ;\nBcc: Jane Roe <%s>,\n  Bob <%s>\nSubject: bcc\n\nbcc body\n' \
        "$BOB" "$JANE" "$BOB" >m4.eml
    send_expect 0 -t -oi <m4.eml
    m=$(last)
    printf '%s\n%s\n' "$BOB" "$JANE" | cmp - "$m/rcpt_to"
    ! grep -qi '^bcc:' "$m/data"
    ! grep -q "$JANE" "$m/data"
    grep -q '^To: Bob <eve@example.net>' "$m/data"
    grep -q '^Message-ID: <[0-9a-f]*@example.net>' "$m/data"
    grep -q '^Date: ' "$m/data"
    # -t plus an argument: both get it
    send_expect 0 -t -i "$CAROL" <m4.eml
    printf '%s\n%s\n%s\n' "$CAROL" "$BOB" "$JANE" | cmp - "$(last)/rcpt_to"
}
check "-t: To/Cc/Bcc recipients, Bcc field removed before signing, Date and Message-ID added" \
    with_base bcc_removed

dot_handling() {
    printf 'To: %s\nSubject: dots\n\nfirst\n.\nafter the dot\n' "$BOB" >m5.eml
    send_expect 0 -F 'Alice "A." Liddell' --encrypt never "$BOB" <m5.eml
    m=$(last)
    grep -q '^From: "Alice \\"A.\\" Liddell" <alice@example.net>' "$m/data"
    grep -q '^first' "$m/data"
    ! grep -q 'after the dot' "$m/data"
    send_expect 0 -i --encrypt never "$BOB" <m5.eml
    grep -q '^after the dot' "$(last)/data"
}
check "a lone dot ends the message unless -i; -F names a missing From" with_base dot_handling

usage_errors() {
    send_expect 64 -x "$BOB" </dev/null
    grep -q 'unknown option or missing value: -x' send.err
    send_expect 64 --encrypt sometimes "$BOB" </dev/null
    send_expect 64 -bp </dev/null
    mail m6.eml "$BOB" "none" "no recipients"
    send_expect 64 <m6.eml
    grep -q 'no recipients' send.err
    send_expect 0 -oem -odi -oQ/tmp -B 8BITMIME -U -bm -- "$BOB" <m6.eml
}
check "unknown options exit 64; sendmail's harmless flags are accepted" with_base usage_errors

tsa_down() {
    before=$(msgs)
    set_conf tsa_url "http://127.0.0.1:$DOWN_PORT/tsa"
    send_expect 75 "$BOB" <m1.eml
    set_conf tsa_url "$TSA_URL"
    grep -q 'cannot timestamp, try again later' send.err
    ! grep -q 'the original body' send.err
    [ "$(msgs)" -eq "$before" ]
}
check "TSA down: exit 75 (EX_TEMPFAIL), nothing sent" with_base tsa_down

relay_down() {
    before=$(msgs)
    set_conf submit_url "smtp://127.0.0.1:$DOWN_PORT"
    send_expect 75 "$BOB" <m1.eml
    set_conf submit_url "smtp://127.0.0.1:$SMTP_PORT"
    grep -q 'not sent: relay 127.0.0.1' send.err
    [ "$(msgs)" -eq "$before" ]
}
check "relay down: exit 75, nothing delivered" with_base relay_down

directory_found() {
    rm -f "$PROF/certs/$CAROL.pem" # the -t check above cached it already
    "$MS" lookup "$CAROL" >lookup.txt
    cat lookup.txt
    grep -q '^encryption V3 valid .* (directory)$' lookup.txt
    grep -q '^signing V3 valid .* (directory)$' lookup.txt
    fp=$(openssl x509 -in "$PKI/v3-enc.pem" -noout -fingerprint -sha256 |
        sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
    grep -q "sha256 $fp" lookup.txt
    [ "$(stat -c %a "$PROF/certs/$CAROL.pem")" = 600 ]
    grep -c 'BEGIN CERTIFICATE' "$PROF/certs/$CAROL.pem" | grep_q -x 3
    "$MS" lookup "$CAROL" | grep_q '(cache)$'
    "$MS" lookup --pem "$CAROL" | openssl x509 -noout -subject
    mail m7.eml "$CAROL" "to carol" "carol's body"
    send_expect 0 --encrypt always "$CAROL" <m7.eml
    openssl cms -decrypt -in "$(last)/data" -recip "$PKI/v3-enc.pem" \
        -inkey "$PKI/v3-enc.key" -out carol.eml
    grep -q "carol's body" carol.eml
}
check "directory stub: carol's certificate found, checked, cached (0600), used to encrypt" \
    with_base directory_found

directory_refusals() {
    local rc=0
    # the entry names eve's certificate for mallory: not the address
    "$MS" lookup mallory@example.net >/dev/null 2>err.txt || rc=$?
    cat err.txt
    [ "$rc" -eq 1 ]
    [ ! -e "$PROF/certs/mallory@example.net.pem" ]
    rc=0
    "$MS" lookup revoked@example.org >/dev/null 2>err.txt || rc=$?
    [ "$rc" -eq 1 ]
    rc=0
    "$MS" lookup nobody@example.org >/dev/null 2>err.txt || rc=$?
    [ "$rc" -eq 1 ]
    grep -q 'no certificate for nobody@example.org' err.txt
    grep -q '^/v1/directory/nobody%40example.org$' dir/requests.log
    rc=0
    "$MS" lookup 'Bob <b@example.org>' >/dev/null 2>err.txt || rc=$?
    [ "$rc" -eq 2 ]
    grep -q 'not an exact mail address' err.txt
    before=$(msgs)
    send_expect 69 --encrypt always mallory@example.net <m1.eml
    [ "$(msgs)" -eq "$before" ]
}
check "directory answers for another address, revoked entries, unknown and inexact addresses: refused" \
    with_base directory_refusals

directory_down() {
    before=$(msgs)
    set_conf server_url "http://127.0.0.1:$DOWN_PORT"
    send_expect 75 "$JANE" <m1.eml
    set_conf server_url "$DIR_URL"
    grep -q "looking up $JANE" send.err
    [ "$(msgs)" -eq "$before" ]
}
check "directory unreachable (auto): exit 75 rather than a guess, nothing sent" \
    with_base directory_down

finish
