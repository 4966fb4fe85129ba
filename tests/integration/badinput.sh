#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# badinput.sh - mailseald refuses bad input with a clear 4xx (or, for the
# CLI, exit 1 and a message) and writes nothing: malformed, trailing and
# oversized DER to /tsa and /ocsp, wrong content types, refused digest
# algorithms (an RFC 3161 badAlg rejection), bad base64 in the OCSP GET
# form, unknown paths, and bad CSRs through `mailseald issue` and POST
# /ca/issue (which also needs the admin token). Each check compares the
# store's row counts (sqlite3) and the audit-verify row count before and
# after.
#
# Usage: badinput.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"
need openssl curl jq sqlite3

ROOT=$D/certs/root.pem
B=$WORK/bad # request bodies and answers
mkdir -p "$B"
MAX_BODY=65536 # the default max_body

msd_init --insecure-keys || fatal "mailseald --init"
msd_start || fatal "mailseald starts and answers /healthz"
ok "mailseald listening on $URL"

# The requests the bad ones are made from, and one good TSA request first:
# the TSA reserves a block of serials (an audit row) on its first stamp,
# which is a legitimate write and must not count against a later check.
setup() {
    csr_new good ec "email:alice@example.org"
    issue_cli good 1 signing alice@example.org good
    head -c 1000 /dev/urandom >"$B/data"
    openssl ts -query -data "$B/data" -sha256 -cert -out "$B/good.tsq"
    expect_status 200 POST /tsa "$B/good.tsr" \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$B/good.tsq"
    openssl ts -verify -data "$B/data" -in "$B/good.tsr" -CAfile "$ROOT" \
        -untrusted "$D/certs/tsa.pem"
    openssl ocsp -issuer "$D/certs/v1.pem" -cert "$WORK/certs/good.pem" \
        -reqout "$B/good.ocspreq"
    expect_status 200 POST /ocsp "$B/good.ocsp" \
        -H 'Content-Type: application/ocsp-request' \
        --data-binary @"$B/good.ocspreq"
    store_snapshot "$B/store"
    cat "$B/store"
}
check "set-up: one certificate, one timestamp, one OCSP answer; store counted" setup
SNAP=$B/store

# post PATH TYPE BODY-FILE OUT: POST with that content type; the status.
post() {
    http POST "$1" "$4" -H "Content-Type: $2" --data-binary @"$3"
}

# want CODE GOT: report a wrong status.
want() {
    if [ "$1" != "$2" ]; then
        echo "status $2, want $1"
        return 1
    fi
}

# ocsp_status_is FILE NAME: FILE is an OCSPResponse with status NAME
# (malformedRequest, tryLater ...) and no response bytes.
ocsp_status_is() {
    header "$1.hdr" Content-Type | grep_q -i '^application/ocsp-response'
    openssl ocsp -respin "$1" -resp_text -noverify >"$1.txt" 2>&1 || true
    cat "$1.txt"
    grep -Eqi "(OCSP Response Status|Responder Error): $2" "$1.txt"
}

# tsa_rejected FILE FAILINFO: FILE is a TimeStampResp "rejection" naming
# FAILINFO (openssl's text for it) and no token.
tsa_rejected() {
    header "$1.hdr" Content-Type | grep_q -i '^application/timestamp-reply'
    openssl ts -reply -in "$1" -text >"$1.txt"
    cat "$1.txt"
    grep -q '^Status: Rejected' "$1.txt"
    grep -qi "$2" "$1.txt"
    grep -A1 '^TST info:' "$1.txt" | grep_q 'Not included' # no token
}

# json_or_tsa_refusal FILE: the answer of /tsa to something that is not a
# TimeStampReq: the JSON error of the interface (a TimeStampResp rejection
# with badDataFormat is also clear and accepted); never a token.
json_or_tsa_refusal() {
    if header "$1.hdr" Content-Type | grep_q -i '^application/json'; then
        json_error "$1"
    else
        tsa_rejected "$1" 'wrong format'
    fi
}

tsa_malformed() {
    printf 'this is not DER at all' >"$B/junk"
    want 400 "$(post /tsa application/timestamp-query "$B/junk" "$B/t1")"
    json_error "$B/t1"
    # a DER SEQUENCE, but no TimeStampReq
    printf '\x30\x03\x02\x01\x05' >"$B/seq"
    want 400 "$(post /tsa application/timestamp-query "$B/seq" "$B/t2")"
    json_or_tsa_refusal "$B/t2"
    # truncated
    head -c 20 "$B/good.tsq" >"$B/trunc.tsq"
    want 400 "$(post /tsa application/timestamp-query "$B/trunc.tsq" "$B/t3")"
    json_or_tsa_refusal "$B/t3"
    store_unchanged "$SNAP"
}

