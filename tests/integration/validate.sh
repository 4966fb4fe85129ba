#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# validate.sh - issue 4 end to end on a real mailseald (127.0.0.1): mailbox
# validation by the mailed code and by the mailed link (the challenge
# mails read from the spool directory), device certificates judged by
# openssl verify, device listing and revocation (then seen by openssl
# ocsp), the key escrow (envelopes opened by the device side, kms_drive;
# openssl cms encrypts to the released certificate and the released key
# decrypts), and abuse: wrong, reused and expired codes, brute force
# (403, 410, then 429), one mailbox's token against another's devices
# (nothing written: audit-verify row counts), malformed and oversized
# bodies.
#
# Usage: validate.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR, with MS_KMS_DRIVE
# naming tests/support/kms_drive. With MS_IT_PG_URL_FILE set (ctest
# fixture "pg") the store is the schema it_validate_pg of that database.
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"

KD=${MS_KMS_DRIVE:-}
PG_URL_FILE=${MS_IT_PG_URL_FILE:-}
if [ -n "$PG_URL_FILE" ]; then
    need openssl curl jq psql
else
    need openssl curl jq sqlite3
fi
[ -x "$KD" ] || fatal "kms_drive at MS_KMS_DRIVE"

ROOT=$D/certs/root.pem
SPOOL=$D/spool
V=$WORK/v # per validation: NAME.start (202 body), NAME.mail, NAME.code
S=$WORK/s # per device: NAME.cred (201 body), NAME.token
mkdir -p "$V" "$S"

msd_init --insecure-keys || fatal "mailseald --init"
if [ -n "$PG_URL_FILE" ]; then
    msd_use_pg "$PG_URL_FILE" it_validate_pg || fatal "PostgreSQL schema"
fi
msd_start || fatal "mailseald starts and answers /healthz"
ok "mailseald listening on $URL"

# ------------------------------------------------------------- helpers

# jpost PATH OUT JSON [CURL ARGS...]: POST JSON; prints the status.
jpost() {
    local p=$1 out=$2 body=$3
    shift 3
    http POST "$p" "$out" -H 'Content-Type: application/json' \
        --data-binary "$body" "$@"
}

