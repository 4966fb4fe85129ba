#!/bin/sh
# tests/support/pg-cluster.sh - a throw-away PostgreSQL cluster for tests.
#
#   pg-cluster.sh start DIR   initdb a cluster, start it on 127.0.0.1 and a
#                             free port, create the role and database
#                             mailseal_test (trust from 127.0.0.1 only) and
#                             write its URL to DIR/url
#   pg-cluster.sh stop DIR    stop it (pg_ctl -m fast) and remove DIR
#
# When MS_TEST_PG_URL is set, no cluster is started: start writes that URL
# to DIR/url and stop only removes DIR. When PostgreSQL is not installed,
# start fails: `make test` installs it, so a missing server is a broken
# install, not a reason to skip. Run as root (CI), the server runs as the
# system user postgres. The data directory, the log and the unix socket are
# in a private directory under /tmp (named in DIR/data, a symbolic link),
# because the postgres user may not be able to reach the build directory.
# Fsync is off: the cluster holds nothing worth keeping.
set -eu

MARK=.mailseal-pg-cluster
DB=mailseal_test
TRIES=20       # ports tried before giving up
POLLS=300      # readiness polls, 0.1 s apart: 30 s at most

usage() {
    echo "usage: $0 start|stop DIR" >&2
    exit 2
}

bindir() {
    if command -v pg_config >/dev/null 2>&1 &&
        [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    # Debian keeps the server programs out of PATH.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Runs a command as the cluster owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

do_stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    if [ ! -f "$dir/$MARK" ]; then
        echo "pg-cluster: $dir was not made by this script, left alone" >&2
        exit 1
    fi
    if [ -f "$dir/data/postmaster.pid" ]; then
        bin=$(bindir)
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -t 60 -w stop \
            >/dev/null || echo "pg-cluster: pg_ctl stop failed" >&2
    fi
    if [ -L "$dir/data" ]; then
        rm -rf -- "$(readlink "$dir/data")"
    fi
    rm -rf -- "$dir"
}

# Writes the server configuration for port $2 into data directory $1.
configure() {
    cat >"$1/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$1'
max_connections = 30
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
    # Superuser over the socket by peer identity; the test role and
    # database by trust from 127.0.0.1 only; nothing else.
    cat >"$1/pg_hba.conf" <<EOF
local all all peer
host $DB $DB 127.0.0.1/32 trust
EOF
}

# Polls until the server on port $2 answers or its postmaster is gone.
wait_ready() {
    n=0
    while [ $n -lt $POLLS ]; do
        if "$bin/pg_isready" -q -h "$1" -p "$2" -d postgres; then
            return 0
        fi
        # pg_ctl -W returns before the postmaster writes its pid file, so
        # only a missing server after a few polls counts as failure.
        if [ $n -gt 20 ] && [ ! -f "$1/postmaster.pid" ]; then
            return 1
        fi
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}

do_start() {
    dir=$1
    do_stop "$dir"
    mkdir -p "$dir"
    : >"$dir/$MARK"
    if [ -n "${MS_TEST_PG_URL:-}" ]; then
        printf '%s\n' "$MS_TEST_PG_URL" >"$dir/url"
        echo "pg-cluster: using MS_TEST_PG_URL, no cluster started"
        return 0
    fi
    bin=$(bindir)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "pg-cluster: PostgreSQL server not installed (make deps)" >&2
        exit 1
    fi
    data=$(mktemp -d /tmp/mailseal-pg.XXXXXX)
    ln -s "$data" "$dir/data"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$data"
    as_owner "$bin/initdb" -D "$data" -A reject -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # A pseudo-random start in 20000..39999, then the next ports: a port
    # taken since we chose it only costs a retry.
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
    try=0
    while [ $try -lt $TRIES ]; do
        configure "$data" "$port"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$data/postgresql.auto.conf" \
            "$data/pg_hba.conf"
        as_owner "$bin/pg_ctl" -D "$data" -l "$data/server.log" -W start \
            >/dev/null
        if wait_ready "$data" "$port"; then
            break
        fi
        as_owner "$bin/pg_ctl" -D "$data" -m immediate -w stop \
            >/dev/null 2>&1 || true
        try=$((try + 1))
        port=$((20000 + (port - 20000 + 1) % 20000))
    done
    if [ $try -ge $TRIES ]; then
        echo "pg-cluster: server did not start, log follows" >&2
        cat "$data/server.log" >&2 || true
        exit 1
    fi
    as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" \
        -d postgres -c "CREATE ROLE $DB LOGIN" \
        -c "CREATE DATABASE $DB OWNER $DB" >/dev/null
    printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$DB" "$port" "$DB" \
        >"$dir/url"
    echo "pg-cluster: $(cat "$dir/url")"
}

[ $# -eq 2 ] || usage
case $1 in
start) do_start "$2" ;;
stop) do_stop "$2" ;;
*) usage ;;
esac
