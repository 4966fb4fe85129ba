#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# peers.sh - mailseald end to end with real peers: what it issues, answers
# and signs is judged by openssl (verify, ocsp, ts, crl), GnuPG gpgsm, NSS
# cmsutil and our own CLI, over real HTTP on 127.0.0.1.
#
# Usage: peers.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# With MS_IT_PG_URL_FILE set (ctest fixture "pg": the file holding the
# PostgreSQL URL) the store is the schema it_peers_pg of that database and
# the PostgreSQL subset runs: issue, OCSP good/revoked, TSA, CRL.
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"

PG_URL_FILE=${MS_IT_PG_URL_FILE:-}
if [ -n "$PG_URL_FILE" ]; then
    need openssl curl jq psql
else
    need openssl curl jq sqlite3 gpgsm gpgconf certutil cmsutil pk12util
fi

ROOT=$D/certs/root.pem
C=$WORK/certs # what we had issued: NAME.pem, NAME.key, NAME.serial
V3_MAILBOX=info@example.com

# ------------------------------------------------------------- set-up
secret_file "$WORK/passphrase" "peers passphrase $RANDOM$RANDOM"
if [ -n "$PG_URL_FILE" ]; then
    # the store is under test here, not the key protection: fast start
    msd_init --insecure-keys || fatal "mailseald --init"
    msd_use_pg "$PG_URL_FILE" it_peers_pg || fatal "PostgreSQL schema"
else
    msd_init --passphrase-file "$WORK/passphrase" || fatal "mailseald --init"
fi
msd_start || fatal "mailseald starts and answers /healthz"
ok "mailseald listening on $URL"
msd_pki_links

init_output() {
    cat "$WORK/init.out"
    local fpr
    fpr=$(openssl x509 -in "$ROOT" -noout -fingerprint -sha256 |
        sed 's/^.*=//; s/://g' | tr 'A-F' 'a-f')
    tr -d ':' <"$WORK/init.out" | tr 'A-F' 'a-f' | grep_q "$fpr"
    grep -q "$D" "$WORK/init.out"
    for f in root v1 v2 v3 v4 tsa ocsp-v1 ocsp-v2 ocsp-v3 ocsp-v4; do
        openssl x509 -in "$D/certs/$f.pem" -noout
        # the passphrase protects every key
        grep -q 'BEGIN ENCRYPTED PRIVATE KEY' "$D/private/$f.key"
    done
}

