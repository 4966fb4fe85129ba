/*
 * services/ocsp/routes.c - the ocsp module: POST /ocsp (application/ocsp-
 * request) and GET /ocsp/<base64 of the DER request> (RFC 6960 appendix A,
 * percent-decoded by the server) answered by the responder of lib/ca/ocsp.c
 * for the four issuing CAs.
 *
 * Answers: 200 application/ocsp-response; malformed -> 400 with the
 * malformedRequest body; store busy -> 503 tryLater (Retry-After); other
 * failures -> 500 internalError. A successful answer for one certificate
 * without a nonce carries the RFC 5019 caching headers (Cache-Control
 * max-age up to the responder's refresh point, Last-Modified = thisUpdate,
 * Expires = nextUpdate, ETag); an answer with a nonce gets no-store.
 *
 * The responder writes its answer straight into the response body (its
 * cache copies a cached answer once, a few hundred bytes: no borrowed
 * buffer is needed, see docs/mailseald.md). The responder sits in a slot
 * so that a reload changing ocsp_validity swaps in a new one; the pending
 * audit counts of the old one are flushed when its last user is done, and
 * at stop.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ca/ocsp.h"
#include "cms/der.h"
#include "common/log.h"
#include "common/module.h"
#include "common/service.h"
#include "util/alloc.h"
#include "util/base64.h"
#include "util/error.h"

#define REQ_TYPE  "application/ocsp-request"
#define RESP_TYPE "application/ocsp-response"
/* Longest GET path part: the base64 of the largest request, and slack. */
#define GET_MAX (MS_OCSP_REQUEST_MAX / 3 * 4 + 16)

/* OCSPResponse with only a responseStatus (RFC 6960 4.2.1). */
static const unsigned char malformed_der[] = {0x30, 0x03, 0x0a, 0x01, 0x01};
static const unsigned char try_later_der[] = {0x30, 0x03, 0x0a, 0x01, 0x03};

typedef struct responder {
    ms_ocsp_responder *r;
    long validity;
    long margin;
} responder;

typedef struct ocsp_module {
    const ms_ca *ca;
    bool store;
    bool slot_ready;
    ms_service_slot slot; /* the responder in force */
} ocsp_module;

static void
responder_free(void *obj)
{
    responder *p = obj;
    ms_store *st;
    ms_error err;

    if (p == NULL)
        return;
    if (ms_service_store_get(&st, &err) != 0 ||
        ms_ocsp_responder_audit_flush(p->r, st, &err) != 0)
        ms_log_err("ocsp: audit rows lost at stop: %s", err.msg);
    ms_ocsp_responder_free(p->r);
    ms_free(p);
}

