# shellcheck shell=bash
# shellcheck disable=SC2016 # poll eval '...': expanded when run
# daemon.sh - helpers of the mailseald end-to-end scripts (peers.sh,
# badinput.sh, restart.sh); sourced, never run.
#
# Every script is called as:  SCRIPT MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# and sources this file, which sources tests/interop/common.sh for the
# check/finish framework and the gpgsm/NSS helpers (its PKI directory is
# SCRATCH_DIR/pki, which msd_pki_links fills from the data directory).
#
# Each script makes its own data directory (D = SCRATCH/data), starts its
# own mailseald on 127.0.0.1 port 0 (--port-file) and kills it on exit.
# Daemon starts and stops happen in the script's own shell (check runs its
# function in a subshell, which would lose DPID and URL); checks only read
# them. Every wait is a bounded poll.

if [ $# -ne 3 ]; then
    echo "usage: $0 MAILSEALD MAILSEAL_CLI SCRATCH_DIR" >&2
    exit 2
fi
MSD=$(realpath -m -- "$1")
# shellcheck source=tests/interop/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/common.sh" "$2" "$3/pki" "$3"

D=$WORK/data          # the data directory (mailseald --init)
DLOG=$WORK/daemon.log # every daemon start appends its stderr here
DPID=""               # the running daemon, or empty
PORT=""
URL=""
BG_PGIDS=()           # process groups of background workers (restart.sh)
# shellcheck disable=SC2034 # read by peers.sh
ARC=2.25.70987990664227431197429845594075621128

it_cleanup() {
    local g
    for g in "${BG_PGIDS[@]}"; do
        kill -KILL -- "-$g" 2>/dev/null || true
    done
    msd_kill
    cleanup # common.sh: the gpg-agent of our GNUPGHOME
}
trap it_cleanup EXIT

# need TOOL...: a missing tool fails the script at once (never a skip).
need() {
    local t missing=0
    for t in "$@"; do
        if ! command -v "$t" >/dev/null 2>&1; then
            not_ok "required tool $t is installed (tools/install-deps.sh)"
            missing=1
        fi
    done
    if [ ! -x "$MSD" ]; then
        not_ok "mailseald at $MSD"
        missing=1
    fi
    if [ ! -x "$MS" ]; then
        not_ok "mailseal CLI at $MS"
        missing=1
    fi
    [ "$missing" -eq 0 ] || finish
}

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

# fatal WHAT: a set-up step failed; report it (with the daemon log) and end.
fatal() {
    not_ok "$*"
    if [ -f "$DLOG" ]; then
        tail -n 40 "$DLOG" | sed 's/^/#   log: /'
    fi
    finish
}

# conf_set KEY VALUE: sets KEY in D/mailseald.conf (a key may appear once).
conf_set() {
    local conf=$D/mailseald.conf
    sed -i "/^[[:space:]]*$1[[:space:]]*=/d" "$conf"
    printf '%s = %s\n' "$1" "$2" >>"$conf"
}

# secret_file PATH TEXT: a file only we can read (mailseald checks modes).
secret_file() {
    (umask 077 && printf '%s\n' "$2" >"$1")
    chmod 600 "$1"
}

# msd_init [INIT OPTIONS...]: mailseald --init D, listening on 127.0.0.1:0
# and with the admin token of WORK/admin.token. Output in WORK/init.out.
ADMIN_TOKEN=""
msd_init() {
    "$MSD" --init "$D" "$@" >"$WORK/init.out" 2>&1 || {
        cat "$WORK/init.out"
        return 1
    }
    ADMIN_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    secret_file "$WORK/admin.token" "$ADMIN_TOKEN"
    conf_set listen 127.0.0.1:0
    conf_set admin_token_file "$WORK/admin.token"
}

# msd_start: starts mailseald on D and waits (bounded) for its port file
# and /healthz; sets DPID, PORT and URL. Returns 1 when it does not come up.
msd_start() {
    rm -f "$D/port"
    echo "--- start $(date -u +%T)" >>"$DLOG"
    "$MSD" -d "$D" --port-file "$D/port" 2>>"$DLOG" &
    DPID=$!
    if ! poll 60 eval 'test -s "$D/port" || ! kill -0 "$DPID" 2>/dev/null' ||
        [ ! -s "$D/port" ]; then
        echo "mailseald did not write its port file"
        return 1
    fi
    PORT=$(cat "$D/port")
    URL=http://127.0.0.1:$PORT
    poll 20 curl -sf --max-time 5 -o /dev/null "$URL/healthz"
}

# msd_kill: kill -9 the daemon (if running) and reap it.
msd_kill() {
    if [ -n "$DPID" ]; then
        kill -KILL "$DPID" 2>/dev/null || true
        wait "$DPID" 2>/dev/null || true
        DPID=""
    fi
}

# msd_term: SIGTERM; waits (bounded) for the exit; returns its exit status
# (124 when it is still running after 30 s, then killed).
msd_term() {
    local rc=0
    kill -TERM "$DPID"
    if ! poll 30 eval '! kill -0 "$DPID" 2>/dev/null'; then
        msd_kill
        return 124
    fi
    wait "$DPID" || rc=$?
    DPID=""
    return "$rc"
}

# no_sanitizer_report: the daemon log holds no ASan/UBSan/LSan report.
no_sanitizer_report() {
    if grep -n -E 'Sanitizer|runtime error:' "$DLOG"; then
        return 1
    fi
}

# msd_pki_links: WORK/pki gets the names common.sh's gpgsm/NSS set-up
# reads (root.pem, ca-v1.pem .. ca-v4.pem) from the data directory.
msd_pki_links() {
    local n
    mkdir -p "$PKI"
    cp "$D/certs/root.pem" "$PKI/root.pem"
    for n in 1 2 3 4; do
        cp "$D/certs/v$n.pem" "$PKI/ca-v$n.pem"
    done
}

# ------------------------------------------------------------------ CSRs

# csr_new NAME KEY [SAN]: NAME.key and NAME.csr (PEM) in WORK/csr; KEY is
# ec (P-256), rsa2048, rsa1024; SAN the subjectAltName request
# ("email:a@b.example,DNS:x.example"), none when empty.
csr_new() {
    local name=$1 san=${3:-} keyargs=()
    mkdir -p "$WORK/csr"
    case $2 in
    ec) keyargs=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa2048) keyargs=(-newkey rsa:2048) ;;
    rsa1024) keyargs=(-newkey rsa:1024) ;;
    *) return 2 ;;
    esac
    if [ -n "$san" ]; then
        keyargs+=(-addext "subjectAltName=$san")
    fi
    openssl req -new "${keyargs[@]}" -nodes -subj "/CN=ignored by the CA" \
        -keyout "$WORK/csr/$name.key" -out "$WORK/csr/$name.csr" 2>/dev/null
}