tsa_trailing() {
    { cat "$B/good.tsq"; printf 'GARBAGE'; } >"$B/trail.tsq"
    want 400 "$(post /tsa application/timestamp-query "$B/trail.tsq" "$B/t4")"
    json_or_tsa_refusal "$B/t4"
    { cat "$B/good.tsq"; printf '\x00\x00'; } >"$B/trail0.tsq"
    want 400 "$(post /tsa application/timestamp-query "$B/trail0.tsq" "$B/t5")"
    json_or_tsa_refusal "$B/t5"
    store_unchanged "$SNAP"
}

oversized() {
    head -c $((MAX_BODY + 1)) /dev/zero >"$B/big"
    want 413 "$(post /tsa application/timestamp-query "$B/big" "$B/o1")"
    json_error "$B/o1"
    want 413 "$(post /ocsp application/ocsp-request "$B/big" "$B/o2")"
    # exactly max_body bytes is read and refused as malformed, not as size
    head -c "$MAX_BODY" /dev/zero >"$B/max"
    want 400 "$(post /tsa application/timestamp-query "$B/max" "$B/o3")"
    store_unchanged "$SNAP"
}

wrong_type() {
    want 415 "$(post /tsa application/octet-stream "$B/good.tsq" "$B/w1")"
    json_error "$B/w1"
    want 415 "$(post /tsa application/ocsp-request "$B/good.tsq" "$B/w2")"
    want 415 "$(http POST /tsa "$B/w3" --data-binary @"$B/good.tsq")"
    want 415 "$(post /ocsp text/plain "$B/good.ocspreq" "$B/w4")"
    want 415 "$(post /ocsp application/timestamp-query "$B/good.ocspreq" "$B/w5")"
    issue_json "$B/ok.json" 1 signing alice@example.org "$WORK/csr/good.csr"
    want 415 "$(http POST /ca/issue "$B/w6" \
        -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: text/plain' \
        --data-binary @"$B/ok.json")"
    json_error "$B/w6"
    store_unchanged "$SNAP"
}

# The SHA-256 OID 2.16.840.1.101.3.4.2.1 with its last arc made 127: an
# algorithm nobody knows.
tsa_unknown_oid() {
    xxd -p "$B/good.tsq" | tr -d '\n' |
        sed 's/0609608648016503040201/060960864801650304027f/' |
        xxd -r -p >"$B/unknown.tsq"
    expect_fail cmp -s "$B/good.tsq" "$B/unknown.tsq"
    want 400 "$(post /tsa application/timestamp-query "$B/unknown.tsq" "$B/a1")"
    tsa_rejected "$B/a1" 'unrecognized or unsupported algorithm'
    store_unchanged "$SNAP"
}

tsa_sha1() {
    openssl ts -query -data "$B/data" -sha1 -cert -out "$B/sha1.tsq"
    want 400 "$(post /tsa application/timestamp-query "$B/sha1.tsq" "$B/a2")"
    tsa_rejected "$B/a2" 'unrecognized or unsupported algorithm'
    openssl ts -query -data "$B/data" -md5 -out "$B/md5.tsq"
    want 400 "$(post /tsa application/timestamp-query "$B/md5.tsq" "$B/a3")"
    tsa_rejected "$B/a3" 'unrecognized or unsupported algorithm'
    store_unchanged "$SNAP"
}

ocsp_malformed() {
    want 400 "$(post /ocsp application/ocsp-request "$B/junk" "$B/m1")"
    ocsp_status_is "$B/m1" malformedRequest
    { cat "$B/good.ocspreq"; printf 'GARBAGE'; } >"$B/trail.ocspreq"
    want 400 "$(post /ocsp application/ocsp-request "$B/trail.ocspreq" "$B/m2")"
    ocsp_status_is "$B/m2" malformedRequest
    head -c 30 "$B/good.ocspreq" >"$B/trunc.ocspreq"
    want 400 "$(post /ocsp application/ocsp-request "$B/trunc.ocspreq" "$B/m3")"
    ocsp_status_is "$B/m3" malformedRequest
    # an empty body
    : >"$B/empty"
    want 400 "$(post /ocsp application/ocsp-request "$B/empty" "$B/m4")"
    store_unchanged "$SNAP"
}

