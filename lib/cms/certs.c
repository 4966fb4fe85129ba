/* cms/certs.c - SignedData certificates through the ms_ctx cache. */
#include <limits.h>
#include <string.h>

#include <openssl/evp.h>

#include "cms/certs.h"
#include "cms/der.h"
#include "ctx.h"
#include "util/error.h"

/* A parsed certificate for der (a counted reference), or NULL. */
static X509 *
cached_cert(ms_ctx *ctx, const unsigned char *der, size_t len)
{
    unsigned char key[32];
    const unsigned char *p = der;
    ms_cert_entry *victim = NULL;
    X509 *x = NULL;

    if (len > LONG_MAX || EVP_Q_digest(ctx->libctx, "SHA256", ctx->propq,
                                       der, len, key, NULL) != 1)
        return NULL;
    if (pthread_mutex_lock(&ctx->cert_lock) != 0)
        return NULL;
    for (size_t i = 0; i < MS_CERT_CACHE_SIZE; i++) {
        ms_cert_entry *e = &ctx->cert_cache[i];

        if (e->cert != NULL && memcmp(e->key, key, sizeof(key)) == 0) {
            e->use = ++ctx->cert_tick;
            x = X509_up_ref(e->cert) ? e->cert : NULL;
            (void)pthread_mutex_unlock(&ctx->cert_lock); /* we hold it */
            return x;
        }
        if (victim == NULL || e->cert == NULL ||
            (victim->cert != NULL && e->use < victim->use))
            victim = e;
    }
    (void)pthread_mutex_unlock(&ctx->cert_lock); /* we hold it */
    /* Parse outside the lock; the whole encoding must be one certificate. */
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
        X509_free(x);
        return NULL;
    }
    if (pthread_mutex_lock(&ctx->cert_lock) != 0)
        return x;
    if (victim->cert == NULL || victim->use < ctx->cert_tick) {
        if (X509_up_ref(x)) {
            X509_free(victim->cert);
            victim->cert = x;
            memcpy(victim->key, key, sizeof(key));
            victim->use = ++ctx->cert_tick;
        }
    }
    (void)pthread_mutex_unlock(&ctx->cert_lock); /* we hold it */
    return x;
}

/* Appends the DER header of tag with content length n. */
static int
put_header(ms_buf *b, unsigned char tag, size_t n)
{
    unsigned char h[10];
    size_t k = 0, i = 0;

    h[i++] = tag;
    if (n < 0x80) {
        h[i++] = (unsigned char)n;
    } else {
        for (size_t t = n; t > 0; t >>= 8)
            k++;
        h[i++] = (unsigned char)(0x80 | k);
        while (k-- > 0)
            h[i++] = (unsigned char)(n >> (8 * k));
    }
    return ms_buf_append(b, h, i);
}

static size_t
header_len(size_t n)
{
    size_t k = 0;

    if (n < 0x80)
        return 2;
    for (size_t t = n; t > 0; t >>= 8)
        k++;
    return 2 + k;
}

static int
collect(STACK_OF(X509) *certs, ms_ctx *ctx, ms_der set)
{
    ms_der c;
    unsigned char tag;
    const unsigned char *start;

    while (set.len > 0) {
        start = set.p;
        if (!ms_der_next(&set, &tag, &c))
            return MS_ENOTFOUND;
        if (tag != 0x30)
            continue; /* other CertificateChoices are not used here */
        {
            X509 *x = cached_cert(ctx, start, (size_t)(set.p - start));

            if (x == NULL)
                return MS_EMALFORMED;
            if (!sk_X509_push(certs, x)) {
                X509_free(x);
                return MS_ENOMEM;
            }
        }
    }
    return 0;
}

int
ms_cms_split_certs(ms_buf *out, STACK_OF(X509) *certs, ms_ctx *ctx,
                   const unsigned char *der, size_t len)
{
    ms_der in = {der, len}, ci, oid, wrap, sd, x, cset = {NULL, 0};
    const unsigned char *oid_start, *before = NULL, *after = NULL;
    unsigned char tag;
    size_t sd_len, wrap_len, ci_len, oid_len;
    int rc;

    /* ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData } */
    if (!ms_der_next(&in, &tag, &ci) || tag != 0x30 || in.len != 0)
        return MS_ENOTFOUND;
    oid_start = ci.p;
    if (!ms_der_next(&ci, &tag, &oid) || tag != 0x06)
        return MS_ENOTFOUND;
    oid_len = (size_t)(ci.p - oid_start);
    if (!ms_der_next(&ci, &tag, &wrap) || tag != 0xa0 || ci.len != 0 ||
        !ms_der_next(&wrap, &tag, &sd) || tag != 0x30 || wrap.len != 0)
        return MS_ENOTFOUND;
    /* version, digestAlgorithms, encapContentInfo, [0] certificates */
    before = sd.p;
    for (int i = 0; i < 3; i++) {
        if (!ms_der_next(&sd, &tag, &x))
            return MS_ENOTFOUND;
    }
    after = sd.p;
    if (sd.len == 0 || sd.p[0] != 0xa0)
        return MS_ENOTFOUND; /* no certificates: nothing to gain */
    if (!ms_der_next(&sd, &tag, &cset))
        return MS_ENOTFOUND;
    /* SignedData without the certificates: [before, after) + sd rest */
    sd_len = (size_t)(after - before) + sd.len;
    wrap_len = header_len(sd_len) + sd_len;
    ci_len = oid_len + header_len(wrap_len) + wrap_len;
    if ((rc = ms_buf_reserve(out, header_len(ci_len) + ci_len)) != 0 ||
        (rc = put_header(out, 0x30, ci_len)) != 0 ||
        (rc = ms_buf_append(out, oid_start, oid_len)) != 0 ||
        (rc = put_header(out, 0xa0, wrap_len)) != 0 ||
        (rc = put_header(out, 0x30, sd_len)) != 0 ||
        (rc = ms_buf_append(out, before, (size_t)(after - before))) != 0 ||
        (rc = ms_buf_append(out, sd.p, sd.len)) != 0)
        return rc;
    return collect(certs, ctx, cset);
}