ca_certs_served() {
    local n
    for n in root v1 v2 v3 v4; do
        expect_status 200 GET "/ca/$n.crt" "$WORK/$n.crt"
        header "$WORK/$n.crt.hdr" Content-Type | grep_q -i '^application/pkix-cert'
        openssl x509 -in "$D/certs/$n.pem" -outform DER | cmp - "$WORK/$n.crt"
    done
    expect_status 200 GET /ca/chain.pem "$WORK/chain.pem"
    header "$WORK/chain.pem.hdr" Content-Type | grep_q -i '^application/x-pem-file'
    # the chain holds exactly these certificates
    rm -rf "$WORK/chain" && mkdir "$WORK/chain"
    awk -v d="$WORK/chain" '/-BEGIN CERTIFICATE-/ { n++ }
        n { print > (d "/" n ".pem") }' "$WORK/chain.pem"
    for n in "$WORK"/chain/*.pem; do
        openssl x509 -in "$n" -noout -fingerprint -sha256
    done | sort >"$WORK/chain.fpr"
    for n in root v1 v2 v3 v4; do
        openssl x509 -in "$D/certs/$n.pem" -noout -fingerprint -sha256
    done | sort >"$WORK/files.fpr"
    cmp "$WORK/chain.fpr" "$WORK/files.fpr"
}

# has_policy CERT LEVEL: CERT asserts our level OID and names its CA.
has_policy() {
    openssl x509 -in "$1" -noout -text >"$1.txt"
    grep -q "Policy: $ARC.1.$2\$" "$1.txt"
}

issue_all() {
    csr_new v1 ec "email:alice@example.org"
    csr_new v2 ec
    csr_new v3a ec "email:$V3_MAILBOX"
    csr_new v3b ec
    csr_new v3enc rsa2048
    csr_new v4 ec "email:jane.roe@bank.example"
    # two through the command (each run opens the CA: decrypts all its
    # keys, seconds under ASan), the others through the daemon
    issue_http v1 1 signing alice@example.org v1
    issue_http v2 2 signing john.doe@example.org v2 \
        given_name=John surname=Doe
    issue_cli v3a 3 signing "$V3_MAILBOX" v3a \
        --org "Example Org GmbH" --org-id NTRDE-HRB123456 --country DE
    issue_http v3b 3 signing "$V3_MAILBOX" v3b organisation="Example Org GmbH" \
        organisation_id=NTRDE-HRB123456 country=DE
    issue_http v3enc 3 encryption "$V3_MAILBOX" v3enc \
        organisation="Example Org GmbH" organisation_id=NTRDE-HRB123456 \
        country=DE
    issue_cli v4 4 signing jane.roe@bank.example v4 --org "Bank Example AG" \
        --given-name Jane --surname Roe --title "Head of Payments"
    local n
    for n in v1 v2 v3a v3b v3enc v4; do
        has_policy "$C/$n.pem" "${n:1:1}"
        grep -q "Issuer: .*CN *= *mailseal V${n:1:1} " "$C/$n.pem.txt"
        # the store has it under that serial, the issuing CA's name
        [ "$(db_sql "SELECT count(*) FROM certs WHERE serial_hex = \
            '$(cat "$C/$n.serial")'")" = 1 ]
    done
    grep -q 'email:alice@example.org' "$C/v1.pem.txt"
    grep -q 'O *= *Example Org GmbH' "$C/v3a.pem.txt"
    grep -q 'Key Encipherment' "$C/v3enc.pem.txt"
    # six different serials
    [ "$(cat "$C"/*.serial | sort -u | wc -l)" -eq 6 ]
}

# ossl_verify PURPOSE LEVEL CERT [MORE OPENSSL VERIFY ARGS...]
ossl_verify() {
    local purpose=$1 level=$2 cert=$3
    shift 3
    openssl verify -CAfile "$ROOT" -untrusted "$D/certs/v$level.pem" \
        -purpose "$purpose" "$@" "$cert"
}

openssl_verify_purposes() {
    local n
    for n in v1 v2 v3a v3b v4; do
        ossl_verify smimesign "${n:1:1}" "$C/$n.pem"
    done
    ossl_verify smimeencrypt 3 "$C/v3enc.pem"
    # negative controls: the split model holds, the chain matters
    expect_fail ossl_verify smimesign 3 "$C/v3enc.pem"
    expect_fail ossl_verify smimeencrypt 3 "$C/v3a.pem"
    expect_fail ossl_verify smimesign 2 "$C/v3a.pem"
}

# ocsp NAME LEVEL OUT [OPENSSL OCSP ARGS...]: openssl ocsp -url asks our
# responder about WORK/certs/NAME.pem (or, with NAME "-", only what the
# extra args name) and verifies the answer; output (both streams) to OUT.
ocsp() {
    local name=$1 level=$2 out=$3 certarg=()
    shift 3
    [ "$name" = - ] || certarg=(-cert "$C/$name.pem")
    openssl ocsp -issuer "$D/certs/v$level.pem" "${certarg[@]}" "$@" \
        -url "$URL/ocsp" -CAfile "$ROOT" -resp_text >"$out" 2>&1 || {
        cat "$out"
        return 1
    }
    cat "$out"
    grep -q '^Response verify OK' "$out"
    expect_fail grep -q 'WARNING' "$out"
}

ocsp_good_nonce() {
    ocsp v3a 3 "$WORK/ocsp-good.txt"
    grep -q "v3a.pem: good\$" "$WORK/ocsp-good.txt"
    grep -q 'Next Update:' "$WORK/ocsp-good.txt"
    # the nonce came back (openssl compared it: no warning, exit 0)
    grep -q 'OCSP Nonce' "$WORK/ocsp-good.txt"
    # signed by the delegated responder of the V3 CA
    grep -q "Subject: .*CN *= *mailseal V3 Organisation OCSP Responder" \
        "$WORK/ocsp-good.txt"
}

ocsp_good_no_nonce() {
    ocsp v3b 3 "$WORK/ocsp-nonce.txt" -no_nonce
    grep -q "v3b.pem: good\$" "$WORK/ocsp-nonce.txt"
    expect_fail grep -q 'OCSP Nonce' "$WORK/ocsp-nonce.txt"
    ocsp v1 1 "$WORK/ocsp-v1.txt"
    grep -q "v1.pem: good\$" "$WORK/ocsp-v1.txt"
    # two certificates in one request, two answers
    ocsp v3a 3 "$WORK/ocsp-two.txt" -cert "$C/v3enc.pem"
    grep -q "v3a.pem: good\$" "$WORK/ocsp-two.txt"
    grep -q "v3enc.pem: good\$" "$WORK/ocsp-two.txt"
}

ocsp_unknown() {
    ocsp - 3 "$WORK/ocsp-unknown.txt" -serial 0x7e57ab1e00c0ffee0001
    grep -q ': unknown$' "$WORK/ocsp-unknown.txt"
    # a serial of another level's CA is unknown to this one
    ocsp - 2 "$WORK/ocsp-unknown2.txt" -serial "0x$(cat "$C/v3a.serial")"
    grep -q ': unknown$' "$WORK/ocsp-unknown2.txt"
}

# ocsp_get NAME LEVEL OUT: the RFC 6960 appendix A GET form (no nonce),
# the answer verified with openssl ocsp -respin.
ocsp_get() {
    local name=$1 level=$2 out=$3 enc
    openssl ocsp -issuer "$D/certs/v$level.pem" -cert "$C/$name.pem" \
        -no_nonce -reqout "$out.req"
    enc=$(base64 -w0 "$out.req" | sed 's/+/%2B/g; s,/,%2F,g; s/=/%3D/g')
    expect_status 200 GET "/ocsp/$enc" "$out.der"
    header "$out.der.hdr" Content-Type | grep_q -i '^application/ocsp-response'
    openssl ocsp -respin "$out.der" -issuer "$D/certs/v$level.pem" \
        -cert "$C/$name.pem" -CAfile "$ROOT" -no_nonce -resp_text \
        >"$out" 2>&1
    cat "$out"
    grep -q '^Response verify OK' "$out"
}

# cache_headers HDR: RFC 5019 caching of a nonce-less answer.
cache_headers() {
    local cc age
    cc=$(header "$1" Cache-Control)
    echo "Cache-Control: $cc"
    age=$(sed -n 's/.*max-age=\([0-9]*\).*/\1/p' <<<"$cc")
    [ -n "$age" ] && [ "$age" -gt 0 ] && [ "$age" -le 86400 ]
    grep -q 'public' <<<"$cc"
    grep -q 'no-transform' <<<"$cc"
    [ -n "$(header "$1" Last-Modified)" ]
    [ -n "$(header "$1" Expires)" ]
}

