/*
 * services/validate/routes.c - the validate module: proving a mailbox by
 * a mailed code or link, then handing the device a bearer credential
 * (api4.md "Validation").
 *
 *   POST /v1/mailbox-validations {"email","device"} -> 202 {"id",
 *        "poll_token","expires_at"} and the challenge mail
 *   POST /v1/mailbox-validations/{id}/confirm {"code","poll_token"} -> 201
 *        {"device_id","token","email","proven_until"}
 *   GET  /v1/mailbox-validations/{id}/confirm?code=... -> 200 text/html,
 *        a page whose button POSTs the same URL, which confirms
 *   POST /v1/mailbox-validations/{id}/credential {"poll_token"} -> 201
 *        (after the link; 409 while not confirmed)
 *
 * Codes are 128 random bits shown as 26 base32 characters in groups, poll
 * tokens 256 bits, device tokens "ms1_" + 256 bits in base64url: only their
 * SHA-256 reaches the store, compared with CRYPTO_memcmp. A wrong code is
 * 403 and counted (the fifth kills the validation), a used, dead or
 * expired validation 410. Starting validations is limited per address and
 * per client address, codes tried per client address: 429 + Retry-After.
 * No code or token is ever logged.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/device_auth.h"
#include "common/log.h"
#include "common/module.h"
#include "common/service.h"
#include "kms/escrow.h"
#include "mime/addr.h"
#include "util/alloc.h"
#include "util/error.h"
#include "validate.h"

#define VALIDATION_TTL (24 * 3600)
#define CODE_CHARS     26 /* base32 of 128 bits */
#define DEVICE_MAX     64 /* device name bytes */
#define PREFIX         "/v1/mailbox-validations/"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* The 26 base32 characters of 16 random bytes (out: 27 bytes). */
static void
code_chars(char *out, const unsigned char r[16])
{
    unsigned v = 0;
    int bits = 0;
    size_t k = 0;

    for (size_t i = 0; i < 16; i++) {
        v = ((v << 8) | r[i]) & 0xffffu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[k++] = b32[(v >> bits) & 31u];
        }
    }
    out[k++] = b32[(v << (5 - bits)) & 31u];
    out[k] = '\0';
}

/*
 * The canonical code of user input (blanks and '-' dropped, upper case):
 * false when it cannot be a code (then it is still counted as wrong).
 */
static bool
code_canonical(char out[CODE_CHARS + 1], const char *in)
{
    size_t k = 0;
    char c;

    for (; *in != '\0'; in++) {
        if (*in == '-' || *in == ' ')
            continue;
        c = (*in >= 'a' && *in <= 'z') ? (char)(*in - 'a' + 'A') : *in;
        if (k == CODE_CHARS || strchr(b32, c) == NULL || c == '\0')
            return false;
        out[k++] = c;
    }
    out[k] = '\0';
    return k == CODE_CHARS;
}

static bool
device_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > DEVICE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* out = s without blanks around it; false when too long. */
static bool
trim(char *out, size_t n, const char *s)
{
    size_t len;

    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= n)
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

