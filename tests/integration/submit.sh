#!/bin/bash
# submit.sh SUBMIT_DRIVE SMTP_SINK SCRATCH_DIR - lib/mail/submit.c against a
# real SMTP server (tests/support/smtp-sink.py, aiosmtpd) on 127.0.0.1:
# delivery to two recipients, STARTTLS required / opportunistic / refused,
# certificate checks, AUTH PLAIN and LOGIN with good and bad passwords,
# implicit TLS, 550 and 450 recipients, a server that is down or silent,
# concurrent submissions and the size limit.
#
# Prints one TAP-like line per check and exits 1 when any failed. Every sink
# exits by itself (idle timeout, or when this script is gone) and is also
# killed on exit. Missing tools are failures, never skips (install-deps.sh).
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 SUBMIT_DRIVE SMTP_SINK SCRATCH_DIR" >&2
    exit 2
fi
DRIVE=$(realpath -m -- "$1")
SINK=$(realpath -m -- "$2")
WORK=$(realpath -m -- "$3")
PY=/usr/bin/python3 # Debian's python3, where python3-aiosmtpd lives
PASSWORD=sink-test-password-7Q
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

checks=0
failures=0
SINK_PIDS=()

ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}
not_ok() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "not ok $checks - $*"
}
# check NAME FUNCTION...: runs FUNCTION in a subshell with set -e; its
# output is shown only when it fails.
check() {
    local name=$1 rc
    shift
    set +e
    (
        set -eE
        trap 'echo "failed: $BASH_COMMAND"' ERR
        "$@"
    ) >"$WORK/check.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        ok "$name"
    else
        not_ok "$name"
        sed 's/^/#   /' "$WORK/check.log"
    fi
}
finish() {
    echo "# $checks checks, $failures failed"
    [ "$failures" -eq 0 ] || exit 1
    exit 0
}
cleanup() {
    local p
    for p in "${SINK_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

# poll SECONDS CMD...: runs CMD every 50 ms until it succeeds (1: timeout).
poll() {
    local limit=$(($1 * 20)) i=0
    shift
    until "$@"; do
        i=$((i + 1))
        [ "$i" -lt "$limit" ] || return 1
        sleep 0.05
    done
}

# start_sink NAME ARGS...: a sink in $WORK/NAME (out/, port, log); sets
# PORT_<NAME>. A sink that does not come up ends the script.
start_sink() {
    local name=$1
    shift
    mkdir -p "$WORK/$name"
    "$PY" "$SINK" --port-file "$WORK/$name/port" --outdir "$WORK/$name/out" \
        --idle-exit 60 --max-life 170 "$@" 2>"$WORK/$name/log" &
    SINK_PIDS+=("$!")
    if ! poll 20 test -s "$WORK/$name/port"; then
        not_ok "sink $name starts"
        sed 's/^/#   /' "$WORK/$name/log"
        finish
    fi
    printf -v "PORT_$name" '%s' "$(cat "$WORK/$name/port")"
}

# msgs NAME: the number of messages sink NAME stored.
msgs() {
    find "$WORK/$1/out" -mindepth 1 -maxdepth 1 -name 'msg-*' | wc -l
}

# drive EXPECT ARGS... < MESSAGE: runs the driver, which must print
# status=EXPECT (MS_OK on success); its output is in $WORK/drive.out.
drive() {
    local want=$1
    shift
    "$DRIVE" -o timeout=20 "$@" >"$WORK/drive.out" 2>&1 || true
    cat "$WORK/drive.out"
    grep -qx "status=$want" "$WORK/drive.out"
}
said() {
    grep -q -- "$1" "$WORK/drive.out"
}

# ---- set-up ----

if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
    not_ok "python3-aiosmtpd is installed (tools/install-deps.sh)"
    finish
fi
for t in openssl cmp; do
    command -v "$t" >/dev/null || { not_ok "$t is installed"; finish; }
done
[ -x "$DRIVE" ] || { not_ok "driver at $DRIVE"; finish; }

# A TEST-ONLY CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 2 -subj "/CN=submit test CA" \
    2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
TLS=(--tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key")
AUTH=(--auth-user alice --auth-password "$PASSWORD")
printf '%s\n' "$PASSWORD" >pw.good
printf 'not-the-password\n' >pw.bad
chmod 600 pw.good pw.bad

start_sink plain --refuse refused@example.net --defer later@example.net
start_sink tls "${TLS[@]}"
start_sink auth "${TLS[@]}" "${AUTH[@]}"
start_sink authlogin "${TLS[@]}" "${AUTH[@]}" --auth-mechs LOGIN
start_sink authclear "${AUTH[@]}" --auth-cleartext
start_sink smtps "${TLS[@]}" "${AUTH[@]}" --implicit-tls
start_sink silent --silent
start_sink down
DOWN_PID=${SINK_PIDS[-1]}
kill "$DOWN_PID"
poll 20 bash -c "! kill -0 $DOWN_PID 2>/dev/null"

# A message with LF line ends, dot lines and UTF-8 (as a pipe gives it);
# the server must see it with CRLF line ends, the dots restored.
printf 'From: alice@example.org\nTo: bob@example.org, carol@example.net\nSubject: submit test\n\n.leading dot\n.\n..\nbody \xc3\xa9t\xc3\xa9\n' >lf.eml
sed 's/$/\r/' lf.eml >lf.expected
printf 'From: alice@example.org\r\nSubject: crlf\r\n\r\nalready CRLF\r\n.\r\n' >crlf.eml
printf 'Subject: no final line end\n\nlast line' >noeol.eml
printf 'Subject: no final line end\r\n\r\nlast line\r\n' >noeol.expected

# ---- checks ----

plain_two_recipients() {
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_plain" -f alice@example.org \
        bob@example.org carol@example.net <lf.eml
    m=$WORK/plain/out/msg-$(msgs plain)
    [ "$(cat "$m/mail_from")" = alice@example.org ]
    printf 'bob@example.org\ncarol@example.net\n' | cmp - "$m/rcpt_to"
    cmp lf.expected "$m/data"
    [ "$(cat "$m/tls")" = no ]
}
check "plain delivery to two recipients: envelope exact, LF sent as CRLF, dots kept" \
    plain_two_recipients

crlf_as_is() {
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_plain" -f "" \
        bob@example.org <crlf.eml
    m=$WORK/plain/out/msg-$(msgs plain)
    [ "$(cat "$m/mail_from")" = "" ]
    cmp crlf.eml "$m/data"
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_plain" -f a@example.org \
        bob@example.org <noeol.eml
    cmp noeol.expected "$WORK/plain/out/msg-$(msgs plain)/data"
}
check "a CRLF message arrives byte for byte; null sender; a missing final line end is added" \
    crlf_as_is

refused_recipient() {
    before=$(msgs plain)
    drive MS_EPOLICY -o relay="smtp://127.0.0.1:$PORT_plain" \
        -f alice@example.org bob@example.org refused@example.net <lf.eml
    said "relay 127.0.0.1:$PORT_plain refused recipient <refused@example.net>: 550 5.1.1"
    [ "$(msgs plain)" -eq "$before" ] # all or nothing: bob got nothing
}
check "a recipient refused with 550: MS_EPOLICY naming it, nothing delivered" \
    refused_recipient

deferred_recipient() {
    before=$(msgs plain)
    drive MS_ETEMP -o relay="smtp://127.0.0.1:$PORT_plain" \
        -f alice@example.org later@example.net bob@example.org <lf.eml
    said "deferred recipient <later@example.net>: 450 4.2.0"
    [ "$(msgs plain)" -eq "$before" ]
}
check "a recipient deferred with 450: MS_ETEMP naming it, nothing delivered" \
    deferred_recipient

starttls_required_works() {
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_tls" -o starttls=required \
        -o ca_file="$WORK/ca.pem" -f alice@example.org bob@example.org <lf.eml
    m=$WORK/tls/out/msg-$(msgs tls)
    [ "$(cat "$m/tls")" = yes ]
    cmp lf.expected "$m/data"
}
check "STARTTLS required, server offers it: delivered over TLS" \
    starttls_required_works

starttls_required_refused() {
    before=$(msgs plain)
    drive MS_ETEMP -o relay="smtp://127.0.0.1:$PORT_plain" \
        -o starttls=required -f alice@example.org bob@example.org <lf.eml
    said "does not offer STARTTLS and starttls = required: nothing was sent"
    [ "$(msgs plain)" -eq "$before" ]
}
check "STARTTLS required, server lacks it: MS_ETEMP, nothing sent in clear" \
    starttls_required_refused

starttls_untrusted() {
    before=$(msgs tls)
    drive MS_ETEMP -o relay="smtp://127.0.0.1:$PORT_tls" -o starttls=required \
        -f alice@example.org bob@example.org <lf.eml
    said "certificate check failed (SSL certificate problem"
    [ "$(msgs tls)" -eq "$before" ]
    # The right CA but the wrong name: the certificate names 127.0.0.1 only.
    drive MS_ETEMP -o relay="smtp://localhost:$PORT_tls" \
        -o starttls=required -o ca_file="$WORK/ca.pem" \
        -f alice@example.org bob@example.org <lf.eml
    said "relay localhost:$PORT_tls: certificate check failed"
    [ "$(msgs tls)" -eq "$before" ]
}
check "STARTTLS with an untrusted certificate or wrong name: MS_ETEMP, nothing delivered" \
    starttls_untrusted

starttls_opportunistic() {
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_tls" \
        -o starttls=opportunistic -o ca_file="$WORK/ca.pem" \
        -f alice@example.org bob@example.org <lf.eml
    [ "$(cat "$WORK/tls/out/msg-$(msgs tls)/tls")" = yes ]
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_plain" \
        -o starttls=opportunistic -f alice@example.org bob@example.org <lf.eml
    [ "$(cat "$WORK/plain/out/msg-$(msgs plain)/tls")" = no ]
}
check "STARTTLS opportunistic: TLS when offered, clear text otherwise" \
    starttls_opportunistic

auth_good() {
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_auth" -o starttls=required \
        -o ca_file="$WORK/ca.pem" -o user=alice -o password_file=pw.good \
        -f alice@example.org bob@example.org <lf.eml
    m=$WORK/auth/out/msg-$(msgs auth)
    [ "$(cat "$m/auth")" = alice ] && [ "$(cat "$m/tls")" = yes ]
    cmp lf.expected "$m/data"
    grep -q 'AUTH PLAIN accepted' "$WORK/auth/log"
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_authlogin" \
        -o starttls=required -o ca_file="$WORK/ca.pem" -o user=alice \
        -o password_file=pw.good -f alice@example.org bob@example.org <lf.eml
    [ "$(cat "$WORK/authlogin/out/msg-$(msgs authlogin)/auth")" = alice ]
    grep -q 'AUTH LOGIN accepted' "$WORK/authlogin/log"
}
check "AUTH PLAIN and AUTH LOGIN with the right password after STARTTLS: delivered" \
    auth_good

auth_bad() {
    before=$(msgs auth)
    drive MS_EPOLICY -o relay="smtp://127.0.0.1:$PORT_auth" \
        -o starttls=required -o ca_file="$WORK/ca.pem" -o user=alice \
        -o password_file=pw.bad -f alice@example.org bob@example.org <lf.eml
    said "refused AUTH for user alice: 535 5.7.8"
    ! said "not-the-password"
    [ "$(msgs auth)" -eq "$before" ]
    # No credentials at all: the relay refuses the sender (530).
    drive MS_EPOLICY -o relay="smtp://127.0.0.1:$PORT_auth" \
        -o starttls=required -o ca_file="$WORK/ca.pem" \
        -f alice@example.org bob@example.org <lf.eml
    said "refused sender <alice@example.org>: 530"
    [ "$(msgs auth)" -eq "$before" ]
}
check "AUTH with a wrong or no password: MS_EPOLICY, nothing delivered, password not shown" \
    auth_bad

auth_loopback_clear() {
    drive MS_OK -o relay="smtp://127.0.0.1:$PORT_authclear" -o user=alice \
        -o password_file=pw.good -f alice@example.org bob@example.org <lf.eml
    [ "$(cat "$WORK/authclear/out/msg-$(msgs authclear)/auth")" = alice ]
    # The same to a host that is not loopback is refused before connecting.
    drive MS_EPOLICY -o relay="smtp://192.0.2.1:$PORT_authclear" \
        -o starttls=none -o user=alice -o password_file=pw.good \
        -f alice@example.org bob@example.org <lf.eml
    said "refusing to send the AUTH password in clear to 192.0.2.1"
}
check "AUTH in clear only to a loopback relay" auth_loopback_clear

smtps_implicit() {
    drive MS_OK -o relay="smtps://127.0.0.1:$PORT_smtps" \
        -o ca_file="$WORK/ca.pem" -o user=alice -o password_file=pw.good \
        -f alice@example.org bob@example.org carol@example.net <lf.eml
    m=$WORK/smtps/out/msg-$(msgs smtps)
    [ "$(cat "$m/tls")" = yes ] && [ "$(cat "$m/auth")" = alice ]
    cmp lf.expected "$m/data"
}
check "smtps:// (implicit TLS) with AUTH: delivered" smtps_implicit

server_down() {
    drive MS_ETEMP -o relay="smtp://127.0.0.1:$PORT_down" \
        -f alice@example.org bob@example.org <lf.eml
    said "relay 127.0.0.1:$PORT_down: "
}
check "server down: MS_ETEMP" server_down

server_silent() {
    "$DRIVE" -o relay="smtp://127.0.0.1:$PORT_silent" -o timeout=1 \
        -f alice@example.org bob@example.org <lf.eml >drive.out 2>&1 || true
    cat drive.out
    grep -qx status=MS_ETEMP drive.out
    said "relay 127.0.0.1:$PORT_silent: "
}
check "server that never answers: MS_ETEMP after the timeout" server_silent

concurrent() {
    before=$(msgs tls)
    drive MS_OK -j 8 -o relay="smtp://127.0.0.1:$PORT_tls" \
        -o starttls=required -o ca_file="$WORK/ca.pem" \
        -f alice@example.org bob@example.org <lf.eml
    [ "$(grep -c '^status=MS_OK$' drive.out)" -eq 8 ]
    [ "$(msgs tls)" -eq $((before + 8)) ]
    for i in $(seq $((before + 1)) $((before + 8))); do
        cmp lf.expected "$WORK/tls/out/msg-$i/data"
    done
}
check "eight threads submit at once over STARTTLS with one config: all delivered" \
    concurrent

too_big() {
    before=$(msgs plain)
    head -c $((64 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >big.eml
    drive MS_ETOOBIG -o relay="smtp://127.0.0.1:$PORT_plain" \
        -f alice@example.org bob@example.org <big.eml
    rm -f big.eml
    [ "$(msgs plain)" -eq "$before" ]
}
check "a message over 64 MiB: MS_ETOOBIG, nothing sent" too_big

finish
