#!/bin/bash
# shellcheck disable=SC2317,SC2016 # functions run via check; poll eval
# restart.sh - mailseald survives being killed:
#  (a) issuances through `mailseald issue` processes and POST /ca/issue run
#      in parallel; at a random point (after 1..6 more certificates) the
#      issuing processes and the daemon get SIGKILL; five rounds. Then the
#      audit chain is intact, every certificate row parses and carries its
#      row's serial, each has exactly one cert.issue audit row, no serial
#      appears twice, and every issuance a client saw succeed is stored
#      with the certificate the client got.
#  (b) TSA serial numbers stay unique and grow across kill -9 and restart.
#  (c) SIGTERM with requests in flight: those already accepted are
#      answered in full, others refused cleanly; mailseald exits 0.
#
# Usage: restart.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# shellcheck source=tests/integration/daemon.sh
. "$(dirname "$0")/daemon.sh"
need openssl curl jq sqlite3 ss python3

ROOT=$D/certs/root.pem
R=$WORK/runs # what the workers saw
mkdir -p "$R"
ROUNDS=5

msd_init --insecure-keys || fatal "mailseald --init"
msd_start || fatal "mailseald starts and answers /healthz"
ok "mailseald listening on $URL"

csr_new any ec || fatal "CSR"
issue_json "$R/issue.json" 1 signing worker@example.org "$WORK/csr/any.csr"

# cli_worker K ROUND: `mailseald issue` again and again (at most 40) until
# R/stop exists. A success leaves R/c-ROUND-K-I.serial (from the stderr
# line) next to the certificate it wrote.
cli_worker() {
    local k=$1 r=$2 i=0 f
    while [ ! -e "$R/stop" ] && [ "$i" -lt 40 ]; do
        i=$((i + 1))
        f=$R/c-$r-$k-$i
        if "$MSD" -d "$D" issue --level 1 --use signing \
            --mailbox "cli$k@example.org" --csr "$WORK/csr/any.csr" \
            --out "$f.pem" 2>"$f.err"; then
            sed -n 's/^issued serial=\([0-9a-f]*\) .*/\1/p' "$f.err" >"$f.tmp"
            mv "$f.tmp" "$f.serial"
        fi
    done
}

# http_worker K ROUND: POST /ca/issue likewise; a 201 leaves
# R/h-ROUND-K-I.serial and .pem.
http_worker() {
    local k=$1 r=$2 i=0 f code
    while [ ! -e "$R/stop" ] && [ "$i" -lt 200 ]; do
        i=$((i + 1))
        f=$R/h-$r-$k-$i
        code=$(curl -s --max-time 20 -o "$f.json" -w '%{http_code}' \
            -H "Authorization: Bearer $ADMIN_TOKEN" \
            -H 'Content-Type: application/json' \
            --data-binary @"$R/issue.json" "$URL/ca/issue") || code=000
        if [ "$code" = 201 ]; then
            jq -r .certificate "$f.json" >"$f.pem"
            jq -r .serial "$f.json" >"$f.tmp"
            mv "$f.tmp" "$f.serial"
        fi
        echo "$code" >>"$R/h-$r-codes"
    done
}

cert_count() { db_sql 'SELECT count(*) FROM certs'; }