ocsp_get_bad() {
    want 400 "$(http GET '/ocsp/%%%not*base64!!' "$B/g1")"
    want 400 "$(http GET '/ocsp/MEUwQzBBMD8wPTAJBgUrDgMCGgUABBQ%3D%3D%3D' "$B/g2")"
    # valid base64 of bytes that are no OCSPRequest
    want 400 "$(http GET "/ocsp/$(printf 'hello world' | base64 -w0 |
        sed 's/=/%3D/g')" "$B/g3")"
    ocsp_status_is "$B/g3" malformedRequest
    code=$(http GET /ocsp/ "$B/g4")
    [ "$code" = 400 ] || [ "$code" = 404 ]
    store_unchanged "$SNAP"
}

unknown_paths() {
    want 404 "$(http GET /nope "$B/u1")"
    json_error "$B/u1"
    want 404 "$(http GET /crl/v5.crl "$B/u2")"
    want 404 "$(http GET /crl/v0.crl "$B/u3")"
    want 404 "$(http GET /ca/v9.crt "$B/u4")"
    want 404 "$(http POST /tsa/extra "$B/u5" \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$B/good.tsq")"
    want 405 "$(http GET /tsa "$B/u6")"
    want 405 "$(http GET /ca/issue "$B/u7")"
    store_unchanged "$SNAP"
}

# The bad CSRs, made once: extra SAN, other mailbox, broken signature,
# RSA-1024, and a good one for the missing-fields case.
make_bad_csrs() {
    csr_new extra ec "email:alice@example.org,email:bob@example.org"
    csr_new extradns ec "email:alice@example.org,DNS:mail.example.org"
    csr_new other ec "email:mallory@example.org"
    csr_new sig ec "email:alice@example.org"
    csr_broken sig
    openssl req -in "$WORK/csr/sig-badsig.csr" -inform DER -noout 2>/dev/null
    # (openssl req -verify exits 0 either way: its words tell)
    openssl req -in "$WORK/csr/sig-badsig.csr" -inform DER -noout -verify \
        2>&1 | grep_q 'verify failure'
    openssl req -in "$WORK/csr/sig.csr" -noout -verify 2>&1 |
        grep_q 'verify OK'
    csr_new weak rsa1024 "email:alice@example.org"
    csr_new fine ec
}
check "bad CSRs made (openssl: the flipped one parses, fails -verify)" make_bad_csrs

# cli_refused WHAT MESSAGE-REGEX LEVEL CSR-FILE [ISSUE OPTIONS...]:
# mailseald issue exits 1 (CLI_EXIT: the exit codes allowed, default 1)
# with an error naming the problem, writes no certificate, and the store is
# unchanged.
CLI_EXIT=1
cli_refused() {
    local what=$1 re=$2 level=$3 csr=$4 rc=0
    shift 4
    rm -f "$B/refused.pem"
    "$MSD" -d "$D" issue --level "$level" --use signing \
        --mailbox alice@example.org "$@" --csr "$csr" --out "$B/refused.pem" \
        >"$B/cli.out" 2>"$B/cli.err" || rc=$?
    echo "$what: exit $rc: $(cat "$B/cli.err")"
    [[ " $CLI_EXIT " == *" $rc "* ]]
    grep -Eqi "$re" "$B/cli.err"
    [ ! -s "$B/refused.pem" ]
    expect_fail grep -q 'BEGIN CERTIFICATE' "$B/cli.out"
    store_unchanged "$SNAP"
}

cli_extra_san() {
    cli_refused "extra email SAN" 'subjectAltName' 1 "$WORK/csr/extra.csr"
    cli_refused "extra DNS SAN" 'subjectAltName' 1 "$WORK/csr/extradns.csr"
}
cli_other_mailbox() {
    cli_refused "other mailbox" 'subjectAltName|mailbox' 1 "$WORK/csr/other.csr"
}
cli_bad_signature() {
    cli_refused "broken signature" 'signature' 1 "$WORK/csr/sig-badsig.csr"
}
cli_weak_key() {
    cli_refused "RSA-1024" 'RSA|bits|key' 1 "$WORK/csr/weak.csr"
}
cli_missing_fields() {
    # a usage error (2) is as clear as an identity error (1) here
    CLI_EXIT="1 2"
    cli_refused "V2 without names" 'given name|surname' 2 "$WORK/csr/fine.csr"
    cli_refused "V3 without organisation" 'organi[sz]ation' 3 \
        "$WORK/csr/fine.csr" --org-id NTRDE-HRB1 --country DE
    cli_refused "V4 without title" 'title' 4 "$WORK/csr/fine.csr" \
        --org "Bank Example AG" --given-name Jane --surname Roe
}

