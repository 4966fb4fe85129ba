# shellcheck shell=bash
# common.sh - shared helpers of the interop scripts; sourced, never run.
#
# Every script is called as:  SCRIPT MAILSEAL_CLI PKI_DIR SCRATCH_DIR
# It prints one TAP-like line per check ("ok N - what" / "not ok N - what",
# the failing check's log indented below it) and exits 1 when any check
# failed. A peer tool that is missing is a failure, never a skip: CI installs
# openssl, gpgsm and libnss3-tools (tools/install-deps.sh).
#
# Nothing here touches the network: mailseal always runs with --offline and
# gpgsm with --disable-dirmngr. The gpg-agent that gpgsm starts is stopped on
# exit (gpgconf --kill, which only reaches the agent of our own GNUPGHOME).

set -euo pipefail

# grep_q ARGS...: `grep -q` that reads its whole input. Under pipefail,
# `producer | grep -q` fails at random: grep exits at the first match and
# the producer, still writing, dies of SIGPIPE.
grep_q() { grep "$@" >/dev/null; }

if [ $# -ne 3 ]; then
    echo "usage: $0 MAILSEAL_CLI PKI_DIR SCRATCH_DIR" >&2
    exit 2
fi
# absolute: the script works from inside SCRATCH_DIR
MS=$(realpath -m -- "$1")
PKI=$(realpath -m -- "$2")
WORK=$(realpath -m -- "$3")

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

checks=0
failures=0
GNUPG_TMP=""

cleanup() {
    if [ -n "${GNUPGHOME:-}" ] && [ -d "$GNUPGHOME" ]; then
        gpgconf --kill all >/dev/null 2>&1 || true
    fi
    if [ -n "$GNUPG_TMP" ]; then
        rm -rf "$GNUPG_TMP"
    fi
}
trap cleanup EXIT

ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}

not_ok() {
    checks=$((checks + 1))
    failures=$((failures + 1))
    echo "not ok $checks - $*"
}

# check NAME CMD [ARGS...]: runs CMD in a subshell with errexit in force (a
# function called from "if" would run with errexit off, so the status is
# taken here instead), its output going to a log shown only on failure.
check() {
    local name=$1
    local rc
    local t0=$EPOCHREALTIME
    local took
    shift
    set +e
    (
        set -eE
        trap 'echo "failed: $BASH_COMMAND"' ERR
        "$@"
    ) >"$WORK/check.log" 2>&1
    rc=$?
    set -e
    took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
    if [ "$rc" -eq 0 ]; then
        ok "$name ($took s)"
    else
        not_ok "$name ($took s)"
        sed 's/^/#   /' "$WORK/check.log"
    fi
}

# finish: the last line of every script.
finish() {
    echo "# $checks checks, $failures failed"
    if [ "$failures" -ne 0 ]; then
        exit 1
    fi
    exit 0
}

# require TOOL...: a missing tool fails the script at once.
require() {
    local t
    local missing=0
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            not_ok "required tool $t is installed (tools/install-deps.sh)"
            missing=1
        fi
    done
    if [ "$missing" -ne 0 ]; then
        finish
    fi
    if [ ! -x "$MS" ]; then
        not_ok "mailseal CLI at $MS"
        finish
    fi
    if [ ! -f "$PKI/root.pem" ]; then
        not_ok "test PKI at $PKI"
        finish
    fi
}

# expect_fail CMD [ARGS...]: succeeds when CMD fails (a negative control:
# proves the peer really checks what the positive case relies on).
expect_fail() {
    if "$@"; then
        echo "expected a failure, got success: $*"
        return 1
    fi
    return 0
}

# ------------------------------------------------- byte-exact MIME helpers
# (awk, sed and base64 rather than a script language: each check runs a
# dozen of them and must stay fast.)

# mime_head FILE: the header block of the message or entity in FILE.
mime_head() {
    sed '/^\r*$/q' "$1"
}

# mime_body FILE: the body, bytes as they are (after the first empty line).
mime_body() {
    sed '1,/^\r*$/d' "$1"
}

# mime_decoded_body FILE: the body, base64-decoded when the entity says so.
mime_decoded_body() {
    if mime_head "$1" | grep -i '^content-transfer-encoding:[[:space:]]*base64' >/dev/null; then
        mime_body "$1" | tr -d '\r' | base64 -d
    else
        mime_body "$1"
    fi
}

