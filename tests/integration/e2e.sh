#!/bin/bash
# shellcheck disable=SC2317 # the test functions run indirectly, via check
# e2e.sh - issue 4 end to end, real parts only: a real SMTP server on
# 127.0.0.1 (aiosmtpd, tests/support/smtp-sink.py --maildir) delivering
# into one Maildir per recipient, and mailseald on SQLite (modules ca tsa
# ocsp crl validate kms directory) whose challenge mails go through that
# server (mail_relay = smtp://...). alice and bob enroll with the code read
# from the mail in their own maildir; alice pipes a message into
# `mailseal send` to bob (bob found through the daemon's directory, the
# mail submitted to the same SMTP server); bob's maildir gets it signed,
# timestamped and encrypted; bob's `mailseal open` shows mailbox-validated
# V1 and the original body; openssl cms decrypts it with bob's exported
# key; alice's second device enrolls and both of alice's devices read what
# bob sends her.
#
# Usage: e2e.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
SUPPORT=$(realpath -- "$(dirname "$0")/../support") # before daemon.sh's cd
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"
PY=/usr/bin/python3

need openssl curl jq mkfifo
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    fatal "python3-aiosmtpd is installed (tools/install-deps.sh)"
fi

export MAILSEAL_HOME=$WORK/home # every profile of this test lives here
unset MAILSEAL_PROFILE MAILSEAL_PASSPHRASE_FILE
MAIL=$WORK/mail # the SMTP server's maildirs: MAIL/<address>/Maildir
E=$WORK/e       # per enrollment: NAME.out, NAME.err, NAME.rc
mkdir -p "$E" "$WORK/smtp"

# ------------------------------------------------------------- servers

"$PY" "$SUPPORT/smtp-sink.py" --port-file "$WORK/smtp/port" --maildir "$MAIL" \
    --idle-exit 200 --max-life 280 2>"$WORK/smtp/log" &
SMTP_PID=$!
e2e_cleanup() {
    kill "$SMTP_PID" 2>/dev/null || true
    it_cleanup
}
trap e2e_cleanup EXIT
poll 20 test -s "$WORK/smtp/port" || fatal "the SMTP server starts"
SMTP_URL=smtp://127.0.0.1:$(cat "$WORK/smtp/port")

# A fixed port, so that public_url (the links in the challenge mails, the
# OCSP and CA URLs in the certificates) names the daemon that runs.
HTTP_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
msd_init --insecure-keys || fatal "mailseald --init"
conf_set listen "127.0.0.1:$HTTP_PORT"
conf_set public_url "http://127.0.0.1:$HTTP_PORT"
conf_set modules "ca tsa ocsp crl validate kms directory"
conf_set mail_relay "$SMTP_URL"
conf_set mail_from mailseal@example.net
msd_start || fatal "mailseald starts and answers /healthz"
ok "SMTP server at $SMTP_URL (maildirs), mailseald at $URL (relay: that server)"

# ------------------------------------------------------------- helpers

prof() { echo "$MAILSEAL_HOME/$1"; }

# new_mail ADDR: the path of the one unread message in ADDR's Maildir/new
# (fails when there is none or more than one).
new_mail() {
    local f
    f=$(find "$MAIL/$1/Maildir/new" -type f 2>/dev/null) || return 1
    [ -n "$f" ] && [ "$(echo "$f" | wc -l)" = 1 ] || return 1
    echo "$f"
}

# read_mail ADDR OUT: waits (bounded) for ADDR's one new message, copies it
# to OUT and marks it read (new/X -> cur/X:2,S, as a mail client does).
read_mail() {
    local f
    poll 30 new_mail "$1" >/dev/null || {
        echo "no new mail for $1"
        return 1
    }
    f=$(new_mail "$1")
    cp "$f" "$2"
    mv "$f" "$MAIL/$1/Maildir/cur/$(basename "$f"):2,S"
}

# unread ADDR: the number of unread messages of ADDR.
unread() { find "$MAIL/$1/Maildir/new" -type f 2>/dev/null | wc -l; }

# enroll NAME ADDR DEVICE PROFILE: mailseal enroll with --code -; the code
# is read from the challenge mail delivered to ADDR's maildir and written
# to enroll's standard input (a fifo). E/NAME.out, .err, .rc, .mail.
enroll() {
    local name=$1 addr=$2 dev=$3 prof=$4 fifo=$E/$1.fifo pid rc=0
    rm -f "$fifo"
    mkfifo "$fifo"
    "$MS" enroll "$addr" --server "$URL" --device "$dev" --code - \
        --profile "$prof" <"$fifo" >"$E/$name.out" 2>"$E/$name.err" &
    pid=$!
    exec 3>"$fifo" # opens once enroll has opened its end
    if read_mail "$addr" "$E/$name.mail"; then
        tr -d '\r' <"$E/$name.mail" | sed -n 's/^ *Code: //p' >&3
    fi
    exec 3>&-
    wait "$pid" || rc=$?
    echo "$rc" >"$E/$name.rc"
    cat "$E/$name.out" "$E/$name.err"
    return "$rc"
}

