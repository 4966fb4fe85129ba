/*
 * lookup/lookup.c - a correspondent's certificates: the profile's cache,
 * then the directory (libcurl, JSON with jansson), checked and cached.
 */
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ctx.h"
#include "lookup/lookup.h"
#include "mime/addr.h"
#include "net/http.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"
#include "x509/info.h"
#include "x509/load.h"

void
ms_lookup_result_init(ms_lookup_result *r)
{
    memset(r, 0, sizeof(*r));
}

void
ms_lookup_result_cleanup(ms_lookup_result *r)
{
    sk_X509_pop_free(r->certs, X509_free);
    sk_X509_pop_free(r->chain, X509_free);
    memset(r, 0, sizeof(*r));
}

bool
ms_lookup_can_encrypt(X509 *x)
{
    uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no extension */
    EVP_PKEY *pk = X509_get0_pubkey(x);  /* borrowed */

    if (pk == NULL || X509_check_ca(x) != 0)
        return false;
    if (EVP_PKEY_is_a(pk, "EC"))
        return (ku & KU_KEY_AGREEMENT) != 0;
    return (ku & KU_KEY_ENCIPHERMENT) != 0;
}

/* Appends a reference to x to sk unless an equal certificate is there. */
static int
push_unique(STACK_OF(X509) * sk, X509 *x)
{
    for (int i = 0; i < sk_X509_num(sk); i++) {
        if (X509_cmp(sk_X509_value(sk, i), x) == 0)
            return 0;
    }
    if (!X509_up_ref(x))
        return MS_ERR;
    if (sk_X509_push(sk, x) <= 0) {
        X509_free(x);
        return MS_ENOMEM;
    }
    return 0;
}

/* ---- the directory's JSON ---- */

static bool
status_current(const char *status)
{
    return status == NULL || strcmp(status, "valid") == 0 ||
           strcmp(status, "good") == 0;
}

static int
parse_entry(STACK_OF(X509) * certs, STACK_OF(X509) * chain, json_t *e,
            size_t idx, ms_error *err)
{
    const char *pem = NULL, *status = NULL;
    STACK_OF(X509) *sk = NULL;
    json_error_t je;
    size_t plen = 0;
    int rc = 0;

    if (json_unpack_ex(e, &je, 0, "{s:s%, s?s}", "pem", &pem, &plen,
                       "status", &status) != 0)
        return ms_error_set(err, MS_EMALFORMED,
                            "directory entry %zu: %.80s", idx, je.text);
    if (!status_current(status))
        return 0;
    if (plen > MS_LOOKUP_MAX_PEM)
        return ms_error_set(err, MS_ETOOBIG,
                            "directory entry %zu: pem over %zu bytes", idx,
                            MS_LOOKUP_MAX_PEM);
    if ((sk = sk_X509_new_null()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_x509_parse_certs(sk, pem, plen, err)) != 0 ||
        sk_X509_num(sk) == 0) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "directory entry %zu: no certificate in pem", idx);
        goto out;
    }
    for (int i = 0; rc == 0 && i < sk_X509_num(sk); i++)
        rc = push_unique(i == 0 ? certs : chain, sk_X509_value(sk, i));
    if (rc != 0)
        rc = ms_error_set(err, rc, "out of memory");
out:
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int
ms_lookup_parse_json(STACK_OF(X509) * certs, STACK_OF(X509) * chain,
                     const void *json, size_t len, const char *addr,
                     ms_error *err)
{
    json_t *root = NULL, *list = NULL;
    json_error_t je;
    const char *got = NULL;
    int rc = 0;

    if (len > MS_LOOKUP_MAX_ANSWER)
        return ms_error_set(err, MS_ETOOBIG, "directory answer over %zu "
                            "bytes", MS_LOOKUP_MAX_ANSWER);
    if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
        return ms_error_set(err, MS_EMALFORMED,
                            "directory answer is not JSON: %.80s", je.text);
    if (json_unpack_ex(root, &je, 0, "{s:s, s:o}", "address", &got,
                       "certificates", &list) != 0 ||
        !json_is_array(list)) {
        rc = ms_error_set(err, MS_EMALFORMED, "directory answer: %.80s",
                          json_is_array(list) ? je.text
                                              : "no certificates array");
        goto out;
    }
    if (!ms_ascii_caseeq(got, addr)) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "directory answered for another address");
        goto out;
    }
    if (json_array_size(list) > MS_LOOKUP_MAX_CERTS) {
        rc = ms_error_set(err, MS_ETOOBIG,
                          "directory answer with over %u certificates",
                          MS_LOOKUP_MAX_CERTS);
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(list); i++)
        rc = parse_entry(certs, chain, json_array_get(list, i), i, err);
out:
    json_decref(root);
    return rc;
}

/* ---- checks ---- */

static bool
eku_allows_mail(X509 *x)
{
    if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) == 0)
        return true;
    return (X509_get_extended_key_usage(x) & XKU_SMIME) != 0;
}