ocsp_get_form() {
    ocsp_get v3a 3 "$WORK/get-good.txt"
    grep -q 'v3a.pem: good$' "$WORK/get-good.txt"
    cache_headers "$WORK/get-good.txt.der.hdr"
    # an answer with a nonce is never cacheable
    openssl ocsp -issuer "$D/certs/v3.pem" -cert "$C/v3a.pem" \
        -reqout "$WORK/nonce.req"
    expect_status 200 POST /ocsp "$WORK/nonce.der" \
        -H 'Content-Type: application/ocsp-request' \
        --data-binary @"$WORK/nonce.req"
    header "$WORK/nonce.der.hdr" Content-Type | grep_q -i '^application/ocsp-response'
    header "$WORK/nonce.der.hdr" Cache-Control
    expect_fail grep -Eqi 'max-age=[1-9]|public' \
        <(header "$WORK/nonce.der.hdr" Cache-Control)
    # -no_nonce: else openssl adds a fresh nonce to the -reqin request; the
    # request's own nonce is still compared with the answer's
    openssl ocsp -respin "$WORK/nonce.der" -reqin "$WORK/nonce.req" \
        -no_nonce -issuer "$D/certs/v3.pem" -cert "$C/v3a.pem" \
        -CAfile "$ROOT" >"$WORK/nonce.txt" 2>&1
    cat "$WORK/nonce.txt"
    grep -q 'v3a.pem: good$' "$WORK/nonce.txt"
}

