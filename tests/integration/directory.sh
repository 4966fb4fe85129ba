#!/usr/bin/env bash
# shellcheck disable=SC2016 # poll eval '...': expanded when run
# directory.sh - the directory module of mailseald end to end, on a real
# daemon on 127.0.0.1: lookups (JSON, certs-only PKCS#7 read by openssl),
# exact matching only, unpublished and revoked certificates, API keys
# (batch of 1,000, their rate, revocation), harvest of signed messages,
# invitations with their opt-out link, unpublish links, the anonymous rate.
#
#   directory.sh MAILSEALD MAILSEAL_CLI SCRATCH_DIR
# with MS_DIR_DRIVE = tests/support/dir_drive (publishes as a mailbox
# proof would: the validate module is not needed).

# shellcheck source=tests/integration/daemon.sh
. "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

need curl jq openssl sqlite3
DRIVE=${MS_DIR_DRIVE:?MS_DIR_DRIVE must name tests/support/dir_drive}
SPOOL=$D/spool

publish() {
    "$DRIVE" publish "sqlite:$D/mailseal.db" "$@"
}

# lookup ADDR OUT [CURL ARGS...]: GET /v1/directory/ADDR (ADDR as written).
lookup() {
    local a=$1 out=$2
    shift 2
    http GET "/v1/directory/$a" "$out" "$@"
}

# sign_msg NAME FROM OUT: a message signed with WORK/certs/NAME.pem, From FROM.
sign_msg() {
    printf 'Content-Type: text/plain; charset=us-ascii\n\nhello from %s\n' \
        "$1" >"$WORK/ent-$1.txt"
    openssl cms -sign -in "$WORK/ent-$1.txt" -signer "$WORK/certs/$1.pem" \
        -inkey "$WORK/certs/$1.key" -certfile "$D/certs/v1.pem" \
        -from "$2" -to someone@example.net -subject "harvest me" -out "$3"
}

apikey_new() { # NAME RATE: prints "ID KEY"
    local out
    out=$("$MSD" -d "$D" apikey create --name "$1" --rate "$2" 2>/dev/null)
    printf '%s %s\n' "$(sed -n 's/^id=//p' <<<"$out")" \
        "$(sed -n 's/^key=//p' <<<"$out")"
}

spool_count() {
    if [ -d "$SPOOL" ]; then
        find "$SPOOL" -name '*.eml' | wc -l
    else
        echo 0
    fi
}