/* Does x chain to anchors (with chain as intermediates) at now? */
static bool
chains(X509 *x, STACK_OF(X509) * anchors, STACK_OF(X509) * chain,
       const ms_ctx *ctx)
{
    X509_STORE *st = NULL;
    X509_STORE_CTX *vc = NULL;
    bool ok = false;

    if ((st = X509_STORE_new()) == NULL ||
        (vc = X509_STORE_CTX_new_ex(ctx->libctx, ctx->propq)) == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(anchors); i++) {
        if (!X509_STORE_add_cert(st, sk_X509_value(anchors, i)))
            goto out;
    }
    if (!X509_STORE_CTX_init(vc, st, x, chain))
        goto out;
    X509_STORE_CTX_set_time(vc, 0, ms_ctx_now(ctx));
    X509_STORE_CTX_set_flags(vc, X509_V_FLAG_PARTIAL_CHAIN);
    ok = X509_verify_cert(vc) == 1;
out:
    X509_STORE_CTX_free(vc);
    X509_STORE_free(st);
    ERR_clear_error(); /* a failed check is an answer, not an error */
    return ok;
}

static bool
acceptable(X509 *x, const char *addr, STACK_OF(X509) * anchors,
           STACK_OF(X509) * chain, const ms_ctx *ctx)
{
    return X509_check_ca(x) == 0 && ms_x509_has_email(x, addr) &&
           eku_allows_mail(x) && chains(x, anchors, chain, ctx);
}

/* Moves the acceptable certificates of cand into r->certs (references),
 * and the CA certificates of extra into r->chain. */
static int
keep_acceptable(ms_lookup_result *r, STACK_OF(X509) * cand,
                STACK_OF(X509) * extra, STACK_OF(X509) * anchors,
                const char *addr, const ms_ctx *ctx)
{
    X509 *x;
    int rc = 0;

    for (int i = 0; rc == 0 && i < sk_X509_num(extra); i++) {
        x = sk_X509_value(extra, i);
        if (X509_check_ca(x) != 0)
            rc = push_unique(r->chain, x);
    }
    for (int i = 0; rc == 0 && i < sk_X509_num(cand); i++) {
        x = sk_X509_value(cand, i);
        if (acceptable(x, addr, anchors, extra, ctx))
            rc = push_unique(r->certs, x);
    }
    return rc;
}

static bool
has_encryption(STACK_OF(X509) * sk)
{
    for (int i = 0; i < sk_X509_num(sk); i++) {
        if (ms_lookup_can_encrypt(sk_X509_value(sk, i)))
            return true;
    }
    return false;
}

/* ---- the directory over HTTP ---- */