# mime_p7m FILE DER: the CMS object of an application/pkcs7-mime message.
mime_p7m() {
    mime_head "$1" | tr -d '\n' | grep -i 'content-type:[[:space:]]*application/pkcs7-mime' >/dev/null
    mime_body "$1" | tr -d '\r' | base64 -d >"$2"
    test -s "$2"
}

# mime_split_signed FILE CONTENT SIG: CONTENT gets the first part of the
# multipart/signed message FILE exactly as signed (the CRLF before the next
# delimiter belongs to the delimiter), SIG the decoded signature part.
mime_split_signed() {
    awk -v content="$2" -v sigpart="$3.part" '
    function flush_line(last) {
        if (have) {
            if (last)
                sub(/\r$/, "", held)
            printf "%s%s", held, (last ? "" : "\n") > (part == 1 ? content : sigpart)
        }
        have = 0
    }
    BEGIN { state = 0; part = 0; have = 0 }
    state == 0 {
        line = $0
        sub(/\r$/, "", line)
        if (line == "") {
            if (tolower(ct) !~ /^content-type:[ \t]*multipart\/signed/)
                exit 3
            if (!match(ct, /[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]="?[^";]+/))
                exit 4
            b = substr(ct, RSTART + 9, RLENGTH - 9)
            sub(/^"/, "", b)
            state = 1
            next
        }
        if (line ~ /^[ \t]/) {
            if (in_ct)
                ct = ct line
            next
        }
        in_ct = (tolower(line) ~ /^content-type:/)
        if (in_ct)
            ct = line
        next
    }
    {
        line = $0
        sub(/\r$/, "", line)
        sub(/[ \t]+$/, "", line)
        if (line == "--" b || line == "--" b "--") {
            flush_line(1)
            part++
            if (line == "--" b "--")
                exit 0
            next
        }
        if (part == 1 || part == 2) {
            flush_line(0)
            held = $0
            have = 1
        }
    }
    END { if (part < 3) exit 5 }' "$1"
    mime_decoded_body "$3.part" >"$3"
    test -s "$2"
    test -s "$3"
}

# flip_byte IN OUT OFFSET: OUT is IN with the low bit of byte OFFSET flipped.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$3" -N1 "$1" | tr -d ' ')
    cp "$1" "$2"
    # shellcheck disable=SC2059 # the format is the octal escape
    printf "$(printf '\\%03o' $((b ^ 1)))" |
        dd of="$2" bs=1 seek="$3" conv=notrunc status=none
    ! cmp -s "$1" "$2"
}

