#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# to-gpgsm.sh - what mailseal signs verifies with GnuPG gpgsm, and what it
# encrypts with AES-256-CBC and PKCS#1 v1.5 key transport gpgsm decrypts
# (Debian 12's gpgsm 2.2 knows neither AuthEnvelopedData nor RSAES-OAEP).
# Usage: to-gpgsm.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl jq gpgsm gpgconf

# gpgsm_good: the last gpgsm run reported a good signature whose chain it
# validated up to the trusted root.
gpgsm_good() {
    cat "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] GOODSIG ' "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] VALIDSIG ' "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] TRUST_FULLY ' "$WORK/gpgsm.status"
    expect_fail grep -q '^\[GNUPG:\] BADSIG ' "$WORK/gpgsm.status"
}

setup() {
    gpgsm_setup
    gpgsm_import_key v2-enc
}

sign_detached() {
    message plain.eml "John Doe <john.doe@example.org>" "detached" \
        "Hello gpgsm, from mailseal."
    "$MS" sign --cert "$PKI/v2-sign.pem" --key "$PKI/v2-sign.key" \
        --chain "$PKI/v2-chain.pem" --encryption-cert "$PKI/v2-enc.pem" \
        <plain.eml >detached.eml
    mime_split_signed detached.eml detached.content detached.p7s
    gpgsm_b --verify detached.p7s detached.content
    gpgsm_good
}

sign_detached_tampered() {
    sed 's/^Hello gpgsm/Hello GPGSM/' detached.content >tampered.content
    cmp -s detached.content tampered.content && return 1
    expect_fail gpgsm_b --verify detached.p7s tampered.content
    grep -q '^\[GNUPG:\] BADSIG ' "$WORK/gpgsm.status"
}

sign_opaque() {
    message plain.eml "Info <info@example.com>" "opaque" "Opaque hello, gpgsm."
    "$MS" sign --opaque --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" <plain.eml >opaque.eml
    mime_p7m opaque.eml opaque.p7m
    gpgsm_b --output opaque.out --verify opaque.p7m
    gpgsm_good
    grep -q '^Opaque hello, gpgsm\.' opaque.out
}

sign_8bit() {
    ms_sign_8bit
    mime_split_signed 8bit-signed.eml 8bit.content 8bit.p7s
    gpgsm_b --verify 8bit.p7s 8bit.content
    gpgsm_good
    mime_decoded_body 8bit.content >8bit.decoded
    same_text 8bit.decoded 8bit.txt
}

encrypt_cbc() {
    "$MS" encrypt --recipient-cert "$PKI/v2-enc.pem" --cipher aes-256-cbc \
        <detached.eml >cbc.eml
    mime_p7m cbc.eml cbc.p7m
    gpgsm_b --output cbc.out --decrypt cbc.p7m
    cat "$WORK/gpgsm.status"
    grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$WORK/gpgsm.status"
    # the cleartext is the signed entity: gpgsm verifies it too
    mime_split_signed cbc.out cbc.content cbc.p7s
    gpgsm_b --verify cbc.p7s cbc.content
    gpgsm_good
    grep -q '^Hello gpgsm, from mailseal\.' cbc.content
}

seal() {
    message plain.eml "Info <info@example.com>" "seal" "Sealed for gpgsm."
    "$MS" seal --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" --recipient-cert "$PKI/v2-enc.pem" \
        <plain.eml >sealed.eml
    mime_p7m sealed.eml sealed.p7m
    gpgsm_b --output sealed.out --decrypt sealed.p7m
    grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$WORK/gpgsm.status"
    mime_split_signed sealed.out sealed.content sealed.p7s
    gpgsm_b --verify sealed.p7s sealed.content
    gpgsm_good
    grep -q '^Sealed for gpgsm\.' sealed.content
}

gpgsm_home
check "gpgsm home: root trusted, CAs and the v2-enc key imported" setup
check "mailseal sign (detached) verifies with gpgsm, chain trusted" sign_detached
check "gpgsm reports BADSIG for a changed detached body" sign_detached_tampered
check "mailseal sign --opaque verifies with gpgsm" sign_opaque
check "mailseal sign of an 8-bit UTF-8 body verifies with gpgsm, text intact" sign_8bit
check "mailseal encrypt aes-256-cbc, PKCS#1 v1.5: gpgsm decrypts, inner verifies" encrypt_cbc
check "mailseal seal (default: CBC, PKCS#1 v1.5): gpgsm decrypts, inner verifies" seal
finish