# one_round ROUND: workers on, SIGKILL for all after 1..6 more
# certificates (and an acknowledgement, below), daemon restarted. Runs in
# the script's shell.
one_round() {
    local r=$1 base target pids=() p kind
    rm -f "$R/stop"
    base=$(cert_count)
    target=$((base + 1 + RANDOM % 6))
    set -m # each worker its own process group: kill -9 takes its child too
    cli_worker 1 "$r" &
    pids+=($!)
    cli_worker 2 "$r" &
    pids+=($!)
    http_worker 1 "$r" &
    pids+=($!)
    http_worker 2 "$r" &
    pids+=($!)
    set +m
    BG_PGIDS=("${pids[@]}")
    # the random point: target reached, and (so that both ways are seen
    # succeeding, whatever the speed) one issuance acknowledged this round,
    # to a command in odd rounds, over HTTP in even ones
    kind=c
    [ $((r % 2)) -eq 1 ] || kind=h
    poll 90 eval '[ "$(cert_count)" -ge "$target" ] &&
        compgen -G "$R/$kind-$r-*.serial" >/dev/null' ||
        echo "round $r: fewer than $target certificates or no $kind" \
            "acknowledgement after 90 s" >>"$R/notes"
    : >"$R/stop"
    for p in "${pids[@]}"; do
        kill -KILL -- "-$p" 2>/dev/null || true
    done
    kill -KILL "$DPID" 2>/dev/null || true
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    BG_PGIDS=()
    msd_kill
    echo "round $r: $base -> $(cert_count) certificates (target $target)" >>"$R/notes"
    msd_start
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
    one_round "$r" || fatal "round $r: mailseald restarts after kill -9"
    r=$((r + 1))
done
ok "$ROUNDS rounds of kill -9 during issuance, daemon restarted each time"
sed 's/^/# /' "$R/notes"

# acked: the serials clients saw succeed, one "KIND FILE SERIAL" per line.
acked() {
    local f
    for f in "$R"/[ch]-*.serial; do
        [ -s "$f" ] || continue
        echo "$f $(cat "$f")"
    done
}

audit_intact() {
    local rows
    rows=$(audit_rows)
    echo "audit-verify: $rows rows"
    [ "$rows" -eq "$(db_sql 'SELECT count(*) FROM audit')" ]
    [ "$(db_sql 'PRAGMA integrity_check')" = ok ]
}

rows_parse() {
    local s h n=0
    : >"$R/parsed"
    while read -r s h; do
        printf '%s' "$h" | xxd -r -p >"$R/row.der"
        openssl x509 -inform DER -in "$R/row.der" -noout -serial -issuer \
            >"$R/row.txt"
        grep -qix "serial=$s" "$R/row.txt" || {
            echo "row $s: $(cat "$R/row.txt")"
            return 1
        }
        grep -q 'CN *= *mailseal V1 Mailbox CA' "$R/row.txt"
        sed -n 's/^serial=//p' "$R/row.txt" | tr 'A-F' 'a-f' >>"$R/parsed"
        n=$((n + 1))
    done < <(db_sql "SELECT serial_hex || ' ' || hex(der) FROM certs")
    echo "$n rows"
    [ "$n" -eq "$(cert_count)" ] && [ "$n" -gt 0 ]
    # no serial twice, in the rows or in the certificates
    [ -z "$(sort "$R/parsed" | uniq -d)" ]
    [ "$(db_sql 'SELECT count(DISTINCT serial_hex) FROM certs')" -eq "$n" ]
}

one_audit_row_each() {
    local bad
    bad=$(db_sql "SELECT c.serial_hex || ':' || (SELECT count(*) FROM audit a
        WHERE a.event = 'cert.issue' AND a.detail LIKE
        'serial=' || c.serial_hex || ' %') FROM certs c" | grep -v ':1$' || true)
    if [ -n "$bad" ]; then
        echo "certificates without exactly one cert.issue row: $bad"
        return 1
    fi
    [ "$(db_sql "SELECT count(*) FROM audit WHERE event = 'cert.issue'")" \
        -eq "$(cert_count)" ]
}

acked_stored() {
    local f s n=0 pem
    while read -r f s; do
        pem=${f%.serial}.pem
        [ "$(serial_of "$pem")" = "$s" ]
        [ "$(db_sql "SELECT lower(hex(der)) FROM certs WHERE serial_hex = '$s'")" = \
            "$(openssl x509 -in "$pem" -outform DER | xxd -p | tr -d '\n')" ] || {
            echo "acknowledged $s ($f) is not stored as the client got it"
            return 1
        }
        n=$((n + 1))
    done < <(acked)
    echo "$n acknowledged issuances, all stored"
    [ "$n" -ge "$ROUNDS" ]
    # both ways of issuing were hit (a file: grep -q on a pipe would
    # SIGPIPE the writer, and pipefail count that as a failure)
    acked >"$R/acked"
    grep -q '/c-' "$R/acked"
    grep -q '/h-' "$R/acked"
}

issues_after() {
    local before
    before=$(cert_count)
    [ "$(admin_post /ca/issue "$R/after.json" "$R/issue.json")" = 201 ]
    "$MSD" -d "$D" issue --level 1 --use signing --mailbox after@example.org \
        --csr "$WORK/csr/any.csr" --out "$R/after.pem"
    [ "$(cert_count)" -eq $((before + 2)) ]
    "$MSD" -d "$D" audit-verify
}

check "audit-verify intact after the kills (rows = table rows, integrity ok)" audit_intact
check "every certificate row parses, carries its row's serial; no serial twice" rows_parse
check "each certificate has exactly one cert.issue audit row" one_audit_row_each
check "every issuance a client saw succeed is stored as the client got it" acked_stored
check "after the kills both ways of issuing work" issues_after

# ------------------------------------------------------------ TSA serials
head -c 100 /dev/urandom >"$R/ts.data"
openssl ts -query -data "$R/ts.data" -sha256 -cert -out "$R/ts.tsq"

# tsa_batch N OUT: N timestamps, their serials (as openssl prints them) to
# OUT; each reply is verified.
tsa_batch() {
    local i=0 f
    : >"$2"
    while [ "$i" -lt "$1" ]; do
        i=$((i + 1))
        f=$R/ts-$i.tsr
        expect_status 200 POST /tsa "$f" \
            -H 'Content-Type: application/timestamp-query' \
            --data-binary @"$R/ts.tsq"
        openssl ts -verify -queryfile "$R/ts.tsq" -in "$f" -CAfile "$ROOT" \
            -untrusted "$D/certs/tsa.pem" >/dev/null
        openssl ts -reply -in "$f" -text | sed -n 's/^Serial number: //p' >>"$2"
    done
    [ "$(wc -l <"$2")" -eq "$1" ]
}

# serials_grow OLD NEW: all distinct, every NEW above every OLD.
serials_grow() {
    python3 - "$1" "$2" <<'PY'
import sys
old = [int(x, 0) for x in open(sys.argv[1]).read().split()]
new = [int(x, 0) for x in open(sys.argv[2]).read().split()]
print("old %d..%d, new %d..%d" % (min(old), max(old), min(new), max(new)))
every = old + new
sys.exit(0 if len(set(every)) == len(every) and min(new) > max(old) else 1)
PY
}

check "15 timestamps before the kill" tsa_batch 15 "$R/ts-a"
msd_kill
msd_start || fatal "mailseald restarts after kill -9 (TSA)"
check "15 timestamps after kill -9 and restart" tsa_batch 15 "$R/ts-b"
msd_kill
msd_start || fatal "mailseald restarts after a second kill -9 (TSA)"
check "15 timestamps after a second kill -9" tsa_batch 15 "$R/ts-c"
check "TSA serials: all distinct, each batch above the one before the kill" \
    eval 'serials_grow "$R/ts-a" "$R/ts-b" && serials_grow "$R/ts-b" "$R/ts-c"'

# --------------------------------------------------- SIGTERM in flight
S=$WORK/term
mkdir -p "$S"
# The slow requests: three timestamps and one issuance. curl sends the
# headers and half of the body (Content-Length: the whole), the rest only
# after SIGTERM. Once the daemon has accepted all of these connections
# they are in flight.
SLOW_PATH=(/tsa /tsa /tsa /ca/issue)
SLOW_TYPE=(application/timestamp-query application/timestamp-query
    application/timestamp-query application/json)
SLOW_BODY=("$R/ts.tsq" "$R/ts.tsq" "$R/ts.tsq" "$R/issue.json")
SLOW=${#SLOW_PATH[@]}

start_slow() {
    local i len
    # curl sends the body until EOF on its FIFO: every curl is started
    # before any FIFO is opened here, so none holds another's write end.
    for i in $(seq "$SLOW"); do
        len=$(stat -c %s "${SLOW_BODY[i - 1]}")
        head -c $((len / 2)) "${SLOW_BODY[i - 1]}" >"$S/head$i"
        tail -c +$((len / 2 + 1)) "${SLOW_BODY[i - 1]}" >"$S/tail$i"
        rm -f "$S/fifo$i"
        mkfifo "$S/fifo$i"
        curl -s --max-time 60 -X POST -T "$S/fifo$i" -o "$S/slow$i.out" \
            -w '%{http_code}' -H "Content-Type: ${SLOW_TYPE[i - 1]}" \
            -H "Authorization: Bearer $ADMIN_TOKEN" \
            -H 'Transfer-Encoding:' -H 'Expect:' -H "Content-Length: $len" \
            "$URL${SLOW_PATH[i - 1]}" >"$S/slow$i.code" 2>"$S/slow$i.err" &
        echo $! >"$S/slow$i.pid"
    done
    for i in $(seq "$SLOW"); do
        # read-write: the open never blocks, whatever curl does
        exec {fd}<>"$S/fifo$i"
        eval "SLOW_FD$i=$fd"
        cat "$S/head$i" >&"$fd"
    done
}

# close_slow FD-VARIABLE...: closes the FIFO ends named.
close_slow() {
    local v
    for v in "$@"; do
        eval "exec ${!v}>&-"
    done
}

# accepted N: the daemon holds at least N established connections.
accepted() {
    [ "$(ss -tnpH state established "( sport = :$PORT )" |
        grep -c "pid=$DPID,")" -ge "$1" ]
}

# The fast burst: 40 timestamp requests, 8 at a time;
# each leaves "EXIT HTTP-CODE BYTES" in S/burst-I.res.
burst_one() {
    local i=$1 rc=0 out
    out=$(curl -s --max-time 30 -o "$S/burst-$i.body" \
        -w '%{http_code} %{size_download}' \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$R/ts.tsq" "$URL/tsa") || rc=$?
    echo "$rc $out" >"$S/burst-$i.res"
}
export -f burst_one
export S R URL

msd_start_term() {
    start_slow
    poll 30 accepted "$SLOW" || {
        echo "the daemon did not accept the $SLOW slow connections"
        return 1
    }
    (
        close_slow $(seq -f 'SLOW_FD%.0f' "$SLOW")
        seq 40 | xargs -P 8 -I{} bash -c 'burst_one {}'
    ) &
    BURST_PID=$!
    poll 30 eval '[ "$(ls "$S" | grep -c "^burst-.*\.res$")" -ge 3 ]' || true
}

term_rc=0
msd_start_term >"$S/setup.log" 2>&1 || fatal "SIGTERM set-up: $(cat "$S/setup.log")"
kill -TERM "$DPID"
# the rest of the slow bodies, after the signal
for i in $(seq "$SLOW"); do
    fd_var=SLOW_FD$i
    fd=${!fd_var}
    cat "$S/tail$i" 1>&"$fd" 2>/dev/null || true
    close_slow "$fd_var"
done
if poll 30 eval '! kill -0 "$DPID" 2>/dev/null'; then
    wait "$DPID" || term_rc=$?
    DPID=""
else
    term_rc=timeout
    msd_kill
fi
wait "$BURST_PID" 2>/dev/null || true
for i in $(seq "$SLOW"); do
    wait "$(cat "$S/slow$i.pid")" 2>/dev/null || true
done

check "SIGTERM with requests in flight: mailseald exits 0 (got $term_rc)" \
    test "$term_rc" = 0

slow_answered() {
    local i serial
    for i in $(seq "$SLOW"); do
        echo "slow $i ${SLOW_PATH[i - 1]}: HTTP $(cat "$S/slow$i.code")" \
            "$(cat "$S/slow$i.err")"
        if [ "${SLOW_PATH[i - 1]}" = /tsa ]; then
            [ "$(cat "$S/slow$i.code")" = 200 ]
            openssl ts -verify -queryfile "$R/ts.tsq" -in "$S/slow$i.out" \
                -CAfile "$ROOT" -untrusted "$D/certs/tsa.pem"
        else
            # the issuance answered is stored, as answered
            [ "$(cat "$S/slow$i.code")" = 201 ]
            serial=$(jq -r .serial "$S/slow$i.out")
            jq -r .certificate "$S/slow$i.out" >"$S/slow$i.pem"
            [ "$(db_sql "SELECT lower(hex(der)) FROM certs WHERE \
                serial_hex = '$serial'")" = "$(openssl x509 -in "$S/slow$i.pem" \
                -outform DER | xxd -p | tr -d '\n')" ]
        fi
    done
}

# burst_clean: each request of the burst was answered (200 and a reply
# that verifies) or refused cleanly: connection refused or reset before
# any byte came back (curl 7, 52, 56 with nothing received), or 503.
burst_clean() {
    local i rc code bytes answered=0 refused=0
    for i in $(seq 40); do
        [ -f "$S/burst-$i.res" ] || {
            echo "burst $i: no result"
            return 1
        }
        read -r rc code bytes <"$S/burst-$i.res"
        if [ "$rc" = 0 ] && [ "$code" = 200 ]; then
            openssl ts -verify -queryfile "$R/ts.tsq" -in "$S/burst-$i.body" \
                -CAfile "$ROOT" -untrusted "$D/certs/tsa.pem" >/dev/null
            answered=$((answered + 1))
        elif [ "$rc" = 0 ] && [ "$code" = 503 ]; then
            refused=$((refused + 1))
        elif [[ " 7 52 56 " == *" $rc "* ]] && [ "${bytes:-0}" = 0 ]; then
            refused=$((refused + 1))
        else
            echo "burst $i: curl exit $rc, HTTP $code, $bytes bytes"
            return 1
        fi
    done
    echo "$answered answered, $refused refused"
    [ "$answered" -ge 3 ]
}

check "the $SLOW requests accepted before SIGTERM (3 TSA, 1 issue) answered in full" \
    slow_answered
check "the burst: every request answered (verifies) or cleanly refused" burst_clean
check "no sanitizer report in the daemon log" no_sanitizer_report
finish