# crl_fetch LEVEL OUT: GET /crl/vLEVEL.crl, checked by openssl against the
# CA; OUT gets the PEM, OUT.txt its text.
crl_fetch() {
    expect_status 200 GET "/crl/v$1.crl" "$2.der"
    header "$2.der.hdr" Content-Type | grep_q -i '^application/pkix-crl'
    openssl crl -inform DER -in "$2.der" -out "$2"
    openssl crl -in "$2" -CAfile "$D/certs/v$1.pem" -noout 2>&1 |
        grep_q 'verify OK'
    openssl crl -in "$2" -noout -text >"$2.txt"
    grep -q 'Next Update:' "$2.txt"
}

# crl_number CRL-TEXT: the cRLNumber as openssl prints it (decimal or 0x).
crl_number() {
    grep -A1 'X509v3 CRL Number' "$1" | tail -n 1 | tr -d ' ' | grep .
}

# greater A B: the number A (decimal or 0x hex, any size) is above B.
greater() {
    python3 -c 'import sys; sys.exit(0 if int(sys.argv[1], 0) >
                int(sys.argv[2], 0) else 1)' "$1" "$2"
}

crl_before() {
    crl_fetch 3 "$WORK/v3-before.crl"
    cat "$WORK/v3-before.crl.txt"
    grep -q 'No Revoked Certificates' "$WORK/v3-before.crl.txt"
    crl_number "$WORK/v3-before.crl.txt"
    ossl_verify smimesign 3 "$C/v3a.pem" -crl_check \
        -CRLfile "$WORK/v3-before.crl"
}

revoke_cli() {
    "$MSD" -d "$D" revoke --serial "$(cat "$C/v3a.serial")" \
        --reason keyCompromise
}

ocsp_revoked() {
    # at once: no wait, no poll
    ocsp v3a 3 "$WORK/ocsp-revoked.txt"
    grep -q 'v3a.pem: revoked$' "$WORK/ocsp-revoked.txt"
    grep -q 'Reason: keyCompromise' "$WORK/ocsp-revoked.txt"
    grep -q 'Revocation Time:' "$WORK/ocsp-revoked.txt"
    ocsp v3a 3 "$WORK/ocsp-revoked2.txt" -no_nonce
    grep -q 'v3a.pem: revoked$' "$WORK/ocsp-revoked2.txt"
    # the GET form asked before is not answered from a stale cache
    ocsp_get v3a 3 "$WORK/get-revoked.txt"
    grep -q 'v3a.pem: revoked$' "$WORK/get-revoked.txt"
    # the other certificate of that CA stays good
    ocsp v3b 3 "$WORK/ocsp-still-good.txt"
    grep -q 'v3b.pem: good$' "$WORK/ocsp-still-good.txt"
}

crl_after() {
    local s
    crl_fetch 3 "$WORK/v3-after.crl"
    cat "$WORK/v3-after.crl.txt"
    s=$(cat "$C/v3a.serial")
    grep -qi "Serial Number: $s\$" "$WORK/v3-after.crl.txt"
    grep -q 'Key Compromise' "$WORK/v3-after.crl.txt"
    [ "$(grep -c 'Serial Number:' "$WORK/v3-after.crl.txt")" -eq 1 ]
    greater "$(crl_number "$WORK/v3-after.crl.txt")" \
        "$(crl_number "$WORK/v3-before.crl.txt")"
    ossl_verify smimesign 3 "$C/v3a.pem" -crl_check \
        -CRLfile "$WORK/v3-after.crl" >"$WORK/verify-revoked.txt" 2>&1 && {
        cat "$WORK/verify-revoked.txt"
        return 1
    }
    cat "$WORK/verify-revoked.txt"
    grep -q 'certificate revoked' "$WORK/verify-revoked.txt"
    ossl_verify smimesign 3 "$C/v3b.pem" -crl_check \
        -CRLfile "$WORK/v3-after.crl"
    # the other CAs' CRLs are served and empty
    crl_fetch 1 "$WORK/v1.crl"
    grep -q 'No Revoked Certificates' "$WORK/v1.crl.txt"
}

