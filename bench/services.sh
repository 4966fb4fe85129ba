#!/bin/bash
# services.sh BUILD [SECONDS] - the service benchmark of issue 3, by hand
# (never part of `make test`): TSA and OCSP requests per second on this
# machine, mailseald side by side with, in the same run,
#   - ceilings: `openssl speed -multi 2` P-256 / RSA-2048 signatures, and
#     nginx serving a static file of an OCSP response's / TSA reply's size;
#   - `openssl ts -reply`, one process per request from a shell loop;
#   - the stock `openssl ocsp -index` responder at 1, 16 and 64 connections;
#   - uts-server (built by hand in a scratch directory, see
#     docs/performance.md) with a P-256 and an RSA-2048 key;
#   - mailseald TSA (P-256, RSA-2048) and OCSP cached (GET, POST) at 64
#     connections, when $MAILSEALD or BUILD/services/mailseald
#     exists.
# Every HTTP row uses wrk (a Lua script sets POST bodies), on 127.0.0.1,
# with a per-request timeout; non-2xx answers and socket errors count as
# errors. SECONDS (default 10) is each figure's length, split into ROUNDS
# (default 5) interleaved rounds so that noise on this shared machine hits
# every row alike; each ratio is the median of the per-round ratios.
# A row stalls in a round when it completes nothing, wrk counts a timeout,
# or its slowest request took at least the timeout.
# The stock OpenSSL 3.0 responder spins on read() == 0 forever, serving no
# one, once a client closes a connection without a (further) request: an
# idle connect-and-close (health check, port scan) or a keep-alive client
# hanging up. So wrk's scripts skip wrk's own probe connection (wrk.resolve
# connects once to each address first), the responder is restarted before
# each of its rows and is probed with HTTP/1.0, and the row
# openssl-ocsp-c1-idle shows the stall: one idle connection, then 1 client.
# Environment: ROUNDS, CONNS (default 64), NTS (openssl ts -reply requests
# per key, default 200), TIMEOUT (wrk per-request timeout, default 1s),
# UTS_SERVER (default /work/scratch/uts-server/build/uts-server), MAILSEALD.
# Installs wrk, apache2-utils, nghttp2-client and nginx-light if missing
# (bench only). Nothing outside two temp directories changes; every server
# it starts is stopped by its PID at exit.
set -euo pipefail

build=${1:?usage: services.sh BUILD [SECONDS]}
secs=${2:-10}
rounds=${ROUNDS:-5}
conns=${CONNS:-64}
nts=${NTS:-200}
timeout=${TIMEOUT:-1s}
uts=${UTS_SERVER:-/work/scratch/uts-server/build/uts-server}
ms=${MAILSEALD:-$build/services/mailseald}
arc=2.25.70987990664227431197429845594075621128 # MS_OID_ARC
per=$((secs / rounds))
[ "$per" -ge 1 ] || { echo "services.sh: SECONDS must be >= ROUNDS" >&2; exit 2; }

