#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# from-nss.sh - what NSS cmsutil (the library of Thunderbird) signs,
# detached and opaque, mailseal verifies with the right verdict and level;
# what cmsutil encrypts mailseal decrypt and mailseal open decrypt. cmsutil
# writes only the CMS object; the MIME around it is built here, as
# Thunderbird does.
# Usage: from-nss.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl jq certutil cmsutil pk12util

# Jane Roe (V4) signs with v4-sign and names v4-enc in the
# SMIMEEncryptionKeyPreference attribute, as Thunderbird does; NSS files
# both certificates under one nickname and picks by key usage. John Doe
# (V2) is the recipient. Info (V3) receives too: only its certificate.
setup() {
    nss_setup
    nss_import_key v4-sign
    nss_import_key v4-enc
    nss_import_key v2-sign
    nss_import_key v2-enc
    certutil -A -d "$NSSDB" -n v3-enc -t ,, -i "$PKI/v3-enc.pem"
}

# nss_sign OUT NICK ARGS...: cmsutil -S as an S/MIME client signs: SHA-256,
# signingTime, SMIMECapabilities, encryption key preference.
nss_sign() {
    local out=$1
    local nick=$2
    shift 2
    cmsutil -S -d "$NSSDB" -p '' -N "$nick" -Y "$nick" -H SHA256 -G -P \
        -o "$out" "$@"
    test -s "$out"
}

sign_detached() {
    entity ent.txt "Signed by NSS, detached."
    nss_sign ent.p7s v4-sign -T -i ent.txt
    outer_headers "Jane Roe <jane.roe@bank.example>" "NSS detached" >hdr.txt
    wrap_detached detached.eml ent.txt ent.p7s hdr.txt
    ms_verify_expect detached.eml validated V4 jane.roe@bank.example
}

sign_detached_tampered() {
    sed 's/^Signed by NSS, detached\./Signed by mallory./' detached.eml \
        >tampered.eml
    expect_fail cmp -s detached.eml tampered.eml
    ms_verify_expect tampered.eml invalid null jane.roe@bank.example
}

sign_opaque() {
    entity ent.txt "Signed by NSS, opaque."
    nss_sign ent.p7m v2-sign -i ent.txt
    outer_headers "John Doe <john.doe@example.org>" "NSS opaque" >hdr.txt
    wrap_p7m opaque.eml signed-data ent.p7m hdr.txt
    ms_verify_expect opaque.eml validated V2 john.doe@example.org
}

# nss_encrypt OUT IN RECIPIENT: cmsutil -E of IN to RECIPIENT's mailbox.
nss_encrypt() {
    cmsutil -E -d "$NSSDB" -p '' -r "$3" -i "$2" -o "$1"
    test -s "$1"
}

encrypt() {
    entity ent.txt "Encrypted by NSS."
    nss_encrypt ent.p7m ent.txt info@example.com
    openssl cms -cmsout -print -inform DER -in ent.p7m >enc.asn1
    grep -q 'algorithm: rsaEncryption' enc.asn1
    outer_headers "Jane Roe <jane.roe@bank.example>" "NSS encrypted" >hdr.txt
    wrap_p7m enc.eml enveloped-data ent.p7m hdr.txt
    printf 'Encrypted by NSS.\n' >enc.want
    ms_decrypt_expect enc.eml v3-enc v3-enc enc.want
    ms_open_expect enc.eml v3-enc v3-enc unsigned null null "Encrypted by NSS."
}

# The full peer path: NSS signs (V4, detached), the multipart/signed entity
# goes through cmsutil -E; mailseal open decrypts and validates.
sign_then_encrypt() {
    entity ent.txt "Signed and encrypted by NSS."
    nss_sign ent.p7s v4-sign -T -i ent.txt
    wrap_detached inner.txt ent.txt ent.p7s
    nss_encrypt inner.p7m inner.txt john.doe@example.org
    outer_headers "Jane Roe <jane.roe@bank.example>" "NSS sign+encrypt" >hdr.txt
    wrap_p7m sealed.eml enveloped-data inner.p7m hdr.txt
    ms_open_expect sealed.eml v2-enc v2-enc validated V4 jane.roe@bank.example \
        "Signed and encrypted by NSS."
}

check "NSS database: root trusted, CAs, v4 and v2 keys, v3-enc certificate" setup
check "cmsutil -S -T (detached, V4), wrapped multipart/signed: validated V4" sign_detached
check "cmsutil detached, body changed: mailseal says invalid" sign_detached_tampered
check "cmsutil -S (opaque, V2), wrapped pkcs7-mime: validated V2" sign_opaque
check "cmsutil -E: mailseal decrypt, open" encrypt
check "cmsutil sign then encrypt: mailseal open says validated V4" sign_then_encrypt
finish
