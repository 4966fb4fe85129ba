#!/bin/sh
# gen-corpus.sh BUILD - regenerate the seed corpora fuzz/corpus/<target>/
# with the mailseal command of BUILD, `openssl ts` and the fixtures in
# fuzz/fixtures. Run by hand; review and commit the result. Seeds that the
# fuzzers or fixed crashes added (files not named seed-*) are kept.
set -eu
build=${1:?usage: gen-corpus.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
ms=$(cd "$build" && pwd)/cli/mailseal
fx=$here/fixtures
corpus=$here/corpus
tmp=$(mktemp -d)
tsa_pid=
cleanup() { [ -z "$tsa_pid" ] || kill "$tsa_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

for t in mime_parse smime_open decrypt tsp_verify from_addr tsa_req; do
    mkdir -p "$corpus/$t"
    rm -f "$corpus/$t"/seed-*
done

# A private copy of the fixtures for the TSA (it writes its serial file).
cp -r "$fx" "$tmp/fx"
echo 01 >"$tmp/fx/tsa-serial"
python3 "$here/../tests/support/tsa-server.py" --config "$tmp/fx/tsa.cnf" \
    --section tsa_default --port-file "$tmp/port" --max-requests 10 &
tsa_pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
tsa_url=http://127.0.0.1:$(cat "$tmp/port")/

printf 'From: Alice Fuzz <alice@fuzz.example>\nTo: Bob Fuzz <bob@fuzz.example>\nSubject: seed\nDate: Fri, 01 Jan 2027 00:00:00 +0000\nMessage-ID: <seed@fuzz.example>\n\nHello Bob,\nthe fuzzer says hi.\n' >"$tmp/plain.eml"
cat >"$tmp/multi.eml" <<'MSG'
From "alice@fuzz.example" Fri Jan  1 00:00:00 2027
From: "Fuzz, Alice" <alice@fuzz.example>
To: bob@fuzz.example
Subject: =?utf-8?q?multipart_seed?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

preamble
--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9
--outer
Content-Type: application/octet-stream; name="a.bin"
Content-Disposition: attachment; filename="a.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQoLDA0ODw==
--outer
Content-Type: message/rfc822

From: carol@fuzz.example
Subject: forwarded
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

inner text
--inner
Content-Type: text/html

<p>inner</p>
--inner--
--outer--
epilogue
MSG

alice() { "$ms" "$@" --cert "$fx/signer.pem" --key "$fx/signer.key"; }

alice sign <"$tmp/plain.eml" >"$tmp/signed.eml"
"$ms" sign --cert "$fx/ec-signer.pem" --key "$fx/ec-signer.key" --opaque \
    <"$tmp/multi.eml" >"$tmp/opaque-ec.eml"
alice sign --tsa "$tsa_url" <"$tmp/plain.eml" >"$tmp/signed-tst.eml"
alice seal --recipient-cert "$fx/rcpt.pem" <"$tmp/plain.eml" >"$tmp/sealed-gcm.eml"
alice seal --recipient-cert "$fx/rcpt.pem" --cipher aes-256-cbc \
    <"$tmp/multi.eml" >"$tmp/sealed-cbc.eml"
"$ms" encrypt --recipient-cert "$fx/rcpt.pem" --recipient-cert "$fx/signer.pem" \
    --cipher aes-128-gcm \
    <"$tmp/plain.eml" >"$tmp/encrypted.eml"
# A signed message forwarded inside an unsigned one.
{
    printf 'From: bob@fuzz.example\nSubject: Fwd\nMIME-Version: 1.0\n'
    printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee below\n'
    printf -- '--b\nContent-Type: message/rfc822\n\n'
    cat "$tmp/signed.eml"
    printf -- '\n--b--\n'
} >"$tmp/forwarded.eml"

for f in plain multi signed opaque-ec forwarded signed-tst sealed-gcm; do
    cp "$tmp/$f.eml" "$corpus/mime_parse/seed-$f"
done
for f in plain signed opaque-ec signed-tst sealed-gcm sealed-cbc encrypted \
    forwarded; do
    cp "$tmp/$f.eml" "$corpus/smime_open/seed-$f"
done
for f in sealed-gcm sealed-cbc encrypted; do
    cp "$tmp/$f.eml" "$corpus/decrypt/seed-$f"
done

# Tokens over the fixed bytes of fuzz/tsp_verify.c.
printf 'mailseal fuzz signature value\n' >"$tmp/sig"
for md in sha256 sha512; do
    (cd "$tmp/fx" && openssl ts -query -data "$tmp/sig" -"$md" -cert 2>/dev/null \
        -out "$tmp/q.tsq" &&
        openssl ts -reply -config tsa.cnf -section tsa_default \
            -queryfile "$tmp/q.tsq" -token_out -out "$corpus/tsp_verify/seed-$md" \
            2>/dev/null)
done
(cd "$tmp/fx" && openssl ts -query -data "$tmp/sig" -sha256 -no_nonce 2>/dev/null \
    -out "$tmp/q.tsq" &&
    openssl ts -reply -config tsa.cnf -queryfile "$tmp/q.tsq" -token_out \
        -out "$corpus/tsp_verify/seed-nocert" 2>/dev/null)

# TimeStampReqs for fuzz/tsa_req.c: each hash, with and without nonce and
# certReq, our policy and another, SHA-1 (refused) and trailing bytes.
tsa_policy=2.25.70987990664227431197429845594075621128.2.1
q() { openssl ts -query -data "$tmp/sig" "$@" 2>/dev/null; }
q -sha256 -cert -out "$corpus/tsa_req/seed-sha256"
q -sha512 -no_nonce -out "$corpus/tsa_req/seed-sha512"
q -sha3-384 -cert -out "$corpus/tsa_req/seed-sha3-384"
q -sha1 -cert -out "$corpus/tsa_req/seed-sha1"
q -sha256 -tspolicy "$tsa_policy" -out "$corpus/tsa_req/seed-policy"
q -sha256 -tspolicy 1.2.3.4 -out "$corpus/tsa_req/seed-other-policy"
{ cat "$corpus/tsa_req/seed-sha256"; printf 'x'; } \
    >"$corpus/tsa_req/seed-trailing"

n=0
while IFS= read -r v; do
    n=$((n + 1))
    printf '%s' "$v" >"$corpus/from_addr/seed-$n"
done <<'FROM'
alice@fuzz.example
Alice Fuzz <alice@fuzz.example>
"Fuzz, Alice" <alice@fuzz.example> (comment (nested))
=?utf-8?q?Al=C3=AFce?= <alice@xn--bcher-kva.example>
Jürgen <jürgen@bücher.example>
Group: alice@fuzz.example, bob@fuzz.example;
alice@fuzz.example, bob@fuzz.example
<@route.example:alice@fuzz.example>
"quoted\"local"@fuzz.example
alice@[192.0.2.1]
John Q. Public (a (b (c (d)))) <"john q"@BÜCHER.example>
	(x) alice (y) @ (z) [IPv6:2001:db8::1] (w)
=?utf-8?b?YWxpY2VAZnV6ei5leGFtcGxl?= <alice@straße.example>
FROM
du -sh "$corpus"
