#!/bin/bash
# profile.sh - the mailseal profile (mailseal(1), PROFILE): private modes
# and refusals, sign/decrypt/open with nothing but a profile, PKCS#12 export
# read by openssl and (legacy) gpgsm, import of an openssl PKCS#12, wrong
# passwords, and key continuity warnings in open.
# Usage: profile.sh MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

require openssl gpgsm gpgconf jq

export MAILSEAL_HOME="$WORK/home"
unset MAILSEAL_PROFILE MAILSEAL_PASSPHRASE_FILE
PROF="$MAILSEAL_HOME/default"
printf 'interop\n' >"$WORK/pw"
chmod 600 "$WORK/pw"
printf 'not it\n' >"$WORK/badpw"
chmod 600 "$WORK/badpw"
OPEN=(--offline --no-system-trust)

# p12_openssl NAME OUT: NAME.pem + NAME.key (+ its CA) as OpenSSL 3 writes
# a PKCS#12 by default (AES-256, PBKDF2), password "interop".
p12_openssl() {
    local ca
    ca=$(openssl x509 -in "$PKI/$1.pem" -noout -issuer | sed 's/.*V\([1-4]\) .*/\1/')
    openssl pkcs12 -export -in "$PKI/$1.pem" -inkey "$PKI/$1.key" \
        -certfile "$PKI/ca-v$ca.pem" -name "$1" -passout pass:interop -out "$2"
}

mode_of() {
    stat -c %a "$1"
}

fpr_of() {
    openssl x509 -in "$1" -noout -fingerprint -sha256
}

# ---------------------------------------------------------------- import

p12_openssl v1-sign "$WORK/sign.p12"
p12_openssl v1-enc "$WORK/enc.p12"

wrong_password() {
    local rc=0
    "$MS" import --password-file "$WORK/badpw" "$WORK/sign.p12" 2>err.txt || rc=$?
    cat err.txt
    [ "$rc" -eq 1 ]
    grep -q 'wrong password' err.txt
    [ ! -e "$PROF" ] # nothing is left behind
}
check "import with a wrong password is a clear error, writes nothing" wrong_password