bool
vd_id_ok(const char *s, size_t len)
{
    if (len == 0 || len > MS_STORE_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static int
reply_429(ms_http_response *resp, long long retry_after)
{
    char v[32];
    int rc;

    (void)snprintf(v, sizeof(v), "%lld", retry_after);
    if ((rc = ms_http_response_add_header(resp, "Retry-After", v)) != 0)
        return rc;
    return ms_http_response_error(resp, 429, "too many requests, retry later");
}

/* The challenge mail to v->email. */
static int
send_mail(const vmod *m, const ms_store_validation *v, const char *code,
          ms_error *err)
{
    char date[64], exp[32];
    const char *rcpt = v->email;
    time_t now = time(NULL);
    struct tm tm;
    ms_buf msg;
    int rc;

    (void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
                   gmtime_r(&now, &tm));
    ms_device_time(exp, sizeof(exp), v->expires);
    ms_buf_init_secret(&msg, 16384);
    rc = ms_buf_printf(
        &msg,
        "From: mailseal <%s>\r\nTo: <%s>\r\nDate: %s\r\n"
        "Subject: Your mailseal confirmation code\r\n"
        "Message-ID: <%s@mailseal.invalid>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "Content-Transfer-Encoding: 7bit\r\nAuto-Submitted: auto-generated\r\n"
        "\r\n"
        "Someone asked to use this mailbox with mailseal on the device\r\n"
        "\"%s\". If that was you, enter this code on the device:\r\n\r\n"
        "    Code: %.5s-%.5s-%.5s-%.5s-%s\r\n\r\n"
        "or open this link:\r\n\r\n    %s" PREFIX "%s/confirm?code=%s\r\n\r\n"
        "The code is valid until %s. If it was not you, ignore this mail.\r\n",
        m->cfg->mail_from, v->email, date, v->id, v->device, code, code + 5,
        code + 10, code + 15, code + 20, m->cfg->public_url, v->id, code, exp);
    if (rc != 0)
        rc = ms_error_set(err, rc, "challenge mail too large");
    else
        rc = ms_submit_send(&m->submit, m->cfg->mail_from, &rcpt, 1, msg.data,
                            msg.len, err);
    ms_buf_cleanup(&msg);
    return rc;
}

/* Fills v (hashes and id) and code/poll token with fresh secrets. */
static int
new_validation(ms_store_validation *v, char code[CODE_CHARS + 1], ms_buf *poll,
               ms_error *err)
{
    unsigned char r[32];
    int rc;

    if ((rc = ms_device_random_id(v->id, sizeof(v->id), err)) != 0)
        return rc;
    if (RAND_bytes(r, 16) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no randomness");
    code_chars(code, r);
    ms_device_sha256(v->code_hash, code, CODE_CHARS);
    if (RAND_bytes(r, 32) != 1) {
        ms_wipe(r, sizeof(r));
        return ms_error_set_ossl(err, MS_ERR, "no randomness");
    }
    rc = ms_device_b64url(poll, r, sizeof(r));
    ms_wipe(r, sizeof(r));
    if (rc != 0)
        return ms_error_set(err, rc, "out of memory");
    ms_device_sha256(v->poll_hash, poll->data, poll->len);
    v->expires = time(NULL) + VALIDATION_TTL;
    return 0;
}

/* 1 (resp answered) when the client or address is over its limit. */

/* Number of keys the hourly limits track (clients and mailboxes). */
#define VALIDATE_RATE_KEYS 65536

/*
 * One event for key against limit an hour: true when allowed, else
 * *after = seconds to wait. A key the limiter refuses counts as over.
 */
static bool
lim_hit(ms_ratelimit *rl, const char *key, long long limit, time_t now,
        long long *after)
{
    unsigned wait = 0;
    int rc = ms_ratelimit_hit(rl, key,
                              limit > 1000000 ? 1000000u : (unsigned)limit,
                              3600, now, &wait);

    *after = rc == MS_EINVAL ? 3600 : (long long)wait;
    return rc == 0;
}

static int
start_limited(const vmod *m, const ms_http_request *req, ms_http_response *resp,
              const char *email)
{
    char key[MS_STORE_EMAIL_MAX + 8];
    long long after = 0;
    time_t now = time(NULL);
    int rc;

    (void)snprintf(key, sizeof(key), "c:%s", req->peer);
    if (lim_hit(m->lim, key, m->cfg->validate_rate_client, now, &after)) {
        (void)snprintf(key, sizeof(key), "a:%s", email);
        if (lim_hit(m->lim, key, m->cfg->validate_rate_address, now,
                         &after))
            return 0;
    }
    ms_log(MS_LOGLEVEL_WARNING, req->request_id, "validate: rate limit peer=%s",
           req->peer);
    rc = reply_429(resp, after);
    return rc != 0 ? rc : 1;
}

static int
start_reply(ms_http_response *resp, const ms_store_validation *v,
            const ms_buf *poll)
{
    char exp[32];
    json_t *o;
    int rc;

    ms_device_time(exp, sizeof(exp), v->expires);
    o = json_pack("{s:s, s:s%, s:s}", "id", v->id, "poll_token", poll->data,
                  poll->len, "expires_at", exp);
    if (o == NULL)
        return MS_ENOMEM;
    rc = ms_http_response_json(resp, 202, o);
    json_decref(o);
    return rc;
}

static int
post_start(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    vmod *m = arg;
    ms_store_validation v;
    char code[CODE_CHARS + 1];
    const char *email = NULL, *device = NULL;
    char trimmed[MS_STORE_EMAIL_MAX + 1];
    json_t *body = NULL;
    json_error_t jerr;
    ms_store *st;
    ms_error err;
    ms_buf poll;
    int rc;

    memset(&v, 0, sizeof(v));
    ms_buf_init_secret(&poll, 128);
    if ((rc = ms_device_json_body(req, resp, &body)) != 0)
        goto out;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s:s}", "email", &email,
                       "device", &device) != 0 ||
        !trim(trimmed, sizeof(trimmed), email) ||
        ms_addr_normalise(v.email, sizeof(v.email), trimmed, &err) !=
            0 ||
        !device_name_ok(device)) {
        rc = ms_http_response_error(resp, 400,
                                    "expected {\"email\": addr-spec, "
                                    "\"device\": name of 1..64 printable "
                                    "ASCII characters}");
        goto out;
    }
    (void)snprintf(v.device, sizeof(v.device), "%s", device);
    if ((rc = start_limited(m, req, resp, v.email)) != 0)
        goto out;
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = new_validation(&v, code, &poll, &err)) != 0 ||
        (rc = ms_store_validation_create(st, &v, &err)) != 0)
        goto fail;
    if ((rc = send_mail(m, &v, code, &err)) != 0)
        goto fail;
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "validate: challenge mailed validation=%s", v.id);
    rc = start_reply(resp, &v, &poll);
    goto out;
