#!/bin/bash
# mailseald.sh MAILSEALD SCRATCH - the daemon skeleton end to end over real
# HTTP on 127.0.0.1: config check (-n) and print (-T), /healthz, 404, 405,
# 413, request IDs in headers and the log, SIGHUP (level applied, broken
# config kept old, restart-only keys kept), 200 parallel requests, SIGTERM.
# Every wait is a bounded poll. Fails at once when curl or jq is
# missing (make deps installs them).
set -euo pipefail

# grep_q ARGS...: `grep -q` that reads its whole input. Under pipefail,
# `producer | grep -q` fails at random: grep exits at the first match and
# the producer, still writing, dies of SIGPIPE.
grep_q() { grep "$@" >/dev/null; }

bin=${1:?usage: mailseald.sh MAILSEALD SCRATCH}
dir=${2:?usage: mailseald.sh MAILSEALD SCRATCH}
for tool in curl jq; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool is not installed (make deps installs it)"
        exit 1
    fi
done
rm -rf "$dir"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/mailseald.conf
log=$dir/log
pid=

fail() {
    echo "not ok - $*"
    [ -f "$log" ] && sed 's/^/  log: /' "$log"
    exit 1
}
ok() { echo "ok - $*"; }
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# poll SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds.
poll() {
    local limit=$(( $1 * 20 )) i=0
    shift
    until "$@"; do
        i=$(( i + 1 ))
        [ "$i" -ge "$limit" ] && return 1
        sleep 0.05
    done
}

write_conf() { # write_conf LOG_LEVEL [EXTRA LINE]
    cat >"$conf" <<CONF
# mailseald test config
listen = 127.0.0.1:0
modules =
threads = 1
max_body = 1k
database = postgresql://ms:s3cretpw@db.invalid/ms
passphrase_file = $dir/passphrase
log_level = $1
${2:-}
CONF
}
echo "passphrase-never-printed" >"$dir/passphrase"

# --- -n and -T ------------------------------------------------------------
write_conf info
out=$("$bin" -n -c "$conf") || fail "-n on a good config"
[ "$out" = "$conf: ok" ] || fail "-n output: $out"
ok "-n accepts a good config"

cp "$conf" "$dir/good.conf"
printf 'threads = 1\n# comment\nbogus_key = 1\n' >"$dir/bad1.conf"
if "$bin" -n -c "$dir/bad1.conf" 2>"$dir/err"; then
    fail "-n accepted an unknown key"
fi
grep -q "$dir/bad1.conf:3: unknown key 'bogus_key'" "$dir/err" ||
    fail "-n message: $(cat "$dir/err")"
printf '\nthreads = many\n' >"$dir/bad2.conf"
if "$bin" -n -c "$dir/bad2.conf" 2>"$dir/err"; then
    fail "-n accepted a bad value"
fi
grep -q "$dir/bad2.conf:2: threads: not a decimal number" "$dir/err" ||
    fail "-n message: $(cat "$dir/err")"
ok "-n refuses an unknown key and a bad value with file:line (exit 1)"

mkdir -p "$dir/d"
printf 'max_connections = 7\nmodules =\n' >"$dir/d/mailseald.conf"
out=$("$bin" -T -d "$dir/d") || fail "-T -d"
grep -qx 'max_connections = 7' <<<"$out" || fail "-T -d: $out"
grep -qx "data_dir = $dir/d" <<<"$out" || fail "-T data_dir: $out"
grep -qx "database = sqlite:$dir/d/mailseal.db" <<<"$out" || fail "-T db: $out"
out=$("$bin" -T -c "$conf") || fail "-T"
for want in 'listen = 127.0.0.1:0' 'max_body = 1024' 'threads = 1' \
    'log_level = info' 'modules = ' 'ocsp_validity = 86400' \
    'database = postgresql://ms:****@db.invalid/ms'; do
    grep -qxF "$want" <<<"$out" || fail "-T lacks '$want': $out"
done
if grep -q -e s3cretpw -e passphrase-never-printed <<<"$out"; then
    fail "-T printed a secret"
fi
ok "-T prints the effective config, defaults included, secrets redacted"

# --- start ------------------------------------------------------------------
"$bin" -f -c "$conf" --port-file "$dir/port" 2>"$log" &
pid=$!
poll 20 test -s "$dir/port" || fail "no port file within 20 s"
port=$(cat "$dir/port")
[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -gt 0 ] || fail "bad port '$port'"
url=http://127.0.0.1:$port
grep -q "listening on $url (modules: health)" "$log" || fail "startup line"
ok "listening on port $port (port file, startup line)"