# json_expect FILE FILTER VALUE...: in the JSON object in FILE, each jq
# FILTER (.verdict, .signer.email) gives the compact JSON text VALUE
# ('"validated"' quoted, null bare).
json_expect() {
    local file=$1
    local got
    shift
    while [ $# -ge 2 ]; do
        got=$(jq -c "$1" "$file")
        if [ "$got" != "$2" ]; then
            echo "json: $1 is $got, want $2"
            return 1
        fi
        shift 2
    done
}

# jstr WORD: WORD as a JSON string, or null for "null".
jstr() {
    if [ "$1" = null ]; then
        echo null
    else
        printf '"%s"\n' "$1"
    fi
}

# ---------------------------------------------------------------- messages

# entity FILE BODY-LINE...: a text/plain MIME entity with CRLF line ends.
entity() {
    local out=$1
    local line
    shift
    {
        printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\n'
        for line in "$@"; do
            printf '%s\r\n' "$line"
        done
    } >"$out"
}

# message FILE FROM SUBJECT BODY-LINE...: a complete RFC 5322 text message.
message() {
    local out=$1
    local from=$2
    local subject=$3
    local line
    shift 3
    {
        printf 'From: %s\r\nTo: Recipient <recipient@example.org>\r\n' "$from"
        printf 'Subject: %s\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n' "$subject"
        printf 'Message-ID: <%s@interop.test>\r\nMIME-Version: 1.0\r\n' "$RANDOM$RANDOM"
        printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\n'
        for line in "$@"; do
            printf '%s\r\n' "$line"
        done
    } >"$out"
}

# outer_headers FROM SUBJECT: the header block (no blank line) that wraps a
# peer's raw CMS output into a message.
outer_headers() {
    printf 'From: %s\r\nTo: Recipient <recipient@example.org>\r\n' "$1"
    printf 'Subject: %s\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n' "$2"
    printf 'Message-ID: <%s@interop.test>\r\nMIME-Version: 1.0\r\n' "$RANDOM$RANDOM"
}

# base64_crlf DER: base64 in 76-column CRLF lines.
base64_crlf() {
    base64 -w 76 "$1" | sed 's/$/\r/'
}

# wrap_detached OUT ENTITY SIG-DER [HEADERS-FILE]: a multipart/signed around
# ENTITY and the raw detached CMS signature SIG-DER (DER or BER). With
# HEADERS-FILE the message starts with those header lines, otherwise the
# output is a bare MIME entity (to be encrypted next).
wrap_detached() {
    local out=$1
    local ent=$2
    local sig=$3
    local hdrs=${4:-}
    local b="interop-$RANDOM$RANDOM"
    {
        if [ -n "$hdrs" ]; then
            cat "$hdrs"
        fi
        printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n'
        printf '\tmicalg=sha-256; boundary="%s"\r\n\r\n' "$b"
        printf 'This is a cryptographically signed message in MIME format.\r\n\r\n'
        printf -- '--%s\r\n' "$b"
        cat "$ent"
        printf '\r\n--%s\r\n' "$b"
        printf 'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n'
        printf 'Content-Transfer-Encoding: base64\r\n'
        printf 'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
        base64_crlf "$sig"
        printf '\r\n--%s--\r\n' "$b"
    } >"$out"
}

# wrap_p7m OUT SMIME-TYPE DER [HEADERS-FILE]: application/pkcs7-mime around
# a raw CMS object (signed-data or enveloped-data).
wrap_p7m() {
    local out=$1
    local type=$2
    local der=$3
    local hdrs=${4:-}
    {
        if [ -n "$hdrs" ]; then
            cat "$hdrs"
        fi
        printf 'Content-Type: application/pkcs7-mime; smime-type=%s;\r\n' "$type"
        printf '\tname="smime.p7m"\r\n'
        printf 'Content-Transfer-Encoding: base64\r\n'
        printf 'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n'
        base64_crlf "$der"
    } >"$out"
}

# same_text A B: A and B hold the same text once CRs are dropped.
same_text() {
    if ! cmp <(tr -d '\r' <"$1") <(tr -d '\r' <"$2"); then
        echo "--- $1"
        head -c 2000 "$1"
        echo "--- $2"
        head -c 2000 "$2"
        return 1
    fi
}

# ------------------------------------------------------------ mailseal side

# ms_verify_expect MSG VERDICT LEVEL EMAIL: mailseal verify --json gives
# VERDICT, LEVEL ("null" for none) and signer EMAIL (which the From field
# holds), and exits 0 exactly for an accepting verdict.
ms_verify_expect() {
    local msg=$1
    local rc=0
    "$MS" verify --trust "$PKI/root.pem" --offline --no-system-trust --json \
        <"$msg" >"$msg.json" || rc=$?
    cat "$msg.json"
    json_expect "$msg.json" .verdict "$(jstr "$2")" .level "$(jstr "$3")" \
        .signer.email "$(jstr "$4")" .from "$(jstr "$4")"
    case "$2" in
    validated | mailbox-validated | signed) [ "$rc" -eq 0 ] ;;
    *) [ "$rc" -eq 1 ] ;;
    esac
}

# ms_open_expect MSG ENC-CERT ENC-KEY VERDICT LEVEL EMAIL BODY-LINE: mailseal
# open decrypts and verifies MSG: the JSON verdict, level and signer email
# match (null for an unsigned message), it exits 0 exactly for an accepting
# verdict, and the cleartext written with --output carries the verdict
# header and the line BODY-LINE.
# ms_sign_8bit: 8bit.eml, a UTF-8 text message with an 8bit body (its text
# in 8bit.txt), signed by mailseal as V4 into 8bit-signed.eml.
ms_sign_8bit() {
    {
        printf 'From: Jane Roe <jane.roe@bank.example>\r\nTo: eve@example.net\r\n'
        printf 'Subject: 8bit\r\nMIME-Version: 1.0\r\n'
        printf 'Content-Type: text/plain; charset=utf-8\r\n'
        printf 'Content-Transfer-Encoding: 8bit\r\n\r\n'
    } >8bit.eml
    printf 'Grüße aus Köln – ÄÖÜ äöü ß €\r\nΚαλημέρα, добрый день\r\n' >8bit.txt
    cat 8bit.txt >>8bit.eml
    "$MS" sign --cert "$PKI/v4-sign.pem" --key "$PKI/v4-sign.key" \
        --chain "$PKI/v4-chain.pem" <8bit.eml >8bit-signed.eml
}

