#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# from-gpgsm.sh - what GnuPG gpgsm signs (detached and opaque) mailseal
# verifies with the right verdict and level; what gpgsm encrypts mailseal
# decrypt and mailseal open decrypt. gpgsm writes only the CMS object (BER,
# indefinite lengths); the MIME around it is built here, as a mail client
# using gpgsm would.
# Usage: from-gpgsm.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl jq gpgsm gpgconf

setup() {
    gpgsm_setup
    gpgsm_import_key v3-sign
    gpgsm_import_key v1-sign
    gpgsm --homedir "$GNUPGHOME" --batch --import "$PKI/v2-enc.pem"
}

# gpgsm_sign OUT SIGNER ARGS...: gpgsm signs with the key of SIGNER's mailbox.
gpgsm_sign() {
    local out=$1
    local signer=$2
    shift 2
    gpgsm_b --local-user "$signer" --output "$out" "$@"
    grep -q '^\[GNUPG:\] SIG_CREATED ' "$WORK/gpgsm.status"
}

sign_detached() {
    entity ent.txt "Signed by gpgsm, detached."
    gpgsm_sign ent.p7s info@example.com --detach-sign ent.txt
    # gpgsm writes BER with indefinite lengths (0x30 0x80)
    [ "$(od -An -tx1 -N2 ent.p7s | tr -d ' ')" = 3080 ]
    outer_headers "Info <info@example.com>" "gpgsm detached" >hdr.txt
    wrap_detached detached.eml ent.txt ent.p7s hdr.txt
    ms_verify_expect detached.eml validated V3 info@example.com
}

sign_detached_tampered() {
    sed 's/^Signed by gpgsm, detached\./Signed by mallory./' detached.eml \
        >tampered.eml
    expect_fail cmp -s detached.eml tampered.eml
    ms_verify_expect tampered.eml invalid null info@example.com
}

sign_opaque() {
    entity ent.txt "Signed by gpgsm, opaque."
    gpgsm_sign ent.p7m eve@example.net --sign ent.txt
    outer_headers "eve@example.net" "gpgsm opaque" >hdr.txt
    wrap_p7m opaque.eml signed-data ent.p7m hdr.txt
    ms_verify_expect opaque.eml mailbox-validated V1 eve@example.net
}

# gpgsm_encrypt OUT IN: gpgsm encrypts IN to john.doe@example.org (v2-enc).
gpgsm_encrypt() {
    gpgsm_b --recipient john.doe@example.org --output "$1" --encrypt "$2"
    test -s "$1"
}

encrypt() {
    entity ent.txt "Encrypted by gpgsm."
    gpgsm_encrypt ent.p7m ent.txt
    openssl cms -cmsout -print -inform DER -in ent.p7m >enc.asn1
    grep -q 'algorithm: rsaEncryption' enc.asn1
    outer_headers "Info <info@example.com>" "gpgsm encrypted" >hdr.txt
    wrap_p7m enc.eml enveloped-data ent.p7m hdr.txt
    printf 'Encrypted by gpgsm.\n' >enc.want
    ms_decrypt_expect enc.eml v2-enc v2-enc enc.want
    ms_open_expect enc.eml v2-enc v2-enc unsigned null null "Encrypted by gpgsm."
}

# The full peer path: gpgsm signs (V3, detached), the multipart/signed
# entity goes through gpgsm --encrypt; mailseal open decrypts and validates.
sign_then_encrypt() {
    entity ent.txt "Signed and encrypted by gpgsm."
    gpgsm_sign ent.p7s info@example.com --detach-sign ent.txt
    wrap_detached inner.txt ent.txt ent.p7s
    gpgsm_encrypt inner.p7m inner.txt
    outer_headers "Info <info@example.com>" "gpgsm sign+encrypt" >hdr.txt
    wrap_p7m sealed.eml enveloped-data inner.p7m hdr.txt
    ms_open_expect sealed.eml v2-enc v2-enc validated V3 info@example.com \
        "Signed and encrypted by gpgsm."
}

gpgsm_home
check "gpgsm home: root trusted, CAs, v3-sign and v1-sign keys imported" setup
check "gpgsm --detach-sign (V3), wrapped multipart/signed: validated V3" sign_detached
check "gpgsm detached, body changed: mailseal says invalid" sign_detached_tampered
check "gpgsm --sign (opaque, V1), wrapped pkcs7-mime: mailbox-validated V1" sign_opaque
check "gpgsm --encrypt: mailseal decrypt, open" encrypt
check "gpgsm sign then encrypt: mailseal open says validated V3" sign_then_encrypt
finish
