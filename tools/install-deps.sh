#!/bin/sh
# install-deps.sh - install the Debian packages mailseal needs, skipping
# those already present. Run as root on Debian 12 (make run / make test
# call it). Prints nothing but apt's own output when something is missing.
set -eu

PKGS="build-essential cmake pkg-config openssl libssl-dev libgmime-3.0-dev
libglib2.0-dev libidn2-dev libcmocka-dev libcurl4-openssl-dev libjansson-dev
libsqlite3-dev libmicrohttpd-dev libpq-dev postgresql
gpgsm gpg-agent libnss3-tools jq clang libclang-rt-14-dev llvm python3 ca-certificates
procps curl sqlite3
python3-aiosmtpd"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
        grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages:$missing (run as root)" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