fail:
    ms_log(MS_LOGLEVEL_ERROR, req->request_id, "validate: %s", err.msg);
    if (rc == MS_EINVAL || rc == MS_EPOLICY || rc == MS_EIO)
        rc = MS_ETEMP; /* the mail could not go out: 503, retry */
out:
    OPENSSL_cleanse(code, sizeof(code));
    ms_buf_cleanup(&poll);
    json_decref(body);
    return rc < 0 ? rc : 0;
}

/* ---- confirm, credential ---- */

static bool
gone(const ms_store_validation *v)
{
    return v->state == MS_STORE_VUSED || v->state == MS_STORE_VDEAD ||
           time(NULL) >= v->expires;
}

/* True when secret hashes to want (constant time over the digests). */
static bool
hash_matches(const char *secret, size_t len,
             const unsigned char want[MS_STORE_SHA256])
{
    unsigned char md[MS_STORE_SHA256];
    bool ok;

    ms_device_sha256(md, secret, len);
    ok = CRYPTO_memcmp(md, want, sizeof(md)) == 0;
    ms_wipe(md, sizeof(md));
    return ok;
}

/* True when code (user input) is v's code. */
static bool
code_matches(const ms_store_validation *v, const char *code)
{
    char c[CODE_CHARS + 1];
    bool ok;

    ok = code_canonical(c, code);
    /* Hash and compare anyway: the same work for any input. */
    ok = hash_matches(c, strlen(c), v->code_hash) && ok;
    OPENSSL_cleanse(c, sizeof(c));
    return ok;
}

/* 1 when resp answered 429 (codes tried per client). */
static int
confirm_limited(const vmod *m, const ms_http_request *req,
                ms_http_response *resp)
{
    char key[80];
    long long after = 0;
    int rc;

    (void)snprintf(key, sizeof(key), "k:%s", req->peer);
    if (lim_hit(m->lim, key, m->cfg->validate_rate_client, time(NULL),
                     &after))
        return 0;
    ms_log(MS_LOGLEVEL_WARNING, req->request_id,
           "validate: code rate limit peer=%s", req->peer);
    rc = reply_429(resp, after);
    return rc != 0 ? rc : 1;
}