check "mailseald issue refuses an extra SAN (email, DNS)" cli_extra_san
check "mailseald issue refuses a CSR for another mailbox" cli_other_mailbox
check "mailseald issue refuses a CSR with a broken signature" cli_bad_signature
check "mailseald issue refuses an RSA-1024 key" cli_weak_key
check "mailseald issue refuses missing level fields (V2, V3, V4)" cli_missing_fields

# http_refused WHAT MESSAGE-REGEX JSON-FILE: POST /ca/issue with the admin
# token gets 400 or 422, a JSON error naming the problem; store unchanged.
http_refused() {
    local code
    code=$(admin_post /ca/issue "$B/h.out" "$3")
    echo "$1: $code $(cat "$B/h.out")"
    [ "$code" = 400 ] || [ "$code" = 422 ]
    json_error "$B/h.out"
    jq -r .error "$B/h.out" | grep -Eqi "$2"
    store_unchanged "$SNAP"
}

http_token() {
    local wrong=${ADMIN_TOKEN%?}
    # the same length, the last digit changed
    if [ "${ADMIN_TOKEN: -1}" = 0 ]; then wrong+=1; else wrong+=0; fi
    issue_json "$B/ok.json" 1 signing alice@example.org "$WORK/csr/good.csr"
    want 401 "$(http POST /ca/issue "$B/k1" -H 'Content-Type: application/json' \
        --data-binary @"$B/ok.json")"
    json_error "$B/k1"
    want 401 "$(http POST /ca/issue "$B/k2" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $wrong" --data-binary @"$B/ok.json")"
    want 401 "$(http POST /ca/issue "$B/k3" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer ${ADMIN_TOKEN}00" --data-binary @"$B/ok.json")"
    want 401 "$(http POST /ca/issue "$B/k4" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer " --data-binary @"$B/ok.json")"
    want 401 "$(http POST /ca/issue "$B/k5" -H 'Content-Type: application/json' \
        -H "Authorization: Basic $(printf 'admin:%s' "$ADMIN_TOKEN" | base64 -w0)" \
        --data-binary @"$B/ok.json")"
    jq -n --arg s "$(cat "$WORK/certs/good.serial")" \
        '{serial: $s, reason: "keyCompromise"}' >"$B/rv.json"
    want 401 "$(http POST /ca/revoke "$B/k6" -H 'Content-Type: application/json' \
        -H "Authorization: Bearer nottheadmintoken" --data-binary @"$B/rv.json")"
    store_unchanged "$SNAP"
}

http_bad_csrs() {
    local n
    for n in extra extradns other; do
        issue_json "$B/$n.json" 1 signing alice@example.org "$WORK/csr/$n.csr"
        http_refused "$n" 'subjectAltName|mailbox' "$B/$n.json"
    done
    # the DER CSR with the broken signature, as PEM
    openssl base64 -in "$WORK/csr/sig-badsig.csr" |
        sed '1i -----BEGIN CERTIFICATE REQUEST-----' |
        sed '$a -----END CERTIFICATE REQUEST-----' >"$B/badsig.pem"
    issue_json "$B/sig.json" 1 signing alice@example.org "$B/badsig.pem"
    http_refused "broken signature" 'signature' "$B/sig.json"
    issue_json "$B/weak.json" 1 signing alice@example.org "$WORK/csr/weak.csr"
    http_refused "RSA-1024" 'RSA|bits|key' "$B/weak.json"
}

http_missing_fields() {
    issue_json "$B/v2.json" 2 signing alice@example.org "$WORK/csr/fine.csr"
    http_refused "V2 without names" 'given|surname|name' "$B/v2.json"
    jq 'del(.mailbox)' "$B/ok.json" >"$B/nombx.json"
    http_refused "no mailbox" 'mailbox' "$B/nombx.json"
    jq 'del(.csr)' "$B/ok.json" >"$B/nocsr.json"
    http_refused "no CSR" 'csr' "$B/nocsr.json"
    jq '.level = 7' "$B/ok.json" >"$B/level7.json"
    http_refused "level 7" 'level' "$B/level7.json"
    jq '.use = "both"' "$B/ok.json" >"$B/useboth.json"
    http_refused "use both" 'use' "$B/useboth.json"
    printf '{"level": 1, "use": "signing", ' >"$B/broken.json"
    want 400 "$(admin_post /ca/issue "$B/j1" "$B/broken.json")"
    json_error "$B/j1"
    store_unchanged "$SNAP"
}

