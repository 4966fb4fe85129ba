/*
 * services/validate/devices.c - what a device does with its credential
 * (Authorization: Bearer ms1_...):
 *
 *   POST   /v1/certificates (application/pkcs10, PEM or DER) -> 201
 *          {"certificate": PEM, "chain": [V1 CA PEM, root PEM], "level": 1}:
 *          a V1 signing certificate of the device's mailbox, recorded as
 *          the device's; 403 "revalidate" when the mailbox was not proven
 *          within 30 days; CSR problems 400/422 with the CA's message.
 *   GET    /v1/devices -> {"devices": [{"id","name","created","revoked",
 *          "certificates": [serials]}]} of the caller's mailbox
 *   DELETE /v1/devices/{id} -> 204: revokes that device of the same
 *          mailbox and its signing certificates (CRL and OCSP see it); 404
 *          for another mailbox's or an unknown device, 409 when revoked
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/issue.h"
#include "common/device_auth.h"
#include "common/log.h"
#include "common/service.h"
#include "util/alloc.h"
#include "util/error.h"
#include "validate.h"

#define CSR_TYPE "application/pkcs10"

/* A JSON string of x's PEM (NULL on failure). */
static json_t *
pem_of(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    json_t *s = NULL;
    char *p = NULL;
    long n;

    if (b != NULL && PEM_write_bio_X509(b, x) == 1 &&
        (n = BIO_get_mem_data(b, &p)) > 0)
        s = json_stringn(p, (size_t)n);
    BIO_free(b);
    return s;
}

static int
cert_reply(const vmod *m, ms_http_response *resp, const ms_store_cert *rec)
{
    const unsigned char *p = rec->der.data;
    X509 *x = d2i_X509(NULL, &p, (long)rec->der.len);
    json_t *o;
    int rc;

    if (x == NULL)
        return MS_ERR;
    o = json_pack("{s:o?, s:[o?, o?], s:i}", "certificate", pem_of(x), "chain",
                  pem_of(ms_ca_get0_issuer_cert(m->ca, 1)),
                  pem_of(ms_ca_get0_root(m->ca)), "level", 1);
    X509_free(x);
    if (o == NULL)
        return MS_ENOMEM;
    rc = ms_http_response_json(resp, 201, o);
    json_decref(o);
    return rc;
}

/* Answers a CA error: input errors with the CA's one-line message. */
static int
ca_error(const ms_http_request *req, ms_http_response *resp, int rc,
         const ms_error *err)
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
    default:
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "certificates: %s",
               err->msg);
        return rc;
    }
}

int
vd_post_certificate(const ms_http_request *req, ms_http_response *resp,
                    void *arg)
{
    const vmod *m = arg;
    ms_ca_issue_options opt = MS_CA_ISSUE_OPTIONS_INIT;
    ms_ca_identity id = {0};
    ms_store_device d;
    ms_store_cert rec;
    ms_store *st;
    ms_error err;
    int rc;

    ms_store_cert_init(&rec);
    if ((rc = ms_service_store_get(&st, &err)) != 0)
        return rc;
    if ((rc = ms_device_auth(req, resp, st, &d)) != 0 ||
        (rc = ms_device_proven(resp, st, &d)) != 0)
        return rc < 0 ? rc : 0;
    if (!ms_service_content_type_is(req, CSR_TYPE))
        return ms_service_reply_415(resp, CSR_TYPE);
    id.level = 1;
    id.mailbox = d.email;
    opt.public_url = m->cfg->public_url;
    opt.validity_days = m->cfg->cert_validity_days > MS_CA_VALIDITY_MAX
                            ? MS_CA_VALIDITY_MAX
                            : (int)m->cfg->cert_validity_days;
    if ((rc = ms_ca_issue_build(m->ca, &id, req->body, req->body_len,
                                MS_LINT_SIGNING, &opt, &rec, &err)) != 0)
        return ca_error(req, resp, rc, &err);
    if ((rc = ms_store_device_cert_add(st, d.id, &rec, &err)) != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "certificates: %s", err.msg);
        goto out;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "certificates: issued serial=%s device=%s", rec.serial_hex, d.id);
    rc = cert_reply(m, resp, &rec);
out:
    ms_store_cert_cleanup(&rec);
    return rc;
}

static int
device_fn(const ms_store_device *d, void *arg)
{
    char created[32], revoked[32];
    json_t *o;

    ms_device_time(created, sizeof(created), d->created);
    ms_device_time(revoked, sizeof(revoked), d->revoked_at);
    o = json_pack("{s:s, s:s, s:s, s:s?, s:[]}", "id", d->id, "name", d->name,
                  "created", created, "revoked",
                  d->revoked_at != 0 ? revoked : NULL, "certificates");
    if (o == NULL || json_array_append_new(arg, o) != 0)
        return MS_ENOMEM;
    return 0;
}

static int
serial_fn(const char *serial_hex, void *arg)
{
    return json_array_append_new(arg, json_string(serial_hex)) == 0 ? 0
                                                                    : MS_ENOMEM;
}

int
vd_get_devices(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    json_t *list = json_array(), *o = NULL, *dev;
    ms_store_device d;
    ms_store *st;
    ms_error err;
    size_t i;
    int rc;

    (void)arg;
    if (list == NULL)
        return MS_ENOMEM;
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = ms_device_auth(req, resp, st, &d)) != 0)
        goto out;
    if ((rc = ms_store_device_list(st, d.email, device_fn, list, &err)) != 0)
        goto fail;
    json_array_foreach(list, i, dev)
    {
        rc = ms_store_device_cert_list(
            st, json_string_value(json_object_get(dev, "id")), serial_fn,
            json_object_get(dev, "certificates"), &err);
        if (rc != 0)
            goto fail;
    }
    if ((o = json_pack("{s:O}", "devices", list)) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    rc = ms_http_response_json(resp, 200, o);
    goto out;
fail:
    ms_log(MS_LOGLEVEL_ERROR, req->request_id, "devices: %s", err.msg);
out:
    json_decref(o);
    json_decref(list);
    return rc < 0 ? rc : 0;
}

int
vd_delete_device(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    const char *target = req->subpath;
    ms_store_device d;
    size_t ncerts = 0;
    ms_store *st;
    ms_error err;
    int rc;

    (void)arg;
    if ((rc = ms_service_store_get(&st, &err)) != 0)
        return rc;
    if ((rc = ms_device_auth(req, resp, st, &d)) != 0)
        return rc < 0 ? rc : 0;
    if (!vd_id_ok(target, strlen(target)))
        return ms_http_response_error(resp, 404, "no such device");
    rc = ms_store_device_revoke(st, d.email, target, &ncerts, &err);
    if (rc == MS_ENOTFOUND)
        return ms_http_response_error(resp, 404, "no such device");
    if (rc == MS_EPOLICY)
        return ms_http_response_error(resp, 409, "device already revoked");
    if (rc != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "devices: %s", err.msg);
        return rc;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "devices: device %s revoked by %s (%zu certificates)", target, d.id,
           ncerts);
    resp->status = 204;
    ms_buf_reset(&resp->body);
    return 0;
}