# start NAME EMAIL DEVICE: POST /v1/mailbox-validations (202), then finds
# its challenge mail in the spool (by the validation id) and reads the
# code: V/NAME.start, V/NAME.mail, V/NAME.code, V/NAME.link.
start() {
    local id f
    local code
    code=$(jpost /v1/mailbox-validations "$V/$1.start" \
        "{\"email\":\"$2\",\"device\":\"$3\"}")
    [ "$code" = 202 ] || {
        echo "start $2: status $code"
        cat "$V/$1.start"
        return 1
    }
    id=$(jq -r .id "$V/$1.start")
    f=$(grep -l -F -e "$id" "$SPOOL"/*.eml)
    [ "$(echo "$f" | wc -l)" = 1 ]
    cp "$f" "$V/$1.mail"
    tr -d '\r' <"$f" | sed -n 's/^ *Code: //p' >"$V/$1.code"
    tr -d '\r' <"$f" | grep -o "$URL_PUBLIC/v1/mailbox-validations/$id/confirm?code=[A-Z2-7]*" \
        >"$V/$1.link"
    grep -qx '[A-Z2-7]\{5\}-[A-Z2-7]\{5\}-[A-Z2-7]\{5\}-[A-Z2-7]\{5\}-[A-Z2-7]\{6\}' \
        "$V/$1.code"
    [ -s "$V/$1.link" ]
}
URL_PUBLIC=http://127.0.0.1:8025 # public_url of the data directory

vid() { jq -r .id "$V/$1.start"; }
poll_token() { jq -r .poll_token "$V/$1.start"; }

# confirm NAME OUT [CODE]: POST .../confirm with NAME's poll token and its
# code (or CODE); prints the status.
confirm() {
    local code=${3:-$(cat "$V/$1.code")}
    jpost "/v1/mailbox-validations/$(vid "$1")/confirm" "$2" \
        "{\"code\":\"$code\",\"poll_token\":\"$(poll_token "$1")\"}"
}

# device NAME EMAIL DEVICE: validation by code; S/NAME.token.
device() {
    start "$1" "$2" "$3"
    [ "$(confirm "$1" "$S/$1.cred")" = 201 ]
    jq -e --arg e "$2" '.email == $e and (.token | startswith("ms1_"))
        and (.device_id | length > 0) and (.proven_until | length > 0)' \
        "$S/$1.cred"
    jq -r .token "$S/$1.cred" >"$S/$1.token"
}

# bearer NAME: the Authorization header of device NAME.
bearer() { echo "Authorization: Bearer $(cat "$S/$1.token")"; }

# csr_cert NAME DEV: a P-256 CSR (openssl req) posted by device DEV;
# the certificate to S/NAME.pem, chain to S/NAME.chain.pem. Prints status.
csr_cert() {
    csr_new "$1" ec
    http POST /v1/certificates "$S/$1.json" -H "$(bearer "$2")" \
        -H 'Content-Type: application/pkcs10' \
        --data-binary @"$WORK/csr/$1.csr"
    jq -r .certificate "$S/$1.json" >"$S/$1.pem" 2>/dev/null || true
    jq -r '.chain[]' "$S/$1.json" >"$S/$1.chain.pem" 2>/dev/null || true
}

# ------------------------------------------------------------- main flow

code_flow() {
    device alice alice@example.com laptop
    grep -q '^To: <alice@example.com>' "$V/alice.mail"
    grep -q '^Subject: Your mailseal confirmation code' "$V/alice.mail"
    [ "$(csr_cert a1 alice)" = 201 ]
    jq -e '.level == 1 and (.chain | length) == 2' "$S/a1.json"
    openssl verify -CAfile "$ROOT" -untrusted "$S/a1.chain.pem" \
        -purpose smimesign "$S/a1.pem"
    openssl x509 -in "$S/a1.pem" -noout -ext subjectAltName |
        grep_q 'email:alice@example.com'
    # the CSR's key is the certificate's
    [ "$(openssl x509 -in "$S/a1.pem" -noout -pubkey | openssl sha256)" = \
        "$(openssl pkey -in "$WORK/csr/a1.key" -pubout | openssl sha256)" ]
}
check "code flow: mail, code, credential, CSR -> V1 certificate (openssl verify)" code_flow

# A mixed-case address with blanks around it is the same mailbox.
normalised() {
    start norm '  Carol@Example.COM ' phone
    grep -q '^To: <carol@example.com>' "$V/norm.mail"
}
check "addresses are normalised (lower case, trimmed)" normalised

link_flow() {
    local l
    start link alice@example.com phone
    l=$(sed "s#^$URL_PUBLIC#$URL#" "$V/link.link")
    # before the link: the credential is not ready
    [ "$(jpost "/v1/mailbox-validations/$(vid link)/credential" \
        "$WORK/cr0" "{\"poll_token\":\"$(poll_token link)\"}")" = 409 ]
    # GET (a mail scanner, a link preview) shows the button, confirms nothing
    [ "$(curl -sS -o "$WORK/link0.html" -w '%{http_code}' "$l")" = 200 ]
    grep -q '<form method="post"' "$WORK/link0.html"
    [ "$(jpost "/v1/mailbox-validations/$(vid link)/credential" \
        "$WORK/cr0b" "{\"poll_token\":\"$(poll_token link)\"}")" = 409 ]
    # the button: POST of the same link
    [ "$(curl -sS -o "$WORK/link.html" -w '%{http_code}' -X POST "$l")" = 200 ]
    grep -qi 'confirmed' "$WORK/link.html"
    # a wrong poll token gets nothing
    [ "$(jpost "/v1/mailbox-validations/$(vid link)/credential" \
        "$WORK/cr1" '{"poll_token":"AAAA"}')" = 403 ]
    [ "$(jpost "/v1/mailbox-validations/$(vid link)/credential" \
        "$S/phone.cred" "{\"poll_token\":\"$(poll_token link)\"}")" = 201 ]
    jq -r .token "$S/phone.cred" >"$S/phone.token"
    jq -e '.email == "alice@example.com"' "$S/phone.cred"
    # once only
    [ "$(jpost "/v1/mailbox-validations/$(vid link)/credential" \
        "$WORK/cr2" "{\"poll_token\":\"$(poll_token link)\"}")" = 410 ]
}
check "link flow: GET shows a button, its POST confirms, then POST credential once" link_flow

second_device() {
    [ "$(csr_cert a2 phone)" = 201 ]
    openssl verify -CAfile "$ROOT" -untrusted "$S/a2.chain.pem" "$S/a2.pem"
    expect_status 200 GET /v1/devices "$WORK/devs.json" -H "$(bearer alice)"
    cat "$WORK/devs.json"
    jq -e --arg s1 "$(serial_of "$S/a1.pem")" --arg s2 "$(serial_of "$S/a2.pem")" \
        '(.devices | length) == 2 and
         ([.devices[].name] | sort) == ["laptop", "phone"] and
         ([.devices[].certificates[]] | sort) == ([$s1, $s2] | sort) and
         all(.devices[]; .revoked == null)' "$WORK/devs.json"
}
check "a second device of the same mailbox; GET /v1/devices lists both" second_device

# ------------------------------------------------------------- kms

# fetch DEV OUT: POST /v1/keys/encryption with a new device key OUT.key;
# the answer in OUT.json, the current key opened to OUT.esc.pem.
fetch() {
    local pub kid
    pub=$("$KD" keygen "$2.key")
    expect_status 200 POST /v1/keys/encryption "$2.json" -H "$(bearer "$1")" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"device_public_key\":\"$pub\"}"
    jq -e '(.keys | length) >= 1 and .keys[0].current == true' "$2.json"
    kid=$(jq -r '.keys[0].key_id' "$2.json")
    jq -r '.keys[0].envelope' "$2.json" >"$2.env"
    jq -r '.keys[0].certificate' "$2.json" >"$2.cert.pem"
    "$KD" open "$2.key" "$kid" alice@example.com "$2.env" "$2.esc.pem"
}

kms_flow() {
    local a0 a1
    a0=$(audit_rows)
    fetch alice "$WORK/k1"
    fetch phone "$WORK/k2"
    # the same key for both devices, different envelopes
    [ "$(jq -r '.keys[0].key_id' "$WORK/k1.json")" = \
        "$(jq -r '.keys[0].key_id' "$WORK/k2.json")" ]
    [ "$(openssl pkey -in "$WORK/k1.esc.pem" -pubout | openssl sha256)" = \
        "$(openssl pkey -in "$WORK/k2.esc.pem" -pubout | openssl sha256)" ]
    [ "$(cat "$WORK/k1.env")" != "$(cat "$WORK/k2.env")" ]
    # another device's key does not open it
    expect_fail "$KD" open "$WORK/k2.key" "$(jq -r '.keys[0].key_id' \
        "$WORK/k1.json")" alice@example.com "$WORK/k1.env" "$WORK/x.pem"
    # the certificate: V1, encryption, the mailbox
    openssl verify -CAfile "$ROOT" -untrusted "$D/certs/v1.pem" \
        -purpose smimeencrypt "$WORK/k1.cert.pem"
    echo "for alice's escrowed key" >"$WORK/plain.txt"
    openssl cms -encrypt -binary -aes256 -in "$WORK/plain.txt" -out "$WORK/c.p7" \
        "$WORK/k1.cert.pem"
    openssl cms -decrypt -binary -in "$WORK/c.p7" -inkey "$WORK/k2.esc.pem" \
        -recip "$WORK/k1.cert.pem" -out "$WORK/dec.txt"
    cmp "$WORK/plain.txt" "$WORK/dec.txt"
    # audited: key.create + 2 releases + the encryption cert's row
    a1=$(audit_rows)
    [ "$a1" -gt "$a0" ]
    db_sql "SELECT count(*) FROM audit WHERE event = 'key.release'" | grep_q -x 2
}
check "kms: two devices get the same escrowed key; openssl cms to its cert decrypts" kms_flow

kms_bad() {
    expect_status 401 POST /v1/keys/encryption "$WORK/kb1" \
        -H 'Content-Type: application/json' --data-binary '{}'
    json_error "$WORK/kb1"
    expect_status 400 POST /v1/keys/encryption "$WORK/kb2" -H "$(bearer alice)" \
        -H 'Content-Type: application/json' \
        --data-binary '{"device_public_key":"AAAA"}'
    # all-zero X25519 key (low order): refused
    expect_status 400 POST /v1/keys/encryption "$WORK/kb3" -H "$(bearer alice)" \
        -H 'Content-Type: application/json' \
        --data-binary '{"device_public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}'
    expect_status 415 POST /v1/keys/encryption "$WORK/kb4" -H "$(bearer alice)" \
        -H 'Content-Type: text/plain' --data-binary '{}'
}
check "kms: no token 401, bad device key 400, wrong type 415" kms_bad

# ------------------------------------------------------------- devices

delete_device() {
    local phone_id
    phone_id=$(jq -r .device_id "$S/phone.cred")
    # before: good in OCSP
    openssl ocsp -issuer "$D/certs/v1.pem" -cert "$S/a2.pem" \
        -url "$URL/ocsp" -CAfile "$ROOT" >"$WORK/o1.txt" 2>&1
    cat "$WORK/o1.txt"
    grep -q "a2.pem: good" "$WORK/o1.txt"
    expect_status 204 DELETE "/v1/devices/$phone_id" "$WORK/del" \
        -H "$(bearer alice)"
    # the credential is dead, the certificate revoked (OCSP)
    expect_status 401 GET /v1/devices "$WORK/d1" -H "$(bearer phone)"
    openssl ocsp -issuer "$D/certs/v1.pem" -cert "$S/a2.pem" \
        -url "$URL/ocsp" -CAfile "$ROOT" >"$WORK/o2.txt" 2>&1
    cat "$WORK/o2.txt"
    grep -q "a2.pem: revoked" "$WORK/o2.txt"
    # alice's own certificate is untouched
    openssl ocsp -issuer "$D/certs/v1.pem" -cert "$S/a1.pem" \
        -url "$URL/ocsp" -CAfile "$ROOT" 2>&1 | grep_q "a1.pem: good"
    expect_status 200 GET /v1/devices "$WORK/d2" -H "$(bearer alice)"
    jq -e --arg id "$phone_id" \
        '.devices[] | select(.id == $id) | .revoked != null' "$WORK/d2"
    expect_status 409 DELETE "/v1/devices/$phone_id" "$WORK/del2" \
        -H "$(bearer alice)"
}
check "DELETE /v1/devices/{id}: credential dead, its certificate revoked in OCSP" delete_device

# ------------------------------------------------------------- abuse

cross_mailbox() {
    local a0 a1 alice_id
    device bob bob@example.net desktop
    alice_id=$(jq -r .device_id "$S/alice.cred")
    a0=$(audit_rows)
    # bob sees only his own devices
    expect_status 200 GET /v1/devices "$WORK/b1" -H "$(bearer bob)"
    jq -e '(.devices | length) == 1 and .devices[0].name == "desktop"' \
        "$WORK/b1"
    # bob cannot delete alice's device
    expect_status 404 DELETE "/v1/devices/$alice_id" "$WORK/b2" \
        -H "$(bearer bob)"
    json_error "$WORK/b2"
    # bob's key request gives bob's key (never alice's)
    local pub
    pub=$("$KD" keygen "$WORK/bob.key")
    expect_status 200 POST /v1/keys/encryption "$WORK/b3.json" \
        -H "$(bearer bob)" -H 'Content-Type: application/json' \
        --data-binary "{\"device_public_key\":\"$pub\"}"
    [ "$(jq -r '.keys[0].key_id' "$WORK/b3.json")" != \
        "$(jq -r '.keys[0].key_id' "$WORK/k1.json")" ]
    openssl x509 -in <(jq -r '.keys[0].certificate' "$WORK/b3.json") \
        -noout -ext subjectAltName | grep_q 'email:bob@example.net'
    [ "$(openssl x509 -in <(jq -r '.keys[0].certificate' \
        "$WORK/b3.json") -noout -ext subjectAltName | grep -c alice ||
        true)" = 0 ]
    a1=$(audit_rows)
    # only bob's own key.create, its certificate and the release were written
    db_sql "SELECT event FROM audit WHERE id > $a0 ORDER BY id"
    [ "$(db_sql "SELECT detail FROM audit WHERE id > $a0" | grep -c alice ||
        true)" = 0 ]
    # alice's device still active
    expect_status 200 GET /v1/devices "$WORK/b4" -H "$(bearer alice)"
    jq -e --arg id "$alice_id" \
        '.devices[] | select(.id == $id) | .revoked == null' "$WORK/b4"
    [ "$a1" -gt "$a0" ]
}
check "bob's token: not alice's devices (404), not alice's key; nothing of alice written" cross_mailbox

cross_nothing_written() {
    local a0 alice_id
    alice_id=$(jq -r .device_id "$S/alice.cred")
    a0=$(audit_rows)
    expect_status 404 DELETE "/v1/devices/$alice_id" "$WORK/n1" \
        -H "$(bearer bob)"
    expect_status 404 DELETE "/v1/devices/no-such-device" "$WORK/n2" \
        -H "$(bearer bob)"
    expect_status 401 DELETE "/v1/devices/$alice_id" "$WORK/n3" \
        -H "Authorization: Bearer ms1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    [ "$(audit_rows)" = "$a0" ]
}
check "refused cross-mailbox and unknown requests write no audit row" cross_nothing_written

wrong_codes() {
    start w1 dave@example.org tablet
    # a wrong code: 403; then the right one still works (not yet dead)
    [ "$(confirm w1 "$WORK/w1a" AAAAA-AAAAA-AAAAA-AAAAA-AAAAAA)" = 403 ]
    json_error "$WORK/w1a"
    [ "$(confirm w1 "$WORK/w1b" "not a code")" = 403 ]
    db_sql "SELECT attempts FROM validations WHERE id = '$(vid w1)'" |
        grep_q -x 2
    # a wrong poll token with the right code: 403, not counted
    [ "$(jpost "/v1/mailbox-validations/$(vid w1)/confirm" "$WORK/w1c" \
        "{\"code\":\"$(cat "$V/w1.code")\",\"poll_token\":\"x\"}")" = 403 ]
    [ "$(confirm w1 "$S/w1.cred")" = 201 ]
    # reused: 410 (code and link)
    [ "$(confirm w1 "$WORK/w1d")" = 410 ]
    l=$(sed "s#^$URL_PUBLIC#$URL#" "$V/w1.link")
    [ "$(curl -sS -o "$WORK/w1.html" -w '%{http_code}' -X POST "$l")" = 410 ]
    # unknown validation: 404
    [ "$(jpost /v1/mailbox-validations/nosuchid/confirm "$WORK/w1e" \
        '{"code":"x","poll_token":"y"}')" = 404 ]
}
check "wrong code 403 (counted), wrong poll token 403, reused code 410" wrong_codes

expired_code() {
    start ex1 erin@example.org tablet
    # expiry through the store: the validation's time is up
    db_sql "UPDATE validations SET expires = created - 1 WHERE id = '$(vid ex1)'"
    [ "$(confirm ex1 "$WORK/ex1")" = 410 ]
    l=$(sed "s#^$URL_PUBLIC#$URL#" "$V/ex1.link")
    [ "$(curl -sS -o "$WORK/ex1.html" -w '%{http_code}' -X POST "$l")" = 410 ]
}
check "expired validation: 410 for code and link" expired_code

bad_bodies() {
    expect_status 400 POST /v1/mailbox-validations "$WORK/bb1" \
        -H 'Content-Type: application/json' --data-binary '{"email":'
    json_error "$WORK/bb1"
    expect_status 400 POST /v1/mailbox-validations "$WORK/bb2" \
        -H 'Content-Type: application/json' \
        --data-binary '{"email":"no-at-sign","device":"x"}'
    expect_status 400 POST /v1/mailbox-validations "$WORK/bb3" \
        -H 'Content-Type: application/json' \
        --data-binary '{"email":"a@b.example","device":"x","extra":1}'
    expect_status 400 POST /v1/mailbox-validations "$WORK/bb4" \
        -H 'Content-Type: application/json' \
        --data-binary '{"email":"a@b.example","device":"line\nbreak"}'
    expect_status 415 POST /v1/mailbox-validations "$WORK/bb5" \
        -H 'Content-Type: text/plain' --data-binary '{}'
    head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big"
    expect_status 413 POST /v1/mailbox-validations "$WORK/bb6" \
        -H 'Content-Type: application/json' --data-binary @"$WORK/big"
    expect_status 413 POST /v1/certificates "$WORK/bb7" -H "$(bearer alice)" \
        -H 'Content-Type: application/pkcs10' --data-binary @"$WORK/big"
    head -c 20000 /dev/zero | tr '\0' 'a' >"$WORK/big2"
    expect_status 413 POST /v1/certificates "$WORK/bb8" -H "$(bearer alice)" \
        -H 'Content-Type: application/pkcs10' --data-binary @"$WORK/big2"
    expect_status 400 POST /v1/certificates "$WORK/bb9" -H "$(bearer alice)" \
        -H 'Content-Type: application/pkcs10' --data-binary 'not a CSR'
    # a CSR asking for another mailbox: refused, nothing issued
    csr_new other ec email:mallory@example.com
    expect_status 422 POST /v1/certificates "$WORK/bb10" -H "$(bearer alice)" \
        -H 'Content-Type: application/pkcs10' \
        --data-binary @"$WORK/csr/other.csr"
    json_error "$WORK/bb10"
    expect_status 401 POST /v1/certificates "$WORK/bb11" \
        -H 'Content-Type: application/pkcs10' \
        --data-binary @"$WORK/csr/other.csr"
}
check "malformed JSON, bad fields, wrong type, oversized bodies: 400/415/413/422" bad_bodies

brute_force() {
    local i got seen403=0 seen410=0 seen429=0 ra
    start bf frank@example.org laptop
    for i in $(seq 1 40); do
        got=$(confirm bf "$WORK/bf.out" ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZZ)
        case $got in
        403) [ "$seen410" = 0 ] && seen403=$((seen403 + 1)) ;;
        410) seen410=$((seen410 + 1)) ;;
        429)
            seen429=1
            break
            ;;
        *) return 1 ;;
        esac
    done
    echo "403 x$seen403, 410 x$seen410, 429: $seen429"
    [ "$seen403" = 5 ] && [ "$seen410" -ge 1 ] && [ "$seen429" = 1 ]
    ra=$(header "$WORK/bf.out.hdr" Retry-After)
    [ "$ra" -ge 1 ] && [ "$ra" -le 3600 ]
    db_sql "SELECT state FROM validations WHERE id = '$(vid bf)'" |
        grep_q -x dead
    # dead: even the right code is refused
    [ "$(db_sql "SELECT state FROM validations WHERE id = '$(vid bf)'")" = dead ]
}
check "brute force: 5 x 403, then 410 (dead), then 429 with Retry-After" brute_force

address_limit() {
    local i got
    # per address: 5 per hour (alice used 2, so 3 more pass)
    for i in 1 2 3 4; do
        got=$(jpost /v1/mailbox-validations "$WORK/al.out" \
            '{"email":"ALICE@example.com","device":"again"}')
        echo "$i: $got"
        if [ "$got" = 429 ]; then
            [ "$i" = 4 ]
            [ -n "$(header "$WORK/al.out.hdr" Retry-After)" ]
            return 0
        fi
        [ "$got" = 202 ]
    done
    return 1
}
check "per-address limit: the sixth validation of one mailbox in an hour is 429" address_limit

logs_clean() {
    local t
    # no token, poll token or code in the daemon log
    for t in "$S"/*.token; do
        expect_fail grep -qF -e "$(cat "$t")" "$DLOG"
    done
    for t in "$V"/*.code; do
        expect_fail grep -qF -e "$(tr -d '-' <"$t")" "$DLOG"
        expect_fail grep -qF -e "$(cat "$t")" "$DLOG"
    done
    expect_fail grep -qF -e "$(poll_token alice)" "$DLOG"
    "$MSD" -d "$D" audit-verify
    no_sanitizer_report
}
check "no secret in the daemon log; audit chain intact; no sanitizer report" logs_clean

TERM_RC=0
msd_term || TERM_RC=$?
stopped_clean() {
    [ "$TERM_RC" = 0 ]
    no_sanitizer_report
}
check "SIGTERM: exit 0, no sanitizer report (leaks included)" stopped_clean
finish