/* Counts a wrong code: 403 (or 410 when the validation is gone). */
static int
wrong_code(ms_store *st, const ms_http_request *req, ms_http_response *resp,
           const ms_store_validation *v, bool *dead_out)
{
    int attempts = 0;
    bool dead = false;
    ms_error err;
    int rc;

    rc = ms_store_validation_fail(st, v->id, &attempts, &dead, &err);
    *dead_out = dead;
    if (rc == MS_EPOLICY || rc == MS_ENOTFOUND) {
        *dead_out = true;
        return 410;
    }
    if (rc != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "validate: %s", err.msg);
        return rc;
    }
    ms_log(MS_LOGLEVEL_WARNING, req->request_id,
           "validate: wrong code validation=%s attempts=%d%s peer=%s", v->id,
           attempts, dead ? " (now dead)" : "", req->peer);
    (void)resp;
    return 403;
}

/* Makes the device credential of v: 201 {"device_id","token",...}. */
static int
credential(ms_store *st, const ms_http_request *req, ms_http_response *resp,
           const ms_store_validation *v, bool need_confirmed)
{
    unsigned char r[32], md[MS_STORE_SHA256];
    char device_id[MS_STORE_ID_MAX + 1], until[32];
    ms_store_device d;
    ms_buf tok;
    json_t *o = NULL;
    ms_error err;
    int rc;

    ms_buf_init_secret(&tok, 64);
    if ((rc = ms_device_random_id(device_id, sizeof(device_id), &err)) != 0)
        goto fail;
    if (RAND_bytes(r, sizeof(r)) != 1) {
        rc = ms_error_set_ossl(&err, MS_ERR, "no randomness");
        goto fail;
    }
    if ((rc = ms_buf_puts(&tok, "ms1_")) != 0 ||
        (rc = ms_device_b64url(&tok, r, sizeof(r))) != 0) {
        rc = ms_error_set(&err, rc, "out of memory");
        goto fail;
    }
    ms_device_sha256(md, tok.data, tok.len);
    rc = ms_store_validation_redeem(st, v->id, device_id, md, need_confirmed,
                                    &d, &err);
    if (rc == MS_EPOLICY || rc == MS_ENOTFOUND) {
        rc = ms_http_response_error(resp, 410, "validation used or expired");
        goto out;
    }
    if (rc != 0)
        goto fail;
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "validate: device %s created for validation %s", d.id, v->id);
    ms_device_time(until, sizeof(until),
                   d.proven_at + (time_t)MS_DEVICE_PROOF_DAYS * 86400);
    o = json_pack("{s:s, s:s%, s:s, s:s}", "device_id", d.id, "token", tok.data,
                  tok.len, "email", d.email, "proven_until", until);
    rc = o == NULL ? MS_ENOMEM : ms_http_response_json(resp, 201, o);
    goto out;
fail:
    ms_log(MS_LOGLEVEL_ERROR, req->request_id, "validate: %s", err.msg);
out:
    json_decref(o);
    ms_wipe(r, sizeof(r));
    ms_buf_cleanup(&tok);
    return rc;
}

/* The {id} of PREFIX{id}/{what}; false when the path has another shape. */
static bool
split_path(const char *sub, char id[MS_STORE_ID_MAX + 1], const char **what)
{
    const char *slash = strchr(sub, '/');

    if (slash == NULL || !vd_id_ok(sub, (size_t)(slash - sub)))
        return false;
    memcpy(id, sub, (size_t)(slash - sub));
    id[slash - sub] = '\0';
    *what = slash + 1;
    return true;
}

static int
load(ms_store **st, const ms_http_request *req, const char *id,
     ms_store_validation *v)
{
    ms_error err;
    int rc;

    if ((rc = ms_service_store_get(st, &err)) != 0 ||
        (rc = ms_store_validation_get(*st, id, v, &err)) != 0) {
        if (rc != MS_ENOTFOUND)
            ms_log(MS_LOGLEVEL_ERROR, req->request_id, "validate: %s", err.msg);
    }
    return rc;
}