# csr_broken NAME: WORK/csr/NAME-badsig.csr is NAME.csr (DER) with one bit
# of the signature's last byte flipped.
csr_broken() {
    local der=$WORK/csr/$1.der
    openssl req -in "$WORK/csr/$1.csr" -outform DER -out "$der"
    flip_byte "$der" "$WORK/csr/$1-badsig.csr" $(($(stat -c %s "$der") - 1))
}

# serial_of CERT: the certificate's serial as the store spells it
# (lower-case hex, whole octets).
serial_of() {
    openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' |
        tr 'A-F' 'a-f'
}

# issue_cli NAME LEVEL USE MAILBOX CSR [IDENTITY OPTIONS...]: mailseald
# issue; the certificate goes to WORK/certs/NAME.pem (its key, when CSR
# is a csr_new name, to NAME.key), its serial to NAME.serial. Checks the
# stderr line, the serial and the issuer.
issue_cli() {
    local name=$1 level=$2 use=$3 mailbox=$4 csr=$5 serial
    shift 5
    mkdir -p "$WORK/certs"
    "$MSD" -d "$D" issue --level "$level" --use "$use" --mailbox "$mailbox" \
        "$@" --csr "$WORK/csr/$csr.csr" --out "$WORK/certs/$name.pem" \
        2>"$WORK/certs/$name.err"
    cat "$WORK/certs/$name.err"
    serial=$(serial_of "$WORK/certs/$name.pem")
    grep -qx "issued serial=$serial level=V$level use=$use mailbox=$mailbox" \
        "$WORK/certs/$name.err"
    echo "$serial" >"$WORK/certs/$name.serial"
    cp "$WORK/csr/$csr.key" "$WORK/certs/$name.key"
}

# issue_http NAME LEVEL USE MAILBOX CSR [FIELD=VALUE...]: the same through
# POST /ca/issue with the admin token (FIELDs: given_name, surname,
# organisation, organisation_id, country, title); checks the 201 answer's
# serial against its certificate.
issue_http() {
    local name=$1 level=$2 use=$3 mailbox=$4 csr=$5 kv code
    local f=$WORK/certs/$name
    shift 5
    mkdir -p "$WORK/certs"
    issue_json "$f.json" "$level" "$use" "$mailbox" "$WORK/csr/$csr.csr"
    for kv in "$@"; do
        jq --arg k "${kv%%=*}" --arg v "${kv#*=}" '.[$k] = $v' "$f.json" \
            >"$f.json.tmp"
        mv "$f.json.tmp" "$f.json"
    done
    code=$(admin_post /ca/issue "$f.out" "$f.json")
    cat "$f.out"
    echo
    [ "$code" = 201 ]
    header "$f.out.hdr" Content-Type | grep_q -i '^application/json'
    jq -r .certificate "$f.out" >"$f.pem"
    jq -r .serial "$f.out" >"$f.serial"
    [ "$(serial_of "$f.pem")" = "$(cat "$f.serial")" ]
    cp "$WORK/csr/$csr.key" "$f.key"
}