static int
dir_url(char *url, size_t n, const char *server_url, const char *addr,
        ms_error *err)
{
    char *esc = curl_easy_escape(NULL, addr, 0);
    size_t blen = strlen(server_url);
    int w;

    if (esc == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    while (blen > 0 && server_url[blen - 1] == '/')
        blen--;
    w = snprintf(url, n, "%.*s/v1/directory/%s", (int)blen, server_url, esc);
    curl_free(esc);
    if (w < 0 || (size_t)w >= n)
        return ms_error_set(err, MS_EINVAL, "server_url too long");
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return ms_error_set(err, MS_EINVAL, "server_url is not http(s)");
    return 0;
}

static int
dir_status(long status, const char *host_url, ms_error *err)
{
    if (status == 200)
        return 0;
    if (status == 404)
        return MS_ENOTFOUND;
    if (status == 429 || status >= 500)
        return ms_error_set(err, MS_ETEMP, "directory %s: HTTP status %ld",
                            host_url, status);
    return ms_error_set(err, MS_EMALFORMED, "directory %s: HTTP status %ld",
                        host_url, status);
}

/* GETs the directory entry of addr into body. MS_ENOTFOUND on 404. */
static int
dir_get(ms_buf *body, const ms_ctx *ctx, const char *server_url,
        const char *addr, ms_error *err)
{
    char url[MS_LOOKUP_MAX_URL];
    ms_http_call call = {"GET", url, NULL, NULL, 0, "application/json", NULL,
                         body->max, 0};
    ms_http_reply r;
    int rc;

    if ((rc = dir_url(url, sizeof(url), server_url, addr, err)) != 0)
        return rc;
    ms_http_reply_init(&r);
    if ((rc = ms_http_perform(&r, ctx, &call, err)) == MS_ETOOBIG)
        rc = ms_error_set(err, MS_ETOOBIG, "directory answer too large");
    if (rc == 0 && (rc = dir_status(r.status, server_url, err)) == 0 &&
        ms_buf_append(body, r.body.data, r.body.len) != 0)
        rc = ms_error_set(err, MS_ETOOBIG, "directory answer too large");
    ms_http_reply_cleanup(&r);
    return rc;
}

/* ---- cache + directory ---- */

static int
load_anchors(STACK_OF(X509) * *out, const ms_profile *p, ms_error *err)
{
    char *path = NULL;
    int rc;

    if ((*out = sk_X509_new_null()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_profile_anchors_path(&path, p, err)) == MS_ENOTFOUND)
        return ms_error_set(err, MS_EUNTRUSTED,
                            "the profile has no trust anchors to check "
                            "certificates with (mailseal enroll installs "
                            "them)");
    if (rc == 0)
        rc = ms_x509_load_certs(*out, path, err);
    ms_free(path);
    return rc;
}

/* The cache's certificates of addr into r (cand/extra split). */
static int
from_cache(ms_lookup_result *r, STACK_OF(X509) * all, ms_profile *p,
           STACK_OF(X509) * anchors, const char *addr, const ms_ctx *ctx,
           ms_error *err)
{
    int rc;

    if ((rc = ms_profile_cache_get(all, p, addr, err)) != 0)
        return rc;
    if (keep_acceptable(r, all, all, anchors, addr, ctx) != 0)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    return 0;
}

/* Writes what the cache held plus the new certificates and chain. */
static int
cache_merge(ms_profile *p, const char *addr, STACK_OF(X509) * cached,
            const ms_lookup_result *r, ms_error *err)
{
    int rc = 0;

    for (int i = 0; rc == 0 && i < sk_X509_num(r->certs); i++)
        rc = push_unique(cached, sk_X509_value(r->certs, i));
    for (int i = 0; rc == 0 && i < sk_X509_num(r->chain); i++)
        rc = push_unique(cached, sk_X509_value(r->chain, i));
    if (rc != 0)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    return ms_profile_cache_put(p, addr, cached, err);
}

static int
from_directory(ms_lookup_result *r, ms_ctx *ctx, ms_profile *p,
               STACK_OF(X509) * anchors, STACK_OF(X509) * cached,
               const char *server_url, const char *addr, ms_error *err)
{
    STACK_OF(X509) *cand = NULL, *extra = NULL;
    ms_buf body;
    int rc;

    ms_buf_init(&body, MS_LOOKUP_MAX_ANSWER);
    if ((cand = sk_X509_new_null()) == NULL ||
        (extra = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = dir_get(&body, ctx, server_url, addr, err)) != 0 ||
        (rc = ms_lookup_parse_json(cand, extra, body.data, body.len, addr,
                                   err)) != 0)
        goto out;
    sk_X509_pop_free(r->certs, X509_free);
    sk_X509_pop_free(r->chain, X509_free);
    if ((r->certs = sk_X509_new_null()) == NULL ||
        (r->chain = sk_X509_new_null()) == NULL ||
        keep_acceptable(r, cand, extra, anchors, addr, ctx) != 0) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (sk_X509_num(r->certs) == 0) {
        rc = MS_ENOTFOUND;
        goto out;
    }
    r->source = MS_LOOKUP_DIRECTORY;
    rc = cache_merge(p, addr, cached, r, err);
out:
    sk_X509_pop_free(cand, X509_free);
    sk_X509_pop_free(extra, X509_free);
    ms_buf_cleanup(&body);
    return rc;
}

static bool
enough(const ms_lookup_result *r, unsigned flags)
{
    if (sk_X509_num(r->certs) == 0)
        return false;
    return (flags & MS_LOOKUP_ENCRYPT) == 0 || has_encryption(r->certs);
}

int
ms_lookup_certs(ms_lookup_result *r, ms_ctx *ctx, ms_profile *p,
                const char *server_url, const char *addr, unsigned flags,
                ms_error *err)
{
    STACK_OF(X509) *anchors = NULL, *cached = NULL;
    char norm[MS_ADDR_NORM_MAX + 1];
    ms_error why;
    int rc;

    ms_lookup_result_cleanup(r);
    if ((rc = ms_addr_normalise(norm, sizeof(norm), addr, &why)) != 0) {
        rc = ms_error_set(err, rc, "not an exact mail address: %s", why.msg);
        goto out;
    }
    if ((rc = load_anchors(&anchors, p, err)) != 0)
        goto out;
    if ((r->certs = sk_X509_new_null()) == NULL ||
        (r->chain = sk_X509_new_null()) == NULL ||
        (cached = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    rc = from_cache(r, cached, p, anchors, norm, ctx, err);
    if (rc != 0 && rc != MS_ENOTFOUND)
        goto out;
    r->source = MS_LOOKUP_CACHE;
    if ((flags & MS_LOOKUP_DIR_ONLY) == 0 && enough(r, flags)) {
        rc = 0;
        goto out;
    }
    rc = MS_ENOTFOUND;
    if ((flags & MS_LOOKUP_CACHE_ONLY) == 0 && server_url != NULL)
        rc = from_directory(r, ctx, p, anchors, cached, server_url, norm,
                            err);
    if (rc == MS_ENOTFOUND && (flags & MS_LOOKUP_DIR_ONLY) == 0 &&
        sk_X509_num(r->certs) > 0 && r->source == MS_LOOKUP_CACHE)
        rc = 0; /* the cache had some, only none to encrypt to */
out:
    if (rc == MS_ENOTFOUND)
        rc = ms_error_set(err, rc, "no certificate for %s", norm[0] != '\0' ? norm
                                                                 : addr);
    if (rc != 0)
        ms_lookup_result_cleanup(r);
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_pop_free(cached, X509_free);
    return rc;
}
