/*
 * services/directory/routes.c - the directory module: who has which
 * current certificate, by exact address.
 *
 *   GET  /v1/directory/{address}     JSON, or with Accept:
 *                                    application/pkcs7-mime a certs-only
 *                                    PKCS#7 (DER) of the current certs
 *   POST /v1/directory/batch         (ApiKey) {"addresses": [<= 1000]}
 *   POST /v1/directory/harvest       harvest.c
 *   POST /v1/directory/invitations   mail.c
 *   POST /v1/directory/unpublish     mail.c, and GET .../unpublish/{token}
 *   GET  /v1/invitations/opt-out/{token}  mail.c
 *
 * Addresses are matched exactly after normalisation (dir.h): anything
 * looking like a pattern is 400; unknown, unpublished and "no current
 * certificate" share one 404 body so the answer tells nothing more.
 * Anonymous callers are limited per client address (directory_rate a
 * minute), API keys at their own rate; a batch costs one request. API
 * keys travel as `Authorization: ApiKey <key>`; only their SHA-256 is
 * stored, and the stored hash is compared again with CRYPTO_memcmp().
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/module.h"
#include "common/service.h"
#include "directory/dir_int.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

#define BATCH_MAX    1000
#define APIKEY_MAX   200
#define RATE_SLOTS   65536
#define NOT_FOUND    "no current certificate published for this address"
#define PKCS7_TYPE   "application/pkcs7-mime"
#define P7_CT_HEADER "application/pkcs7-mime; smime-type=certs-only"

int
dir_sha256(unsigned char hash[MS_STORE_SHA256], const void *text, size_t len)
{
    unsigned int n = 0;

    if (!EVP_Digest(text, len, hash, &n, EVP_sha256(), NULL) ||
        n != MS_STORE_SHA256)
        return MS_ERR;
    return 0;
}

int
dir_token_new(char *out, size_t outlen, const char *prefix,
              unsigned char hash[MS_STORE_SHA256], ms_error *err)
{
    unsigned char raw[32];
    char b64[48];
    size_t plen = strlen(prefix), n;
    int rc = 0;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no randomness");
    n = (size_t)EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
    while (n > 0 && b64[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    if (plen + n + 1 > outlen) {
        rc = ms_error_set(err, MS_ETOOBIG, "token buffer too small");
        goto out;
    }
    memcpy(out, prefix, plen);
    memcpy(out + plen, b64, n);
    out[plen + n] = '\0';
    if (dir_sha256(hash, out, plen + n) != 0)
        rc = ms_error_set(err, MS_ERR, "SHA-256 failed");
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(b64, sizeof(b64));
    return rc;
}

static int
reply_401(ms_http_response *resp, const char *msg)
{
    int rc;

    if ((rc = ms_http_response_add_header(resp, "WWW-Authenticate",
                                          "ApiKey")) != 0)
        return rc;
    return ms_http_response_error(resp, 401, msg);
}

/* Finds the API key of the Authorization value; 1 found, 0 answered. */
static int
apikey_check(const char *auth, const ms_http_request *req,
             ms_http_response *resp, ms_store_apikey *k)
{
    unsigned char hash[MS_STORE_SHA256];
    const char *key;
    ms_store *st;
    ms_error err;
    size_t n;
    int rc;

    if (strncasecmp(auth, "ApiKey ", 7) != 0)
        return reply_401(resp, "expected Authorization: ApiKey <key>");
    for (key = auth + 7; *key == ' '; key++)
        ;
    n = strnlen(key, APIKEY_MAX + 1);
    if (n == 0 || n > APIKEY_MAX)
        return reply_401(resp, "unknown or revoked API key");
    if (dir_sha256(hash, key, n) != 0)
        return MS_ERR;
    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = ms_store_apikey_by_hash(st, hash, k, &err)) != 0) {
        if (rc == MS_ENOTFOUND)
            return reply_401(resp, "unknown or revoked API key");
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "directory: %s", err.msg);
        return rc;
    }
    if (CRYPTO_memcmp(hash, k->key_hash, MS_STORE_SHA256) != 0 ||
        k->revoked_at != 0)
        return reply_401(resp, "unknown or revoked API key");
    return 1;
}

int
dir_admit(dir_module *m, const ms_http_request *req, ms_http_response *resp,
          bool need_key, dir_client *who)
{
    const char *auth = ms_http_request_header(req, "Authorization");
    char retry[32];
    long after = 1;
    int rc;

    memset(who, 0, sizeof(*who));
    if (auth == NULL && need_key)
        return reply_401(resp, "an API key is needed");
    if (auth != NULL) {
        if ((rc = apikey_check(auth, req, resp, &who->key)) != 1)
            return rc;
        who->keyed = true;
        if (ms_dir_rate_take(m->keyed, who->key.id, who->key.rate_per_min,
                             time(NULL), &after))
            return 1;
    } else if (ms_dir_rate_take(m->anon, req->peer, m->cfg->directory_rate,
                                time(NULL), &after)) {
        return 1;
    }
    (void)snprintf(retry, sizeof(retry), "%ld", after);
    if ((rc = ms_http_response_add_header(resp, "Retry-After", retry)) != 0)
        return rc;
    return ms_http_response_error(resp, 429, "too many requests");
}