# request METHOD PATH [CURL ARGS...]: sets code, body, rid.
request() {
    local m=$1 p=$2
    shift 2
    curl -sS --max-time 10 -X "$m" -D "$dir/hdr" -o "$dir/body" \
        -w '%{http_code}' "$@" "$url$p" >"$dir/code" || fail "curl $m $p"
    code=$(cat "$dir/code")
    body=$(cat "$dir/body")
    rid=$(tr -d '\r' <"$dir/hdr" | sed -n 's/^X-Request-Id: //Ip')
    [[ "$rid" =~ ^[0-9a-f]{16}$ ]] || fail "$m $p: X-Request-Id '$rid'"
}
json_error_ok() { # the JSON error body names this request
    [ "$(jq -r .request_id <<<"$body")" = "$rid" ] || fail "request_id: $body"
    [ -n "$(jq -r .error <<<"$body")" ] || fail "error text: $body"
    grep -qi '^Content-Type: application/json' "$dir/hdr" || fail "type"
}
logged() { grep -q "info: $1: request " "$log"; }

request GET /healthz
[ "$code" = 200 ] || fail "/healthz: $code"
[ "$(jq -r .status <<<"$body")" = ok ] || fail "/healthz body: $body"
[ "$(jq -c .modules <<<"$body")" = '["health"]' ] || fail "modules: $body"
[ "$(jq -r .version <<<"$body")" = "$("$bin" version | cut -d' ' -f2)" ] ||
    fail "version: $body"
grep -qi '^Content-Type: application/json' "$dir/hdr" || fail "type"
id1=$rid
poll 10 logged "$id1" || fail "no access line for $id1"
grep -q "info: $id1: request time=[0-9T:.-]*Z peer=127.0.0.1 method=GET path=/healthz status=200 bytes=[0-9]* us=[0-9]*$" "$log" ||
    fail "access line format"
ok "GET /healthz: 200 JSON, X-Request-Id, one access line"

request HEAD /healthz -I
[ "$code" = 200 ] || fail "HEAD /healthz: $code"
request GET /nope/%41
[ "$code" = 404 ] || fail "/nope: $code"
json_error_ok
request POST /healthz -d x
[ "$code" = 405 ] || fail "POST /healthz: $code"
json_error_ok
tr -d '\r' <"$dir/hdr" | grep_q -x 'Allow: GET, HEAD' || fail "Allow header"
head -c 2000 /dev/zero | tr '\0' x >"$dir/big"
request POST /healthz --data-binary @"$dir/big"
[ "$code" = 413 ] || fail "body over max_body: $code"
json_error_ok
ok "HEAD 200, unknown path 404, POST 405 with Allow, 2000-byte body 413"

# --- SIGHUP -----------------------------------------------------------------
reloads() { grep -c 'config reloaded' "$log" || true; }
write_conf warning
kill -HUP "$pid"
poll 10 test "$(reloads)" -ge 1 || fail "no reload"
request GET /healthz
id2=$rid
write_conf warning "bogus_key = 1"
kill -HUP "$pid"
poll 10 grep -q "reload failed, keeping the old config: $conf:9: unknown key 'bogus_key'" "$log" ||
    fail "broken config: no error"
request GET /healthz
[ "$code" = 200 ] || fail "after a broken reload: $code"
id3=$rid
write_conf info "max_connections = 10"
kill -HUP "$pid"
poll 10 test "$(reloads)" -ge 2 || fail "no second reload"
grep -q 'warning: reload: max_connections changed: needs a restart' "$log" ||
    fail "threads change not reported"
request GET /healthz
id4=$rid
poll 10 logged "$id4" || fail "info level not restored"
logged "$id2" && fail "log_level warning was not applied"
logged "$id3" && fail "the broken config changed the level"
ok "SIGHUP applies log_level, keeps the old config when broken, reports restart-only keys"

write_conf info "access_log = no"
kill -HUP "$pid"
poll 10 test "$(reloads)" -ge 3 || fail "no third reload"
request GET /healthz
id5=$rid
write_conf info
kill -HUP "$pid"
poll 10 test "$(reloads)" -ge 4 || fail "no fourth reload"
request GET /healthz
id6=$rid
poll 10 logged "$id6" || fail "access_log = yes not restored"
logged "$id5" && fail "access_log = no still logged the request"
ok "SIGHUP applies access_log = no (and back)"

# --- load -------------------------------------------------------------------
seq 200 | xargs -P 40 -I{} curl -s --max-time 20 -o /dev/null \
    -w '%{http_code}\n' "$url/healthz?n={}" >"$dir/codes" || true
n=$(grep -cx 200 "$dir/codes" || true)
[ "$n" = 200 ] || fail "parallel: $n of 200 answered 200"
ok "200 parallel requests all answered 200"

# --- SIGTERM ----------------------------------------------------------------
kill -TERM "$pid"
poll 20 eval '! kill -0 "$pid" 2>/dev/null' || fail "still running 20 s after SIGTERM"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
grep -q 'info: stopped' "$log" || fail "no stop line"
if curl -s --max-time 5 -o /dev/null "$url/healthz"; then
    fail "port $port still answers"
fi
ok "SIGTERM: exit 0, port closed"
