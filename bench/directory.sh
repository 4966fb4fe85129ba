#!/bin/bash
# directory.sh BUILD [SECONDS] - the directory benchmark of issue 4, by
# hand (never part of `make test`; do not run at full size on a shared
# machine): N published mailboxes (default 1,000,000), each with a V1
# signing certificate, loaded by tests/support/dir_drive in one
# transaction; then wrk GET /v1/directory/<random published address> (a
# Lua script picks from a list of up to 100,000 of them) against
# mailseald on SQLite and on PostgreSQL, side by side with nginx serving a
# static JSON file of the same size (the ceiling of this machine).
#
# Environment: N (mailboxes, default 1000000), CONNS (wrk connections,
# default 64), THREADS (wrk threads, default 2), BACKENDS (default
# "sqlite pg"), MAILSEALD, DIR_DRIVE (default BUILD/services/mailseald,
# BUILD/tests/integration/dir_drive). PostgreSQL runs as a throw-away
# cluster (tests/support/pg-cluster.sh). Every answer that is not 200
# counts as an error (the row says so). Nothing outside temp directories
# changes; every server started is stopped by its PID at exit.
set -euo pipefail

build=${1:?usage: directory.sh BUILD [SECONDS]}
secs=${2:-10}
n=${N:-1000000}
conns=${CONNS:-64}
wthreads=${THREADS:-2}
backends=${BACKENDS:-sqlite pg}
here=$(cd "$(dirname "$0")" && pwd)
msd=${MAILSEALD:-$build/services/mailseald}
drive=${DIR_DRIVE:-$build/tests/integration/dir_drive}
for f in "$msd" "$drive"; do
    [ -x "$f" ] || { echo "directory.sh: $f is missing (build first)" >&2; exit 2; }
done
for t in wrk nginx curl openssl shuf; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
        { echo "directory.sh: $t is missing" >&2; exit 2; }
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
www=$(mktemp -d) # nginx workers may run as nobody
chmod 755 "$www"
pids=""
pg_dir=""
cleanup() {
    local p
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    if [ -n "$pg_dir" ]; then
        sh "$here/../tests/support/pg-cluster.sh" stop "$pg_dir" >/dev/null 2>&1 || true
    fi
    rm -rf "$work" "$www"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL: bounded polling until URL answers 200.
wait_http() {
    local i
    for i in $(seq 1 200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" = 200 ] && return 0
        sleep 0.1
    done
    echo "directory.sh: $1 does not answer" >&2
    return 1
}

# ---------------------------------------------------------------- data
D=$work/data
"$msd" --init "$D" --insecure-keys >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=bench" -keyout "$work/bench.key" -out "$work/bench.csr" 2>/dev/null
"$msd" -d "$D" issue --level 1 --use signing --mailbox user0@bench.example \
    --csr "$work/bench.csr" --out "$work/bench.pem" 2>/dev/null
openssl x509 -in "$work/bench.pem" -outform DER -out "$work/bench.der"
k=$((n < 100000 ? n : 100000))
shuf -i "1-$n" -n "$k" | sed 's/.*/user&@bench.example/' >"$work/addrs.txt"
cat >"$work/lookup.lua" <<'LUA'
local addrs = {}
for line in io.lines(os.getenv("ADDRS")) do addrs[#addrs + 1] = line end
request = function()
    return wrk.format("GET", "/v1/directory/" .. addrs[math.random(#addrs)])
end
LUA

# load URL: N mailboxes into the store at URL (timed).
load() {
    local t0=$EPOCHREALTIME
    "$drive" bulk "$1" "$n" "$work/bench.der"
    awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$n" \
        'BEGIN { printf "  loaded %d mailboxes in %.1f s\n", n, b - a }'
}

# msd_run DATABASE-URL: mailseald on the store; sets MURL.
msd_run() {
    {
        echo "listen = 127.0.0.1:0"
        echo "modules = directory"
        echo "insecure_keys = yes"
        echo "access_log = no"
        echo "log_level = warning"
        echo "directory_rate = 1000000000"
        echo "database = $1"
    } >"$D/mailseald.conf"
    rm -f "$D/port"
    "$msd" -d "$D" --port-file "$D/port" 2>>"$work/mailseald.log" &
    MPID=$!
    pids="$pids $MPID"
    for _ in $(seq 1 200); do [ -s "$D/port" ] && break; sleep 0.1; done
    MURL=http://127.0.0.1:$(cat "$D/port")
    wait_http "$MURL/healthz"
}

msd_stop() {
    kill "$MPID" 2>/dev/null || true
    wait "$MPID" 2>/dev/null || true
}

# wrk_row NAME URL [SCRIPT]: one line NAME req/s p50 p99 errors.
wrk_row() {
    local name=$1 url=$2 out
    shift 2
    out=$(ADDRS=$work/addrs.txt wrk -t"$wthreads" -c"$conns" -d"${secs}s" \
        --latency --timeout 2s "$@" "$url")
    echo "$out" >>"$work/wrk.log"
    awk -v name="$name" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx/ { bad += $NF }
        /Socket errors/ { bad += 1 }
        END { printf "%-22s %12s req/s  p50 %-9s p99 %-9s errors %d\n",
              name, rps, p50, p99, bad }' <<<"$out"
}

results=()
for b in $backends; do
    case $b in
    sqlite) url="sqlite:$D/mailseal.db" ;;
    pg)
        pg_dir=$work/pg
        sh "$here/../tests/support/pg-cluster.sh" start "$pg_dir" >/dev/null
        url=$(head -n 1 "$pg_dir/url")
        ;;
    *) echo "directory.sh: unknown backend $b" >&2; exit 2 ;;
    esac
    echo "== $b: $n mailboxes"
    msd_run "$url" # migrates the schema
    msd_stop
    load "$url"
    msd_run "$url"
    a=$(head -n 1 "$work/addrs.txt")
    [ "$(curl -s -o "$work/one-$b.json" -w '%{http_code}' "$MURL/v1/directory/$a")" = 200 ] ||
        { echo "directory.sh: lookup of $a failed" >&2; exit 1; }
    results+=("$(wrk_row "mailseald-$b" "$MURL" -s "$work/lookup.lua")")
    msd_stop
done

# nginx: a static JSON file of the same size (the last backend's answer).
cp "$work/one-${b}.json" "$www/dir.json"
nport=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx-body;
    server {
        listen 127.0.0.1:$nport;
        root $www;
    }
}
NGINX
"$nginx_bin" -c "$work/nginx.conf" -g 'daemon off;' 2>>"$work/nginx-error.log" &
pids="$pids $!"
wait_http "http://127.0.0.1:$nport/dir.json"
results+=("$(wrk_row "nginx-static-$(stat -c %s "$www/dir.json")B" "http://127.0.0.1:$nport/dir.json")")

echo
echo "== GET /v1/directory/{address}: $n published, $conns connections, ${secs}s"
printf '%s\n' "${results[@]}"