int
dir_json_body(const ms_http_request *req, ms_http_response *resp, json_t **out)
{
    json_error_t jerr;

    if (!ms_service_content_type_is(req, "application/json"))
        return ms_service_reply_415(resp, "application/json");
    *out = json_loadb((const char *)req->body, req->body_len,
                      JSON_REJECT_DUPLICATES, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return ms_http_response_error(resp, 400, "expected a JSON object");
    }
    return 1;
}

/* What a lookup collects. */
typedef struct found {
    json_t *list;           /* JSON objects, or NULL */
    STACK_OF(X509) * certs; /* or NULL */
} found;

static json_t *
cert_json(const ms_store_dir_cert *c, X509 *x)
{
    char nb[32], na[32], *issuer = NULL, *serial = NULL, *pem = NULL;
    BIO *bio = NULL;
    json_t *o = NULL;
    long n;

    if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(bio, x) ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0)
        goto out;
    if (c->harvested && ((issuer = ms_x509_issuer_text(x)) == NULL ||
                         (serial = ms_x509_serial_hex(x)) == NULL))
        goto out;
    if (ms_time_format(nb, sizeof(nb), c->not_before) != 0 ||
        ms_time_format(na, sizeof(na), c->not_after) != 0)
        goto out;
    o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s%}", "use",
                  c->use, "level", c->level, "status", "valid", "source",
                  c->harvested ? "harvested" : "issued", "issuer",
                  c->harvested ? issuer : c->issuer, "serial",
                  c->harvested ? serial : c->serial_hex, "not_before", nb,
                  "not_after", na, "pem", pem, (size_t)n);
out:
    ms_free(issuer);
    ms_free(serial);
    BIO_free(bio);
    return o;
}

static int
found_cert(const ms_store_dir_cert *c, void *arg)
{
    found *f = arg;
    const unsigned char *p = c->der;
    X509 *x = d2i_X509(NULL, &p, (long)c->der_len);
    json_t *o;
    int rc = MS_ENOMEM;

    if (x == NULL)
        return MS_EIO;
    if (f->list != NULL) {
        if ((o = cert_json(c, x)) == NULL ||
            json_array_append_new(f->list, o) != 0)
            goto out;
    }
    if (f->certs != NULL) {
        if (!sk_X509_push(f->certs, x))
            goto out;
        x = NULL;
    }
    rc = 0;
out:
    X509_free(x);
    return rc;
}

/* Looks addr up into f; 0, MS_ENOTFOUND (unknown, unpublished, none
 * current) or another status (logged). */
static int
lookup(const ms_http_request *req, const char *addr, found *f)
{
    ms_store *st;
    ms_error err;
    int rc;

    if ((rc = ms_service_store_get(&st, &err)) == 0)
        rc = ms_store_directory_lookup(st, addr, found_cert, f, &err);
    if (rc == MS_EINVAL)
        rc = MS_ENOTFOUND;
    if (rc != 0 && rc != MS_ENOTFOUND)
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "directory: %s", err.msg);
    return rc;
}

static void
free_der(void *arg)
{
    OPENSSL_free(arg);
}

/* The certs-only PKCS#7 (RFC 8551 3.6) of certs. */
static int
reply_pkcs7(ms_http_response *resp, STACK_OF(X509) * certs)
{
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    int len = -1, rc = MS_ENOMEM;

    if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
        !PKCS7_content_new(p7, NID_pkcs7_data))
        goto out;
    for (int i = 0; i < sk_X509_num(certs); i++) {
        if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
            goto out;
    }
    if ((len = i2d_PKCS7(p7, &der)) <= 0)
        goto out;
    resp->content_type = P7_CT_HEADER;
    ms_http_response_set_borrowed(resp, der, (size_t)len, free_der, der);
    der = NULL;
    rc = 0;
out:
    OPENSSL_free(der);
    PKCS7_free(p7);
    return rc;
}

static bool
wants_pkcs7(const ms_http_request *req)
{
    const char *acc = ms_http_request_header(req, "Accept");
    size_t n = strlen(PKCS7_TYPE);

    for (; acc != NULL && *acc != '\0'; acc++) {
        if (strncasecmp(acc, PKCS7_TYPE, n) == 0)
            return true;
    }
    return false;
}