# tsa_stamp DIGEST NAME: openssl ts -query -DIGEST -cert for a file ->
# POST /tsa -> openssl ts -verify (with and without the query).
tsa_stamp() {
    local dgst=$1 n=$WORK/$2
    head -c 4096 /dev/urandom >"$n.data"
    openssl ts -query -data "$n.data" "-$dgst" -cert -out "$n.tsq"
    expect_status 200 POST /tsa "$n.tsr" \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$n.tsq"
    header "$n.tsr.hdr" Content-Type | grep_q -i '^application/timestamp-reply'
    openssl ts -verify -data "$n.data" -in "$n.tsr" -CAfile "$ROOT" \
        -untrusted "$D/certs/tsa.pem"
    openssl ts -verify -queryfile "$n.tsq" -in "$n.tsr" -CAfile "$ROOT" \
        -untrusted "$D/certs/tsa.pem"
    openssl ts -reply -in "$n.tsr" -text >"$n.txt"
    cat "$n.txt"
    grep -q '^Status: Granted' "$n.txt"
    grep -q "^Policy OID: $ARC.2.1\$" "$n.txt"
    grep -qi "^Hash Algorithm: $dgst\$" "$n.txt"
    # the nonce is echoed
    openssl ts -query -in "$n.tsq" -text | grep '^Nonce: ' >"$n.nonce"
    expect_fail grep -q unspecified "$n.nonce"
    grep -qxF "$(cat "$n.nonce")" "$n.txt"
    # a changed file does not verify
    printf x >>"$n.data"
    expect_fail openssl ts -verify -data "$n.data" -in "$n.tsr" \
        -CAfile "$ROOT" -untrusted "$D/certs/tsa.pem"
}

tsa_sha256() { tsa_stamp sha256 ts256; }
tsa_sha512() { tsa_stamp sha512 ts512; }

# sign_with NAME LEVEL OUT: mailseal sign with an issued certificate.
sign_with() {
    message "$WORK/$3.plain" "$4" "signed with $1" "Hello from $1."
    "$MS" sign --cert "$C/$1.pem" --key "$C/$1.key" \
        --chain "$D/certs/v$2.pem" <"$WORK/$3.plain" >"$WORK/$3"
}

gpgsm_good() {
    cat "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] GOODSIG ' "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] VALIDSIG ' "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] TRUST_FULLY ' "$WORK/gpgsm.status"
    expect_fail grep -q '^\[GNUPG:\] BADSIG ' "$WORK/gpgsm.status"
}

gpgsm_verifies() {
    gpgsm_setup
    sign_with v4 4 gpgsm.eml "Jane Roe <jane.roe@bank.example>"
    mime_split_signed "$WORK/gpgsm.eml" "$WORK/gpgsm.content" \
        "$WORK/gpgsm.p7s"
    gpgsm_b --verify "$WORK/gpgsm.p7s" "$WORK/gpgsm.content"
    gpgsm_good
    # negative control: a changed body is a bad signature
    sed 's/^Hello from/Hello FROM/' "$WORK/gpgsm.content" >"$WORK/gpgsm.bad"
    expect_fail gpgsm_b --verify "$WORK/gpgsm.p7s" "$WORK/gpgsm.bad"
}

nss_verifies() {
    nss_setup
    sign_with v2 2 nss.eml "John Doe <john.doe@example.org>"
    mime_split_signed "$WORK/nss.eml" "$WORK/nss.content" "$WORK/nss.p7s"
    nss_decode_expect "$WORK/nss.p7s" "$WORK/nss.content" "$WORK/nss.out"
    grep -q '^Hello from v2\.' "$WORK/nss.out"
}

