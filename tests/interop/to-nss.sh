#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# to-nss.sh - what mailseal signs verifies with NSS cmsutil (the library of
# Thunderbird), and what it encrypts with AES-256-CBC and PKCS#1 v1.5 key
# transport cmsutil decrypts (NSS 3.87 knows neither AuthEnvelopedData nor
# RSAES-OAEP). cmsutil reads raw CMS: the signature part of a
# multipart/signed (with the signed part as detached content) or the
# application/pkcs7-mime body, base64-decoded.
# Usage: to-nss.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl jq certutil cmsutil pk12util

setup() {
    nss_setup
    nss_import_key v2-enc
}

sign_detached() {
    message plain.eml "John Doe <john.doe@example.org>" "detached" \
        "Hello NSS, from mailseal."
    "$MS" sign --cert "$PKI/v2-sign.pem" --key "$PKI/v2-sign.key" \
        --chain "$PKI/v2-chain.pem" --encryption-cert "$PKI/v2-enc.pem" \
        <plain.eml >detached.eml
    mime_split_signed detached.eml detached.content detached.p7s
    nss_decode_expect detached.p7s detached.content detached.out
}

sign_detached_tampered() {
    sed 's/^Hello NSS/Hello SSN/' detached.content >tampered.content
    cmp -s detached.content tampered.content && return 1
    cmsutil -D -d "$NSSDB" -p '' -h 2 -i detached.p7s -c tampered.content \
        -o tampered.raw
    head -n 3 tampered.raw
    grep -q 'signer0.status=DigestMismatch;' tampered.raw
}

sign_opaque() {
    message plain.eml "Info <info@example.com>" "opaque" "Opaque hello, NSS."
    "$MS" sign --opaque --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" <plain.eml >opaque.eml
    mime_p7m opaque.eml opaque.p7m
    nss_decode_expect opaque.p7m "" opaque.out
    grep -q '^Opaque hello, NSS\.' opaque.out
}

sign_ec() {
    message plain.eml "alice@example.net" "ecdsa" "Signed with P-256 for NSS."
    "$MS" sign --cert "$PKI/ec-sign.pem" --key "$PKI/ec-sign.key" \
        --chain "$PKI/v1-chain.pem" <plain.eml >ec.eml
    mime_split_signed ec.eml ec.content ec.p7s
    nss_decode_expect ec.p7s ec.content ec.out
}

sign_8bit() {
    ms_sign_8bit
    mime_split_signed 8bit-signed.eml 8bit.content 8bit.p7s
    nss_decode_expect 8bit.p7s 8bit.content 8bit.out
    mime_decoded_body 8bit.content >8bit.decoded
    same_text 8bit.decoded 8bit.txt
}

# nss_decrypt P7M OUT: cmsutil -D of enveloped data, the inner content to OUT.
nss_decrypt() {
    cmsutil -D -d "$NSSDB" -p '' -h 1 -i "$1" -o "$2.raw"
    head -n 2 "$2.raw"
    grep -q 'type=envelopedData;' "$2.raw"
    nss_content "$2.raw" "$2"
}

encrypt_cbc() {
    "$MS" encrypt --recipient-cert "$PKI/v2-enc.pem" --cipher aes-256-cbc \
        <detached.eml >cbc.eml
    mime_p7m cbc.eml cbc.p7m
    nss_decrypt cbc.p7m cbc.out
    # the cleartext is the signed entity: NSS verifies it too
    mime_split_signed cbc.out cbc.content cbc.p7s
    nss_decode_expect cbc.p7s cbc.content cbc.verified
    grep -q '^Hello NSS, from mailseal\.' cbc.content
}

seal() {
    message plain.eml "Info <info@example.com>" "seal" "Sealed for NSS."
    "$MS" seal --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" --encryption-cert "$PKI/v3-enc.pem" \
        --recipient-cert "$PKI/v2-enc.pem" <plain.eml >sealed.eml
    mime_p7m sealed.eml sealed.p7m
    nss_decrypt sealed.p7m sealed.out
    mime_split_signed sealed.out sealed.content sealed.p7s
    nss_decode_expect sealed.p7s sealed.content sealed.verified
    grep -q '^Sealed for NSS\.' sealed.content
}

check "NSS database: root trusted C,C,C, CAs and the v2-enc key imported" setup
check "mailseal sign (detached) verifies with cmsutil: GoodSignature" sign_detached
check "cmsutil reports DigestMismatch for a changed detached body" sign_detached_tampered
check "mailseal sign --opaque verifies with cmsutil" sign_opaque
check "mailseal sign with a P-256 key verifies with cmsutil" sign_ec
check "mailseal sign of an 8-bit UTF-8 body verifies with cmsutil, text intact" sign_8bit
check "mailseal encrypt aes-256-cbc, PKCS#1 v1.5: cmsutil decrypts, inner verifies" encrypt_cbc
check "mailseal seal (default: CBC, PKCS#1 v1.5): cmsutil decrypts, inner verifies" seal
finish