static int
get_lookup(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    dir_module *m = arg;
    char addr[MS_DIR_ADDR_BUF];
    found f = {NULL, NULL};
    dir_client who;
    ms_error err;
    json_t *o = NULL;
    int rc;

    if ((rc = dir_admit(m, req, resp, false, &who)) != 1)
        return rc;
    if (ms_dir_addr_parse(addr, req->subpath, &err) != 0)
        return ms_http_response_error(resp, 400, err.msg);
    if (wants_pkcs7(req))
        f.certs = sk_X509_new_null();
    else
        f.list = json_array();
    if (f.certs == NULL && f.list == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    if ((rc = lookup(req, addr, &f)) == MS_ENOTFOUND) {
        rc = ms_http_response_error(resp, 404, NOT_FOUND);
        goto out;
    }
    if (rc != 0)
        goto out;
    if (f.certs != NULL) {
        rc = reply_pkcs7(resp, f.certs);
        goto out;
    }
    if ((o = json_pack("{s:s, s:O}", "address", addr, "certificates",
                       f.list)) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    rc = ms_http_response_json(resp, 200, o);
out:
    json_decref(o);
    json_decref(f.list);
    sk_X509_pop_free(f.certs, X509_free);
    return rc;
}

/* results[given] = the certificates of one address, or null. */
static int
batch_one(const ms_http_request *req, json_t *results, const char *given)
{
    char addr[MS_DIR_ADDR_BUF];
    found f = {NULL, NULL};
    ms_error err;
    int rc;

    if (ms_dir_addr_parse(addr, given, &err) != 0)
        return json_object_set_new(results, given, json_null()) == 0
                   ? 0
                   : MS_ENOMEM;
    if ((f.list = json_array()) == NULL)
        return MS_ENOMEM;
    rc = lookup(req, addr, &f);
    if (rc == MS_ENOTFOUND) {
        json_decref(f.list);
        return json_object_set_new(results, given, json_null()) == 0
                   ? 0
                   : MS_ENOMEM;
    }
    if (rc != 0) {
        json_decref(f.list);
        return rc;
    }
    return json_object_set_new(results, given, f.list) == 0 ? 0 : MS_ENOMEM;
}

static int
post_batch(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    json_t *body = NULL, *list, *results = NULL, *o = NULL, *v;
    dir_client who;
    size_t i;
    int rc;

    if ((rc = dir_admit(arg, req, resp, true, &who)) != 1)
        return rc;
    if ((rc = dir_json_body(req, resp, &body)) != 1)
        return rc;
    list = json_object_get(body, "addresses");
    if (!json_is_array(list) || json_array_size(list) > BATCH_MAX) {
        rc = ms_http_response_error(resp, 400,
                                    "expected \"addresses\": an array of at "
                                    "most 1000 strings");
        goto out;
    }
    if ((results = json_object()) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    json_array_foreach(list, i, v)
    {
        if (!json_is_string(v)) {
            rc = ms_http_response_error(resp, 400, "addresses are strings");
            goto out;
        }
        if ((rc = batch_one(req, results, json_string_value(v))) != 0)
            goto out;
    }
    if ((o = json_pack("{s:O}", "results", results)) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    rc = ms_http_response_json(resp, 200, o);
out:
    json_decref(o);
    json_decref(results);
    json_decref(body);
    return rc;
}

static void
dir_stop(void *state)
{
    dir_module *m = state;

    if (m == NULL)
        return;
    ms_verifier_free(m->verifier);
    ms_ctx_free(m->ctx);
    ms_dir_rate_free(m->anon);
    ms_dir_rate_free(m->keyed);
    if (m->store_acquired)
        ms_service_store_release();
    ms_daemon_config_free(m->cfg);
    ms_free(m);
}

typedef struct route {
    unsigned methods;
    const char *path;
    bool prefix;
    ms_http_handler fn;
} route;

static const route routes[] = {
    {MS_HTTP_GET, "/v1/directory/", true, get_lookup},
    {MS_HTTP_POST, "/v1/directory/batch", false, post_batch},
    {MS_HTTP_POST, "/v1/directory/harvest", false, dir_post_harvest},
    {MS_HTTP_POST, "/v1/directory/invitations", false, dir_post_invitation},
    {MS_HTTP_POST, "/v1/directory/unpublish", false, dir_post_unpublish},
    {MS_HTTP_GET, "/v1/directory/unpublish/", true, dir_get_unpublish},
    {MS_HTTP_POST, "/v1/directory/unpublish/", true, dir_post_unpublish_link},
    {MS_HTTP_GET, "/v1/invitations/opt-out/", true, dir_get_optout},
    {MS_HTTP_POST, "/v1/invitations/opt-out/", true, dir_post_optout},
};

static int
dir_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    dir_module *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    m->cfg = ms_service_config_ref(ctx->config);
    ms_submit_config_init(&m->mail);
    if ((rc = ms_service_store_acquire(ctx->config, err)) != 0)
        goto out;
    m->store_acquired = true;
    if ((rc = ms_dir_rate_new(&m->anon, RATE_SLOTS, err)) != 0 ||
        (rc = ms_dir_rate_new(&m->keyed, RATE_SLOTS / 16, err)) != 0 ||
        (rc = ms_submit_config_parse_url(&m->mail, m->cfg->mail_relay, err)) !=
            0 ||
        (rc = ms_submit_config_check(&m->mail, err)) != 0 ||
        (rc = dir_verifier_setup(m, err)) != 0)
        goto out;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if ((rc = ms_http_server_route(ctx->server, routes[i].methods,
                                       routes[i].path, routes[i].prefix,
                                       routes[i].fn, m, err)) != 0)
            goto out;
    }
out:
    if (rc != 0) {
        dir_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

const ms_module ms_module_directory = {"directory", false, dir_start, NULL,
                                       dir_stop};