# ---------------------------------------------------------------- tools
install_tools()
{
    local p missing=""
    for p in wrk apache2-utils nghttp2-client nginx-light curl openssl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "services.sh: missing packages:$missing (run as root)" >&2
        exit 2
    fi
    echo "services.sh: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
install_tools
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
www=$(mktemp -d) # static files only: nginx workers may run as nobody
chmod 755 "$www"
pids=""
cleanup()
{
    local p
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work" "$www"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: a TCP port free on all addresses (openssl ocsp binds them all).
free_port()
{
    python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'
}

# wait_http NAME URL [CURL-ARGS...]: bounded polling until URL answers 200.
wait_http()
{
    local name=$1 url=$2 i
    shift 2
    for i in $(seq 1 100); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url")" = 200 ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "services.sh: $name does not answer at $url" >&2
    return 1
}

# ---------------------------------------------------------------- PKI
# Throw-away TSA and OCSP PKI: a P-256 CA, a P-256 and an RSA-2048 TSA,
# an OCSP responder, one good and one revoked end-entity certificate.
p=$work/pki
mkdir -p "$p"
printf '[ req ]\ndistinguished_name = dn\n[ dn ]\n' >"$p/req.cnf"
cat >"$p/ext.cnf" <<EOF
[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ tsa ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
[ ocsp ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, OCSPSigning
[ ee ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = emailProtection
EOF
# issue NAME EXT CN KEYALG-OPTIONS...: key and certificate under the CA.
issue()
{
    local name=$1 ext=$2 cn=$3
    shift 3
    openssl genpkey "$@" -out "$p/$name.key" 2>/dev/null
    openssl req -new -config "$p/req.cnf" -key "$p/$name.key" \
        -subj "/O=mailseal bench/CN=$cn" -out "$p/$name.csr"
    openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.pem" -CAkey "$p/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 30 -sha256 \
        -extfile "$p/ext.cnf" -extensions "$ext" -out "$p/$name.pem" 2>/dev/null
}
make_pki()
{
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$p/ca.key" 2>/dev/null
    openssl req -new -x509 -config "$p/req.cnf" -key "$p/ca.key" -days 30 \
        -sha256 -subj "/O=mailseal bench/CN=Bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$p/ca.pem"
    local ec="-algorithm EC -pkeyopt ec_paramgen_curve:P-256"
    # shellcheck disable=SC2086
    {
        issue tsa-p256 tsa "Bench TSA P-256" $ec
        issue tsa-rsa2048 tsa "Bench TSA RSA-2048" -algorithm RSA \
            -pkeyopt rsa_keygen_bits:2048
        issue ocsp ocsp "Bench OCSP responder" $ec
        issue good ee "good" $ec
        issue revoked ee "revoked" $ec
    }
    local s r
    s=$(openssl x509 -in "$p/good.pem" -noout -serial | cut -d= -f2)
    r=$(openssl x509 -in "$p/revoked.pem" -noout -serial | cut -d= -f2)
    printf 'V\t351231235959Z\t\t%s\tunknown\t/O=mailseal bench/CN=good\n' \
        "$s" >"$p/index.txt"
    printf 'R\t351231235959Z\t%s\t%s\tunknown\t/O=mailseal bench/CN=revoked\n' \
        "$(date -u +%y%m%d%H%M%SZ)" "$r" >>"$p/index.txt"
}

# ---------------------------------------------------------------- mailseald
# ===== ADAPT: mailseald's interface, written before mailseald existed. =====
# Everything the harness assumes about mailseald is in these functions.
#
# ms_init DIR KEYTYPE (p256 | rsa2048): a data directory whose TSA signs
# with KEYTYPE (`mailseald --init DIR --insecure-keys --tsa-key KEYTYPE`),
# with one certificate issued for the OCSP rows; returns 1 on failure.
ms_init()
{
    local dir=$1 type=$2 have
    "$ms" --init "$dir" --insecure-keys --tsa-key "$type" >"$dir.init.log" 2>&1 ||
        { echo "services.sh: mailseald --init failed, see:" >&2
          cat "$dir.init.log" >&2; return 1; }
    # One issued certificate: the OCSP rows ask for its (unchanged) status.
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$dir.leaf.key" -subj "/CN=bench" -out "$dir.leaf.csr" \
        >/dev/null 2>&1 &&
        "$ms" -d "$dir" issue --level 3 --use signing \
            --mailbox bench@example.org --org "Bench Example" \
            --org-id NTRDE-HRB12345 --country DE --csr "$dir.leaf.csr" \
            --out "$dir/bench-leaf.pem" >>"$dir.init.log" 2>&1 ||
        { echo "services.sh: mailseald issue failed, see:" >&2
          cat "$dir.init.log" >&2; return 1; }
    have=$(key_type "$dir/certs/tsa.pem")
    [ "$have" = "$type" ]
}
# ms_start DIR: run mailseald on 127.0.0.1 (any free port); sets ms_started
# to the port (not a command substitution: the server's PID must reach pids).
ms_start()
{
    local dir=$1 conf=$1/mailseald.conf i
    sed -i '/^[[:space:]]*\(listen\|access_log\|cpu_affinity\)[[:space:]]*=/d' "$conf"
    # As uts-server and nginx here: no per-request access log line; as
    # nginx here: one pinned worker per CPU on its own socket.
    printf 'listen = 127.0.0.1:0\naccess_log = no\ncpu_affinity = yes\n' >>"$conf"
    rm -f "$dir/port"
    "$ms" -c "$conf" --port-file "$dir/port" >"$dir.log" 2>&1 &
    pids="$pids $!"
    for i in $(seq 1 100); do
        [ -s "$dir/port" ] && { ms_started=$(tr -dc 0-9 <"$dir/port"); return 0; }
        sleep 0.1
    done
    echo "services.sh: mailseald wrote no port file, log:" >&2
    cat "$dir.log" >&2
    return 1
}
# ms_tsa_chain DIR: trust anchor(s) for its TSA and OCSP responses.
ms_tsa_chain() { cat "$1/certs/root.pem"; }
# ms_ocsp_request DIR OUT: a DER OCSP request (no nonce) for the status of
# the certificate ms_init issued: unchanged, so mailseald answers from its
# cache.
ms_ocsp_request()
{
    openssl ocsp -issuer "$1/certs/v3.pem" -cert "$1/bench-leaf.pem" \
        -no_nonce -reqout "$2" >/dev/null 2>&1
}
# ms_ocsp_verify DIR RESPONSE: the response is successful and signed by a
# responder that chains to the root.
ms_ocsp_verify()
{
    cat "$1/certs/root.pem" "$1/certs/v3.pem" >"$work/ms-ocsp-ca.pem"
    local out
    out=$(openssl ocsp -respin "$2" -issuer "$1/certs/v3.pem" \
        -CAfile "$work/ms-ocsp-ca.pem" -cert "$1/bench-leaf.pem" 2>&1)
    case $out in
    *"Response verify OK"*"bench-leaf.pem: good"*) return 0 ;;
    *) return 1 ;;
    esac
}
# ===== end of ADAPT =====

# key_type CERT: p256, rsa2048 or other.
key_type()
{
    local t
    t=$(openssl x509 -in "$1" -noout -text 2>/dev/null)
    case $t in
    *"ASN1 OID: prime256v1"*) echo p256 ;;
    *"Public-Key: (2048 bit)"*"rsaEncryption"* | *"rsaEncryption"*"Public-Key: (2048 bit)"*)
        echo rsa2048 ;;
    *) echo other ;;
    esac
}

