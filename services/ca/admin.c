/*
 * services/ca/admin.c - POST /ca/issue and POST /ca/revoke: JSON in, JSON
 * out, behind `Authorization: Bearer <token>` (the SHA-256 of the token
 * compared in constant time with that of admin_token_file's contents).
 *
 * issue:  {"level":N,"use":"signing"|"encryption","mailbox":"...",
 *          "given_name","surname","organisation","organisation_id",
 *          "country","title" (as the level needs),"days":N (optional),
 *          "csr":"PEM"} -> 201 {"serial","level","use","mailbox",
 *          "certificate":"PEM"}
 * revoke: {"serial":"hex","reason":"keyCompromise"|N (optional),
 *          "level":N (optional)} -> 200 {"serial","level","reason",
 *          "revoked":true}
 * Input errors are answered with the library's one-line message: 400
 * (malformed, bad signature, bad field), 422 (refused by policy: weak key,
 * extra names), 404 (unknown serial), 409 (already revoked).
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ca.h"
#include "ca/issue.h"
#include "common/ca_admin.h"
#include "common/log.h"
#include "util/alloc.h"
#include "util/error.h"

#define JSON_TYPE "application/json"

/* True when the request carries the admin token. */
static bool
authorised(const ca_module *m, const ms_http_request *req)
{
    unsigned char md[32];
    unsigned int n = 0;
    const char *h = ms_http_request_header(req, "Authorization");
    bool ok;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    /* Digests have equal lengths whatever the token's: no length leak. */
    if (!EVP_Digest(h, strlen(h), md, &n, EVP_sha256(), NULL) || n != 32)
        return false;
    ok = CRYPTO_memcmp(md, m->token_digest, sizeof(md)) == 0;
    ms_wipe(md, sizeof(md));
    return ok;
}

/* The checks every admin request passes; 1 when resp is already an error. */
static int
admin_gate(const ca_module *m, const ms_http_request *req,
           ms_http_response *resp, json_t **body)
{
    json_error_t jerr;
    int rc;

    if (!authorised(m, req)) {
        if ((rc = ms_http_response_add_header(resp, "WWW-Authenticate",
                                              "Bearer")) != 0)
            return rc;
        ms_log_warn("ca: refused an admin request without the token "
                    "peer=%s id=%s",
                    req->peer, req->request_id);
        rc = ms_http_response_error(resp, 401, "missing or wrong bearer token");
        return rc != 0 ? rc : 1;
    }
    if (!ms_service_content_type_is(req, JSON_TYPE)) {
        rc = ms_service_reply_415(resp, JSON_TYPE);
        return rc != 0 ? rc : 1;
    }
    *body = json_loadb((const char *)req->body, req->body_len,
                       JSON_REJECT_DUPLICATES, &jerr);
    if (*body == NULL || !json_is_object(*body)) {
        json_decref(*body);
        *body = NULL;
        rc = ms_http_response_error(resp, 400, "body is not a JSON object");
        return rc != 0 ? rc : 1;
    }
    return 0;
}

/* Answers an ms_status from the library: input errors with their message. */
static int
reply_error(ms_http_response *resp, int rc, const ms_error *err)
{
    switch (rc) {
    case MS_EINVAL:
    case MS_EMALFORMED:
    case MS_EBADSIG:
        return ms_http_response_error(resp, 400, err->msg);
    case MS_EPOLICY:
        return ms_http_response_error(resp, 422, err->msg);
    case MS_ETOOBIG:
        return ms_http_response_error(resp, 413, err->msg);
    case MS_ENOTFOUND:
        return ms_http_response_error(resp, 404, err->msg);
    default:
        ms_log_err("ca: %s", err->msg);
        return rc; /* the server answers 503 or 500 without internals */
    }
}

typedef struct issue_req {
    ms_ca_identity id;
    const char *use;
    const char *csr;
    int days;
} issue_req;

static int
parse_issue(issue_req *r, json_t *body, ms_error *err)
{
    json_error_t jerr;

    memset(r, 0, sizeof(*r));
    if (json_unpack_ex(body, &jerr, JSON_STRICT,
                       "{s:i, s:s, s:s, s:s, s?s, s?s, s?s, s?s, s?s, s?s, "
                       "s?i}",
                       "level", &r->id.level, "use", &r->use, "mailbox",
                       &r->id.mailbox, "csr", &r->csr, "given_name",
                       &r->id.given_name, "surname", &r->id.surname,
                       "organisation", &r->id.organisation, "organisation_id",
                       &r->id.organisation_id, "country", &r->id.country,
                       "title", &r->id.title, "days", &r->days) != 0)
        return ms_error_set(err, MS_EINVAL, "%s", jerr.text);
    return 0;
}

static int
issue_reply(ms_http_response *resp, const issue_req *r, const ms_buf *der,
            const char *id, ms_error *err)
{
    json_t *o = NULL;
    char *serial = NULL;
    ms_buf pem;
    int rc;

    ms_buf_init(&pem, 0);
    if ((rc = ms_service_cert_pem(&pem, &serial, der->data, der->len, err)) !=
        0)
        goto out;
    o = json_pack("{s:s, s:i, s:s, s:s, s:s}", "serial", serial, "level",
                  r->id.level, "use", r->use, "mailbox", r->id.mailbox,
                  "certificate", (const char *)pem.data);
    if (o == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ms_http_response_json(resp, 201, o)) != 0)
        goto out;
    ms_log(MS_LOGLEVEL_INFO, id, "ca: issued serial=%s level=V%d use=%s",
           serial, r->id.level, r->use);
