/*
 * services/directory/mail.c - the directory's mail: invitations (POST
 * /v1/directory/invitations, API key; at most one per address per 30 days,
 * never to an address that opted out or has a current certificate) with
 * an opt-out link GET /v1/invitations/opt-out/{token}, and unpublishing
 * (POST /v1/directory/unpublish {"email"} mails a one-time link GET
 * /v1/directory/unpublish/{token}).
 *
 * Link tokens are 256-bit random, stored only as SHA-256
 * (ms_store_action_token_add/use). POST /v1/directory/unpublish answers
 * 202 whether or not the address is published, so it tells nothing; it is
 * rate-limited per client address and per address (one mail a minute).
 * Mail goes through lib/mail/submit.h (mail_relay, default a spool
 * directory). Tokens never reach a log line.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "common/service.h"
#include "directory/dir_int.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define TOKEN_BUF 64
#define TOKEN_PFX "mst_"

/* Sends a text/plain mail to `to` (one recipient). */
static int
send_text(const dir_module *m, const char *to, const char *subject,
          const char *body, const char *unsubscribe, ms_error *err)
{
    const char *rcpt[1] = {to};
    unsigned char rnd[12];
    char date[64], mid[32];
    struct tm tm;
    time_t now = time(NULL);
    ms_buf msg;
    int rc;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return ms_error_set(err, MS_ERR, "no randomness");
    for (size_t i = 0; i < sizeof(rnd); i++)
        (void)snprintf(mid + 2 * i, 3, "%02x", rnd[i]);
    (void)gmtime_r(&now, &tm);
    (void)strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    ms_buf_init(&msg, 64 * 1024);
    msg.secret = true; /* holds a link token */
    rc = ms_buf_printf(&msg,
                       "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
                       "Message-ID: <%s@mailseald>\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n"
                       "Auto-Submitted: auto-generated\r\n",
                       m->cfg->mail_from, to, subject, date, mid);
    if (rc == 0 && unsubscribe != NULL)
        rc = ms_buf_printf(&msg, "List-Unsubscribe: <%s>\r\n", unsubscribe);
    if (rc == 0)
        rc = ms_buf_printf(&msg, "\r\n%s", body);
    if (rc != 0)
        rc = ms_error_set(err, rc, "mail too long");
    else
        rc = ms_submit_send(&m->mail, m->cfg->mail_from, rcpt, 1, msg.data,
                            msg.len, err);
    ms_buf_cleanup(&msg);
    return rc;
}

/* A new link token for action on addr; url gets the whole link. */
static int
link_new(const char *path, const char *addr, ms_store_action action, long ttl,
         char *url, size_t urllen, const dir_module *m, ms_error *err)
{
    unsigned char hash[MS_STORE_SHA256];
    char token[TOKEN_BUF];
    ms_store *st;
    int rc;

    if ((rc = dir_token_new(token, sizeof(token), TOKEN_PFX, hash, err)) != 0)
        return rc;
    if ((rc = ms_service_store_get(&st, err)) != 0 ||
        (rc = ms_store_action_token_add(st, hash, addr, action,
                                        time(NULL) + ttl, err)) != 0)
        goto out;
    if (snprintf(url, urllen, "%s%s%s", m->cfg->public_url, path, token) >=
        (int)urllen)
        rc = ms_error_set(err, MS_ETOOBIG, "public_url too long");
out:
    OPENSSL_cleanse(token, sizeof(token));
    return rc;
}

static int
send_invitation(const dir_module *m, const char *addr, ms_error *err)
{
    char url[1024], body[2048];
    int rc;

    if ((rc =
             link_new("/v1/invitations/opt-out/", addr, MS_STORE_ACTION_OPT_OUT,
                      DIR_OPTOUT_TTL, url, sizeof(url), m, err)) != 0)
        return rc;
    (void)snprintf(
        body, sizeof(body),
        "Hello,\r\n\r\nsomeone would like to send you signed and encrypted "
        "mail, but no certificate is published for %s yet.\r\n\r\n"
        "To get one, install the mailseal agent and run:\r\n\r\n"
        "    mailseal enroll %s --server %s\r\n\r\n"
        "It proves you own this mailbox and publishes your certificate, so "
        "others can encrypt to you.\r\n\r\n"
        "Do not want these invitations? Follow this link and you will never "
        "get another one:\r\n%s\r\n",
        addr, addr, m->cfg->public_url, url);
    rc = send_text(m, addr, "An invitation to encrypted mail", body, url, err);
    OPENSSL_cleanse(url, sizeof(url));
    OPENSSL_cleanse(body, sizeof(body));
    return rc;
}