# Positive control: the token and the body of the checks above are right,
# so the refusals were for the reasons given.
http_good() {
    local serial before after
    before=$(db_sql 'SELECT count(*) FROM certs')
    want 201 "$(admin_post /ca/issue "$B/g.out" "$B/ok.json")"
    cat "$B/g.out"
    serial=$(jq -r .serial "$B/g.out")
    jq -r .certificate "$B/g.out" >"$B/g.pem"
    [ "$(serial_of "$B/g.pem")" = "$serial" ]
    after=$(db_sql 'SELECT count(*) FROM certs')
    [ "$after" -eq $((before + 1)) ]
    [ "$(db_sql "SELECT count(*) FROM certs WHERE serial_hex = '$serial'")" = 1 ]
}

# Revocation refusals: unknown serial, bad reason, already revoked (the
# first record stays: reason superseded, not the second keyCompromise).
revoke_refused() {
    local s rc=0
    s=$(cat "$WORK/certs/good.serial")
    store_snapshot "$B/store1" # after the control issuance
    "$MSD" -d "$D" revoke --serial 0badbad0 2>"$B/rv.err" || rc=$?
    cat "$B/rv.err"
    [ "$rc" -eq 1 ] && grep -qi 'no certificate\|not found\|unknown' "$B/rv.err"
    rc=0
    "$MSD" -d "$D" revoke --serial "$s" --reason bogus 2>"$B/rv.err" || rc=$?
    cat "$B/rv.err"
    [ "$rc" -ne 0 ] && grep -qi 'reason' "$B/rv.err"
    jq -n '{serial: "0badbad0", reason: "keyCompromise"}' >"$B/rv1.json"
    want 404 "$(admin_post /ca/revoke "$B/r1" "$B/rv1.json")"
    json_error "$B/r1"
    jq -n --arg s "$s" '{serial: $s, reason: "bogus"}' >"$B/rv2.json"
    want 400 "$(admin_post /ca/revoke "$B/r2" "$B/rv2.json")"
    json_error "$B/r2"
    store_unchanged "$B/store1"
    # revoked once, then refused twice
    jq -n --arg s "$s" '{serial: $s, reason: "superseded"}' >"$B/rv3.json"
    want 200 "$(admin_post /ca/revoke "$B/r3" "$B/rv3.json")"
    store_snapshot "$B/store2"
    rc=0
    "$MSD" -d "$D" revoke --serial "$s" --reason keyCompromise \
        2>"$B/rv.err" || rc=$?
    cat "$B/rv.err"
    [ "$rc" -eq 1 ] && grep -qi 'already revoked' "$B/rv.err"
    jq -n --arg s "$s" '{serial: $s, reason: "keyCompromise"}' >"$B/rv4.json"
    want 409 "$(admin_post /ca/revoke "$B/r4" "$B/rv4.json")"
    json_error "$B/r4"
    store_unchanged "$B/store2"
    [ "$(db_sql "SELECT reason FROM revocations WHERE serial_hex = '$s'")" = 4 ]
}

check "/tsa: malformed DER -> 400 JSON, nothing stored" tsa_malformed
check "/tsa: trailing garbage -> 400" tsa_trailing
check "body over max_body -> 413 (/tsa, /ocsp); exactly max_body -> 400" oversized
check "wrong content type -> 415 (/tsa, /ocsp, /ca/issue)" wrong_type
check "/tsa: unknown digest OID -> 400 + RFC 3161 rejection badAlg" tsa_unknown_oid
check "/tsa: SHA-1 and MD5 imprints -> 400 + rejection badAlg" tsa_sha1
check "/ocsp: malformed, trailing, truncated, empty -> 400 malformedRequest" ocsp_malformed
check "/ocsp GET: bad base64 or no OCSPRequest -> 400" ocsp_get_bad
check "unknown paths 404, wrong methods 405" unknown_paths
check "POST /ca/issue and /ca/revoke: no, wrong, short, long token -> 401" http_token
check "POST /ca/issue: extra SAN, other mailbox, bad signature, RSA-1024 -> 4xx" http_bad_csrs
check "POST /ca/issue: missing fields, bad level/use, broken JSON -> 400/422" http_missing_fields
check "POST /ca/issue with the token and a good CSR -> 201 (control)" http_good
check "revoke: unknown serial 1/404, bad reason, again 1/409; first record kept" revoke_refused
check "audit chain intact after it all" audit_rows

term_rc=0
msd_term || term_rc=$?
check "SIGTERM: mailseald exits 0 (got $term_rc)" test "$term_rc" -eq 0
check "no sanitizer report in the daemon log" no_sanitizer_report
finish