# ---------------------------------------------------------------- load tool
# wrk_row ROUND NAME CONNS URL [BODY-FILE CONTENT-TYPE]: one wrk run of
# $per seconds (HTTP/1.1 keep-alive; POST of BODY-FILE if given); appends
# "round name conns requests seconds non2xx sockerrors timeouts
# max-latency-seconds" to results.tsv.
wrk_row()
{
    local round=$1 name=$2 c=$3 url=$4 body=${5:-} ctype=${6:-} t=2
    [ "$c" -lt 2 ] && t=1
    {
        echo 'wrk.resolve = function(host, service) wrk.addrs = wrk.lookup(host, service) end'
        if [ -n "$body" ]; then
            echo "local f = assert(io.open(\"$body\", \"rb\"))"
            echo 'wrk.method = "POST"'
            echo 'wrk.body = f:read("*a")'
            echo 'f:close()'
            echo "wrk.headers[\"Content-Type\"] = \"$ctype\""
        fi
    } >"$work/wrk-$name.lua"
    wrk -t"$t" -c"$c" -d"${per}s" --timeout "$timeout" -s "$work/wrk-$name.lua" "$url" \
        >"$work/wrk.out" 2>&1 || true
    awk -v r="$round" -v n="$name" -v c="$c" '
        function sec(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1e6 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v / 1e3 }
            if (v ~ /s$/) { sub(/s$/, "", v); return v }
            if (v ~ /m$/) { sub(/m$/, "", v); return v * 60 }
            return 0
        }
        $1 == "Latency" { max = sec($4) }
        / requests in / { req = $1; s = $4; sub(/,$/, "", s)
                          if (s ~ /ms$/) { sub(/ms$/, "", s); s /= 1000 }
                          else if (s ~ /s$/) sub(/s$/, "", s)
                          else if (s ~ /m$/) { sub(/m$/, "", s); s *= 60 } }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { gsub(/,/, ""); sock = $4 + $6 + $8; to = $10 }
        END { printf "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%.3f\n", r, n, c, req,
                     (s == "" ? '"$per"' : s), bad, sock, to, max }' \
        "$work/wrk.out" >>"$work/results.tsv"
}