ms_open_expect() {
    local msg=$1
    local verdict=$4
    local rc=0
    "$MS" open --cert "$PKI/$2.pem" --key "$PKI/$3.key" --trust "$PKI/root.pem" \
        --offline --no-system-trust --json --output "$msg.open" \
        <"$msg" >"$msg.json" || rc=$?
    cat "$msg.json"
    json_expect "$msg.json" .verdict "$(jstr "$verdict")" .level "$(jstr "$5")" \
        .signer.email "$(jstr "$6")" .encrypted true
    case "$verdict" in
    validated | mailbox-validated | signed) [ "$rc" -eq 0 ] ;;
    *) [ "$rc" -eq 1 ] ;;
    esac
    mime_head "$msg.open" | tr -d '\r' | grep -x "X-Mailseal-Verdict: $verdict" >/dev/null
    tr -d '\r' <"$msg.open" | grep -Fx -- "$7" >/dev/null
}

# ms_decrypt_expect MSG ENC-CERT ENC-KEY BODY-FILE: mailseal decrypt and
# mailseal open give a message whose body is the text in BODY-FILE.
ms_decrypt_expect() {
    "$MS" decrypt --cert "$PKI/$2.pem" --key "$PKI/$3.key" <"$1" >"$1.dec"
    mime_body "$1.dec" >"$1.body"
    same_text "$1.body" "$4"
}

# ---------------------------------------------------------------- peer set-up

# p12_3des NAME OUT: NAME.pem + NAME.key as PKCS#12 with 3DES/SHA-1, the only
# protection gpgsm 2.2 reads (its minip12 knows no PBES2/AES), password
# "interop".
p12_3des() {
    openssl pkcs12 -export -in "$PKI/$1.pem" -inkey "$PKI/$1.key" -name "$1" \
        -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
        -passout pass:interop -out "$2"
}