out:
    json_decref(o);
    ms_free(serial);
    ms_buf_cleanup(&pem);
    return rc;
}

static int
post_issue(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    ca_module *m = arg;
    ms_ca_issue_options opt = MS_CA_ISSUE_OPTIONS_INIT;
    const ms_daemon_config *cfg;
    ms_service_ref *ref = NULL;
    json_t *body = NULL;
    ms_lint_use use;
    ms_store *st;
    issue_req r;
    ms_buf der;
    ms_error err;
    int rc;

    ms_buf_init(&der, MS_STORE_DER_MAX);
    if ((rc = admin_gate(m, req, resp, &body)) != 0)
        goto out;
    cfg = ms_service_slot_get(&m->cfg_slot, &ref);
    if ((rc = parse_issue(&r, body, &err)) != 0 ||
        (rc = ms_service_use_parse(&use, r.use, &err)) != 0) {
        rc = reply_error(resp, rc, &err);
        goto out;
    }
    opt.public_url = cfg->public_url;
    opt.validity_days = r.days != 0 ? r.days : (int)cfg->cert_validity_days;
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = ms_ca_issue(m->ca, st, &r.id, (const uint8_t *)r.csr,
                          strlen(r.csr), use, &opt, &der, &err)) != 0) {
        rc = reply_error(resp, rc, &err);
        goto out;
    }
    if ((rc = issue_reply(resp, &r, &der, req->request_id, &err)) != 0)
        ms_log_err("ca: %s", err.msg);
out:
    ms_service_slot_put(ref);
    json_decref(body);
    ms_buf_cleanup(&der);
    return rc == 1 ? 0 : rc;
}

typedef struct revoke_req {
    const char *serial;
    json_t *reason;
    int level;
} revoke_req;

static int
parse_revoke(revoke_req *r, int *reason, json_t *body, ms_error *err)
{
    json_error_t jerr;
    char num[8];

    memset(r, 0, sizeof(*r));
    *reason = 0;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s?o, s?i}", "serial",
                       &r->serial, "reason", &r->reason, "level",
                       &r->level) != 0)
        return ms_error_set(err, MS_EINVAL, "%s", jerr.text);
    if (r->level != 0 && (r->level < 1 || r->level > 4))
        return ms_error_set(err, MS_EINVAL, "level must be 1..4");
    if (r->reason == NULL)
        return 0;
    if (json_is_string(r->reason))
        return ms_service_reason_parse(reason, json_string_value(r->reason),
                                       err);
    if (json_is_integer(r->reason) && json_integer_value(r->reason) >= 0 &&
        json_integer_value(r->reason) <= 99) {
        (void)snprintf(num, sizeof(num), "%d",
                       (int)json_integer_value(r->reason)); /* fits */
        return ms_service_reason_parse(reason, num, err);
    }
    return ms_error_set(err, MS_EINVAL, "reason: a name or a number");
}

static int
revoke_reply(ms_http_response *resp, const char *serial, int level, int reason)
{
    json_t *o;
    int rc;

    o = json_pack("{s:s, s:i, s:s, s:b}", "serial", serial, "level", level,
                  "reason", ms_service_reason_name(reason), "revoked", 1);
    if (o == NULL)
        return MS_ENOMEM;
    rc = ms_http_response_json(resp, 200, o);
    json_decref(o);
    return rc;
}

static int
post_revoke(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    ca_module *m = arg;
    char serial[MS_STORE_SERIAL_HEX_MAX + 2];
    json_t *body = NULL;
    revoke_req r;
    ms_store *st;
    ms_error err;
    int rc, reason, level;

    if ((rc = admin_gate(m, req, resp, &body)) != 0)
        goto out;
    if ((rc = parse_revoke(&r, &reason, body, &err)) != 0 ||
        (rc = ms_ca_serial_canonical(serial, sizeof(serial), r.serial, &err)) !=
            0 ||
        (rc = ms_service_store_get(&st, &err)) != 0)
        goto fail;
    level = r.level;
    if (level == 0 &&
        (rc = ms_service_find_level(&level, st, serial, &err)) != 0)
        goto fail;
    if ((rc = ms_ca_revoke(m->ca, st, level, serial, reason, 0, &err)) != 0) {
        if (rc == MS_EPOLICY) { /* already revoked */
            rc = ms_http_response_error(resp, 409, err.msg);
            goto out;
        }
        goto fail;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "ca: revoked serial=%s level=V%d reason=%s", serial, level,
           ms_service_reason_name(reason));
    rc = revoke_reply(resp, serial, level, reason);
    goto out;
fail:
    rc = reply_error(resp, rc, &err);
out:
    json_decref(body);
    return rc == 1 ? 0 : rc;
}

int
ca_admin_routes(ca_module *m, ms_http_server *server, ms_error *err)
{
    int rc;

    if ((rc = ms_http_server_route(server, MS_HTTP_POST, "/ca/issue", false,
                                   post_issue, m, err)) != 0)
        return rc;
    return ms_http_server_route(server, MS_HTTP_POST, "/ca/revoke", false,
                                post_revoke, m, err);
}
