#!/bin/sh
# demo.sh BUILD-DIR - the "make run" demonstration: creates a throw-away
# test PKI, seals a message from Jane (V4) to John (V2), opens it as John
# and prints the identity verdict. Nothing outside a temp directory changes.
set -eu
build=${1:-build}
ms="$build/cli/mailseal"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

echo "== creating a throw-away test PKI (root, V1-V4 CAs, identities)"
bash "$(dirname "$0")/../tests/fixtures/gen-pki.sh" "$work/pki" >/dev/null 2>&1
p="$work/pki"

cat >"$work/msg.eml" <<'MSG'
From: Jane Roe <jane.roe@bank.example>
To: John Doe <john.doe@example.org>
Subject: Payment instructions

Hello John, please use the new account only after calling me.
MSG

echo "== jane.roe@bank.example seals a message for john.doe@example.org"
"$ms" seal --cert "$p/v4-sign.pem" --key "$p/v4-sign.key" \
    --chain "$p/v4-chain.pem" --encryption-cert "$p/v4-enc.pem" \
    --recipient-cert "$p/v2-enc.pem" <"$work/msg.eml" >"$work/sealed.eml"
echo "   sealed: $(wc -c <"$work/sealed.eml") bytes, $(grep -m1 '^Content-Type' "$work/sealed.eml")"

echo "== john opens it"
"$ms" open --cert "$p/v2-enc.pem" --key "$p/v2-enc.key" \
    --trust "$p/root.pem" --output "$work/opened.eml" <"$work/sealed.eml"
echo "   what John's mail program shows (first header fields):"
sed -n '1,6p' "$work/opened.eml" | sed 's/^/   | /'

echo "== a forger sends the same text under Jane's name, signed with Eve's V1 certificate"
sed 's/^From: .*/From: Jane Roe <jane.roe@bank.example>/' "$work/msg.eml" |
    "$ms" sign --cert "$p/v1-sign.pem" --key "$p/v1-sign.key" \
        --chain "$p/v1-chain.pem" >"$work/forged.eml"
"$ms" verify --trust "$p/root.pem" <"$work/forged.eml" || true
