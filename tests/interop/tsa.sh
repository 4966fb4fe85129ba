#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# tsa.sh - what our TSA (lib/ca/tsa.c, driven by ms-tsa-respond) answers
# verifies with `openssl ts -verify`, and openssl's requests are answered.
# Usage: tsa.sh MS_TSA_RESPOND PKI_DIR SCRATCH_DIR
# (common.sh calls the first argument MAILSEAL_CLI: here it is the
# ms-tsa-respond test tool.)
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl

DB=sqlite:$WORK/tsa.db
printf 'the bytes to time-stamp\n' >data

# respond NAME [ARGS for openssl ts -query...]: NAME.tsq -> NAME.tsr, text.
respond() {
    local name=$1
    shift
    openssl ts -query -data data "$@" -out "$name.tsq"
    "$MS" "$PKI/tsa.pem" "$PKI/tsa.key" - "$DB" <"$name.tsq" >"$name.tsr"
    openssl ts -reply -in "$name.tsr" -text >"$name.txt"
}

serial_of() {
    sed -n 's/^Serial number: 0x//p' "$1.txt"
}

granted_sha256_verifies() {
    respond a -sha256 -cert
    cat a.txt
    grep '^Status: Granted\.' a.txt
    grep '^Policy OID: 2\.25\.70987990664227431197429845594075621128\.2\.1$' a.txt
    grep '^Nonce: 0x' a.txt
    grep '^Accuracy: 0x01 seconds' a.txt
    openssl ts -verify -queryfile a.tsq -in a.tsr -CAfile "$PKI/root.pem"
    openssl ts -verify -data data -in a.tsr -CAfile "$PKI/root.pem"
    openssl ts -reply -in a.tsr -token_out -out a.tok
    openssl ts -verify -data data -in a.tok -token_in -CAfile "$PKI/root.pem"
}

other_data_or_anchor_refused() {
    printf 'other bytes\n' >other
    expect_fail openssl ts -verify -data other -in a.tsr -CAfile "$PKI/root.pem"
    expect_fail openssl ts -verify -data data -in a.tsr \
        -CAfile "$PKI/other-root.pem"
}

no_cert_req_no_nonce() {
    respond b -sha512 -no_nonce
    grep '^Status: Granted\.' b.txt
    grep '^Nonce: unspecified' b.txt
    expect_fail openssl ts -verify -queryfile b.tsq -in b.tsr \
        -CAfile "$PKI/root.pem"
    openssl ts -verify -queryfile b.tsq -in b.tsr -CAfile "$PKI/root.pem" \
        -untrusted "$PKI/tsa.pem"
}

sha3_granted() {
    respond c -sha3-256 -cert
    openssl ts -verify -queryfile c.tsq -in c.tsr -CAfile "$PKI/root.pem"
}

sha1_refused_bad_alg() {
    respond d -sha1 -cert
    cat d.txt
    grep '^Status: Rejected\.' d.txt
    grep 'unrecognized or unsupported algorithm identifier' d.txt
}

other_policy_refused() {
    respond e -sha256 -tspolicy 1.2.3.4
    grep '^Status: Rejected\.' e.txt
    grep 'requested TSA policy is not supported' e.txt
}

serials_increase_across_processes() {
    local s1 s2
    s1=$(serial_of a)
    respond f -sha256
    s2=$(serial_of f)
    echo "serials $s1 then $s2"
    [ -n "$s1" ] && [ -n "$s2" ]
    [ $((16#$s2)) -gt $((16#$s1)) ]
}

garbage_is_einval() {
    local rc=0
    printf 'not a request' >g.tsq
    "$MS" "$PKI/tsa.pem" "$PKI/tsa.key" - "$DB" <g.tsq >g.tsr || rc=$?
    [ "$rc" -eq 2 ]
    [ ! -s g.tsr ]
}

check "openssl ts -verify accepts a SHA-256 token (query, data, token)" \
    granted_sha256_verifies
check "openssl ts -verify refuses other data or another root" \
    other_data_or_anchor_refused
check "without certReq and nonce: verifies given the TSA certificate" \
    no_cert_req_no_nonce
check "SHA3-256 imprint granted and verified" sha3_granted
check "SHA-1 imprint rejected with badAlg" sha1_refused_bad_alg
check "another policy rejected with unacceptedPolicy" other_policy_refused
check "serials increase across processes on one database" \
    serials_increase_across_processes
check "not a TimeStampReq: exit 2 (MS_EINVAL), nothing written" \
    garbage_is_einval
finish