# ------------------------------------------------------------------ HTTP

# http METHOD PATH OUT [CURL ARGS...]: the body goes to OUT, the headers to
# OUT.hdr; prints the status code. Fails only when curl does.
http() {
    local m=$1 p=$2 out=$3
    shift 3
    curl -sS --max-time 30 -X "$m" -D "$out.hdr" -o "$out" \
        -w '%{http_code}' "$@" "$URL$p"
}

# header FILE NAME: the value of header NAME in a curl -D file.
header() {
    tr -d '\r' <"$1" | sed -n "s/^$2:[[:space:]]*//Ip" | tail -n 1
}

# expect_status WANT METHOD PATH OUT [CURL ARGS...]
expect_status() {
    local want=$1 got
    shift
    got=$(http "$@")
    if [ "$got" != "$want" ]; then
        echo "$1 $2: status $got, want $want"
        head -c 600 "$3"
        echo
        return 1
    fi
}

# json_error FILE: a JSON error body naming the request.
json_error() {
    cat "$1"
    echo
    header "$1.hdr" Content-Type | grep_q -i '^application/json'
    jq -e '(.error | type == "string" and length > 0) and
           (.request_id | type == "string")' "$1" >/dev/null
}

# admin_post PATH OUT JSON-FILE [CURL ARGS...]: POST with the admin token.
admin_post() {
    local p=$1 out=$2 body=$3
    shift 3
    http POST "$p" "$out" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' --data-binary @"$body" "$@"
}

# issue_json OUT LEVEL USE MAILBOX CSR-FILE [JQ ARGS...]: the JSON body of a
# POST /ca/issue.
issue_json() {
    jq -n --argjson level "$2" --arg use "$3" --arg mailbox "$4" \
        --rawfile csr "$5" '{level: $level, use: $use, mailbox: $mailbox,
        csr: $csr}' >"$1"
}

# ------------------------------------------------------------------ store

# db_sql SQL: runs SQL on the store: the SQLite file of D, or with
# DB_PG_URL set (msd_use_pg) that PostgreSQL schema, through psql.
DB_PG_URL=""
db_sql() {
    if [ -n "$DB_PG_URL" ]; then
        psql -X -q -At -v ON_ERROR_STOP=1 "$DB_PG_URL" -c "$1"
    else
        sqlite3 -cmd '.timeout 10000' "$D/mailseal.db" "$1"
    fi
}

# msd_use_pg URL-FILE SCHEMA: the data directory's store becomes schema
# SCHEMA (dropped and made again) of the PostgreSQL database whose URL the
# ctest fixture "pg" wrote to URL-FILE; sets DB_PG_URL.
msd_use_pg() {
    local base sep='?'
    base=$(head -n 1 "$1")
    [ -n "$base" ] || return 1
    case $base in *\?*) sep='&' ;; esac
    psql -X -q -v ON_ERROR_STOP=1 "$base" \
        -c "DROP SCHEMA IF EXISTS $2 CASCADE" -c "CREATE SCHEMA $2"
    DB_PG_URL="$base${sep}options=-csearch_path%3D$2"
    conf_set database "$DB_PG_URL"
}

# store_counts: one line "certs=N revocations=N audit=N".
store_counts() {
    db_sql "SELECT 'certs=' || (SELECT count(*) FROM certs) ||
        ' revocations=' || (SELECT count(*) FROM revocations) ||
        ' audit=' || (SELECT count(*) FROM audit)"
}

# audit_rows: the row count mailseald audit-verify reports (chain intact).
audit_rows() {
    local out
    out=$("$MSD" -d "$D" audit-verify)
    echo "$out" >&2
    sed -n 's/^audit chain intact: \([0-9]*\) rows$/\1/p' <<<"$out" | grep .
}

# store_snapshot FILE: the counts and the audit-verify row count to FILE.
store_snapshot() {
    {
        store_counts
        echo "audit-verify=$(audit_rows)"
    } >"$1"
}

# store_unchanged FILE: the store is as store_snapshot FILE found it.
store_unchanged() {
    store_snapshot "$1.now"
    if ! cmp -s "$1" "$1.now"; then
        echo "the store changed:"
        diff "$1" "$1.now" || true
        return 1
    fi
}
