/*
 * services/ca/routes.c - the ca module: GET /ca/root.crt, /ca/v1.crt ..
 * /ca/v4.crt (DER, application/pkix-cert), GET /ca/chain.pem (every CA
 * certificate, PEM), and, when admin_token_file is set, the admin routes
 * of admin.c. The certificates never change while the daemon runs, so
 * they are encoded once at start and served without a copy.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mailseal/mailseal.h>

#include "ca.h"
#include "common/log.h"
#include "util/alloc.h"
#include "util/error.h"

static const char *const cert_paths[CA_NCERTS] = {
    "/ca/root.crt", "/ca/v1.crt", "/ca/v2.crt", "/ca/v3.crt", "/ca/v4.crt",
};

static X509 *
cert_of(const ms_ca *ca, int i)
{
    return i == 0 ? ms_ca_get0_root(ca) : ms_ca_get0_issuer_cert(ca, i);
}

static int
serve_static(ms_http_response *resp, const ms_buf *b, const char *type)
{
    int rc;

    resp->content_type = type;
    if ((rc = ms_http_response_add_header(resp, "Cache-Control",
                                          "public, max-age=86400")) != 0)
        return rc;
    ms_http_response_set_borrowed(resp, b->data, b->len, NULL, NULL);
    return 0;
}

static int
get_cert(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    (void)req;
    return serve_static(resp, arg, "application/pkix-cert");
}

static int
get_chain(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    (void)req;
    return serve_static(resp, arg, "application/x-pem-file");
}

/* Encodes the certificates: DER each, and all of them as PEM. */
static int
encode_certs(ca_module *m, ms_error *err)
{
    BIO *bio = NULL;
    unsigned char *der = NULL;
    char *pem;
    long n;
    int len, rc = 0;

    if ((bio = BIO_new(BIO_s_mem())) == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    for (int i = 0; i < CA_NCERTS && rc == 0; i++) {
        X509 *x = cert_of(m->ca, i);

        if ((len = i2d_X509(x, &der)) <= 0 || !PEM_write_bio_X509(bio, x)) {
            rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode %s",
                                   ms_ca_name(i));
            break;
        }
        rc = ms_buf_append(&m->der[i], der, (size_t)len);
        OPENSSL_free(der);
        der = NULL;
    }
    if (rc == 0 && (n = BIO_get_mem_data(bio, &pem)) > 0)
        rc = ms_buf_append(&m->chain_pem, pem, (size_t)n);
    if (rc != 0 && err != NULL && err->code != rc)
        rc = ms_error_set(err, rc, "out of memory");
    BIO_free(bio);
    return rc;
}

static void
config_free(void *obj)
{
    ms_daemon_config_free(obj);
}

static void
ca_stop(void *state)
{
    ca_module *m = state;

    if (m == NULL)
        return;
    if (m->slot_ready)
        ms_service_slot_cleanup(&m->cfg_slot);
    if (m->store)
        ms_service_store_release();
    if (m->ca != NULL)
        ms_service_ca_release();
    for (int i = 0; i < CA_NCERTS; i++)
        ms_buf_cleanup(&m->der[i]);
    ms_buf_cleanup(&m->chain_pem);
    ms_wipe(m->token_digest, sizeof(m->token_digest));
    ms_free(m);
}

static int
add_routes(ca_module *m, ms_http_server *server, ms_error *err)
{
    int rc;

    for (int i = 0; i < CA_NCERTS; i++) {
        if ((rc = ms_http_server_route(server, MS_HTTP_GET, cert_paths[i],
                                       false, get_cert, &m->der[i], err)) != 0)
            return rc;
    }
    if ((rc = ms_http_server_route(server, MS_HTTP_GET, "/ca/chain.pem", false,
                                   get_chain, &m->chain_pem, err)) != 0)
        return rc;
    return m->admin ? ca_admin_routes(m, server, err) : 0;
}

static int
ca_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    const ms_daemon_config *cfg = ctx->config;
    ms_daemon_config *c;
    ca_module *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (int i = 0; i < CA_NCERTS; i++)
        ms_buf_init(&m->der[i], 0);
    ms_buf_init(&m->chain_pem, 0);
    if ((rc = ms_service_ca_acquire(&m->ca, cfg, err)) != 0) {
        m->ca = NULL;
        goto out;
    }
    if ((rc = encode_certs(m, err)) != 0)
        goto out;
    if (cfg->admin_token_file != NULL) {
        if ((rc = ms_service_secret_digest(m->token_digest,
                                           cfg->admin_token_file, err)) != 0)
            goto out;
        if ((rc = ms_service_store_acquire(cfg, err)) != 0)
            goto out;
        m->store = true;
        m->admin = true;
    }
    /* The slot keeps its own reference on the snapshot. */
    c = ms_service_config_ref(cfg);
    if ((rc = ms_service_slot_init(&m->cfg_slot, c, config_free, err)) != 0) {
        ms_daemon_config_free(c);
        goto out;
    }
    m->slot_ready = true;
    if ((rc = add_routes(m, ctx->server, err)) != 0)
        goto out;
    if (!m->admin)
        ms_log_info("ca: admin_token_file not set: POST /ca/issue and "
                    "/ca/revoke are off");
out:
    if (rc != 0) {
        ca_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

static int
ca_reload(void *state, const ms_daemon_config *config, ms_error *err)
{
    ca_module *m = state;
    ms_daemon_config *c = ms_service_config_ref(config);
    int rc;

    if ((rc = ms_service_slot_swap(&m->cfg_slot, c, err)) != 0)
        ms_daemon_config_free(c);
    return rc;
}

const ms_module ms_module_ca = {"ca", false, ca_start, ca_reload, ca_stop};