/* The domain of addr is the key's scope (or the key has none). */
static bool
in_scope(const dir_client *who, const char *addr)
{
    const char *at = strrchr(addr, '@');

    return who->key.domain[0] == '\0' ||
           (at != NULL && strcmp(at + 1, who->key.domain) == 0);
}

static int
invite_answer(ms_http_response *resp, ms_store_invite v)
{
    json_t *o;
    int rc;

    switch (v) {
    case MS_STORE_INVITE_RECENT:
        return ms_http_response_error(resp, 409, "invited in the last 30 days");
    case MS_STORE_INVITE_HAS_CERT:
        return ms_http_response_error(resp, 409,
                                      "the address has a certificate");
    case MS_STORE_INVITE_OPTED_OUT:
        return ms_http_response_error(resp, 410,
                                      "the address opted out of invitations");
    case MS_STORE_INVITE_SEND:
    default:
        break;
    }
    if ((o = json_pack("{s:s}", "status", "sent")) == NULL)
        return MS_ENOMEM;
    rc = ms_http_response_json(resp, 202, o);
    json_decref(o);
    return rc;
}

int
dir_post_invitation(const ms_http_request *req, ms_http_response *resp,
                    void *arg)
{
    dir_module *m = arg;
    char addr[MS_DIR_ADDR_BUF];
    ms_store_invite v = MS_STORE_INVITE_RECENT;
    json_t *body = NULL;
    dir_client who;
    ms_store *st;
    ms_error err;
    int rc;

    if ((rc = dir_admit(m, req, resp, true, &who)) != 1)
        return rc;
    if ((rc = dir_json_body(req, resp, &body)) != 1)
        return rc;
    if (ms_dir_addr_parse(addr,
                          json_string_value(json_object_get(body, "address")),
                          &err) != 0) {
        rc = ms_http_response_error(resp, 400, err.msg);
        goto out;
    }
    if (!in_scope(&who, addr)) {
        rc = ms_http_response_error(resp, 403,
                                    "the address is outside the key's domain");
        goto out;
    }
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = ms_store_invitation_claim(st, addr, DIR_INVITE_INTERVAL, &v,
                                        &err)) != 0 ||
        (v == MS_STORE_INVITE_SEND &&
         (rc = send_invitation(m, addr, &err)) != 0)) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "invitation: %s", err.msg);
        goto out;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id, "invitation: key %s verdict %d",
           who.key.id, (int)v);
    rc = invite_answer(resp, v);
out:
    json_decref(body);
    return rc;
}

static int
send_unpublish(const dir_module *m, const char *addr, ms_error *err)
{
    char url[1024], body[2048];
    int rc;

    if ((rc = link_new("/v1/directory/unpublish/", addr,
                       MS_STORE_ACTION_UNPUBLISH, DIR_UNPUBLISH_TTL, url,
                       sizeof(url), m, err)) != 0)
        return rc;
    (void)snprintf(body, sizeof(body),
                   "Hello,\r\n\r\nsomeone asked to remove %s from the "
                   "certificate directory at %s.\r\n\r\nTo remove it, "
                   "follow this link (valid for 24 hours):\r\n%s\r\n\r\n"
                   "If you did not ask for this, ignore this mail.\r\n",
                   addr, m->cfg->public_url, url);
    rc = send_text(m, addr, "Remove your address from the directory", body,
                   NULL, err);
    OPENSSL_cleanse(url, sizeof(url));
    OPENSSL_cleanse(body, sizeof(body));
    return rc;
}

static int
reply_status(ms_http_response *resp, int status, const char *what,
             const char *email)
{
    json_t *o = email != NULL
                    ? json_pack("{s:s, s:s}", "status", what, "email", email)
                    : json_pack("{s:s}", "status", what);
    int rc;

    if (o == NULL)
        return MS_ENOMEM;
    rc = ms_http_response_json(resp, status, o);
    json_decref(o);
    return rc;
}

