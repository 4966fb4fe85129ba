#!/bin/bash
# shellcheck disable=SC2317 # functions run via check
# rotate.sh - `mailseald rotate` end to end on 127.0.0.1: a certificate
# issued before the rotation, then the OCSP responders and the TSA rotated
# and the daemon restarted: `openssl ocsp` still says good, now signed by
# the new responder (and not by the retired one); a new timestamp carries
# and verifies with the new TSA certificate; the old files are in
# retired/; a wrong command changes nothing; one audit row per item.
#
# Usage: rotate.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"
need openssl curl

# ocsp_good RESPONDER-CERT: john's status is good, and the answer verifies
# with exactly that responder certificate trusted for it (-VAfile).
ocsp_good() {
    local out
    out=$(openssl ocsp -issuer "$D/certs/v2.pem" -cert "$WORK/certs/john.pem" \
        -url "$URL/ocsp" -CAfile "$D/certs/root.pem" -no_nonce \
        -respout "$WORK/resp.der" 2>&1)
    echo "$out"
    [[ $out == *"Response verify OK"*"$WORK/certs/john.pem: good"* ]]
    out=$(openssl ocsp -respin "$WORK/resp.der" -VAfile "$1" \
        -issuer "$D/certs/v2.pem" -cert "$WORK/certs/john.pem" 2>&1)
    echo "$out"
    [[ $out == *"Response verify OK"* ]]
}

# stamp_ok: a new timestamp verifies and carries the current TSA cert.
stamp_ok() {
    local code c found=""
    printf 'rotate test %s\n' "$RANDOM" >"$WORK/data.txt"
    openssl ts -query -data "$WORK/data.txt" -sha256 -cert -out "$WORK/q.tsq"
    code=$(curl -sS -o "$WORK/r.tsr" -w '%{http_code}' \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$WORK/q.tsq" "$URL/tsa")
    [ "$code" = 200 ]
    openssl ts -verify -data "$WORK/data.txt" -in "$WORK/r.tsr" \
        -CAfile "$D/certs/root.pem"
    openssl ts -reply -in "$WORK/r.tsr" -token_out -out "$WORK/tok.der"
    openssl pkcs7 -inform DER -in "$WORK/tok.der" -print_certs \
        -out "$WORK/tok-certs.pem"
    rm -f "$WORK"/tok-cert-*.pem
    awk -v d="$WORK" '/BEGIN CERT/ { n++ } n { print > (d "/tok-cert-" n ".pem") }' \
        "$WORK/tok-certs.pem"
    for c in "$WORK"/tok-cert-*.pem; do
        [ "$(serial_of "$c")" = "$(serial_of "$D/certs/tsa.pem")" ] && found=1
    done
    [ -n "$found" ]
}

audit_rows() { "$MSD" -d "$D" audit-verify | sed 's/[^0-9]//g'; }

msd_init --insecure-keys || fatal "mailseald --init"
check "mailseald -n accepts the configuration --init wrote" \
    "$MSD" -n -d "$D"
csr_new john ec || fatal "CSR"
check "issue: a V2 signing certificate, its serial on stderr" \
    issue_cli john 2 signing john@example.org john \
    --given-name John --surname Doe
cp "$D/certs/ocsp-v2.pem" "$WORK/old-ocsp-v2.pem"
msd_start || fatal "mailseald starts and answers /healthz"
check "before rotation: OCSP good from the first responder" \
    ocsp_good "$WORK/old-ocsp-v2.pem"
check "before rotation: a timestamp by the first TSA certificate" stamp_ok
msd_term || fatal "SIGTERM"

# (`! cmd` would not stop a set -e function: refusals are tested with if.)
refused_changes_nothing() {
    if "$MSD" -d "$D" rotate ocsp --level 2; then return 1; fi
    if "$MSD" -d "$D" rotate ca; then return 1; fi
    cmp "$D/certs/ocsp-v2.pem" "$WORK/old-ocsp-v2.pem"
}
check "rotate with wrong options is refused and changes nothing" \
    refused_changes_nothing

rotated() {
    local before after old
    before=$(audit_rows)
    "$MSD" -d "$D" rotate ocsp >"$WORK/rotate.out"
    "$MSD" -d "$D" rotate tsa >>"$WORK/rotate.out"
    cat "$WORK/rotate.out"
    [ "$(grep -c '^rotated ' "$WORK/rotate.out")" = 5 ]
    old=$(serial_of "$WORK/old-ocsp-v2.pem")
    [ "$(serial_of "$D/certs/ocsp-v2.pem")" != "$old" ]
    cmp "$D/certs/retired/ocsp-v2-$old.pem" "$WORK/old-ocsp-v2.pem"
    after=$(audit_rows)
    [ "$after" = $((before + 5)) ]
}
check "rotate ocsp + tsa: five new certificates, old ones retired, five audit rows" \
    rotated

msd_start || fatal "mailseald restarts on the rotated directory"
check "after restart: OCSP good from the new responder" \
    ocsp_good "$D/certs/ocsp-v2.pem"
retired_not_signing() {
    if openssl ocsp -respin "$WORK/resp.der" -VAfile "$WORK/old-ocsp-v2.pem" \
        -issuer "$D/certs/v2.pem" -cert "$WORK/certs/john.pem" 2>&1 |
        grep "Response verify OK"; then
        return 1
    fi
}
check "after restart: the answer does not verify with the retired responder" \
    retired_not_signing
check "after restart: a timestamp by the new TSA certificate" stamp_ok
msd_term || fatal "SIGTERM"
finish