# ceiling_row ROUND: 2-process signing ops/s (sign column) for the round.
ceiling_row()
{
    openssl speed -mr -multi 2 -seconds "$per" ecdsap256 rsa2048 2>/dev/null |
        awk -v r="$1" -F: '
            /^\+F2:/ && $3 == 2048 { printf "%s\tceil-rsa2048\t2\t%d\t1\t0\t0\t0\t0\n", r, $4 }
            /^\+F4:/ && $3 == 256 { printf "%s\tceil-p256\t2\t%d\t1\t0\t0\t0\t0\n", r, $4 }' \
        >>"$work/results.tsv"
}

# fetch URL OUT [CURL-ARGS...]: one request, body to OUT; 0 if HTTP 200.
fetch()
{
    local url=$1 out=$2
    shift 2
    [ "$(curl -s --max-time 5 -o "$out" -w '%{http_code}' "$@" "$url")" = 200 ]
}

# urlenc: base64 for a URL path (RFC 6960 appendix A: percent-encoded).
urlenc() { sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g'; }

# ================================================================ setup
echo "== throw-away PKI, servers and requests in $work"
make_pki
cp "$p/ca.pem" "$p/tsa-p256.chain"
cp "$p/ca.pem" "$p/tsa-rsa2048.chain"
head -c 4096 /dev/urandom >"$work/data.bin"
openssl ts -query -data "$work/data.bin" -sha256 -cert -out "$work/req.tsq" 2>/dev/null
openssl ocsp -issuer "$p/ca.pem" -cert "$p/good.pem" -no_nonce \
    -reqout "$work/good.ocspreq" >/dev/null 2>&1
openssl ocsp -issuer "$p/ca.pem" -cert "$p/revoked.pem" -no_nonce \
    -reqout "$work/revoked.ocspreq" >/dev/null 2>&1

# mailseald data directories (its TSA keys are then used by every TSA row).
have_ms=0
ms_p256="" ms_rsa=""
if [ -x "$ms" ]; then
    have_ms=1
    mkdir -p "$work/ms"
    if ms_init "$work/ms/p256" p256; then ms_p256=$work/ms/p256; fi
    if ms_init "$work/ms/rsa2048" rsa2048; then ms_rsa=$work/ms/rsa2048; fi
    for k in p256 rsa2048; do
        d=$ms_p256
        [ $k = rsa2048 ] && d=$ms_rsa
        if [ -n "$d" ]; then
            cp "$d/certs/tsa.pem" "$p/tsa-$k.pem"
            cp "$d/private/tsa.key" "$p/tsa-$k.key"
            ms_tsa_chain "$d" >"$p/tsa-$k.chain"
        else
            echo "   mailseald --init makes no $k TSA key: its $k row is skipped (adapt ms_init)"
        fi
    done
else
    echo "   no mailseald at $ms: its rows are skipped"
fi

# openssl ts configuration (also the shape of uts-server's [ tsa ]).
tsa_section()
{
    cat <<EOF
signer_cert = $p/tsa-$1.pem
certs = $p/tsa-$1.chain
signer_key = $p/tsa-$1.key
signer_digest = sha256
default_policy = tsa_policy1
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = no
ess_cert_id_chain = no
EOF
}
{
    printf 'oid_section = oids\n[ oids ]\ntsa_policy1 = %s.2.1\n' "$arc"
    for k in p256 rsa2048; do
        printf '[ tsa_%s ]\nserial = %s/tsaserial\n' "$k" "$work"
        tsa_section "$k"
    done
} >"$work/ts.cnf"
echo 01 >"$work/tsaserial"

# nginx: static files of an OCSP response's and a TSA reply's size.
openssl ocsp -index "$p/index.txt" -rsigner "$p/ocsp.pem" -rkey "$p/ocsp.key" \
    -CA "$p/ca.pem" -reqin "$work/good.ocspreq" -respout "$work/good.ocspresp" \
    >/dev/null 2>&1
openssl ts -reply -config "$work/ts.cnf" -section tsa_p256 \
    -queryfile "$work/req.tsq" -out "$work/p256.tsr" 2>/dev/null
head -c "$(stat -c %s "$work/good.ocspresp")" /dev/urandom >"$www/ocsp.der"
head -c "$(stat -c %s "$work/p256.tsr")" /dev/urandom >"$www/tsa.der"
chmod 644 "$www"/*.der
nginx_port=$(free_port)
# Tuned as mailseald is (cpu_affinity): a worker per CPU, pinned, each on
# its own SO_REUSEPORT socket.
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
worker_cpu_affinity auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx-body;
    server {
        listen 127.0.0.1:$nginx_port reuseport;
        root $www;
    }
}
EOF
"$nginx_bin" -c "$work/nginx.conf" -g 'daemon off;' 2>>"$work/nginx-error.log" &
pids="$pids $!"
wait_http nginx "http://127.0.0.1:$nginx_port/ocsp.der"

# openssl ocsp responder, stock: one process. In OpenSSL 3.0, -port takes
# a number and the responder listens on all addresses, not just 127.0.0.1:
# acceptable for a benchmark on a private machine. ocsp_start: a fresh
# responder (sets ocsp_pid, ocsp_port), ready when it answers an HTTP/1.0
# request; ocsp_stop: stop it by its PID.
ocsp_req_args=(-0 --data-binary @"$work/good.ocspreq" -H 'Content-Type: application/ocsp-request')
ocsp_start()
{
    ocsp_port=$(free_port)
    openssl ocsp -index "$p/index.txt" -port "$ocsp_port" -rsigner "$p/ocsp.pem" \
        -rkey "$p/ocsp.key" -CA "$p/ca.pem" >>"$work/openssl-ocsp.log" 2>&1 &
    ocsp_pid=$!
    pids="$pids $ocsp_pid"
    wait_http "openssl ocsp" "http://127.0.0.1:$ocsp_port/" "${ocsp_req_args[@]}"
}
ocsp_stop()
{
    kill "$ocsp_pid" 2>/dev/null || true
    wait "$ocsp_pid" 2>/dev/null || true
    pids=${pids/ $ocsp_pid/}
}
ocsp_start
for s in good revoked; do
    fetch "http://127.0.0.1:$ocsp_port/" "$work/$s.ocsp.der" -0 \
        --data-binary @"$work/$s.ocspreq" -H 'Content-Type: application/ocsp-request'
    openssl ocsp -respin "$work/$s.ocsp.der" -issuer "$p/ca.pem" \
        -CAfile "$p/ca.pem" -cert "$p/$s.pem" 2>&1 | grep -q ": $s" ||
        { echo "services.sh: openssl ocsp does not answer '$s'" >&2; exit 1; }
done
ocsp_stop

# uts-server, one per key, keep-alive on and a worker thread per
# connection (civetweb serves one connection per thread), logging off.
# shellcheck disable=SC2034 # read through eval
uts_port_p256="" uts_port_rsa2048=""
if [ -x "$uts" ]; then
    for k in p256 rsa2048; do
        port=$(free_port)
        {
            printf '[ oids ]\ntsa_policy1 = %s.2.1\n' "$arc"
            printf '[ main ]\nlistening_ports = 127.0.0.1:%s\n' "$port"
            printf 'enable_keep_alive = yes\nnum_threads = %s\n' "$((conns + 8))"
            printf 'request_timeout_ms = 30000\ntcp_nodelay = 1\n'
            printf 'log_level = err\nlog_to_syslog = no\nlog_to_stdout = no\n'
            printf '[ tsa ]\n'
            tsa_section "$k"
        } >"$work/uts-$k.cnf"
        (cd "$work" && exec "$uts" -c "$work/uts-$k.cnf") >"$work/uts-$k.log" 2>&1 &
        pids="$pids $!"
        wait_http "uts-server $k" "http://127.0.0.1:$port/"
        eval "uts_port_$k=$port"
    done
else
    echo "   no uts-server at $uts: its rows are skipped (docs/performance.md says how to build it)"
fi

# mailseald servers.
ms_port_p256="" ms_port_rsa2048=""
for k in p256 rsa2048; do
    d=$ms_p256
    [ $k = rsa2048 ] && d=$ms_rsa
    [ -n "$d" ] || continue
    ms_start "$d"
    eval "ms_port_$k=$ms_started"
done
if [ -n "$ms_p256$ms_rsa" ]; then
    msd=${ms_p256:-$ms_rsa}
    ms_port_ocsp=$ms_port_p256
    [ -n "$ms_port_ocsp" ] || ms_port_ocsp=$ms_port_rsa2048
    ms_ocsp_request "$msd" "$work/ms.ocspreq"
    ms_ocsp_get="http://127.0.0.1:$ms_port_ocsp/ocsp/$(base64 -w0 <"$work/ms.ocspreq" | urlenc)"
fi

# One reply from every TSA must verify with `openssl ts -verify`.
verify_tsr()
{
    openssl ts -verify -in "$2" -queryfile "$work/req.tsq" \
        -CAfile "$p/tsa-$1.chain" >/dev/null 2>&1 ||
        { echo "services.sh: $3 reply does not verify" >&2; exit 1; }
}
tsq_args=(--data-binary @"$work/req.tsq" -H 'Content-Type: application/timestamp-query')
verify_tsr p256 "$work/p256.tsr" "openssl ts -reply (P-256)"
for k in p256 rsa2048; do
    eval "port=\$uts_port_$k"
    if [ -n "$port" ]; then
        fetch "http://127.0.0.1:$port/" "$work/uts-$k.tsr" "${tsq_args[@]}" ||
            { echo "services.sh: uts-server $k: no reply" >&2; exit 1; }
        verify_tsr "$k" "$work/uts-$k.tsr" "uts-server $k"
    fi
    eval "port=\$ms_port_$k"
    if [ -n "$port" ]; then
        fetch "http://127.0.0.1:$port/tsa" "$work/ms-$k.tsr" "${tsq_args[@]}" ||
            { echo "services.sh: mailseald TSA $k: no reply" >&2; exit 1; }
        verify_tsr "$k" "$work/ms-$k.tsr" "mailseald TSA $k"
    fi
done
if [ -n "${ms_port_ocsp:-}" ]; then
    fetch "$ms_ocsp_get" "$work/ms-get.ocsp.der" ||
        { echo "services.sh: mailseald OCSP GET: no 200" >&2; exit 1; }
    fetch "http://127.0.0.1:$ms_port_ocsp/ocsp" "$work/ms-post.ocsp.der" \
        --data-binary @"$work/ms.ocspreq" -H 'Content-Type: application/ocsp-request' ||
        { echo "services.sh: mailseald OCSP POST: no 200" >&2; exit 1; }
    for m in get post; do
        ms_ocsp_verify "$msd" "$work/ms-$m.ocsp.der" ||
            { echo "services.sh: mailseald OCSP $m response does not verify (see ms_ocsp_verify)" >&2; exit 1; }
    done
fi

# ================================================================ measure
echo "== machine: $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'), $(nproc) CPUs, $(openssl version | cut -d' ' -f1-2)"
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ): $rounds rounds x ${per}s per HTTP row and ceiling, wrk --timeout $timeout"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine skew the ceilings)"
: >"$work/results.tsv"

# openssl ts -reply, one process per request (not in the rounds: a fixed
# number of requests).
for k in p256 rsa2048; do
    t0=$(date +%s.%N)
    i=0
    while [ $i -lt "$nts" ]; do
        openssl ts -reply -config "$work/ts.cnf" -section "tsa_$k" \
            -queryfile "$work/req.tsq" -out "$work/loop.tsr" 2>/dev/null
        i=$((i + 1))
    done
    t1=$(date +%s.%N)
    awk -v k="$k" -v n="$nts" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "0\tts-reply-%s\t1\t%d\t%.3f\t0\t0\t0\t0\n", k, n, b - a }' \
        >>"$work/results.tsv"
done

tsa_ct=application/timestamp-query
ocsp_ct=application/ocsp-request
for r in $(seq 1 "$rounds"); do
    printf '   round %s/%s\n' "$r" "$rounds"
    ceiling_row "$r"
    wrk_row "$r" nginx-ocsp-size "$conns" "http://127.0.0.1:$nginx_port/ocsp.der"
    wrk_row "$r" nginx-tsa-size "$conns" "http://127.0.0.1:$nginx_port/tsa.der"
    for k in p256 rsa2048; do
        eval "port=\$uts_port_$k"
        [ -z "$port" ] || wrk_row "$r" "uts-server-$k" "$conns" \
            "http://127.0.0.1:$port/" "$work/req.tsq" "$tsa_ct"
        eval "port=\$ms_port_$k"
        [ -z "$port" ] || wrk_row "$r" "mailseald-tsa-$k" "$conns" \
            "http://127.0.0.1:$port/tsa" "$work/req.tsq" "$tsa_ct"
    done
    if [ -n "${ms_port_ocsp:-}" ]; then
        wrk_row "$r" mailseald-ocsp-get "$conns" "$ms_ocsp_get"
        wrk_row "$r" mailseald-ocsp-post "$conns" \
            "http://127.0.0.1:$ms_port_ocsp/ocsp" "$work/ms.ocspreq" "$ocsp_ct"
    fi
    for c in 1 16 64; do
        ocsp_start
        wrk_row "$r" "openssl-ocsp-c$c" "$c" "http://127.0.0.1:$ocsp_port/" \
            "$work/good.ocspreq" "$ocsp_ct"
        ocsp_stop
    done
    ocsp_start
    (exec 3<>"/dev/tcp/127.0.0.1/$ocsp_port") # connect, close, no request
    wrk_row "$r" openssl-ocsp-c1-idle 1 "http://127.0.0.1:$ocsp_port/" \
        "$work/good.ocspreq" "$ocsp_ct"
    ocsp_stop
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${KEEP_RESULTS:-}" ]; then cp "$work/results.tsv" "$KEEP_RESULTS"; fi

# ================================================================ report
echo
awk -F'\t' -v have_ms="$have_ms" -v conns="$conns" -v tmo="${timeout%s}" '
    function median(name, base,    i, n, v, t, j) {
        n = 0
        for (i = 1; i <= R; i++)
            if ((name, i) in rate && (base, i) in rate && rate[base, i] > 0)
                v[++n] = rate[name, i] / rate[base, i]
        if (n == 0) return -1
        for (i = 2; i <= n; i++)
            for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    {
        r = $1; n = $2
        if (!(n in seen)) { seen[n] = 1; order[++N] = n }
        if (r > R) R = r
        c[n] = $3; req[n] += $4 - $6; sec[n] += $5; err[n] += $6 + $7 + $8; to[n] += $8
        rate[n, r] = ($5 > 0 ? ($4 - $6) / $5 : 0)
        if (n !~ /^(ceil|ts-reply)-/ && ($4 - $6 <= 0 || $8 > 0 || $9 >= tmo)) stall[n]++
        if (n ~ /^ceil-/) { csum[n] += $4; cnt[n]++ }
    }
    END {
        base["ts-reply-p256"] = "ceil-p256"; base["ts-reply-rsa2048"] = "ceil-rsa2048"
        base["uts-server-p256"] = "ceil-p256"; base["uts-server-rsa2048"] = "ceil-rsa2048"
        base["mailseald-tsa-p256"] = "uts-server-p256"
        base["mailseald-tsa-rsa2048"] = "ceil-rsa2048"
        base["mailseald-ocsp-get"] = "nginx-ocsp-size"
        base["mailseald-ocsp-post"] = "nginx-ocsp-size"
        base["openssl-ocsp-c1"] = "nginx-ocsp-size"
        base["openssl-ocsp-c16"] = "nginx-ocsp-size"
        base["openssl-ocsp-c64"] = "nginx-ocsp-size"
        base["openssl-ocsp-c1-idle"] = "nginx-ocsp-size"
        printf "%-22s %5s %11s %8s %8s %7s %8s  %s\n", "row", "conns", "req/s", "errors",
               "timeouts", "stalls", "ratio", "baseline"
        for (i = 1; i <= N; i++) {
            n = order[i]
            v = (n ~ /^ceil-/) ? csum[n] / cnt[n] : (sec[n] > 0 ? req[n] / sec[n] : 0)
            total[n] = v
            b = (n in base) ? base[n] : ""
            ratio = "-"
            if (b != "" && n ~ /^ts-reply/) ratio = sprintf("%.1f%%", 100 * v / (csum[b] / cnt[b]))
            else if (b != "") { m = median(n, b); if (m >= 0) ratio = (b ~ /^uts/) ? sprintf("%.2fx", m) : sprintf("%.1f%%", 100 * m) }
            paired[n] = (b != "" && n !~ /^ts-reply/) ? median(n, b) : -1
            st = (n ~ /^(ceil|ts-reply)-/) ? "-" : sprintf("%d/%d", stall[n], R)
            printf "%-22s %5s %11.1f %8d %8d %7s %8s  %s\n", n, (n ~ /^ceil-/ ? "2 cpu" : c[n]), v,
                   (n ~ /^ceil-/ ? 0 : err[n]), (n ~ /^ceil-/ ? 0 : to[n]), st, ratio, b
        }
        print ""
        print "ceil-*: openssl speed -multi 2 sign ops/s; ts-reply-*: one openssl process per request"
        print "(fixed count, shell loop); ratio: median over rounds of row/baseline in the same round;"
        print "errors: non-2xx answers + socket errors (timeouts included); stalls: rounds in which the"
        print "row completed nothing, timed out or took >= the timeout for a request. All rows HTTP/1.1"
        print "keep-alive; openssl-ocsp-c1-idle: one idle connect-and-close first, then one client."
        print "openssl ocsp listens on all addresses (OpenSSL 3.0 -port takes a number): acceptable on a"
        print "private bench machine."
        if (!have_ms) { print ""; print "no mailseald rows: goals not evaluated"; exit }
        print ""
        print "goals (issue 3), each within this run"
        goal("TSA P-256 vs uts-server P-256", paired["mailseald-tsa-p256"], 2, "x", 1)
        goal("TSA RSA-2048 vs 2-core RSA-2048 signing ceiling", paired["mailseald-tsa-rsa2048"], 0.90, "%", 100)
        goal("OCSP cached GET vs nginx static", paired["mailseald-ocsp-get"], 0.50, "%", 100)
        goal("OCSP cached POST vs nginx static", paired["mailseald-ocsp-post"], 0.50, "%", 100)
        for (k = 0; k < 2; k++) {
            n = k ? "mailseald-ocsp-post" : "mailseald-ocsp-get"
            if (n in seen)
                printf "  %-50s %4d errors, %d stalled rounds  goal 0  %s\n", "OCSP " (k ? "POST" : "GET") " at " conns " connections, no stall",
                       err[n], stall[n], (err[n] == 0 && stall[n] == 0 && req[n] > 0 ? "PASS" : "FAIL")
        }
    }
    function goal(what, value, want, unit, scale) {
        if (value < 0) { printf "  %-50s %8s  goal >= %s%s  FAIL (no figure)\n", what, "n/a", want * scale, unit; return }
        printf "  %-50s %7.2f%s  goal >= %s%s  %s\n", what, value * scale, unit, want * scale, unit,
               (value >= want ? "PASS" : "FAIL")
    }' "$work/results.tsv"