static int
post_confirm(vmod *m, const ms_http_request *req, ms_http_response *resp,
             const char *id)
{
    ms_store_validation v;
    const char *code = NULL, *poll = NULL;
    json_t *body = NULL;
    json_error_t jerr;
    ms_store *st;
    bool dead;
    int rc;

    if ((rc = ms_device_json_body(req, resp, &body)) != 0)
        goto out;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s:s}", "code", &code,
                       "poll_token", &poll) != 0) {
        rc = ms_http_response_error(resp, 400,
                                    "expected {\"code\", \"poll_token\"}");
        goto out;
    }
    if ((rc = confirm_limited(m, req, resp)) != 0)
        goto out;
    if ((rc = load(&st, req, id, &v)) == MS_ENOTFOUND) {
        rc = ms_http_response_error(resp, 404, "no such validation");
        goto out;
    }
    if (rc != 0)
        goto out;
    if (gone(&v)) {
        rc = ms_http_response_error(resp, 410, "validation used or expired");
        goto out;
    }
    if (!hash_matches(poll, strlen(poll), v.poll_hash)) {
        rc = ms_http_response_error(resp, 403, "wrong poll token");
        goto out;
    }
    if (!code_matches(&v, code)) {
        rc = wrong_code(st, req, resp, &v, &dead);
        if (rc > 0)
            rc = ms_http_response_error(resp, rc,
                                        rc == 410 ? "validation used or expired"
                                                  : "wrong code");
        goto out;
    }
    rc = credential(st, req, resp, &v, false);
out:
    json_decref(body);
    return rc < 0 ? rc : 0;
}

static int
html(ms_http_response *resp, int status, const char *text)
{
    int rc;

    ms_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    rc = ms_buf_printf(&resp->body,
                       "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                       "<title>mailseal</title></head>\n<body><p>%s</p>"
                       "</body></html>\n",
                       text);
    return rc;
}

/*
 * GET of the mailed link: a page whose button POSTs the same link. The GET
 * changes nothing: a mail scanner or link preview fetching every URL of
 * the challenge must not confirm a validation that someone else started
 * for this mailbox (whoever holds its poll token would get a credential).
 * No store access either: the page says nothing about the validation.
 */
static int
get_confirm_page(const ms_http_request *req, ms_http_response *resp,
                 const char *id)
{
    const char *code = ms_http_request_query(req, "code");
    size_t n = code != NULL ? strlen(code) : 0;

    if (n == 0 || n > 64 ||
        strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567-") != n)
        return html(resp, 400, "This link is incomplete.");
    resp->content_type = "text/html; charset=utf-8";
    return ms_buf_printf(
        &resp->body,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>mailseal</title></head>\n<body><p>Confirm only if you "
        "just asked, on your own device, to use this mailbox with "
        "mailseal. If you did not, close this page: nothing happens.</p>"
        "<form method=\"post\" action=\"" PREFIX "%s/confirm?code=%s\">"
        "<p><button type=\"submit\">Confirm this mailbox</button></p>"
        "</form></body></html>\n",
        id, code);
}

/* POST of the mailed link (the page's button): confirms the validation. */
static int
link_confirm(vmod *m, const ms_http_request *req, ms_http_response *resp,
             const char *id)
{
    const char *code = ms_http_request_query(req, "code");
    ms_store_validation v;
    ms_store *st;
    ms_error err;
    bool dead;
    int rc;

    if (code == NULL)
        return html(resp, 400, "This link is incomplete.");
    if ((rc = confirm_limited(m, req, resp)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = load(&st, req, id, &v)) == MS_ENOTFOUND)
        return html(resp, 404, "This link is not known.");
    if (rc != 0)
        return rc;
    if (gone(&v))
        return html(resp, 410, "This link has expired or was already used.");
    if (!code_matches(&v, code)) {
        rc = wrong_code(st, req, resp, &v, &dead);
        if (rc == 410)
            return html(resp, 410,
                        "This link has expired or was already used.");
        return rc < 0 ? rc : html(resp, 403, "This link is not valid.");
    }
    if (v.state == MS_STORE_VPENDING &&
        (rc = ms_store_validation_confirm(st, id, &err)) != 0) {
        if (rc == MS_EPOLICY || rc == MS_ENOTFOUND)
            return html(resp, 410,
                        "This link has expired or was already used.");
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "validate: %s", err.msg);
        return rc;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "validate: mailbox confirmed by link validation=%s", id);
    return html(resp, 200,
                "Mailbox confirmed. Return to your device to finish.");
}

