#!/usr/bin/env bash
#
# ocsp-server.sh - run the test OCSP responder of ca-v2 in the foreground.
#
# Usage: tests/support/ocsp-server.sh OUTDIR PORT [NREQUEST]
#
# OUTDIR is a directory written by tests/fixtures/gen-pki.sh. Answers for
# certificates issued by ca-v2 from OUTDIR/ca-v2-index.txt, signing with the
# delegated responder ocsp-v2.pem (nextUpdate = now + 1 day). Exits after
# NREQUEST requests (default 50); a test may also kill it by its pid.
#
# OpenSSL 3.0's `openssl ocsp -port` takes a port number only, so the
# responder listens on every local address (not just 127.0.0.1) for its
# short, request-bounded life. Test-only keys; no secret is exposed.

set -euo pipefail

if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then
    echo "usage: $0 OUTDIR PORT [NREQUEST]" >&2
    exit 2
fi
dir=$1
port=$2
nrequest=${3:-50}

case $port in
'' | *[!0-9]*)
    echo "$0: PORT must be a number" >&2
    exit 2
    ;;
esac
case $nrequest in
'' | *[!0-9]*)
    echo "$0: NREQUEST must be a number" >&2
    exit 2
    ;;
esac
for f in ca-v2-index.txt ca-v2.pem ocsp-v2.pem ocsp-v2.key; do
    if [ ! -r "$dir/$f" ]; then
        echo "$0: $dir/$f missing; run tests/fixtures/gen-pki.sh" >&2
        exit 1
    fi
done

exec openssl ocsp -index "$dir/ca-v2-index.txt" -CA "$dir/ca-v2.pem" \
    -rsigner "$dir/ocsp-v2.pem" -rkey "$dir/ocsp-v2.key" \
    -port "$port" -nrequest "$nrequest" -ndays 1
