#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# enroll.sh - `mailseal enroll` and `mailseal devices` against a real
# mailseald (modules ca tsa ocsp crl validate kms on 127.0.0.1), the
# challenge mails read from its spool directory: alice and bob enroll with
# the mailed code (--code -, standard input), alice's second device
# enrolls (same encryption key, its own signing certificate), alice seals
# to bob and bob opens it (mailbox-validated V1) and openssl cms decrypts
# it with bob's exported key; devices lists alice's two devices, revoking
# one revokes its signing certificate (openssl ocsp) and its credential
# while the other keeps working; a wrong code and a server that is down
# give clear errors and install nothing.
#
# Usage: enroll.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"

need openssl curl jq sqlite3 mkfifo

SPOOL=$D/spool
export MAILSEAL_HOME=$WORK/home # every profile of this test lives here
E=$WORK/e                       # per enrollment: NAME.out, NAME.err, NAME.rc
mkdir -p "$E"

msd_init --insecure-keys || fatal "mailseald --init"
msd_start || fatal "mailseald starts and answers /healthz"
ok "mailseald listening on $URL"

# ------------------------------------------------------------- helpers

# mail_for ADDR: the one spooled challenge mail to ADDR (prints its path).
mail_for() {
    local f
    f=$(grep -l -F -e "To: <$1>" "$SPOOL"/*.eml 2>/dev/null) || return 1
    [ "$(echo "$f" | wc -l)" = 1 ] || return 1
    echo "$f"
}

# code_of FILE: the code in a challenge mail.
code_of() { tr -d '\r' <"$1" | sed -n 's/^ *Code: //p'; }

# enroll NAME ADDR DEVICE PROFILE [CODE-FILTER]: runs mailseal enroll with
# --code -, waits (bounded) for the challenge mail in the spool and writes
# its code (through CODE-FILTER, e.g. to spoil it) to enroll's standard
# input. E/NAME.out, .err, .rc. Returns enroll's status.
enroll() {
    local name=$1 addr=$2 dev=$3 prof=$4 filter=${5:-cat} fifo=$E/$1.fifo
    local pid rc=0 f
    rm -f "$SPOOL"/*.eml "$fifo"
    mkfifo "$fifo"
    "$MS" enroll "$addr" --server "$URL" --device "$dev" --code - \
        --profile "$prof" <"$fifo" >"$E/$name.out" 2>"$E/$name.err" &
    pid=$!
    exec 3>"$fifo" # opens once enroll has opened its end
    if poll 30 mail_for "$addr" >/dev/null; then
        f=$(mail_for "$addr")
        code_of "$f" | $filter >&3
    fi
    exec 3>&-
    wait "$pid" || rc=$?
    echo "$rc" >"$E/$name.rc"
    cat "$E/$name.out" "$E/$name.err"
    return "$rc"
}

prof() { echo "$MAILSEAL_HOME/$1"; }

# spki PEMFILE: SHA-256 of the certificate's public key.
spki() { openssl x509 -in "$1" -noout -pubkey | openssl sha256 | cut -d' ' -f2; }

# ------------------------------------------------------------- enrollment

alice_enrolls() {
    enroll alice1 alice@example.com laptop alice1
    grep -q '^enrolled alice@example.com on device laptop' "$E/alice1.out"
    grep -q '^level: V1' "$E/alice1.out"
    grep -q '^encryption keys: 1$' "$E/alice1.out"
    grep -q '^signing certificate valid until 20' "$E/alice1.out"
    # what the profile holds
    local p
    p=$(prof alice1)
    [ "$(find "$p/sign" -name '*.pem' | wc -l)" = 1 ]
    [ "$(find "$p/enc" -name '*.pem' | wc -l)" = 1 ]
    grep -q '^address = alice@example.com' "$p/profile.conf"
    grep -q "^server_url = $URL" "$p/profile.conf"
    grep -q '^device = laptop' "$p/profile.conf"
    # the credential: 0600, never printed
    [ "$(stat -c %a "$p/credential")" = 600 ]
    grep -q '^token = ms1_' "$p/credential"
    if grep -q -F "$(sed -n 's/^token = //p' "$p/credential")" \
        "$E/alice1.out" "$E/alice1.err"; then
        echo "the token was printed"
        return 1
    fi
    # the device key and the signing certificate: P-256, V1, chains
    openssl verify -CAfile "$D/certs/root.pem" -untrusted "$D/certs/v1.pem" \
        -purpose smimesign "$p"/sign/*.pem
    openssl pkey -in "$p"/sign/*.key -noout -text | grep 'prime256v1\|P-256' >/dev/null
    cmp -s <(openssl x509 -in "$p/anchors.pem" -noout -fingerprint -sha256) \
        <(openssl x509 -in "$D/certs/root.pem" -noout -fingerprint -sha256)
}
check "alice enrolls with the mailed code: V1 signing cert, escrowed key, anchors, 0600 credential" alice_enrolls

bob_enrolls() {
    enroll bob bob@example.com desktop bob
    grep -q '^enrolled bob@example.com on device desktop' "$E/bob.out"
}
check "bob enrolls" bob_enrolls

second_device() {
    enroll alice2 alice@example.com phone alice2
    local a1 a2
    a1=$(prof alice1)
    a2=$(prof alice2)
    # the same escrowed encryption key on both devices
    [ "$(spki "$a1"/enc/*.pem)" = "$(spki "$a2"/enc/*.pem)" ]
    [ "$(openssl pkey -in "$a1"/enc/*.key -pubout | openssl sha256)" = \
        "$(openssl pkey -in "$a2"/enc/*.key -pubout | openssl sha256)" ]
    # but each its own signing key and certificate
    [ "$(spki "$a1"/sign/*.pem)" != "$(spki "$a2"/sign/*.pem)" ]
    if cmp -s "$a1"/sign/*.pem "$a2"/sign/*.pem; then
        return 1
    fi
}
check "alice's second device: same encryption key, its own signing certificate" second_device

# ------------------------------------------------------------- using it

# alice (first device) seals to bob; bob opens with his profile.
seal_open() {
    local bobenc=$WORK/bob-enc.pem
    # the profile's .pem holds the chain too: the first certificate only
    openssl x509 -in "$(ls "$(prof bob)"/enc/*.pem)" -out "$bobenc"
    {
        printf 'From: alice@example.com\r\nTo: bob@example.com\r\n'
        printf 'Subject: enrolled\r\nMIME-Version: 1.0\r\n'
        printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\n'
        printf 'hello bob, from an enrolled device\r\n'
    } >"$WORK/msg.eml"
    "$MS" seal --profile alice1 --recipient-cert "$bobenc" \
        <"$WORK/msg.eml" >"$WORK/sealed.eml"
    grep -qi '^Content-Type: application/pkcs7-mime' "$WORK/sealed.eml"
    "$MS" open --profile bob --offline --json --output "$WORK/opened.eml" \
        <"$WORK/sealed.eml" >"$WORK/opened.json"
    cat "$WORK/opened.json"
    jq -e '.verdict == "mailbox-validated" and .level == "V1" and
        .signer.email == "alice@example.com" and .encrypted == true' \
        "$WORK/opened.json"
    tr -d '\r' <"$WORK/opened.eml" | grep -x 'hello bob, from an enrolled device' >/dev/null
    # alice's second device reads her own sent copy (the same escrowed key)
    "$MS" decrypt --profile alice2 <"$WORK/sealed.eml" >"$WORK/self.eml"
    tr -d '\r' <"$WORK/self.eml" | grep -x 'hello bob, from an enrolled device' >/dev/null
}
check "alice seals to bob; bob's profile opens it: mailbox-validated V1, the body" seal_open

# openssl cms decrypts with bob's key exported from the profile.
cms_decrypt() {
    secret_file "$WORK/p12.pw" "export-pass"
    "$MS" export --profile bob --encryption-only \
        --password-file "$WORK/p12.pw" -o "$WORK/bob.p12"
    openssl pkcs12 -in "$WORK/bob.p12" -nodes -passin file:"$WORK/p12.pw" \
        -out "$WORK/bob-p12.pem" 2>/dev/null
    openssl cms -decrypt -in "$WORK/sealed.eml" -inkey "$WORK/bob-p12.pem" \
        -recip "$WORK/bob-enc.pem" -out "$WORK/cms.out"
    tr -d '\r' <"$WORK/cms.out" | grep 'hello bob, from an enrolled device' >/dev/null
}
check "openssl cms -decrypt with bob's key from mailseal export" cms_decrypt

# ------------------------------------------------------------- devices

dev_id() { sed -n 's/^enrolled .* (id \(.*\))$/\1/p' "$E/$1.out"; }

# ocsp_status PROFILE: good|revoked for the profile's signing certificate.
ocsp_status() {
    openssl ocsp -issuer "$D/certs/v1.pem" -cert "$(ls "$(prof "$1")"/sign/*.pem)" \
        -url "$URL/ocsp" -CAfile "$D/certs/root.pem" 2>&1 |
        sed -n 's/^.*\.pem: \([a-z]*\)$/\1/p'
}

devices_list() {
    "$MS" devices --profile alice1 >"$WORK/dev1.txt"
    cat "$WORK/dev1.txt"
    [ "$(wc -l <"$WORK/dev1.txt")" = 2 ]
    grep -q "^\*$(dev_id alice1) laptop enrolled .* active certificates [0-9a-f]*$" \
        "$WORK/dev1.txt"
    grep -q "^ $(dev_id alice2) phone enrolled .* active certificates [0-9a-f]*$" \
        "$WORK/dev1.txt"
    # bob sees only his own
    [ "$("$MS" devices --profile bob | wc -l)" = 1 ]
}
check "mailseal devices: alice's two devices, this one marked" devices_list

revoke_device() {
    [ "$(ocsp_status alice2)" = good ]
    "$MS" devices --profile alice1 --revoke "$(dev_id alice2)" >"$WORK/rev.out"
    grep -q "^revoked device $(dev_id alice2)" "$WORK/rev.out"
    [ "$(ocsp_status alice2)" = revoked ]
    [ "$(ocsp_status alice1)" = good ]
    "$MS" devices --profile alice1 >"$WORK/dev2.txt"
    grep -q "^ $(dev_id alice2) phone .* revoked 20" "$WORK/dev2.txt"
    # the revoked device's credential is dead: a clear error, exit 1
    local rc=0
    "$MS" devices --profile alice2 2>"$WORK/rev.err" || rc=$?
    cat "$WORK/rev.err"
    [ "$rc" = 1 ]
    grep -q 'does not accept this device.s credential' "$WORK/rev.err"
    # revoking twice says so
    rc=0
    "$MS" devices --profile alice1 --revoke "$(dev_id alice2)" 2>"$WORK/rev2.err" || rc=$?
    [ "$rc" = 1 ] && grep -q 'revoked already' "$WORK/rev2.err"
    # the other device still works: it signs, bob reads it
    "$MS" sign --profile alice1 <"$WORK/msg.eml" >"$WORK/signed.eml"
    "$MS" open --profile bob --offline --json <"$WORK/signed.eml" >"$WORK/signed.json"
    jq -e '.verdict == "mailbox-validated"' "$WORK/signed.json"
}
check "revoking alice's phone: its certificate revoked (OCSP), its credential dead; the laptop still works" revoke_device

# ------------------------------------------------------------- failures

# empty_profile NAME: the profile holds no key, anchor, credential or address.
empty_profile() {
    local p
    p=$(prof "$1")
    [ ! -e "$p/credential" ] && [ ! -e "$p/anchors.pem" ] &&
        [ -z "$(ls "$p"/sign/*.pem "$p"/enc/*.pem 2>/dev/null)" ] &&
        ! grep -q '^address = .' "$p/profile.conf" 2>/dev/null
}

spoil() {
    local c
    read -r c
    if [ "${c:0:1}" = A ]; then echo "B${c:1}"; else echo "A${c:1}"; fi
}

wrong_code() {
    local rc=0
    enroll carol carol@example.com laptop carol spoil || rc=$?
    [ "$rc" = 1 ]
    grep -q 'wrong code' "$E/carol.err"
    empty_profile carol
}
check "a wrong code: a clear error, exit 1, nothing installed" wrong_code

server_down() {
    local rc=0
    "$MS" enroll dave@example.com --server http://127.0.0.1:1 --device x \
        --code - --profile dave </dev/null >"$E/dave.out" 2>"$E/dave.err" || rc=$?
    cat "$E/dave.err"
    [ "$rc" = 2 ]
    grep -q 'cannot reach the server at http://127.0.0.1:1' "$E/dave.err"
    empty_profile dave
}
check "server down: a clear error, exit 2, nothing installed" server_down

other_address() {
    local rc=0
    "$MS" enroll eve@example.com --server "$URL" --code - --profile alice1 \
        </dev/null 2>"$E/eve.err" || rc=$?
    cat "$E/eve.err"
    [ "$rc" = 1 ]
    grep -q 'this profile belongs to alice@example.com' "$E/eve.err"
}
check "a profile of another address is refused" other_address

bad_usage() {
    local rc=0
    "$MS" enroll alice@example.com --server "$URL" --code ABCDE 2>/dev/null || rc=$?
    [ "$rc" = 2 ]
    rc=0
    "$MS" enroll alice@example.com 2>/dev/null || rc=$?
    [ "$rc" = 2 ]
    rc=0
    "$MS" enroll 'not an address' --server "$URL" --profile x 2>"$E/bad.err" </dev/null || rc=$?
    [ "$rc" = 2 ] && grep -q 'not a mail address' "$E/bad.err"
}
check "usage errors: exit 2" bad_usage

check "no sanitizer report in the daemon log" no_sanitizer_report
finish