static int
post_credential(const ms_http_request *req, ms_http_response *resp,
                const char *id)
{
    ms_store_validation v;
    const char *poll = NULL;
    json_t *body = NULL;
    json_error_t jerr;
    ms_store *st;
    int rc;

    if ((rc = ms_device_json_body(req, resp, &body)) != 0)
        goto out;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s}", "poll_token",
                       &poll) != 0) {
        rc = ms_http_response_error(resp, 400, "expected {\"poll_token\"}");
        goto out;
    }
    if ((rc = load(&st, req, id, &v)) == MS_ENOTFOUND) {
        rc = ms_http_response_error(resp, 404, "no such validation");
        goto out;
    }
    if (rc != 0)
        goto out;
    if (gone(&v))
        rc = ms_http_response_error(resp, 410, "validation used or expired");
    else if (!hash_matches(poll, strlen(poll), v.poll_hash))
        rc = ms_http_response_error(resp, 403, "wrong poll token");
    else if (v.state != MS_STORE_VCONFIRMED)
        rc = ms_http_response_error(resp, 409, "mailbox not confirmed yet");
    else
        rc = credential(st, req, resp, &v, true);
out:
    json_decref(body);
    return rc < 0 ? rc : 0;
}

static int
on_validation(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    char id[MS_STORE_ID_MAX + 1];
    const char *what;

    if (!split_path(req->subpath, id, &what))
        return ms_http_response_error(resp, 404, "not found");
    if (strcmp(what, "confirm") == 0 && req->method == MS_HTTP_POST &&
        ms_http_request_query(req, "code") != NULL)
        return link_confirm(arg, req, resp, id);
    if (strcmp(what, "confirm") == 0 && req->method == MS_HTTP_POST)
        return post_confirm(arg, req, resp, id);
    if (strcmp(what, "confirm") == 0)
        return get_confirm_page(req, resp, id);
    if (strcmp(what, "credential") == 0 && req->method == MS_HTTP_POST)
        return post_credential(req, resp, id);
    return ms_http_response_error(resp, 404, "not found");
}

/* ---- module ---- */

static void
validate_stop(void *state)
{
    vmod *m = state;

    if (m == NULL)
        return;
    if (m->store)
        ms_service_store_release();
    if (m->ca != NULL)
        ms_service_ca_release();
    ms_ratelimit_free(m->lim);
    ms_daemon_config_free(m->cfg);
    ms_free(m);
}

static int
routes(vmod *m, ms_http_server *s, ms_error *err)
{
    int rc;

    if ((rc = ms_http_server_route(s, MS_HTTP_POST, "/v1/mailbox-validations",
                                   false, post_start, m, err)) != 0 ||
        (rc = ms_http_server_route(s, MS_HTTP_POST | MS_HTTP_GET, PREFIX, true,
                                   on_validation, m, err)) != 0 ||
        (rc = ms_http_server_route(s, MS_HTTP_POST, "/v1/certificates", false,
                                   vd_post_certificate, m, err)) != 0 ||
        (rc = ms_http_server_route(s, MS_HTTP_GET, "/v1/devices", false,
                                   vd_get_devices, m, err)) != 0)
        return rc;
    return ms_http_server_route(s, MS_HTTP_DELETE, "/v1/devices/", true,
                                vd_delete_device, m, err);
}

static int
validate_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    vmod *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    m->cfg = ms_service_config_ref(ctx->config);
    ms_submit_config_init(&m->submit);
    if ((rc = ms_ratelimit_new(&m->lim, VALIDATE_RATE_KEYS, err)) != 0)
        goto out;
    if ((rc = ms_submit_config_parse_url(&m->submit, m->cfg->mail_relay,
                                         err)) != 0 ||
        (rc = ms_submit_config_check(&m->submit, err)) != 0) {
        goto out;
    }
    if ((rc = ms_service_ca_acquire(&m->ca, ctx->config, err)) != 0) {
        m->ca = NULL;
        goto out;
    }
    if ((rc = ms_service_store_acquire(ctx->config, err)) != 0)
        goto out;
    m->store = true;
    rc = routes(m, ctx->server, err);
out:
    if (rc != 0) {
        validate_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

const ms_module ms_module_validate = {"validate", false, validate_start, NULL,
                                      validate_stop};