# gpgsm_home: picks and exports GNUPGHOME. Called in the script's own shell
# (not under check, whose subshell would lose the variable), so that the
# exit trap stops the gpg-agent started for it.
gpgsm_home() {
    GNUPGHOME="$WORK/gnupg"
    # gpg-agent's socket lives in GNUPGHOME; sun_path holds 108 bytes.
    if [ ${#GNUPGHOME} -gt 80 ]; then
        GNUPG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ms-gnupg.XXXXXX")
        GNUPGHOME=$GNUPG_TMP
    fi
    export GNUPGHOME
    mkdir -p "$GNUPGHOME"
    chmod 700 "$GNUPGHOME"
}

# gpgsm_setup: fills the throw-away GNUPGHOME: the test root marked trusted
# for S/MIME in trustlist.txt and the four issuing CAs imported. The whole
# batch configuration is two gpgsm.conf lines: no CRL checks (the test CAs
# publish no CRL distribution points) and no dirmngr (no network). The
# policy check needs nothing: our policy OIDs are not critical, so gpgsm
# only notes them. Keys are imported with --pinentry-mode loopback, which
# gpg-agent 2.2 allows by default, the passphrase coming from fd 3.
gpgsm_setup() {
    local fpr
    local f
    printf 'disable-crl-checks\ndisable-dirmngr\n' >"$GNUPGHOME/gpgsm.conf"
    fpr=$(openssl x509 -in "$PKI/root.pem" -noout -fingerprint -sha1 |
        sed 's/^.*=//; s/://g')
    printf '%s S\n' "$fpr" >"$GNUPGHOME/trustlist.txt"
    printf 'interop\n' >"$WORK/gpgsm.pass"
    for f in root ca-v1 ca-v2 ca-v3 ca-v4; do
        gpgsm --homedir "$GNUPGHOME" --batch --import "$PKI/$f.pem"
    done
}

# gpgsm_import_key NAME [EXPORTER]: imports NAME.pem + NAME.key (via
# PKCS#12, written by "EXPORTER NAME OUT", default p12_3des; the password is
# "interop") and checks that gpgsm now holds the secret key of exactly that
# certificate.
# gpgsm 2.2.40 fails to decrypt about one in forty PKCS#12 files that
# openssl writes and reads back fine (measured: 5 of 200 exports of one key,
# each with a fresh random salt; "decryption failed; trying charset ..."),
# so a file it cannot read is exported again with a new salt, at most five
# times. Any other failure, or five bad salts in a row, fails the test.
gpgsm_import_key() {
    local fpr
    local try
    local exporter=${2:-p12_3des}
    fpr=$(openssl x509 -in "$PKI/$1.pem" -noout -fingerprint -sha1 |
        sed 's/^.*=//; s/://g')
    for try in 1 2 3 4 5; do
        "$exporter" "$1" "$WORK/$1.gpgsm.p12"
        if gpgsm --homedir "$GNUPGHOME" --batch --pinentry-mode loopback \
            --passphrase-fd 3 --import "$WORK/$1.gpgsm.p12" \
            3<"$WORK/gpgsm.pass" 2>"$WORK/$1.import.log"; then
            cat "$WORK/$1.import.log" >&2
            break
        fi
        cat "$WORK/$1.import.log" >&2
        grep -q 'error parsing or decrypting the PKCS#12 file' \
            "$WORK/$1.import.log" || return 1
        [ "$try" -lt 5 ] || return 1
        echo "gpgsm could not read the PKCS#12 salt of try $try; exporting again" >&2
    done
    gpgsm --homedir "$GNUPGHOME" --batch --with-colons --list-secret-keys "0x$fpr" |
        grep -q "^fpr:.*$fpr"
}

# gpgsm_b ARGS...: gpgsm in batch mode, passphrase on fd 3, status on fd 4
# (to $WORK/gpgsm.status). --homedir: never the user's own ~/.gnupg.
gpgsm_b() {
    gpgsm --homedir "$GNUPGHOME" --batch --pinentry-mode loopback \
        --passphrase-fd 3 --status-fd 4 "$@" 3<"$WORK/gpgsm.pass" 4>"$WORK/gpgsm.status"
}

# nss_setup: an NSS database (no password) trusting the test root for
# S/MIME ("C,C,C"), with the issuing CAs added without trust.
NSSDB="sql:$WORK/nssdb"
nss_setup() {
    local n
    mkdir -p "$WORK/nssdb"
    certutil -N -d "$NSSDB" --empty-password
    certutil -A -d "$NSSDB" -n root -t C,C,C -i "$PKI/root.pem"
    for n in 1 2 3 4; do
        certutil -A -d "$NSSDB" -n "ca-v$n" -t ,, -i "$PKI/ca-v$n.pem"
    done
}

# nss_import_key NAME: NAME.pem + NAME.key into the NSS database. NSS gives
# every certificate of one subject the same nickname, so a sender's signing
# and encryption certificates end up under the nickname imported first;
# cmsutil picks among them by key usage.
nss_import_key() {
    openssl pkcs12 -export -in "$PKI/$1.pem" -inkey "$PKI/$1.key" -name "$1" \
        -passout pass:interop -out "$WORK/$1.nss.p12"
    pk12util -i "$WORK/$1.nss.p12" -d "$NSSDB" -W interop -K ''
}

# nss_decode_expect DER CONTENT OUT: cmsutil -D verifies the signed data
# (CONTENT is the detached content, "" for none) and OUT gets the content.
# cmsutil exits 0 whatever the signature: the "SMIME:" header it writes with
# -h must report one signer whose status is GoodSignature.
nss_decode_expect() {
    local der=$1
    local content=$2
    local out=$3
    local detached=()
    if [ -n "$content" ]; then
        detached=(-c "$content")
    fi
    cmsutil -D -d "$NSSDB" -p '' -h 2 -i "$der" "${detached[@]}" -o "$out.raw"
    head -n 3 "$out.raw"
    grep -q 'nsigners=1;' "$out.raw"
    grep -q 'signer0.status=GoodSignature;' "$out.raw"
    nss_content "$out.raw" "$out"
}

# nss_content RAW OUT: OUT gets RAW (cmsutil -D -h output) without the
# "SMIME:" header field cmsutil puts before the content.
nss_content() {
    local n
    n=$(awk 'NR == 1 && !/^SMIME:/ { exit 1 }
             NR > 1 && !/^\t/ { print NR; exit }' "$1")
    tail -n +"$n" "$1" >"$2"
}