seal_open_timestamp() {
    local ts now
    message "$WORK/seal.plain" "Info <$V3_MAILBOX>" "sealed" "Sealed and stamped."
    "$MS" seal --cert "$C/v3b.pem" --key "$C/v3b.key" \
        --chain "$D/certs/v3.pem" --recipient-cert "$C/v3enc.pem" \
        --tsa "$URL/tsa" <"$WORK/seal.plain" >"$WORK/sealed.eml"
    "$MS" open --cert "$C/v3enc.pem" --key "$C/v3enc.key" --trust "$ROOT" \
        --tsa-trust "$ROOT" --offline --no-system-trust --json \
        --output "$WORK/sealed.open" <"$WORK/sealed.eml" >"$WORK/sealed.json"
    cat "$WORK/sealed.json"
    json_expect "$WORK/sealed.json" .verdict '"validated"' .level '"V3"' \
        .signer.email "\"$V3_MAILBOX\"" .encrypted true .timestamp.valid true
    ts=$(jq -r .timestamp.time "$WORK/sealed.json")
    now=$(date -u +%s)
    ts=$(date -u -d "$ts" +%s)
    [ $((now - ts)) -lt 600 ] && [ $((ts - now)) -lt 600 ]
    grep -q '^Sealed and stamped\.' "$WORK/sealed.open"
}

revoke_http() {
    local s
    s=$(cat "$C/v1.serial")
    jq -n --arg s "$s" '{serial: $s, reason: "superseded"}' >"$WORK/rv.json"
    # without the token: refused, nothing revoked
    expect_status 401 POST /ca/revoke "$WORK/rv-noauth" \
        -H 'Content-Type: application/json' --data-binary @"$WORK/rv.json"
    ocsp v1 1 "$WORK/rv-still-good.txt"
    grep -q 'v1.pem: good$' "$WORK/rv-still-good.txt"
    [ "$(admin_post /ca/revoke "$WORK/rv-out" "$WORK/rv.json")" = 200 ]
    ocsp v1 1 "$WORK/rv-revoked.txt"
    grep -q 'v1.pem: revoked$' "$WORK/rv-revoked.txt"
    grep -q 'Reason: superseded' "$WORK/rv-revoked.txt"
}

audit_intact() {
    local rows
    rows=$(audit_rows)
    [ "$rows" -eq "$(db_sql 'SELECT count(*) FROM audit')" ]
    [ "$(db_sql "SELECT count(*) FROM audit WHERE event = 'cert.issue'")" \
        -eq "$(db_sql 'SELECT count(*) FROM certs')" ]
}

if [ -z "$PG_URL_FILE" ]; then
    check "mailseald --init: fingerprint printed, keys encrypted" init_output
    check "GET /ca/*.crt and /ca/chain.pem serve the CA certificates" ca_certs_served
fi
check "issue (command and POST /ca/issue): V1..V4 signing, V3 RSA encryption" issue_all
check "openssl verify -purpose smimesign/smimeencrypt accepts them" openssl_verify_purposes
check "openssl ocsp: good, nonce echoed, delegated responder verified" ocsp_good_nonce
check "openssl ocsp -no_nonce: good, no nonce; two certificates at once" ocsp_good_no_nonce
check "openssl ocsp -serial never issued: unknown" ocsp_unknown
if [ -z "$PG_URL_FILE" ]; then
    check "OCSP GET form verifies, cacheable; a nonce answer is not" ocsp_get_form
fi
check "GET /crl/v3.crl before revocation: signed, empty, chain ok" crl_before
check "mailseald revoke --reason keyCompromise" revoke_cli
check "openssl ocsp at once: revoked with reason; the other stays good" ocsp_revoked
check "CRL after revocation: openssl verify -crl_check rejects it, accepts the other" crl_after
check "openssl ts -sha256 -cert -> POST /tsa -> openssl ts -verify OK, nonce echoed" tsa_sha256
check "openssl ts -sha512 -> POST /tsa -> openssl ts -verify OK" tsa_sha512
if [ -z "$PG_URL_FILE" ]; then
    gpgsm_home
    check "gpgsm verifies mailseal sign with an issued V4 certificate" gpgsm_verifies
    check "NSS cmsutil verifies mailseal sign with an issued V2 certificate" nss_verifies
    check "mailseal seal --tsa; open shows V3 and a verified timestamp" seal_open_timestamp
    check "POST /ca/revoke: 401 without token, then revoked (superseded)" revoke_http
fi
check "audit-verify intact; one cert.issue row per certificate" audit_intact
term_rc=0
msd_term || term_rc=$?
check "SIGTERM: mailseald exits 0 (got $term_rc)" test "$term_rc" -eq 0
check "no sanitizer report in the daemon log" no_sanitizer_report
finish