import_openssl() {
    "$MS" import --password-file "$WORK/pw" "$WORK/sign.p12"
    "$MS" import --password-file "$WORK/pw" "$WORK/enc.p12"
    grep -qx 'address = eve@example.net' "$PROF/profile.conf"
    cmp <(fpr_of "$PKI/v1-sign.pem") <(fpr_of "$PROF"/sign/*.pem)
    cmp <(fpr_of "$PKI/v1-enc.pem") <(fpr_of "$PROF"/enc/*.pem)
    # the same PKCS#12 again changes nothing
    "$MS" import --password-file "$WORK/pw" "$WORK/sign.p12"
    [ "$(find "$PROF/sign" -name '*.key' | wc -l)" -eq 1 ]
}
check "import of an openssl PKCS#12 fills the profile" import_openssl

private_modes() {
    [ "$(mode_of "$MAILSEAL_HOME")" = 700 ]
    [ "$(mode_of "$PROF")" = 700 ]
    [ "$(mode_of "$PROF/sign")" = 700 ]
    [ "$(mode_of "$PROF/profile.conf")" = 600 ]
    local f
    for f in "$PROF"/sign/* "$PROF"/enc/*; do
        [ "$(mode_of "$f")" = 600 ]
    done
    grep -q 'BEGIN PRIVATE KEY' "$PROF"/sign/*.key
}
check "profile directories are 0700, files 0600" private_modes

# anchors.pem is what enroll installs from the server; here the test root.
cp "$PKI/root.pem" "$PROF/anchors.pem"
chmod 600 "$PROF/anchors.pem"
message "$WORK/msg.eml" "eve@example.net" "profile" "hello from the profile"

refusals() {
    local key rc=0
    key=$(echo "$PROF"/sign/*.key)
    chmod 640 "$key"
    "$MS" sign <"$WORK/msg.eml" >/dev/null 2>err.txt || rc=$?
    chmod 600 "$key"
    cat err.txt
    [ "$rc" -eq 2 ]
    grep -q 'chmod 600' err.txt
    chmod 755 "$PROF"
    rc=0
    "$MS" sign <"$WORK/msg.eml" >/dev/null 2>err.txt || rc=$?
    chmod 700 "$PROF"
    cat err.txt
    [ "$rc" -eq 2 ]
    grep -q 'chmod 700' err.txt
    rc=0
    "$MS" sign --profile nosuch <"$WORK/msg.eml" >/dev/null 2>err.txt || rc=$?
    cat err.txt
    [ "$rc" -eq 2 ]
    grep -q 'no profile at' err.txt
}
check "group/world access and missing profiles are refused clearly" refusals

only_profile() {
    "$MS" sign <"$WORK/msg.eml" >signed.eml
    # explicit flags still work alongside a profile
    ms_verify_expect signed.eml mailbox-validated V1 eve@example.net
    "$MS" open "${OPEN[@]}" --json <signed.eml >open.json
    json_expect open.json .verdict '"mailbox-validated"' .continuity.status '"new"'
    # the signature names the profile's encryption certificate too
    "$MS" encrypt --recipient-cert "$PKI/v1-enc.pem" <signed.eml >enc.eml
    "$MS" open "${OPEN[@]}" --json --output enc.open <enc.eml >enc.json
    json_expect enc.json .verdict '"mailbox-validated"' .encrypted true \
        .continuity.status '"same"'
    tr -d '\r' <enc.open | grep_q -x 'hello from the profile'
    "$MS" decrypt <enc.eml >dec.eml
    tr -d '\r' <dec.eml | grep_q 'hello from the profile'
    # openssl verifies what the profile signed
    openssl cms -verify -in signed.eml -CAfile "$PKI/root.pem" -purpose smimesign \
        -out /dev/null
}
check "sign, decrypt and open with only a profile" only_profile

# ---------------------------------------------------------------- export

export_default() {
    "$MS" export --password-file "$WORK/pw" -o out.p12
    [ "$(mode_of out.p12)" = 600 ]
    openssl pkcs12 -in out.p12 -passin pass:interop -info -nodes -out all.pem 2>info.txt
    cat info.txt
    grep -q 'MAC: sha256' info.txt
    grep -q 'PBES2, PBKDF2, AES-256-CBC' info.txt
    grep -q 'friendlyName: eve@example.net signing' all.pem
    grep -q 'friendlyName: eve@example.net encryption' all.pem
    [ "$(grep -c 'BEGIN PRIVATE KEY' all.pem)" -eq 2 ]
    # signing, encryption and the V1 CA certificate
    [ "$(grep -c 'BEGIN CERTIFICATE' all.pem)" -eq 3 ]
    # openssl decrypts with the exported encryption key
    openssl pkcs12 -in out.p12 -passin pass:interop -nocerts -nodes -out keys.pem
    openssl cms -decrypt -in enc.eml -recip "$PKI/v1-enc.pem" \
        -inkey <(awk '/friendlyName: eve@example.net encryption/ { k = 1 }
                      k { print } /END PRIVATE KEY/ { k = 0 }' keys.pem) -out clear.eml
    grep -q 'Content-Type: multipart/signed' clear.eml
}
check "export (default) is read by openssl pkcs12, its key decrypts" export_default

export_wrong_password() {
    local rc=0
    "$MS" export --password-file "$WORK/pw" -o out.p12
    expect_fail openssl pkcs12 -in out.p12 -passin pass:wrong -noout 2>/dev/null
    mkdir -p other
    MAILSEAL_HOME="$WORK/other" "$MS" import --password-file "$WORK/badpw" out.p12 \
        2>err.txt || rc=$?
    cat err.txt
    [ "$rc" -eq 1 ]
    grep -q 'wrong password' err.txt
}
check "a wrong password is refused by openssl and by import" export_wrong_password

round_trip() {
    "$MS" export --legacy --password-file "$WORK/pw" -o legacy.p12
    openssl pkcs12 -legacy -in legacy.p12 -passin pass:interop -info -noout 2>info.txt
    cat info.txt
    grep -q 'MAC: sha1' info.txt
    grep -q 'pbeWithSHA1And3-KeyTripleDES-CBC' info.txt
    MAILSEAL_HOME="$WORK/copy" "$MS" import --password-file "$WORK/pw" out.p12
    cmp <(fpr_of "$PROF"/sign/*.pem) <(fpr_of "$WORK"/copy/default/sign/*.pem)
    cmp <(fpr_of "$PROF"/enc/*.pem) <(fpr_of "$WORK"/copy/default/enc/*.pem)
    cp "$PKI/root.pem" "$WORK/copy/default/anchors.pem"
    chmod 600 "$WORK/copy/default/anchors.pem"
    MAILSEAL_HOME="$WORK/copy" "$MS" open "${OPEN[@]}" --json <enc.eml >copy.json
    json_expect copy.json .verdict '"mailbox-validated"' .encrypted true
}
check "export/import round trip; the copy opens mail" round_trip

# ms_export_gpgsm NAME OUT: the profile's key of certificate NAME, exported
# with --legacy (gpgsm 2.2 reads the first key of a file only).
ms_export_gpgsm() {
    case "$1" in
    *-sign) "$MS" export --legacy --signing-only --password-file "$WORK/pw" -o "$2" ;;
    *) "$MS" export --legacy --encryption-only --password-file "$WORK/pw" -o "$2" ;;
    esac
}

gpgsm_home
gpgsm_setup
check "export --legacy: gpgsm imports the signing key" gpgsm_import_key v1-sign ms_export_gpgsm
check "export --legacy: gpgsm imports the encryption key" gpgsm_import_key v1-enc ms_export_gpgsm

gpgsm_decrypts() {
    mime_p7m enc.eml enc.der
    gpgsm_b --decrypt --output gpgsm.clear enc.der
    grep -q 'Content-Type: multipart/signed' gpgsm.clear
}
check "gpgsm decrypts with the exported encryption key" gpgsm_decrypts

# ------------------------------------------------------------ continuity

# leaf CA NAME OID: a signing certificate for eve@example.net from CA with
# the level OID, into NAME.pem/NAME.key.
leaf() {
    openssl req -new -newkey rsa:2048 -nodes -keyout "$WORK/$2.key" \
        -subj /CN=eve@example.net -out "$WORK/$2.csr" 2>/dev/null
    {
        echo "basicConstraints = CA:FALSE"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid:always"
        echo "keyUsage = critical, digitalSignature, nonRepudiation"
        echo "extendedKeyUsage = emailProtection"
        echo "subjectAltName = email:eve@example.net"
        echo "certificatePolicies = 2.25.70987990664227431197429845594075621128.1.$3"
    } >"$WORK/$2.ext"
    openssl x509 -req -in "$WORK/$2.csr" -CA "$PKI/$1.pem" -CAkey "$PKI/$1.key" \
        -set_serial "0x$(openssl rand -hex 10)" -days 400 \
        -extfile "$WORK/$2.ext" -out "$WORK/$2.pem" 2>/dev/null
}

# seen NAME CERT KEY CHAIN: bob opens eve's message signed with CERT, once
# with --json (to NAME.json) and once as text (stderr to NAME.txt), each
# from the same continuity record (a change is reported once).
seen() {
    local bob="$MAILSEAL_HOME/bob"
    message "$WORK/$1.eml" "eve@example.net" "$1" "message $1"
    "$MS" sign --cert "$2" --key "$3" --chain "$4" <"$WORK/$1.eml" >"$WORK/$1.signed"
    rm -rf "$WORK/seen.saved"
    if [ -d "$bob/seen" ]; then
        cp -a "$bob/seen" "$WORK/seen.saved"
    fi
    "$MS" open --profile bob "${OPEN[@]}" --json <"$WORK/$1.signed" >"$WORK/$1.json" || true
    rm -rf "$bob/seen"
    if [ -d "$WORK/seen.saved" ]; then
        cp -a "$WORK/seen.saved" "$bob/seen"
    fi
    "$MS" open --profile bob "${OPEN[@]}" <"$WORK/$1.signed" >/dev/null 2>"$WORK/$1.txt" || true
    cat "$WORK/$1.json" "$WORK/$1.txt"
}

continuity() {
    mkdir -p "$MAILSEAL_HOME/bob"
    chmod 700 "$MAILSEAL_HOME/bob"
    cat "$PKI/root.pem" "$PKI/other-root.pem" >"$MAILSEAL_HOME/bob/anchors.pem"
    chmod 600 "$MAILSEAL_HOME/bob/anchors.pem"
    leaf ca-v1 eve-v1b 1
    leaf ca-v4 eve-v4 4
    leaf ca-v4 eve-v4low 1
    seen first "$PKI/v1-sign.pem" "$PKI/v1-sign.key" "$PKI/v1-chain.pem"
    json_expect first.json .continuity.status '"new"' .continuity.warning null
    # a renewal under the same CA at the same level: silent
    seen renewed "$WORK/eve-v1b.pem" "$WORK/eve-v1b.key" "$PKI/v1-chain.pem"
    json_expect renewed.json .verdict '"mailbox-validated"' \
        .continuity.status '"renewed"' .continuity.warning null
    ! grep -q continuity renewed.txt
    # a higher level from another CA is a new CA: warned
    seen v4 "$WORK/eve-v4.pem" "$WORK/eve-v4.key" "$PKI/v4-chain.pem"
    json_expect v4.json .level '"V4"' .continuity.status '"new-ca"'
    grep -q 'warning: continuity: eve@example.net changed to another CA' v4.txt
    # the same CA, a lower level: warned
    seen low "$WORK/eve-v4low.pem" "$WORK/eve-v4low.key" "$PKI/v4-chain.pem"
    json_expect low.json .level '"V1"' .continuity.status '"lower-level"' \
        .continuity.previous.level '"V4"'
    grep -q 'warning: continuity: eve@example.net changed to a lower identity level: now V1' low.txt
    # another hierarchy at the same level: warned
    seen other "$PKI/other-v1.pem" "$PKI/other-v1.key" "$PKI/v1-chain.pem"
    json_expect other.json .continuity.status '"new-ca"'
    grep -q 'Other Test Root CA' other.txt
    # an unsigned message from a known correspondent: warned
    message "$WORK/plain.eml" "eve@example.net" "plain" "no signature"
    "$MS" open --profile bob "${OPEN[@]}" --json <plain.eml >plain.json || true
    json_expect plain.json .verdict '"unsigned"' .continuity.status '"unsigned"'
    # explicit --trust without --profile leaves the profile alone
    "$MS" open --trust "$PKI/root.pem" "${OPEN[@]}" --json <first.signed >explicit.json
    json_expect explicit.json .continuity null
}
check "continuity: renewal silent; new CA, lower level, unsigned warned" continuity

finish
