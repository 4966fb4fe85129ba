/*
 * services/directory/harvest.c - POST /v1/directory/harvest: a signed
 * message (message/rfc822, up to max_body) is judged by the core library
 * (ms_open); when the verdict is mailbox-validated or better and its From
 * is an address of the signer's certificate, the signer's certificate is
 * stored for that address (ms_store_harvest_add). It is served only once
 * the owner has proved the mailbox (which publishes it: consent); a
 * message someone else holds never publishes anybody. Anything else: 422
 * with the verdict, nothing stored.
 *
 * Trust: directory_trust_file, or the data directory's issuing CAs
 * (certs/v1.pem .. v4.pem) as anchors; CRLs from directory_crl_file (else
 * OCSP as the certificates name it). The system store is not trusted: a
 * harvested certificate must chain to an anchor the operator chose.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/log.h"
#include "common/service.h"
#include "directory/dir_int.h"
#include "policy/result.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

#define RFC822 "message/rfc822"

static int
default_anchors(dir_module *m, ms_error *err)
{
    char path[PATH_MAX];
    int rc;

    for (int n = 1; n <= 4; n++) {
        if (snprintf(path, sizeof(path), "%s/certs/v%d.pem", m->cfg->data_dir,
                     n) >= (int)sizeof(path))
            return ms_error_set(err, MS_EINVAL, "data_dir: too long");
        if ((rc = ms_verifier_add_trust_file(m->verifier, path, err)) != 0)
            return rc;
    }
    return 0;
}

int
dir_verifier_setup(dir_module *m, ms_error *err)
{
    int rc;

    if ((rc = ms_ctx_new(&m->ctx, err)) != 0 ||
        (rc = ms_verifier_new(&m->verifier, m->ctx, err)) != 0 ||
        (rc = ms_verifier_set_system_trust(m->verifier, false, err)) != 0)
        return rc;
    if (m->cfg->directory_trust_file != NULL)
        rc = ms_verifier_add_trust_file(m->verifier,
                                        m->cfg->directory_trust_file, err);
    else
        rc = default_anchors(m, err);
    if (rc == 0 && m->cfg->directory_crl_file != NULL)
        rc = ms_verifier_add_crl_file(m->verifier, m->cfg->directory_crl_file,
                                      err);
    return rc;
}

static int
reply_422(ms_http_response *resp, const char *verdict, const char *why)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "error",
                          "the message does not prove its sender", "verdict",
                          verdict, "reason", why, "request_id",
                          resp->request_id != NULL ? resp->request_id : "");
    int rc;

    if (o == NULL)
        return MS_ENOMEM;
    rc = ms_http_response_json(resp, 422, o);
    json_decref(o);
    return rc;
}

/* Fills h from the signer's certificate x for address from. */
static int
harvest_fill(ms_store_harvest *h, X509 *x, const char *from, int level)
{
    unsigned char *der = NULL;
    int len;

    memset(h, 0, sizeof(*h));
    if ((len = i2d_X509(x, &der)) <= 0)
        return MS_ENOMEM;
    h->der = der;
    h->der_len = (size_t)len;
    if (ms_dir_addr_parse(h->email, from, NULL) != 0 ||
        dir_sha256(h->sha256, der, (size_t)len) != 0 ||
        !ms_asn1_time_epoch(X509_get0_notBefore(x), &h->not_before) ||
        !ms_asn1_time_epoch(X509_get0_notAfter(x), &h->not_after))
        return MS_EINVAL;
    h->level = level;
    (void)snprintf(h->use, sizeof(h->use), "signing");
    return 0;
}

/* Stores the signer of r; answers 200 {"stored","level"}. */
static int
harvest_store(const ms_http_request *req, ms_http_response *resp,
              const ms_result *r)
{
    X509 *x = ms_result_get0_signer_cert(r);
    const char *from = ms_result_get0_from(r);
    ms_store_harvest h;
    size_t stored = 0;
    ms_store *st;
    ms_error err;
    json_t *o = NULL;
    int rc;

    memset(&h, 0, sizeof(h));
    if (x == NULL || from == NULL || !ms_x509_has_email(x, from))
        return reply_422(resp, ms_verdict_name(ms_result_verdict(r)),
                         "the From is not an address of the signer");
    if ((rc = harvest_fill(&h, x, from, ms_result_level(r))) != 0) {
        rc = reply_422(resp, ms_verdict_name(ms_result_verdict(r)),
                       "the signer's address or certificate is not usable");
        goto out;
    }
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = ms_store_harvest_add(st, &h, 1, false, &stored, &err)) != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "harvest: %s", err.msg);
        goto out;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id, "harvest: %zu stored, V%d",
           stored, h.level);
    if ((o = json_pack("{s:i, s:i}", "stored", (int)stored, "level",
                       h.level)) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    rc = ms_http_response_json(resp, 200, o);
out:
    json_decref(o);
    OPENSSL_free((void *)(uintptr_t)h.der);
    return rc;
}

int
dir_post_harvest(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    dir_module *m = arg;
    ms_result *r = NULL;
    dir_client who;
    ms_verdict v;
    ms_error err;
    int rc;

    if ((rc = dir_admit(m, req, resp, false, &who)) != 1)
        return rc;
    if (!ms_service_content_type_is(req, RFC822))
        return ms_service_reply_415(resp, RFC822);
    if (req->body_len == 0)
        return ms_http_response_error(resp, 400, "empty message");
    if ((rc = ms_open(&r, NULL, m->ctx, m->verifier, NULL, req->body,
                      req->body_len, &err)) != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "harvest: %s", err.msg);
        return rc;
    }
    v = ms_result_verdict(r);
    if (v > MS_VERDICT_MAILBOX_VALIDATED || ms_result_level(r) < 1)
        rc = reply_422(resp, ms_verdict_name(v), r->reason);
    else
        rc = harvest_store(req, resp, r);
    ms_result_free(r);
    return rc;
}