# challenge_mail FILE ADDR: FILE is mailseald's challenge, delivered over
# SMTP (the maildir's Return-Path and Delivered-To) with one code.
challenge_mail() {
    local h
    h=$(mime_head "$1" | tr -d '\r')
    echo "$h"
    grep -qx 'Return-Path: <mailseal@example.net>' <<<"$h"
    grep -qx "Delivered-To: $2" <<<"$h"
    grep -qx "To: <$2>" <<<"$h"
    grep -qx 'Subject: Your mailseal confirmation code' <<<"$h"
    [ "$(tr -d '\r' <"$1" | grep -c -E '^ *Code: [A-Z2-7]{5}(-[A-Z2-7]{5}){3}-[A-Z2-7]{6}$')" = 1 ]
    grep -q "$URL/v1/mailbox-validations/.*/confirm?code=" "$1"
}

# enrolled NAME ADDR DEVICE: enroll's report and the profile's state.
enrolled() {
    local p
    p=$(prof "$1")
    grep -q "^enrolled $2 on device $3" "$E/$1.out"
    grep -q '^level: V1' "$E/$1.out"
    [ "$(find "$p/sign" -name '*.pem' | wc -l)" = 1 ]
    [ "$(find "$p/enc" -name '*.pem' | wc -l)" = 1 ]
    [ "$(stat -c %a "$p/credential")" = 600 ]
    openssl verify -CAfile "$D/certs/root.pem" -untrusted "$D/certs/v1.pem" \
        -purpose smimesign "$p"/sign/*.pem
    openssl x509 -in "$(ls "$p"/sign/*.pem)" -noout -ext subjectAltName |
        grep_q "email:$2"
}

# first_cert PEM OUT: the first certificate of a bundle.
first_cert() { openssl x509 -in "$1" -out "$2"; }

serial_of_pem() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }

spki() { openssl x509 -in "$1" -noout -pubkey | openssl sha256 | cut -d' ' -f2; }

# signed_body FILE: the body of the first part of the multipart/signed
# message FILE (as signed, line ends as LF).
signed_body() {
    mime_split_signed "$1" "$1.content" "$1.sig"
    mime_body "$1.content" | tr -d '\r'
}

# absent TEXT FILE: FILE does not hold TEXT (errexit sees a failure,
# which it would not for "! grep").
absent() {
    if grep -q -F -e "$1" "$2"; then
        echo "$2 holds \"$1\""
        return 1
    fi
}

# set_conf PROFILE KEY VALUE: one line of the profile's profile.conf.
set_conf() {
    local c
    c=$(prof "$1")/profile.conf
    sed -i "/^$2 = /d" "$c"
    printf '%s = %s\n' "$2" "$3" >>"$c"
}

# ------------------------------------------------------------- enrollment

alice_enrolls() {
    enroll alice1 alice@example.com laptop alice1
    challenge_mail "$E/alice1.mail" alice@example.com
    enrolled alice1 alice@example.com laptop
    [ "$(unread alice@example.com)" = 0 ]
}
check "alice enrolls with the code from the challenge mail delivered to her maildir" alice_enrolls

bob_enrolls() {
    enroll bob bob@example.com desktop bob
    challenge_mail "$E/bob.mail" bob@example.com
    enrolled bob bob@example.com desktop
    # the challenge went to bob's maildir only
    [ "$(find "$MAIL/alice@example.com/Maildir" -type f | wc -l)" = 1 ]
}
check "bob enrolls the same way" bob_enrolls

# bob proved his mailbox, so the directory publishes his certificates.
bob_published() {
    local code
    code=$(http GET /v1/directory/bob@example.com "$WORK/dir-bob.json")
    cat "$WORK/dir-bob.json"
    [ "$code" = 200 ]
    jq -r '.certificates[] | select(.use == "encryption") | .pem' \
        "$WORK/dir-bob.json" >"$WORK/dir-bob-enc.pem"
    first_cert "$(ls "$(prof bob)"/enc/*.pem)" "$WORK/bob-enc.pem"
    [ "$(spki "$WORK/dir-bob-enc.pem")" = "$(spki "$WORK/bob-enc.pem")" ]
    jq -e '.address == "bob@example.com" and
        ([.certificates[] | select(.use == "encryption")] | length) == 1' \
        "$WORK/dir-bob.json"
}
check "the directory publishes bob's encryption certificate after his proof" bob_published

# ------------------------------------------------------------- alice -> bob

BODY=$'Dear Bob,\n\nthe quarterly numbers are attached in spirit.\nLine with trailing blanks   \n-- \nAlice\n'

alice_sends() {
    local p
    p=$(prof alice1)
    set_conf alice1 submit_url "$SMTP_URL"
    [ ! -e "$p/certs/bob@example.com.pem" ]
    {
        printf 'From: Alice <alice@example.com>\nTo: Bob <bob@example.com>\n'
        printf 'Subject: numbers\n\n'
        printf '%s' "$BODY"
    } >"$WORK/a2b.eml"
    "$MS" send --profile alice1 -v -i bob@example.com <"$WORK/a2b.eml" \
        >"$WORK/send.out" 2>"$WORK/send.err"
    cat "$WORK/send.err"
    grep -q 'signed, timestamped and encrypted, sent to 1 recipient' "$WORK/send.err"
    # bob's certificate came from the directory and is cached now
    [ -s "$p/certs/bob@example.com.pem" ]
    "$MS" lookup --profile alice1 bob@example.com | grep_q '^encryption V1 valid .*(cache)$'
    read_mail bob@example.com "$WORK/delivered.eml"
    [ "$(unread bob@example.com)" = 0 ]
}
check "alice pipes a message into mailseal send: bob looked up in the directory, delivered to his maildir" alice_sends

# The delivered mail: enveloped-data for bob (and alice's own copy), inside
# it a multipart/signed whose signature carries a timestamp token.
delivered_structure() {
    local m=$WORK/delivered.eml h
    h=$(mime_head "$m" | tr -d '\r')
    echo "$h"
    grep -qx 'Return-Path: <alice@example.com>' <<<"$h"
    grep -qx 'Delivered-To: bob@example.com' <<<"$h"
    tr -d '\n' <<<"$h" | grep_q -i 'content-type: application/pkcs7-mime; *smime-type=enveloped-data'
    absent 'quarterly numbers' "$m"
    mime_p7m "$m" "$WORK/env.der"
    openssl cms -cmsout -inform DER -in "$WORK/env.der" -print >"$WORK/env.txt"
    grep -q 'contentType: pkcs7-envelopedData' "$WORK/env.txt"
    first_cert "$(ls "$(prof alice1)"/enc/*.pem)" "$WORK/alice-enc.pem"
    # one recipientInfo per key: bob's and alice's (her sent copy)
    local bs as
    bs=$(serial_of_pem "$WORK/bob-enc.pem")
    as=$(serial_of_pem "$WORK/alice-enc.pem")
    sed -n 's/^ *serialNumber: //p' "$WORK/env.txt" | sort >"$WORK/env.serials"
    "$PY" -c 'import sys; print("\n".join(sorted(str(int(a, 16)) for a in sys.argv[1:])))' \
        "$bs" "$as" | cmp - "$WORK/env.serials"
}
check "delivered mail: application/pkcs7-mime enveloped-data for bob and alice, no cleartext" \
    delivered_structure

# bob's profile opens it: mailbox-validated V1, timestamped, not revoked,
# the body.
bob_opens() {
    # online: the revocation check asks the daemon's OCSP responder
    "$MS" open --profile bob --json --output "$WORK/opened.eml" \
        <"$WORK/delivered.eml" >"$WORK/opened.json"
    cat "$WORK/opened.json"
    jq -e '.verdict == "mailbox-validated" and .level == "V1" and
        .signer.email == "alice@example.com" and .encrypted == true and
        .timestamp.valid == true and .revocation == "good"' "$WORK/opened.json"
    grep -q 'method=POST path=/ocsp status=200' "$DLOG"
    mime_head "$WORK/opened.eml" | tr -d '\r' |
        grep_q -x 'X-Mailseal-Verdict: mailbox-validated'
    mime_head "$WORK/opened.eml" | tr -d '\r' | grep_q -x 'Subject: numbers'
    signed_body "$WORK/opened.eml" | cmp - <(printf '%s' "$BODY")
}
check "bob's mailseal open: mailbox-validated V1, timestamp valid, OCSP good, the original body byte for byte" bob_opens

# openssl cms decrypts with bob's key from mailseal export; the signature
# inside verifies against the daemon's root and holds a timestamp token.
cms_decrypt() {
    secret_file "$WORK/p12.pw" "export-pass"
    "$MS" export --profile bob --encryption-only \
        --password-file "$WORK/p12.pw" -o "$WORK/bob.p12"
    openssl pkcs12 -in "$WORK/bob.p12" -nodes -passin file:"$WORK/p12.pw" \
        -out "$WORK/bob-p12.pem" 2>/dev/null
    openssl cms -decrypt -in "$WORK/delivered.eml" -inkey "$WORK/bob-p12.pem" \
        -recip "$WORK/bob-enc.pem" -out "$WORK/dec.eml"
    mime_head "$WORK/dec.eml" | tr -d '\r\n' | grep_q -i 'content-type: multipart/signed'
    openssl cms -verify -in "$WORK/dec.eml" -CAfile "$D/certs/root.pem" \
        -certfile "$D/certs/v1.pem" -purpose smimesign -out "$WORK/verified.eml"
    cmp <(mime_body "$WORK/verified.eml" | tr -d '\r') <(printf '%s' "$BODY")
    mime_split_signed "$WORK/dec.eml" "$WORK/content.bin" "$WORK/sig.der"
    openssl cms -cmsout -inform DER -in "$WORK/sig.der" -print |
        grep_q 'id-smime-aa-timeStampToken'
    # a wrong key does not decrypt it (the check above is not vacuous)
    if openssl cms -decrypt -in "$WORK/delivered.eml" \
        -inkey "$(ls "$(prof alice1)"/sign/*.key)" -out /dev/null 2>/dev/null; then
        echo "alice's signing key decrypted bob's mail"
        return 1
    fi
}
check "openssl cms -decrypt with bob's exported key; the signature verifies and is timestamped" cms_decrypt

# ------------------------------------------------------------- alice's 2nd device

second_device() {
    enroll alice2 alice@example.com phone alice2
    challenge_mail "$E/alice2.mail" alice@example.com
    enrolled alice2 alice@example.com phone
    [ "$(spki "$(prof alice1)"/enc/*.pem)" = "$(spki "$(prof alice2)"/enc/*.pem)" ]
    [ "$(spki "$(prof alice1)"/sign/*.pem)" != "$(spki "$(prof alice2)"/sign/*.pem)" ]
}
check "alice's second device enrolls: the same encryption key, its own signing certificate" second_device

BODY2=$'Hi Alice,\n\ngot it, thanks. Read this on any of your devices.\n\nBob\n'

bob_replies() {
    set_conf bob submit_url "$SMTP_URL"
    {
        printf 'From: bob@example.com\nTo: alice@example.com\nSubject: Re: numbers\n\n'
        printf '%s' "$BODY2"
    } >"$WORK/b2a.eml"
    "$MS" send --profile bob -v -t -i <"$WORK/b2a.eml" 2>"$WORK/send2.err"
    cat "$WORK/send2.err"
    grep -q 'signed, timestamped and encrypted, sent to 1 recipient' "$WORK/send2.err"
    read_mail alice@example.com "$WORK/reply.eml"
    mime_head "$WORK/reply.eml" | tr -d '\r\n' |
        grep_q -i 'content-type: application/pkcs7-mime; *smime-type=enveloped-data'
    absent 'got it, thanks' "$WORK/reply.eml"
    local dev
    for dev in alice1 alice2; do
        "$MS" open --profile "$dev" --offline --json --output "$WORK/reply-$dev.eml" \
            <"$WORK/reply.eml" >"$WORK/reply-$dev.json"
        cat "$WORK/reply-$dev.json"
        jq -e '.verdict == "mailbox-validated" and .level == "V1" and
            .signer.email == "bob@example.com" and .encrypted == true and
            .timestamp.valid == true' "$WORK/reply-$dev.json"
        signed_body "$WORK/reply-$dev.eml" | cmp - <(printf '%s' "$BODY2")
    done
}
check "bob sends to alice (directory lookup, -t): both of alice's devices open it, mailbox-validated V1" \
    bob_replies

no_stray_mail() {
    cat "$WORK/smtp/log"
    [ "$(unread alice@example.com)" = 0 ] && [ "$(unread bob@example.com)" = 0 ]
    [ "$(find "$MAIL/alice@example.com/Maildir/cur" -type f | wc -l)" = 3 ]
    [ "$(find "$MAIL/bob@example.com/Maildir/cur" -type f | wc -l)" = 2 ]
    [ "$(find "$MAIL" -mindepth 1 -maxdepth 1 | wc -l)" = 2 ]
}
check "every mail accounted for: 3 for alice (2 challenges, 1 reply), 2 for bob" no_stray_mail

check "no sanitizer report in the daemon log" no_sanitizer_report
finish