static int
responder_new(responder **out, const ms_ca *ca, const ms_daemon_config *cfg,
              ms_error *err)
{
    ms_ocsp_options o = MS_OCSP_OPTIONS_INIT;
    responder *p;
    int rc;

    if ((p = ms_calloc(1, sizeof(*p))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    o.validity = (long)cfg->ocsp_validity;
    o.refresh_margin = 0; /* validity / 4 */
    p->validity = o.validity;
    p->margin = o.validity / 4;
    if ((rc = ms_ocsp_responder_new(&p->r, &o, err)) != 0)
        goto out;
    for (int l = 1; l <= 4 && rc == 0; l++)
        rc = ms_ocsp_responder_add_issuer(
            p->r, ms_ca_get0_issuer_cert(ca, l), ms_ca_name(l),
            ms_ca_get0_ocsp_cert(ca, l), ms_ca_get0_ocsp_key(ca, l), err);
out:
    if (rc != 0) {
        ms_ocsp_responder_free(p->r);
        ms_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- RFC 5019 caching headers ---- */

static int
add_etag(ms_http_response *resp, const ms_buf *der)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char tag[2 * 20 + 3];
    unsigned int n = 0;

    if (!EVP_Digest(der->data, der->len, md, &n, EVP_sha1(), NULL) || n != 20)
        return 0; /* no ETag: the other headers suffice */
    tag[0] = '"';
    for (unsigned int i = 0; i < n; i++)
        (void)snprintf(tag + 1 + 2 * i, 3, "%02x", md[i]); /* fits */
    tag[41] = '"';
    tag[42] = '\0';
    return ms_http_response_add_header(resp, "ETag", tag);
}

/*
 * Reads the one SingleResponse of a successful OCSPResponse without
 * decoding its certificates (d2i of the certificates' keys costs more
 * than the rest of the request): *this_upd and *next_upd are the
 * GeneralizedTime contents, nonce is true when the ResponseData has
 * extensions (we add only the nonce). -1: not a successful single answer
 * with a nextUpdate. Our own output, still bounds-checked (cms/der.h).
 */
typedef struct resp_times {
    ms_der this_upd, next_upd;
    bool nonce;
} resp_times;

/* Enters the next TLV of *in if it has tag want: *in becomes its contents. */
static bool
enter(ms_der *in, unsigned char want)
{
    unsigned char tag;
    ms_der c;

    if (!ms_der_next(in, &tag, &c) || tag != want)
        return false;
    *in = c;
    return true;
}

static bool
skip(ms_der *in)
{
    unsigned char tag;
    ms_der c;

    return ms_der_next(in, &tag, &c);
}

static int
read_times(resp_times *t, const unsigned char *der, size_t len)
{
    ms_der in = {der, len}, c, r;
    unsigned char tag;

    if (!enter(&in, 0x30) || !ms_der_next(&in, &tag, &c) || tag != 0x0a ||
        c.len != 1 || c.p[0] != 0 || /* successful */
        !enter(&in, 0xa0) || !enter(&in, 0x30) || !skip(&in) ||
        !enter(&in, 0x04) || !enter(&in, 0x30) || !enter(&in, 0x30))
        return -1; /* responseBytes, BasicOCSPResponse, tbsResponseData */
    if (in.len > 0 && in.p[0] == 0xa0 && !skip(&in)) /* version */
        return -1;
    if (!skip(&in) || !skip(&in) || /* responderID, producedAt */
        !ms_der_next(&in, &tag, &r) || tag != 0x30)
        return -1;
    t->nonce = in.len > 0 && in.p[0] == 0xa1;
    if (!ms_der_next(&r, &tag, &c) || tag != 0x30 || r.len != 0)
        return -1; /* not exactly one SingleResponse */
    if (!skip(&c) || !skip(&c) || /* certID, certStatus */
        !ms_der_next(&c, &tag, &t->this_upd) || tag != 0x18 ||
        !enter(&c, 0xa0) || !ms_der_next(&c, &tag, &t->next_upd) ||
        tag != 0x18)
        return -1;
    return 0;
}

/* A DER GeneralizedTime "YYYYMMDDHHMMSSZ" to seconds since the epoch. */
static int
gt_epoch(time_t *out, const ms_der *gt)
{
    const unsigned char *s = gt->p;
    char iso[sizeof("YYYY-MM-DDTHH:MM:SSZ")];

    if (gt->len != 15 || memchr(s, '\0', 15) != NULL)
        return -1;
    /* ms_time_parse (RFC 3339) checks the digits and ranges. */
    (void)snprintf(iso, sizeof(iso), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s%c",
                   (const char *)s, (const char *)s + 4, (const char *)s + 6,
                   (const char *)s + 8, (const char *)s + 10,
                   (const char *)s + 12, (char)s[14]);
    return ms_time_parse(out, iso, NULL) == 0 && s[14] == 'Z' ? 0 : -1;
}

static int
http_date(char *out, size_t n, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        return -1;
    return 0;
}

/* The caching headers of a successful single answer (see the top). */
static int
cache_headers(ms_http_response *resp, const ms_buf *der, long margin)
{
    char last[64], expires[64], cc[96];
    resp_times t;
    time_t thisupd, nextupd;
    long long age;
    int rc;

    if (read_times(&t, der->data, der->len) != 0)
        return 0; /* not an answer to cache */
    if (t.nonce)
        return ms_http_response_add_header(resp, "Cache-Control", "no-store");
    if (gt_epoch(&thisupd, &t.this_upd) != 0 ||
        gt_epoch(&nextupd, &t.next_upd) != 0 ||
        http_date(last, sizeof(last), thisupd) != 0 ||
        http_date(expires, sizeof(expires), nextupd) != 0)
        return 0;
    age = (long long)(nextupd - time(NULL)) - margin;
    (void)snprintf(cc, sizeof(cc),
                   "max-age=%lld, public, no-transform, must-revalidate",
                   age > 0 ? age : 0LL); /* fits */
    if ((rc = ms_http_response_add_header(resp, "Cache-Control", cc)) != 0 ||
        (rc = ms_http_response_add_header(resp, "Last-Modified", last)) != 0 ||
        (rc = ms_http_response_add_header(resp, "Expires", expires)) != 0)
        return rc;
    return add_etag(resp, der);
}

/* ---- answering ---- */

static int
send_fixed(ms_http_response *resp, int status, const unsigned char *der,
           size_t len)
{
    resp->status = status;
    resp->content_type = RESP_TYPE;
    ms_http_response_set_borrowed(resp, der, len, NULL, NULL);
    return 0;
}

/* The HTTP status and body for a failed ms_ocsp_respond(). */
static int
send_failure(ms_http_response *resp, int rc, const ms_error *err,
             const char *id)
{

    if (rc == MS_EINVAL || rc == MS_ETOOBIG) {
        ms_log(MS_LOGLEVEL_DEBUG, id, "ocsp: malformed request: %s", err->msg);
        return send_fixed(resp, 400, malformed_der, sizeof(malformed_der));
    }
    if (rc == MS_ETEMP) {
        ms_log(MS_LOGLEVEL_WARNING, id, "ocsp: store busy: %s", err->msg);
        if ((rc = ms_http_response_add_header(resp, "Retry-After", "1")) != 0)
            return rc;
        return send_fixed(resp, 503, try_later_der, sizeof(try_later_der));
    }
    ms_log(MS_LOGLEVEL_ERROR, id, "ocsp: %s", err->msg);
    if (resp->body.len == 0) /* nothing written: the server's 500 */
        return rc;
    resp->status = 500; /* the body is internalError */
    resp->content_type = RESP_TYPE;
    return 0;
}

static int
answer(ocsp_module *m, const ms_http_request *req, ms_http_response *resp,
       const uint8_t *der, size_t len)
{
    ms_service_ref *ref = NULL;
    responder *p;
    ms_store *st;
    ms_error err;
    int rc;

    p = ms_service_slot_get(&m->slot, &ref);
    if ((rc = ms_service_store_get(&st, &err)) != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "ocsp: %s", err.msg);
        rc = send_fixed(resp, 503, try_later_der, sizeof(try_later_der));
        goto out;
    }
    rc = ms_ocsp_respond(p->r, st, der, len, &resp->body, &err);
    if (rc != 0) {
        rc = send_failure(resp, rc, &err, req->request_id);
        goto out;
    }
    resp->content_type = RESP_TYPE;
    rc = cache_headers(resp, &resp->body, p->margin);
out:
    ms_service_slot_put(ref);
    return rc;
}

static int
post_ocsp(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    if (!ms_service_content_type_is(req, REQ_TYPE))
        return ms_service_reply_415(resp, REQ_TYPE);
    return answer(arg, req, resp, req->body, req->body_len);
}

static int
get_ocsp(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    size_t n = strlen(req->subpath);
    ms_buf der;
    int rc;

    if (req->method == MS_HTTP_POST)
        return n == 0 ? post_ocsp(req, resp, arg)
                      : ms_http_response_error(resp, 404, "not found");
    if (n == 0 || n > GET_MAX)
        return send_fixed(resp, 400, malformed_der, sizeof(malformed_der));
    ms_buf_init(&der, MS_OCSP_REQUEST_MAX);
    if (ms_base64_decode(&der, req->subpath, n) != 0)
        rc = send_fixed(resp, 400, malformed_der, sizeof(malformed_der));
    else
        rc = answer(arg, req, resp, der.data, der.len);
    ms_buf_cleanup(&der);
    return rc;
}

/* ---- the module ---- */

static void
ocsp_stop(void *state)
{
    ocsp_module *m = state;

    if (m == NULL)
        return;
    if (m->slot_ready)
        ms_service_slot_cleanup(&m->slot); /* flushes the audit counts */
    if (m->store)
        ms_service_store_release();
    if (m->ca != NULL)
        ms_service_ca_release();
    ms_free(m);
}

static int
ocsp_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    responder *p = NULL;
    ocsp_module *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_service_ca_acquire(&m->ca, ctx->config, err)) != 0) {
        m->ca = NULL;
        goto out;
    }
    if ((rc = ms_service_store_acquire(ctx->config, err)) != 0)
        goto out;
    m->store = true;
    if ((rc = responder_new(&p, m->ca, ctx->config, err)) != 0)
        goto out;
    if ((rc = ms_service_slot_init(&m->slot, p, responder_free, err)) != 0) {
        responder_free(p);
        goto out;
    }
    m->slot_ready = true;
    if ((rc = ms_http_server_route(ctx->server, MS_HTTP_POST, "/ocsp", false,
                                   post_ocsp, m, err)) != 0)
        goto out;
    rc = ms_http_server_route(ctx->server, MS_HTTP_GET | MS_HTTP_POST, "/ocsp/",
                              true, get_ocsp, m, err);
out:
    if (rc != 0) {
        ocsp_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

static int
ocsp_reload(void *state, const ms_daemon_config *config, ms_error *err)
{
    ocsp_module *m = state;
    ms_service_ref *ref;
    responder *p;
    long cur;
    int rc;

    p = ms_service_slot_get(&m->slot, &ref);
    cur = p->validity;
    ms_service_slot_put(ref);
    if (cur == (long)config->ocsp_validity)
        return 0;
    if ((rc = responder_new(&p, m->ca, config, err)) != 0)
        return rc;
    if ((rc = ms_service_slot_swap(&m->slot, p, err)) != 0)
        responder_free(p);
    return rc;
}

const ms_module ms_module_ocsp = {"ocsp", false, ocsp_start, ocsp_reload,
                                  ocsp_stop};
