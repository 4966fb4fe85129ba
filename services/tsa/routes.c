/*
 * services/tsa/routes.c - the tsa module: POST /tsa with Content-Type
 * application/timestamp-query answered by lib/ca/tsa.c (RFC 3161).
 *
 * 200 application/timestamp-reply for a granted token; a rejection (badAlg,
 * unacceptedPolicy, badRequest ...) is sent as its DER TimeStampResp with
 * HTTP 400 and the same content type; a body that is no TimeStampReq gets
 * 400 JSON; another content type 415; the store unable to reserve serial
 * numbers 503.
 *
 * The TSA (and the store handle it serialises itself, tsa.h) sits in a
 * slot: a reload changing tsa_accuracy swaps in a new one, which reserves
 * a new block of serial numbers (the rest of the old block is skipped,
 * never reused).
 */
#include <string.h>

#include "ca/tsa.h"
#include "cms/der.h"
#include "common/log.h"
#include "common/module.h"
#include "common/service.h"
#include "util/alloc.h"
#include "util/error.h"

#define REQ_TYPE  "application/timestamp-query"
#define RESP_TYPE "application/timestamp-reply"

typedef struct tsa_obj {
    ms_tsa *t;
    ms_store *st; /* used by t only */
    long long accuracy;
} tsa_obj;

typedef struct tsa_module {
    const ms_ca *ca;
    bool slot_ready;
    ms_service_slot slot; /* the tsa_obj in force */
} tsa_module;

static void
tsa_obj_free(void *obj)
{
    tsa_obj *o = obj;

    if (o == NULL)
        return;
    ms_tsa_free(o->t);
    ms_store_close(o->st);
    ms_free(o);
}

static int
tsa_obj_new(tsa_obj **out, const ms_ca *ca, const ms_daemon_config *cfg,
            ms_error *err)
{
    ms_tsa_options opt = MS_TSA_OPTIONS_INIT;
    tsa_obj *o;
    int rc;

    if ((o = ms_calloc(1, sizeof(*o))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    o->accuracy = cfg->tsa_accuracy;
    opt.accuracy_ms = (unsigned)cfg->tsa_accuracy * 1000u; /* <= 60 s */
    if ((rc = ms_store_open(&o->st, cfg->database, err)) != 0)
        goto out;
    rc =
        ms_tsa_new(&o->t, &opt, ms_ca_get0_tsa_cert(ca), ms_ca_get0_tsa_key(ca),
                   ms_ca_get0_tsa_chain(ca), o->st, err);
out:
    if (rc != 0) {
        tsa_obj_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

/*
 * True when the TimeStampResp der grants a token: its PKIStatusInfo's
 * status is granted (0) or grantedWithMods (1).
 */
static bool
granted(const ms_buf *der)
{
    ms_der in = {der->data, der->len}, resp, info, status;
    unsigned char tag;

    if (!ms_der_next(&in, &tag, &resp) || tag != 0x30 || /* TimeStampResp */
        !ms_der_next(&resp, &tag, &info) || tag != 0x30 || /* PKIStatusInfo */
        !ms_der_next(&info, &tag, &status) || tag != 0x02 || status.len != 1)
        return false;
    return status.p[0] == 0 || status.p[0] == 1;
}

static int
post_tsa(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    tsa_module *m = arg;
    ms_service_ref *ref = NULL;
    tsa_obj *o;
    ms_error err;
    int rc;

    if (!ms_service_content_type_is(req, REQ_TYPE))
        return ms_service_reply_415(resp, REQ_TYPE);
    o = ms_service_slot_get(&m->slot, &ref);
    ms_buf_reset(&resp->body);
    rc = ms_tsa_respond(o->t, req->body, req->body_len, &resp->body, &err);
    ms_service_slot_put(ref);
    if (rc == MS_EINVAL) {
        ms_log(MS_LOGLEVEL_DEBUG, req->request_id, "tsa: %s", err.msg);
        return ms_http_response_error(resp, 400, "not a DER TimeStampReq");
    }
    if (rc != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "tsa: %s", err.msg);
        return rc; /* 503 for MS_ETEMP, else 500 */
    }
    resp->content_type = RESP_TYPE;
    if (!granted(&resp->body)) {
        resp->status = 400;
        ms_log(MS_LOGLEVEL_INFO, req->request_id, "tsa: request rejected");
    }
    return 0;
}

static void
tsa_stop(void *state)
{
    tsa_module *m = state;

    if (m == NULL)
        return;
    if (m->slot_ready)
        ms_service_slot_cleanup(&m->slot);
    if (m->ca != NULL)
        ms_service_ca_release();
    ms_free(m);
}

static int
tsa_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    tsa_obj *o = NULL;
    tsa_module *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_service_ca_acquire(&m->ca, ctx->config, err)) != 0) {
        m->ca = NULL;
        goto out;
    }
    if ((rc = tsa_obj_new(&o, m->ca, ctx->config, err)) != 0)
        goto out;
    if ((rc = ms_service_slot_init(&m->slot, o, tsa_obj_free, err)) != 0) {
        tsa_obj_free(o);
        goto out;
    }
    m->slot_ready = true;
    rc = ms_http_server_route(ctx->server, MS_HTTP_POST, "/tsa", false,
                              post_tsa, m, err);
out:
    if (rc != 0) {
        tsa_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

static int
tsa_reload(void *state, const ms_daemon_config *config, ms_error *err)
{
    tsa_module *m = state;
    ms_service_ref *ref;
    tsa_obj *o;
    long long cur;
    int rc;

    o = ms_service_slot_get(&m->slot, &ref);
    cur = o->accuracy;
    ms_service_slot_put(ref);
    if (cur == config->tsa_accuracy)
        return 0;
    if ((rc = tsa_obj_new(&o, m->ca, config, err)) != 0)
        return rc;
    if ((rc = ms_service_slot_swap(&m->slot, o, err)) != 0)
        tsa_obj_free(o);
    return rc;
}

const ms_module ms_module_tsa = {"tsa", false, tsa_start, tsa_reload, tsa_stop};
