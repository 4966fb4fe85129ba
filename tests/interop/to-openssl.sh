#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# to-openssl.sh - what mailseal signs verifies with openssl cms, and what
# it encrypts (CBC + PKCS#1 v1.5, GCM, OAEP, ECDH, seal) openssl decrypts.
# Usage: to-openssl.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl jq

# ossl_verify MSG OUT: openssl cms -verify with the S/MIME signing purpose.
ossl_verify() {
    openssl cms -verify -CAfile "$PKI/root.pem" -purpose smimesign \
        -in "$1" -out "$2"
}

sign_detached() {
    message plain.eml "John Doe <john.doe@example.org>" "detached" \
        "Hello from mailseal." "Second line."
    "$MS" sign --cert "$PKI/v2-sign.pem" --key "$PKI/v2-sign.key" \
        --chain "$PKI/v2-chain.pem" --encryption-cert "$PKI/v2-enc.pem" \
        <plain.eml >detached.eml
    ossl_verify detached.eml detached.out
    mime_split_signed detached.eml detached.content detached.p7s
    same_text detached.out detached.content
    grep -q '^Hello from mailseal\.' detached.out
}

sign_detached_tampered() {
    sed 's/^Hello from mailseal\./Hello from mallory./' detached.eml >tampered.eml
    cmp -s detached.eml tampered.eml && return 1
    expect_fail ossl_verify tampered.eml tampered.out
}

sign_opaque() {
    message plain.eml "Info <info@example.com>" "opaque" "Opaque hello."
    "$MS" sign --opaque --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" <plain.eml >opaque.eml
    grep -q 'smime-type=signed-data' opaque.eml
    ossl_verify opaque.eml opaque.out
    grep -q '^Opaque hello\.' opaque.out
}

sign_ec() {
    message plain.eml "alice@example.net" "ecdsa" "Signed with P-256."
    "$MS" sign --cert "$PKI/ec-sign.pem" --key "$PKI/ec-sign.key" \
        --chain "$PKI/v1-chain.pem" <plain.eml >ec.eml
    ossl_verify ec.eml ec.out
    grep -q '^Signed with P-256\.' ec.out
}

# An 8-bit UTF-8 body: mailseal base64-encodes it before signing; the
# signature holds and the decoded text is the original.
sign_8bit() {
    ms_sign_8bit
    # the signed message itself is 7-bit
    expect_fail grep -q -P '[\x80-\xff]' 8bit-signed.eml
    ossl_verify 8bit-signed.eml 8bit.out
    mime_decoded_body 8bit.out >8bit.decoded
    same_text 8bit.decoded 8bit.txt
}

# cms_print MSG: the ASN.1 dump of an S/MIME message's CMS.
cms_print() {
    openssl cms -cmsout -print -in "$1"
}

# ossl_decrypt MSG CERT KEY OUT
ossl_decrypt() {
    openssl cms -decrypt -recip "$PKI/$2.pem" -inkey "$PKI/$3.key" \
        -in "$1" -out "$4"
}

encrypt_cbc_pkcs1() {
    "$MS" encrypt --recipient-cert "$PKI/v2-enc.pem" --cipher aes-256-cbc \
        <detached.eml >cbc.eml
    cms_print cbc.eml >cbc.asn1
    grep -q 'contentType: pkcs7-envelopedData' cbc.asn1
    grep -q 'algorithm: aes-256-cbc' cbc.asn1
    grep -q 'algorithm: rsaEncryption' cbc.asn1
    ossl_decrypt cbc.eml v2-enc v2-enc cbc.out
    # the cleartext is the signed entity, which still verifies
    ossl_verify cbc.out cbc.verified
    grep -q '^Hello from mailseal\.' cbc.verified
}

encrypt_cbc_unsigned_refused() {
    message plain.eml "John Doe <john.doe@example.org>" "cbc" "Unsigned."
    expect_fail "$MS" encrypt --recipient-cert "$PKI/v2-enc.pem" \
        --cipher aes-256-cbc <plain.eml >refused.eml
}

encrypt_gcm() {
    message plain.eml "John Doe <john.doe@example.org>" "gcm" "GCM body."
    "$MS" encrypt --recipient-cert "$PKI/v3-enc.pem" --cipher aes-256-gcm \
        <plain.eml >gcm.eml
    cms_print gcm.eml >gcm.asn1
    grep -q 'contentType: id-smime-ct-authEnvelopedData' gcm.asn1
    grep -q 'algorithm: aes-256-gcm' gcm.asn1
    ossl_decrypt gcm.eml v3-enc v3-enc gcm.out
    grep -q '^GCM body\.' gcm.out
}