# spool_link TO PATH: the link to PATH in the newest mail to TO, made to
# point at this daemon (mails name public_url, the default port 8025).
spool_link() {
    local f
    f=$(grep -l "^To: $1" "$SPOOL"/*.eml | sort | tail -n 1)
    grep -o "http://127.0.0.1:8025$2[A-Za-z0-9_-]*" "$f" | head -n 1 |
        sed "s|^http://127.0.0.1:8025|$URL|"
}

# ---------------------------------------------------------------- set-up
msd_init --insecure-keys || fatal "mailseald --init"
conf_set modules "ca tsa ocsp crl directory"
conf_set directory_rate 100000
msd_start || fatal "mailseald starts with the directory module"
for n in alice bob carol dave erin; do
    csr_new "$n" ec || fatal "CSR $n"
    issue_cli "$n" 1 signing "$n@example.org" "$n" >/dev/null ||
        fatal "issue $n"
done
publish alice@example.org carol@example.org erin@example.org ||
    fatal "dir_drive publish"
# Harvest trust: the V1 CRL of this daemon (the anchors are its CAs).
[ "$(http GET /crl/v1.crl "$WORK/v1.crl")" = 200 ] || fatal "GET /crl/v1.crl"
conf_set directory_crl_file "$WORK/v1.crl"
msd_term || fatal "SIGTERM"
msd_start || fatal "restart with directory_crl_file"

# ---------------------------------------------------------------- lookups
lookup_json() {
    expect_status 200 GET /v1/directory/alice@example.org "$WORK/a.json"
    header "$WORK/a.json.hdr" Content-Type | grep_q -i '^application/json'
    jq -e --arg s "$(cat "$WORK/certs/alice.serial")" '
        .address == "alice@example.org" and (.certificates | length) == 1 and
        .certificates[0].serial == $s and .certificates[0].level == 1 and
        .certificates[0].use == "signing" and
        .certificates[0].status == "valid" and
        .certificates[0].issuer == "mailseal V1 Mailbox CA"' "$WORK/a.json"
    jq -r '.certificates[0].pem' "$WORK/a.json" >"$WORK/a.pem"
    cmp <(openssl x509 -in "$WORK/a.pem" -outform DER) \
        <(openssl x509 -in "$WORK/certs/alice.pem" -outform DER)
}
check "GET /v1/directory/{address}: JSON with the current certificate" lookup_json

lookup_pkcs7() {
    expect_status 200 GET /v1/directory/alice@example.org "$WORK/a.p7" \
        -H 'Accept: application/pkcs7-mime'
    header "$WORK/a.p7.hdr" Content-Type | grep_q -i '^application/pkcs7-mime'
    openssl pkcs7 -inform DER -in "$WORK/a.p7" -print_certs -out "$WORK/a7.pem"
    cmp <(openssl x509 -in "$WORK/a7.pem" -outform DER) \
        <(openssl x509 -in "$WORK/certs/alice.pem" -outform DER)
}
check "Accept: application/pkcs7-mime: certs-only PKCS#7 openssl reads" lookup_pkcs7

lookup_case() {
    expect_status 200 GET /v1/directory/ALICE@Example.ORG "$WORK/c.json"
    jq -e '.address == "alice@example.org"' "$WORK/c.json"
    expect_status 200 GET "/v1/directory/%20alice@example.org" "$WORK/c2.json"
}
check "other case and blanks normalise to the same address" lookup_case

lookup_patterns() {
    local p
    for p in '*@example.org' 'alice*' 'al%2A@example.org' \
        'alice%25@example.org' '%@example.org' 'alice@example.org%2Fx' \
        'alice@example.org/x' 'alic' 'alice@' '@example.org' \
        'alice@example.*' 'a?@example.org' 'alice@example..org' \
        'alice@ex%00ample.org' 'alice@example.org,bob@example.org' \
        'alice%40example.org%40x' '[a-z]*@example.org' 'alice@%2E%2E'; do
        expect_status 400 GET "/v1/directory/$p" "$WORK/p.json" --globoff
        json_error "$WORK/p.json" >/dev/null
    done
}
check "wildcards, prefixes, patterns and percent tricks: 400" lookup_patterns

lookup_404() {
    expect_status 404 GET /v1/directory/nobody@example.org "$WORK/n1.json"
    expect_status 404 GET /v1/directory/bob@example.org "$WORK/n2.json"
    expect_status 404 GET /v1/directory/alic@example.org "$WORK/n3.json"
    expect_status 404 GET /v1/directory/bob@example.org "$WORK/n4.p7" \
        -H 'Accept: application/pkcs7-mime'
    # the same body (but the request id) for unknown and unpublished
    [ "$(jq -r .error "$WORK/n1.json")" = "$(jq -r .error "$WORK/n2.json")" ]
    [ "$(jq -r .error "$WORK/n1.json")" = "$(jq -r .error "$WORK/n3.json")" ]
}
check "unknown, unpublished and prefix: one 404 body" lookup_404

lookup_revoked() {
    "$MSD" -d "$D" revoke --serial "$(cat "$WORK/certs/erin.serial")" \
        --reason keyCompromise
    expect_status 404 GET /v1/directory/erin@example.org "$WORK/r.json"
}
check "a revoked certificate is never current" lookup_revoked

# ---------------------------------------------------------------- API keys
read -r KEY1_ID KEY1 <<<"$(apikey_new gateway 3)"
read -r KEY2_ID KEY2 <<<"$(apikey_new invites 1000)"

apikey_listed() {
    [ -n "$KEY1" ] && [ -n "$KEY2" ]
    "$MSD" -d "$D" apikey list >"$WORK/keys.txt"
    grep -q "^$KEY1_ID	gateway	\*	3/min" "$WORK/keys.txt"
    # only the hash is stored
    ! sqlite3 "$D/mailseal.db" .dump | grep_q -- "$KEY1"
}
check "apikey create/list: the key is shown once, stored as SHA-256" apikey_listed

batch_1000() {
    {
        echo '{"addresses": ['
        for i in $(seq 1 997); do printf '"user%d@example.com",' "$i"; done
        echo '"carol@example.org", "ALICE@example.org", "*@example.org"]}'
    } >"$WORK/batch.json"
    [ "$(jq '.addresses | length' "$WORK/batch.json")" = 1000 ]
    expect_status 200 POST /v1/directory/batch "$WORK/batch.out" \
        -H "Authorization: ApiKey $KEY1" -H 'Content-Type: application/json' \
        --data-binary @"$WORK/batch.json"
    jq -e '(.results | length) == 1000 and
        (.results["carol@example.org"] | length) == 1 and
        (.results["ALICE@example.org"] | length) == 1 and
        .results["*@example.org"] == null and
        .results["user5@example.com"] == null and
        ([.results[] | select(. != null)] | length) == 2' "$WORK/batch.out"
}
check "batch of 1,000 addresses with an API key" batch_1000

batch_limits() {
    expect_status 401 POST /v1/directory/batch "$WORK/b1.out" \
        -H 'Content-Type: application/json' --data-binary @"$WORK/batch.json"
    expect_status 401 POST /v1/directory/batch "$WORK/b2.out" \
        -H "Authorization: ApiKey msk_wrong" \
        -H 'Content-Type: application/json' --data-binary '{"addresses":[]}'
    jq -n '{addresses: [range(1001) | "u\(.)@example.com"]}' >"$WORK/b1001.json"
    expect_status 400 POST /v1/directory/batch "$WORK/b3.out" \
        -H "Authorization: ApiKey $KEY2" -H 'Content-Type: application/json' \
        --data-binary @"$WORK/b1001.json"
}
check "batch: no key or a wrong key 401, over 1,000 addresses 400" batch_limits

key_rate() {
    # rate 3/min: the batch above took one
    expect_status 200 GET /v1/directory/carol@example.org "$WORK/k1.json" \
        -H "Authorization: ApiKey $KEY1"
    expect_status 200 GET /v1/directory/carol@example.org "$WORK/k2.json" \
        -H "Authorization: ApiKey $KEY1"
    expect_status 429 GET /v1/directory/carol@example.org "$WORK/k3.json" \
        -H "Authorization: ApiKey $KEY1"
    json_error "$WORK/k3.json"
    [ "$(header "$WORK/k3.json.hdr" Retry-After)" -ge 1 ]
}
check "an API key over its rate: 429 with Retry-After" key_rate

key_revoked() {
    "$MSD" -d "$D" apikey revoke "$KEY1_ID"
    expect_status 401 GET /v1/directory/carol@example.org "$WORK/kr.json" \
        -H "Authorization: ApiKey $KEY1"
    "$MSD" -d "$D" apikey list | grep "^$KEY1_ID" | grep_q -v 'revoked=-'
}
check "a revoked API key: 401" key_revoked

# ---------------------------------------------------------------- harvest
harvest_mismatch() {
    local before
    sign_msg dave "Mallory <mallory@example.org>" "$WORK/h-bad.eml"
    before=$(sqlite3 "$D/mailseal.db" 'SELECT count(*) FROM harvested')
    expect_status 422 POST /v1/directory/harvest "$WORK/h1.json" \
        -H 'Content-Type: message/rfc822' --data-binary @"$WORK/h-bad.eml"
    jq -e '.verdict | type == "string"' "$WORK/h1.json"
    [ "$(sqlite3 "$D/mailseal.db" 'SELECT count(*) FROM harvested')" = "$before" ]
    expect_status 404 GET /v1/directory/mallory@example.org "$WORK/h1b.json"
}
check "harvest: From is not the signer -> 422, nothing stored" harvest_mismatch

harvest_unsigned() {
    expect_status 422 POST /v1/directory/harvest "$WORK/h2.json" \
        -H 'Content-Type: message/rfc822' \
        --data-binary $'From: dave@example.org\r\nSubject: x\r\n\r\nhi\r\n'
    jq -e '.verdict == "unsigned"' "$WORK/h2.json"
    expect_status 415 POST /v1/directory/harvest "$WORK/h3.json" \
        -H 'Content-Type: text/plain' --data-binary 'x'
}
check "harvest: unsigned 422, wrong content type 415" harvest_unsigned

harvest_ok() {
    sign_msg dave "Dave <dave@example.org>" "$WORK/h-ok.eml"
    expect_status 404 GET /v1/directory/dave@example.org "$WORK/d0.json"
    expect_status 200 POST /v1/directory/harvest "$WORK/h4.json" \
        -H 'Content-Type: message/rfc822' --data-binary @"$WORK/h-ok.eml"
    jq -e '.stored == 1 and .level == 1' "$WORK/h4.json"
    # stored, but dave never proved his mailbox: not published (consent)
    expect_status 404 GET /v1/directory/dave@example.org "$WORK/d0b.json"
    publish dave@example.org
    expect_status 200 GET /v1/directory/dave@example.org "$WORK/d1.json"
    jq -e '[.certificates[] | select(.source == "harvested")] | length == 1' \
        "$WORK/d1.json"
    expect_status 200 POST /v1/directory/harvest "$WORK/h5.json" \
        -H 'Content-Type: message/rfc822' --data-binary @"$WORK/h-ok.eml"
    jq -e '.stored == 0' "$WORK/h5.json"
}
check "harvest: a valid V1 message is stored, served once the mailbox is published" harvest_ok

# ---------------------------------------------------------------- invitations
invite() { # ADDR OUT
    http POST /v1/directory/invitations "$2" -H "Authorization: ApiKey $KEY2" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"address\": \"$1\"}"
}

invite_once() {
    local n
    n=$(spool_count)
    [ "$(invite frank@example.org "$WORK/i1.json")" = 202 ]
    [ "$(spool_count)" = $((n + 1)) ]
    grep -l '^To: frank@example.org' "$SPOOL"/*.eml | grep_q .
    spool_link frank@example.org /v1/invitations/opt-out/ | grep_q opt-out
    [ "$(invite frank@example.org "$WORK/i2.json")" = 409 ]
    [ "$(invite gina@example.org "$WORK/i3.json")" = 202 ]
    [ "$(invite carol@example.org "$WORK/i4.json")" = 409 ]
    [ "$(spool_count)" = $((n + 2)) ]
    expect_status 401 POST /v1/directory/invitations "$WORK/i5.json" \
        -H 'Content-Type: application/json' \
        --data-binary '{"address": "x@example.org"}'
}
check "invitation: one mail, then 409 for 30 days; 409 with a certificate" invite_once

invite_optout() {
    local link
    link=$(spool_link frank@example.org /v1/invitations/opt-out/)
    [ -n "$link" ]
    # GET (a mail scanner, a link preview) only shows the button
    [ "$(curl -sS -o "$WORK/o0.html" -w '%{http_code}' "$link")" = 200 ]
    grep -q '<form method="post"' "$WORK/o0.html"
    sqlite3 "$D/mailseal.db" 'UPDATE invitations SET last_sent = 0'
    [ "$(invite frank@example.org "$WORK/o0.json")" = 202 ]
    [ "$(curl -sS -o "$WORK/o1.json" -w '%{http_code}' -X POST "$link")" = 200 ]
    jq -e '.status == "opted-out" and .email == "frank@example.org"' \
        "$WORK/o1.json"
    [ "$(curl -sS -o "$WORK/o2.json" -w '%{http_code}' -X POST "$link")" = 410 ]
    # 30 days later: gina may be invited again, frank never
    sqlite3 "$D/mailseal.db" 'UPDATE invitations SET last_sent = 0'
    [ "$(invite frank@example.org "$WORK/o3.json")" = 410 ]
    [ "$(invite gina@example.org "$WORK/o4.json")" = 202 ]
    [ "$(invite frank@example.org "$WORK/o5.json")" = 410 ]
}
check "invitation opt-out link: honoured forever" invite_optout

# ---------------------------------------------------------------- unpublish
unpublish() {
    local n link
    n=$(spool_count)
    expect_status 202 POST /v1/directory/unpublish "$WORK/u1.json" \
        -H 'Content-Type: application/json' \
        --data-binary '{"email": "Carol@example.org"}'
    [ "$(spool_count)" = $((n + 1)) ]
    # an address that is not published: the same answer, no mail
    expect_status 202 POST /v1/directory/unpublish "$WORK/u2.json" \
        -H 'Content-Type: application/json' \
        --data-binary '{"email": "nobody@example.org"}'
    [ "$(spool_count)" = $((n + 1)) ]
    expect_status 200 GET /v1/directory/carol@example.org "$WORK/u3.json"
    link=$(spool_link carol@example.org /v1/directory/unpublish/)
    # GET (a mail scanner, a link preview) changes nothing
    [ "$(curl -sS -o "$WORK/u4.html" -w '%{http_code}' "$link")" = 200 ]
    grep -q '<form method="post"' "$WORK/u4.html"
    expect_status 200 GET /v1/directory/carol@example.org "$WORK/u3b.json"
    [ "$(curl -sS -o "$WORK/u4.json" -w '%{http_code}' -X POST "$link")" = 200 ]
    jq -e '.status == "unpublished"' "$WORK/u4.json"
    expect_status 404 GET /v1/directory/carol@example.org "$WORK/u5.json"
    [ "$(curl -sS -o "$WORK/u6.json" -w '%{http_code}' -X POST "$link")" = 410 ]
    expect_status 404 POST /v1/directory/unpublish/mst_nothing "$WORK/u7.json"
    expect_status 404 GET '/v1/directory/unpublish/mst_%3Cb%3E' "$WORK/u8.json"
}
check "unpublish: mailed link, then 404; the link works once" unpublish

# ---------------------------------------------------------------- anonymous rate
anon_rate() {
    local i code
    for i in 1 2 3; do
        expect_status 200 GET /v1/directory/alice@example.org "$WORK/ar$i.json"
    done
    code=$(http GET /v1/directory/alice@example.org "$WORK/ar4.json")
    [ "$code" = 429 ]
    [ "$(header "$WORK/ar4.json.hdr" Retry-After)" -ge 1 ]
    # an API key has its own bucket
    expect_status 200 GET /v1/directory/alice@example.org "$WORK/ar5.json" \
        -H "Authorization: ApiKey $KEY2"
}
conf_set directory_rate 3
msd_term || fatal "SIGTERM"
msd_start || fatal "restart with directory_rate 3"
check "anonymous callers over directory_rate: 429 with Retry-After" anon_rate

audit_ok() {
    audit_rows >/dev/null
    sqlite3 "$D/mailseal.db" "SELECT event FROM audit" >"$WORK/events"
    grep -qx apikey.create "$WORK/events"
    grep -qx apikey.revoke "$WORK/events"
    grep -qx directory.harvest "$WORK/events"
    grep -qx directory.unpublish "$WORK/events"
}
check "audit rows: API keys, harvest, unpublish; chain intact" audit_ok

tokens_not_logged() {
    grep -q 'path=/v1/directory/unpublish/\[redacted\]' "$DLOG"
    grep -q 'path=/v1/invitations/opt-out/\[redacted\]' "$DLOG"
    ! grep -q 'mst_' "$DLOG"
    ! grep -q 'msk_' "$DLOG"
}
check "link tokens and API keys never reach the log" tokens_not_logged

check "no sanitizer report" no_sanitizer_report
finish
