/*
 * services/kms/routes.c - the kms module: POST /v1/keys/encryption.
 *
 * A device (Authorization: Bearer ms1_..., mailbox proven within 30 days)
 * sends {"device_public_key": base64 or base64url of its raw 32-byte X25519
 * key} and gets {"keys": [{"key_id","certificate": PEM,"current": bool,
 * "envelope": base64}]}: every escrowed key of its mailbox, the current
 * one first, each sealed to that device key (kms/deliver.h); each release
 * is audited (key.release, in the store's transaction). On first need the
 * mailbox's key is made (kms_key_alg), certified by the V1 CA for
 * encryption (the kms signs the CSR itself, kms/keygen.h), wrapped under
 * the master key (kms_master_key_file) and stored with its certificate in
 * one transaction.
 *
 * The gateway's API-key access (api4.md: "or gateway API key scoped to the
 * domain") is not here yet: it comes with the gateway.
 *
 * Key material: plaintext only in wiped buffers, never logged; the master
 * key is loaded once at start (immutable, shared by the worker threads).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/issue.h"
#include "common/device_auth.h"
#include "common/log.h"
#include "common/module.h"
#include "common/service.h"
#include "kms/deliver.h"
#include "kms/escrow.h"
#include "kms/keygen.h"
#include "util/alloc.h"
#include "util/error.h"

#define MAX_KEYS 32 /* keys released per request */

typedef struct kmod {
    ms_daemon_config *cfg;
    const ms_ca *ca;
    bool store;
    ms_kms_master *master;
    char master_id[16]; /* "%08x" */
} kmod;

/* One released key, gathered during the store's transaction. */
typedef struct rel_key {
    char key_id[MS_STORE_ID_MAX + 1];
    char serial[MS_STORE_SERIAL_HEX_MAX + 1];
    bool current;
    ms_buf envelope;
} rel_key;

typedef struct rel_ctx {
    const kmod *m;
    const unsigned char *pub;
    rel_key keys[MAX_KEYS];
    size_t n;
    ms_error err;
} rel_ctx;

static int
release_fn(const ms_store_escrow_key *k, void *arg)
{
    rel_ctx *c = arg;
    rel_key *r;

    if (c->n == MAX_KEYS)
        return 0; /* the oldest beyond MAX_KEYS are not sent */
    r = &c->keys[c->n];
    ms_buf_init(&r->envelope, MS_KMS_ENVELOPE_MAX);
    c->n++;
    (void)snprintf(r->key_id, sizeof(r->key_id), "%s", k->key_id);
    (void)snprintf(r->serial, sizeof(r->serial), "%s", k->cert_serial);
    r->current = k->retired_at == 0;
    return ms_kms_release(&r->envelope, c->m->master, k->key_id, k->email,
                          k->wrapped, k->wrapped_len, c->pub, MS_KMS_X25519_LEN,
                          &c->err);
}

/* The store record of a new encryption certificate for key. */
static int
certify(const kmod *m, EVP_PKEY *key, const char *email, ms_store_cert *rec,
        ms_error *err)
{
    ms_ca_issue_options opt = MS_CA_ISSUE_OPTIONS_INIT;
    ms_ca_identity id = {0};
    ms_buf csr;
    int rc;

    id.level = 1;
    id.mailbox = email;
    opt.public_url = m->cfg->public_url;
    opt.validity_days = m->cfg->cert_validity_days > MS_CA_VALIDITY_MAX
                            ? MS_CA_VALIDITY_MAX
                            : (int)m->cfg->cert_validity_days;
    ms_buf_init(&csr, MS_CA_CSR_MAX);
    if ((rc = ms_kms_csr_make(&csr, key, email, err)) == 0)
        rc = ms_ca_issue_build(m->ca, &id, csr.data, csr.len,
                               MS_LINT_ENCRYPTION, &opt, rec, err);
    ms_buf_cleanup(&csr);
    return rc;
}

/*
 * Makes, certifies, wraps and stores the first key of email. MS_EPOLICY
 * from the store: another request made it meanwhile (the caller goes on).
 */