encrypt_gcm_tag_tampered() {
    # flip one bit of the ciphertext: openssl must refuse the tag
    mime_p7m gcm.eml gcm.der
    flip_byte gcm.der gcm-bad.der $(($(stat -c %s gcm.der) - 40))
    expect_fail openssl cms -decrypt -inform DER -in gcm-bad.der \
        -recip "$PKI/v3-enc.pem" -inkey "$PKI/v3-enc.key" -out gcm-bad.out
}

encrypt_oaep() {
    message plain.eml "John Doe <john.doe@example.org>" "oaep" "OAEP body."
    "$MS" encrypt --recipient-cert "$PKI/v4-enc.pem" --cipher aes-256-gcm \
        --key-transport oaep <plain.eml >oaep.eml
    cms_print oaep.eml >oaep.asn1
    grep -q 'algorithm: rsaesOaep' oaep.asn1
    ossl_decrypt oaep.eml v4-enc v4-enc oaep.out
    grep -q '^OAEP body\.' oaep.out
}

encrypt_ec() {
    # the signed P-256 message of sign_ec, default cipher choice
    "$MS" encrypt --recipient-cert "$PKI/ec-enc.pem" <ec.eml >ecdh.eml
    cms_print ecdh.eml >ecdh.asn1
    grep -q 'd.kari:' ecdh.asn1
    ossl_decrypt ecdh.eml ec-enc ec-enc ecdh.out
    ossl_verify ecdh.out ecdh.verified
    grep -q '^Signed with P-256\.' ecdh.verified
}

seal_roundtrip() {
    message plain.eml "Info <info@example.com>" "seal" "Sealed body."
    "$MS" seal --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" --encryption-cert "$PKI/v3-enc.pem" \
        --recipient-cert "$PKI/v2-enc.pem" <plain.eml >sealed.eml
    # both the recipient and the sender's own encryption key can open it
    ossl_decrypt sealed.eml v2-enc v2-enc sealed.out
    ossl_decrypt sealed.eml v3-enc v3-enc sealed-self.out
    cmp sealed.out sealed-self.out
    ossl_verify sealed.out sealed.verified
    grep -q '^Sealed body\.' sealed.verified
}

check "mailseal sign (detached, RSA, V2) verifies with openssl cms" sign_detached
check "openssl cms rejects the detached message with a changed body" sign_detached_tampered
check "mailseal sign --opaque verifies with openssl cms" sign_opaque
check "mailseal sign with a P-256 key verifies with openssl cms" sign_ec
check "mailseal sign of an 8-bit UTF-8 body verifies, text intact" sign_8bit
# Regression: seal without --encryption-cert used to add the sender's
# signing-only certificate as a recipient (gpgsm: "certificate should not
# have been used for encryption"), and encrypt took any certificate.
seal_no_signing_only_recipient() {
    message plain.eml "Info <info@example.com>" "seal" "No copy to a signing key."
    "$MS" seal --cert "$PKI/v3-sign.pem" --key "$PKI/v3-sign.key" \
        --chain "$PKI/v3-chain.pem" --recipient-cert "$PKI/v2-enc.pem" \
        <plain.eml >sealed-nocopy.eml
    cms_print sealed-nocopy.eml >sealed-nocopy.asn1
    [ "$(grep -c 'd.ktri:' sealed-nocopy.asn1)" -eq 1 ]
    expect_fail ossl_decrypt sealed-nocopy.eml v3-sign v3-sign nocopy.out
    ossl_decrypt sealed-nocopy.eml v2-enc v2-enc nocopy.out
    expect_fail "$MS" encrypt --recipient-cert "$PKI/v2-sign.pem" \
        --cipher aes-256-gcm <plain.eml >refused.eml
    expect_fail "$MS" encrypt --recipient-cert "$PKI/ec-sign.pem" \
        --cipher aes-256-gcm <plain.eml >refused.eml
}

check "mailseal encrypt aes-256-cbc, PKCS#1 v1.5: openssl decrypts" encrypt_cbc_pkcs1
check "mailseal encrypt refuses aes-256-cbc for an unsigned message" encrypt_cbc_unsigned_refused
check "mailseal encrypt aes-256-gcm (AuthEnvelopedData): openssl decrypts" encrypt_gcm
check "openssl refuses the GCM message with a flipped ciphertext bit" encrypt_gcm_tag_tampered
check "mailseal encrypt --key-transport oaep: openssl decrypts" encrypt_oaep
check "mailseal encrypt to a P-256 recipient (ECDH): openssl decrypts" encrypt_ec
check "mailseal seal: openssl decrypts (recipient and sender), inner verifies" seal_roundtrip
check "mailseal seal/encrypt never encrypt to a signing-only certificate" seal_no_signing_only_recipient
finish