int
dir_post_unpublish(const ms_http_request *req, ms_http_response *resp,
                   void *arg)
{
    dir_module *m = arg;
    char addr[MS_DIR_ADDR_BUF], key[MS_DIR_ADDR_BUF + 2];
    json_t *body = NULL;
    bool published = false;
    dir_client who;
    ms_store *st;
    ms_error err;
    long after;
    int rc;

    if ((rc = dir_admit(m, req, resp, false, &who)) != 1)
        return rc;
    if ((rc = dir_json_body(req, resp, &body)) != 1)
        return rc;
    if (ms_dir_addr_parse(addr,
                          json_string_value(json_object_get(body, "email")),
                          &err) != 0) {
        rc = ms_http_response_error(resp, 400, err.msg);
        goto out;
    }
    (void)snprintf(key, sizeof(key), "u:%s", addr);
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = ms_store_directory_published(st, addr, &published, &err)) != 0)
        goto fail;
    /* Mail only a published address, at most once a minute; the answer is
     * the same either way. */
    if (published && ms_dir_rate_take(m->anon, key, 1, time(NULL), &after) &&
        (rc = send_unpublish(m, addr, &err)) != 0)
        goto fail;
    rc = reply_status(resp, 202,
                      "if the address is published, a link was "
                      "mailed to it",
                      NULL);
    goto out;
fail:
    ms_log(MS_LOGLEVEL_ERROR, req->request_id, "unpublish: %s", err.msg);
out:
    json_decref(body);
    return rc;
}

/* Uses the link token of the subpath for action. */
static int
use_link(const ms_http_request *req, ms_http_response *resp, void *arg,
         ms_store_action action, const char *done)
{
    unsigned char hash[MS_STORE_SHA256];
    char email[MS_STORE_EMAIL_MAX + 1];
    size_t n = strnlen(req->subpath, TOKEN_BUF);
    dir_client who;
    ms_store *st;
    ms_error err;
    int rc;

    if ((rc = dir_admit(arg, req, resp, false, &who)) != 1)
        return rc;
    if (n == 0 || n >= TOKEN_BUF || strncmp(req->subpath, TOKEN_PFX, 4) != 0)
        return ms_http_response_error(resp, 404, "unknown link");
    if (dir_sha256(hash, req->subpath, n) != 0)
        return MS_ERR;
    if ((rc = ms_service_store_get(&st, &err)) == 0)
        rc = ms_store_action_token_use(st, hash, action, email, &err);
    if (rc == MS_ENOTFOUND)
        return ms_http_response_error(resp, 404, "unknown link");
    if (rc == MS_EPOLICY)
        return ms_http_response_error(resp, 410,
                                      "this link was used or has expired");
    if (rc != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "link: %s", err.msg);
        return rc;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id, "link: %s", done);
    return reply_status(resp, 200, done, email);
}

/*
 * GET of a mailed link: a page whose button POSTs to the same URL. The
 * GET itself changes nothing, so a mail scanner or a link preview that
 * fetches every URL of a message does not unpublish or opt out anyone.
 */
static int
link_page(const ms_http_request *req, ms_http_response *resp, void *arg,
          const char *what)
{
    dir_client who;
    int rc;

    if ((rc = dir_admit(arg, req, resp, false, &who)) != 1)
        return rc;
    if (strnlen(req->subpath, TOKEN_BUF) >= TOKEN_BUF ||
        strncmp(req->subpath, TOKEN_PFX, 4) != 0 ||
        strspn(req->subpath + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                 "qrstuvwxyz0123456789-_") !=
            strlen(req->subpath + 4))
        return ms_http_response_error(resp, 404, "unknown link");
    resp->content_type = "text/html; charset=utf-8";
    return ms_buf_printf(&resp->body,
                         "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
                         "<title>mailseal</title></head><body>"
                         "<form method=\"post\" action=\"%s%s\">"
                         "<p><button type=\"submit\">%s</button></p>"
                         "</form></body></html>\n",
                         req->path[0] == '/' ? "" : "/", req->path, what);
}

int
dir_get_unpublish(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    return link_page(req, resp, arg,
                     "Remove this address from the mailseal directory");
}

int
dir_post_unpublish_link(const ms_http_request *req, ms_http_response *resp,
                        void *arg)
{
    return use_link(req, resp, arg, MS_STORE_ACTION_UNPUBLISH, "unpublished");
}

int
dir_get_optout(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    return link_page(req, resp, arg,
                     "Never send this address a mailseal invitation again");
}

int
dir_post_optout(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    return use_link(req, resp, arg, MS_STORE_ACTION_OPT_OUT, "opted-out");
}