static int
make_key(const kmod *m, ms_store *st, const char *email, ms_error *err)
{
    ms_store_escrow_key k;
    ms_store_cert rec;
    EVP_PKEY *key = NULL;
    ms_buf pkcs8, wrapped;
    int rc;

    memset(&k, 0, sizeof(k));
    ms_store_cert_init(&rec);
    ms_buf_init_secret(&pkcs8, MS_KMS_PKCS8_MAX);
    ms_buf_init(&wrapped, MS_KMS_WRAP_MAX);
    if ((rc = ms_device_random_id(k.key_id, sizeof(k.key_id), err)) != 0 ||
        (rc = ms_kms_keygen(&key, m->cfg->kms_key_alg, err)) != 0 ||
        (rc = ms_kms_pkcs8_encode(&pkcs8, key, err)) != 0 ||
        (rc = certify(m, key, email, &rec, err)) != 0 ||
        (rc = ms_kms_wrap(&wrapped, m->master, k.key_id, email, pkcs8.data,
                          pkcs8.len, err)) != 0)
        goto out;
    (void)snprintf(k.email, sizeof(k.email), "%s", email);
    (void)snprintf(k.alg, sizeof(k.alg), "%s", m->cfg->kms_key_alg);
    for (char *p = k.alg; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    (void)snprintf(k.master_key_id, sizeof(k.master_key_id), "%s",
                   m->master_id);
    (void)snprintf(k.cert_serial, sizeof(k.cert_serial), "%s", rec.serial_hex);
    k.wrapped = wrapped.data;
    k.wrapped_len = wrapped.len;
    rc = ms_store_escrow_key_add(st, &k, &rec, false, err);
    if (rc == 0)
        ms_log_info("kms: escrow key %s made for a mailbox (cert %s)", k.key_id,
                    rec.serial_hex);
out:
    EVP_PKEY_free(key);
    ms_buf_cleanup(&pkcs8);
    ms_buf_cleanup(&wrapped);
    ms_store_cert_cleanup(&rec);
    return rc;
}

/* The raw X25519 key of the request; false when it is not one. */
static bool
device_key(unsigned char pub[MS_KMS_X25519_LEN], const char *b64)
{
    unsigned char tmp[64];
    char s[64];
    size_t n = strlen(b64);
    int k;

    /* 32 bytes: 43 characters, or 44 with '=' padding. */
    if (n < 43 || n > 44)
        return false;
    memcpy(s, b64, n);
    if (n == 43)
        s[n++] = '=';
    s[n] = '\0';
    for (size_t i = 0; i < n; i++)
        s[i] = s[i] == '-' ? '+' : (s[i] == '_' ? '/' : s[i]);
    k = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
    if (k != 33 || s[43] != '=') /* decoded with the padding byte */
        return false;
    memcpy(pub, tmp, MS_KMS_X25519_LEN);
    return true;
}

/* The certificate PEM of serial (JSON string), or NULL. */
static json_t *
cert_pem(ms_store *st, const char *serial)
{
    const unsigned char *p;
    ms_store_cert c;
    json_t *s = NULL;
    ms_error err;
    BIO *b = NULL;
    X509 *x = NULL;
    char *pem;
    long n;

    ms_store_cert_init(&c);
    if (serial[0] == '\0' ||
        ms_store_cert_get(st, ms_ca_name(1), serial, &c, &err) != 0)
        goto out;
    p = c.der.data;
    if ((x = d2i_X509(NULL, &p, (long)c.der.len)) == NULL ||
        (b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(b, x) != 1 ||
        (n = BIO_get_mem_data(b, &pem)) <= 0)
        goto out;
    s = json_stringn(pem, (size_t)n);
out:
    BIO_free(b);
    X509_free(x);
    ms_store_cert_cleanup(&c);
    return s;
}

static int
keys_reply(ms_store *st, ms_http_response *resp, rel_ctx *c)
{
    json_t *keys = json_array(), *o = NULL, *k;
    ms_buf b64;
    int rc = MS_ENOMEM;

    ms_buf_init(&b64, 2 * MS_KMS_ENVELOPE_MAX);
    if (keys == NULL)
        goto out;
    for (size_t i = 0; i < c->n; i++) {
        ms_buf_reset(&b64);
        if (ms_buf_reserve(&b64, 4 * ((c->keys[i].envelope.len + 2) / 3) + 1))
            goto out;
        (void)EVP_EncodeBlock(b64.data, c->keys[i].envelope.data,
                              (int)c->keys[i].envelope.len);
        k = json_pack("{s:s, s:o?, s:b, s:s}", "key_id", c->keys[i].key_id,
                      "certificate", cert_pem(st, c->keys[i].serial), "current",
                      c->keys[i].current, "envelope", (const char *)b64.data);
        if (k == NULL || json_array_append_new(keys, k) != 0)
            goto out;
    }
    if ((o = json_pack("{s:O}", "keys", keys)) != NULL)
        rc = ms_http_response_json(resp, 200, o);
out:
    ms_buf_cleanup(&b64);
    json_decref(o);
    json_decref(keys);
    return rc;
}

/* Releases the keys of d's mailbox into c (making the first if needed). */
static int
release(const kmod *m, ms_store *st, const ms_store_device *d, rel_ctx *c)
{
    char by[MS_STORE_ID_MAX + 16];
    int rc;

    (void)snprintf(by, sizeof(by), "device:%s", d->id);
    rc = ms_store_escrow_key_release(st, d->email, by, release_fn, c, &c->err);
    if (rc != MS_ENOTFOUND)
        return rc;
    rc = make_key(m, st, d->email, &c->err);
    if (rc != 0 && rc != MS_EPOLICY)
        return rc;
    for (size_t i = 0; i < c->n; i++)
        ms_buf_cleanup(&c->keys[i].envelope);
    c->n = 0;
    return ms_store_escrow_key_release(st, d->email, by, release_fn, c,
                                       &c->err);
}

static int
post_keys(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    const kmod *m = arg;
    unsigned char pub[MS_KMS_X25519_LEN];
    const char *b64 = NULL;
    json_t *body = NULL;
    json_error_t jerr;
    ms_store_device d;
    rel_ctx *c = NULL;
    ms_store *st;
    ms_error err;
    int rc;

    if ((rc = ms_service_store_get(&st, &err)) != 0)
        return rc;
    if ((rc = ms_device_auth(req, resp, st, &d)) != 0 ||
        (rc = ms_device_proven(resp, st, &d)) != 0 ||
        (rc = ms_device_json_body(req, resp, &body)) != 0)
        goto out;
    if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s}", "device_public_key",
                       &b64) != 0 ||
        !device_key(pub, b64)) {
        rc = ms_http_response_error(resp, 400,
                                    "expected {\"device_public_key\": base64 "
                                    "of a raw X25519 public key}");
        goto out;
    }
    if ((c = ms_calloc(1, sizeof(*c))) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    c->m = m;
    c->pub = pub;
    if ((rc = release(m, st, &d, c)) != 0) {
        if (rc == MS_EINVAL) /* a low-order device key */
            rc = ms_http_response_error(resp, 400, "device key refused");
        else
            ms_log(MS_LOGLEVEL_ERROR, req->request_id, "kms: %s", c->err.msg);
        goto out;
    }
    ms_log(MS_LOGLEVEL_INFO, req->request_id,
           "kms: %zu keys released to device %s", c->n, d.id);
    rc = keys_reply(st, resp, c);
out:
    if (c != NULL) {
        for (size_t i = 0; i < c->n; i++)
            ms_buf_cleanup(&c->keys[i].envelope);
        ms_free(c);
    }
    json_decref(body);
    return rc < 0 ? rc : 0;
}

static void
kms_stop(void *state)
{
    kmod *m = state;

    if (m == NULL)
        return;
    ms_kms_master_free(m->master);
    if (m->store)
        ms_service_store_release();
    if (m->ca != NULL)
        ms_service_ca_release();
    ms_daemon_config_free(m->cfg);
    ms_free(m);
}

static int
kms_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    kmod *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    m->cfg = ms_service_config_ref(ctx->config);
    if ((rc = ms_kms_master_load(&m->master, m->cfg->kms_master_key_file,
                                 err)) != 0)
        goto out;
    (void)snprintf(m->master_id, sizeof(m->master_id), "%08x",
                   (unsigned)ms_kms_master_id(m->master));
    if ((rc = ms_service_ca_acquire(&m->ca, ctx->config, err)) != 0) {
        m->ca = NULL;
        goto out;
    }
    if ((rc = ms_service_store_acquire(ctx->config, err)) != 0)
        goto out;
    m->store = true;
    rc = ms_http_server_route(ctx->server, MS_HTTP_POST, "/v1/keys/encryption",
                              false, post_keys, m, err);
out:
    if (rc != 0) {
        kms_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

const ms_module ms_module_kms = {"kms", false, kms_start, NULL, kms_stop};
