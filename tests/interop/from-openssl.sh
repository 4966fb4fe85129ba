#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# from-openssl.sh - what openssl cms and openssl smime sign mailseal
# verifies with the right verdict and level; what openssl cms encrypts
# (AES-256-CBC, AES-256-GCM, RSAES-OAEP, ECDH) mailseal decrypt and
# mailseal open decrypt.
# Usage: from-openssl.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=tests/interop/common.sh
. "$(dirname "$0")/common.sh"
require openssl jq

# The content openssl signs: written the way a script writes it, LF line
# ends; openssl canonicalises to CRLF for the signature.
text_entity() {
    printf 'Content-Type: text/plain; charset=us-ascii\n\n'
    printf '%s\n' "$@"
}

cms_sign_detached() {
    text_entity "Signed by openssl cms." >ent.txt
    openssl cms -sign -in ent.txt -signer "$PKI/v2-sign.pem" \
        -inkey "$PKI/v2-sign.key" -certfile "$PKI/v2-chain.pem" \
        -from "John Doe <john.doe@example.org>" -to recipient@example.org \
        -subject "openssl cms detached" -out cms-detached.eml
    grep -q 'multipart/signed' cms-detached.eml
    ms_verify_expect cms-detached.eml validated V2 john.doe@example.org
}

cms_sign_detached_tampered() {
    sed 's/^Signed by openssl cms\./Signed by mallory./' cms-detached.eml \
        >cms-tampered.eml
    expect_fail cmp -s cms-detached.eml cms-tampered.eml
    ms_verify_expect cms-tampered.eml invalid null john.doe@example.org
}

cms_sign_opaque() {
    text_entity "Opaque, signed by openssl cms." >ent.txt
    openssl cms -sign -nodetach -in ent.txt -signer "$PKI/v4-sign.pem" \
        -inkey "$PKI/v4-sign.key" -certfile "$PKI/v4-chain.pem" \
        -from "Jane Roe <jane.roe@bank.example>" -to recipient@example.org \
        -subject "openssl cms opaque" -out cms-opaque.eml
    grep -q 'smime-type=signed-data' cms-opaque.eml
    ms_verify_expect cms-opaque.eml validated V4 jane.roe@bank.example
}

cms_sign_ec() {
    text_entity "ECDSA P-256, signed by openssl cms." >ent.txt
    openssl cms -sign -in ent.txt -signer "$PKI/ec-sign.pem" \
        -inkey "$PKI/ec-sign.key" -certfile "$PKI/v1-chain.pem" \
        -from alice@example.net -to recipient@example.org \
        -subject "openssl cms ecdsa" -out cms-ec.eml
    ms_verify_expect cms-ec.eml mailbox-validated V1 alice@example.net
}

# openssl smime: PKCS#7, application/x-pkcs7-signature, micalg="sha-256".
smime_sign() {
    text_entity "Signed by openssl smime." >ent.txt
    openssl smime -sign -md sha256 -in ent.txt -signer "$PKI/v1-sign.pem" \
        -inkey "$PKI/v1-sign.key" -certfile "$PKI/v1-chain.pem" \
        -from "Eve <eve@example.net>" -to recipient@example.org \
        -subject "openssl smime" -out smime.eml
    grep -q 'application/x-pkcs7-signature' smime.eml
    ms_verify_expect smime.eml mailbox-validated V1 eve@example.net
}

# enc_expect MSG BODY-LINE: mailseal decrypt gives BODY-LINE as the body;
# mailseal open shows it too, with the verdict unsigned (nothing signed).
enc_expect() {
    printf '%s\n' "$2" >"$1.want"
    ms_decrypt_expect "$1" v2-enc v2-enc "$1.want"
    ms_open_expect "$1" v2-enc v2-enc unsigned null null "$2"
}

# ossl_encrypt OUT ARGS...: openssl cms -encrypt of ent.txt to v2-enc.
ossl_encrypt() {
    local out=$1
    shift
    openssl cms -encrypt -in ent.txt -from "Info <info@example.com>" \
        -to "John Doe <john.doe@example.org>" -subject "openssl encrypted" \
        -out "$out" "$@"
}

encrypt_cbc() {
    text_entity "CBC from openssl." >ent.txt
    ossl_encrypt enc-cbc.eml -aes-256-cbc "$PKI/v2-enc.pem"
    enc_expect enc-cbc.eml "CBC from openssl."
}

encrypt_gcm() {
    text_entity "GCM from openssl." >ent.txt
    ossl_encrypt enc-gcm.eml -aes-256-gcm "$PKI/v2-enc.pem"
    grep -qi 'smime-type=authenveloped-data' enc-gcm.eml
    enc_expect enc-gcm.eml "GCM from openssl."
}

encrypt_oaep() {
    text_entity "OAEP from openssl." >ent.txt
    ossl_encrypt enc-oaep.eml -aes-256-gcm -recip "$PKI/v2-enc.pem" \
        -keyopt rsa_padding_mode:oaep
    openssl cms -cmsout -print -in enc-oaep.eml | grep 'algorithm: rsaesOaep' >/dev/null
    enc_expect enc-oaep.eml "OAEP from openssl."
}

encrypt_ec() {
    text_entity "ECDH from openssl." >ent.txt
    ossl_encrypt enc-ec.eml -aes-256-gcm "$PKI/ec-enc.pem"
    printf 'ECDH from openssl.\n' >enc-ec.want
    ms_decrypt_expect enc-ec.eml ec-enc ec-enc enc-ec.want
    ms_open_expect enc-ec.eml ec-enc ec-enc unsigned null null \
        "ECDH from openssl."
}

# The full peer path: openssl cms signs (V3), then encrypts; mailseal open
# decrypts and validates.
sign_then_encrypt() {
    text_entity "Signed and encrypted by openssl." >ent.txt
    openssl cms -sign -in ent.txt -signer "$PKI/v3-sign.pem" \
        -inkey "$PKI/v3-sign.key" -certfile "$PKI/v3-chain.pem" -out inner.eml
    openssl cms -encrypt -aes-256-cbc -in inner.eml -from "Info <info@example.com>" \
        -to "John Doe <john.doe@example.org>" -subject "openssl sign+encrypt" \
        -out sealed.eml "$PKI/v2-enc.pem"
    ms_open_expect sealed.eml v2-enc v2-enc validated V3 info@example.com \
        "Signed and encrypted by openssl."
}

check "openssl cms -sign (detached, V2): mailseal says validated V2" cms_sign_detached
check "openssl cms -sign, body changed: mailseal says invalid" cms_sign_detached_tampered
check "openssl cms -sign -nodetach (opaque, V4): validated V4" cms_sign_opaque
check "openssl cms -sign with P-256 (V1): mailbox-validated V1" cms_sign_ec
check "openssl smime -sign (PKCS#7, V1): mailbox-validated V1" smime_sign
check "openssl cms -encrypt aes-256-cbc: mailseal decrypt, open" encrypt_cbc
check "openssl cms -encrypt aes-256-gcm: mailseal decrypt, open" encrypt_gcm
check "openssl cms -encrypt, RSAES-OAEP: mailseal decrypt, open" encrypt_oaep
check "openssl cms -encrypt to P-256 (ECDH): mailseal decrypt, open" encrypt_ec
check "openssl cms sign then encrypt: mailseal open says validated V3" sign_then_encrypt
finish
