/* x509/load.c - certificates, keys and CRLs from files and memory. */
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ctx.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/file.h"
#include "util/str.h"
#include "x509/load.h"

static bool
looks_pem(const void *data, size_t len)
{
    static const char tag[] = "-----BEGIN ";

    return len >= sizeof(tag) - 1 &&
           ms_memmem(data, len, tag, sizeof(tag) - 1) != NULL;
}

/* One kind of PKI object that comes PEM (several) or DER (one). */
typedef struct pki_kind {
    const char *what;
    void *(*from_der)(const unsigned char **p, long len);
    void *(*from_pem)(BIO *bio);
    int (*push)(void *sk, void *obj); /* 0 on failure */
    void (*free)(void *obj);
} pki_kind;

static void *
cert_der(const unsigned char **p, long len)
{
    return d2i_X509(NULL, p, len);
}

static void *
cert_pem(BIO *bio)
{
    return PEM_read_bio_X509(bio, NULL, NULL, NULL);
}

static int
cert_push(void *sk, void *obj)
{
    return sk_X509_push((STACK_OF(X509) *)sk, (X509 *)obj);
}

static void
cert_free(void *obj)
{
    X509_free(obj);
}

static void *
crl_der(const unsigned char **p, long len)
{
    return d2i_X509_CRL(NULL, p, len);
}

static void *
crl_pem(BIO *bio)
{
    return PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
}

static int
crl_push(void *sk, void *obj)
{
    return sk_X509_CRL_push((STACK_OF(X509_CRL) *)sk, (X509_CRL *)obj);
}

static void
crl_free(void *obj)
{
    X509_CRL_free(obj);
}

static const pki_kind cert_kind = {"certificate", cert_der, cert_pem,
                                   cert_push, cert_free};
static const pki_kind crl_kind = {"CRL", crl_der, crl_pem, crl_push,
                                  crl_free};

/* Appends every object of kind k in data (a PEM bundle, or one DER). */
static int
parse_all(const pki_kind *k, void *sk, const void *data, size_t len,
          ms_error *err)
{
    BIO *bio = NULL;
    void *obj;
    const unsigned char *p = data;
    int n = 0, rc = 0;

    if (len > INT_MAX)
        return ms_error_set(err, MS_ETOOBIG, "%s file too large", k->what);
    if (!looks_pem(data, len)) {
        if ((obj = k->from_der(&p, (long)len)) == NULL)
            return ms_error_set_ossl(err, MS_EMALFORMED,
                                     "not a PEM or DER %s", k->what);
        if (!k->push(sk, obj)) {
            k->free(obj);
            return ms_error_set(err, MS_ENOMEM, "out of memory");
        }
        return 0;
    }
    if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    while ((obj = k->from_pem(bio)) != NULL) {
        if (!k->push(sk, obj)) {
            k->free(obj);
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    /* The loop ends on "no start line" at the end of the data. */
    if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE)
        ERR_clear_error();
    if (ERR_peek_error() != 0 || n == 0)
        rc = ms_error_set_ossl(err, MS_EMALFORMED, "bad PEM %s", k->what);
out:
    BIO_free(bio);
    return rc;
}

int
ms_x509_parse_certs(STACK_OF(X509) *sk, const void *data, size_t len,
                    ms_error *err)
{
    return parse_all(&cert_kind, sk, data, len, err);
}

int
ms_x509_parse_crls(STACK_OF(X509_CRL) *sk, const void *data, size_t len,
                   ms_error *err)
{
    return parse_all(&crl_kind, sk, data, len, err);
}

static int
load_all(const pki_kind *k, void *sk, const char *path, ms_error *err)
{
    ms_buf b;
    int rc;

    ms_buf_init(&b, MS_MAX_PKI_FILE);
    if ((rc = ms_file_read(&b, path, MS_MAX_PKI_FILE, err)) == 0 &&
        (rc = parse_all(k, sk, b.data, b.len, err)) != 0 && err)
        (void)ms_error_set(err, rc, "%s: %s", path, err->msg);
    ms_buf_cleanup(&b);
    return rc;
}

int
ms_x509_load_certs(STACK_OF(X509) *sk, const char *path, ms_error *err)
{
    return load_all(&cert_kind, sk, path, err);
}

int
ms_x509_load_crls(STACK_OF(X509_CRL) *sk, const char *path, ms_error *err)
{
    return load_all(&crl_kind, sk, path, err);
}

static int
load_key(EVP_PKEY **out, ms_ctx *ctx, const char *path, ms_error *err)
{
    ms_buf b;
    BIO *bio = NULL;
    EVP_PKEY *pk = NULL;
    const unsigned char *p;
    int rc = 0;

    ms_buf_init_secret(&b, MS_MAX_PKI_FILE);
    if ((rc = ms_file_read(&b, path, MS_MAX_PKI_FILE, err)) != 0)
        goto out;
    if (looks_pem(b.data, b.len)) {
        if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL) {
            rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
            goto out;
        }
        pk = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, ctx->libctx,
                                        ctx->propq);
    } else {
        p = b.data;
        pk = d2i_AutoPrivateKey_ex(NULL, &p, (long)b.len, ctx->libctx,
                                   ctx->propq);
    }
    if (pk == NULL) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "%s: not an unencrypted private key", path);
        goto out;
    }
    *out = pk;
out:
    BIO_free(bio);
    ms_buf_cleanup(&b);
    return rc;
}

static int
load_first(X509 **out, STACK_OF(X509) *rest, const char *path, ms_error *err)
{
    STACK_OF(X509) *sk;
    int rc;

    if ((sk = sk_X509_new_null()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_x509_load_certs(sk, path, err)) == 0) {
        *out = sk_X509_shift(sk);
        while (rest != NULL && sk_X509_num(sk) > 0) {
            X509 *x = sk_X509_shift(sk);

            if (!sk_X509_push(rest, x)) {
                X509_free(x);
                rc = ms_error_set(err, MS_ENOMEM, "out of memory");
                break;
            }
        }
    }
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int
ms_identity_load(ms_identity **out, ms_ctx *ctx, const char *cert_file,
                 const char *key_file, const char *chain_file,
                 const char *enc_cert_file, ms_error *err)
{
    ms_identity *id;
    int rc;

    if ((id = ms_calloc(1, sizeof(*id))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((id->chain = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = load_first(&id->cert, id->chain, cert_file, err)) != 0)
        goto out;
    if ((rc = load_key(&id->key, ctx, key_file, err)) != 0)
        goto out;
    if (X509_check_private_key(id->cert, id->key) != 1) {
        rc = ms_error_set_ossl(err, MS_EINVAL,
                               "%s does not match the certificate %s",
                               key_file, cert_file);
        goto out;
    }
    if (chain_file != NULL &&
        (rc = ms_x509_load_certs(id->chain, chain_file, err)) != 0)
        goto out;
    if (enc_cert_file != NULL &&
        (rc = load_first(&id->enc_cert, NULL, enc_cert_file, err)) != 0)
        goto out;
    *out = id;
    id = NULL;
out:
    ms_identity_free(id);
    return rc;
}

void
ms_identity_free(ms_identity *id)
{
    if (id == NULL)
        return;
    X509_free(id->cert);
    EVP_PKEY_free(id->key); /* OpenSSL clears key material on free */
    sk_X509_pop_free(id->chain, X509_free);
    X509_free(id->enc_cert);
    ms_free(id);
}

int
ms_certlist_new(ms_certlist **out, ms_error *err)
{
    ms_certlist *l;

    if ((l = ms_calloc(1, sizeof(*l))) == NULL ||
        (l->certs = sk_X509_new_null()) == NULL) {
        ms_free(l);
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    }
    *out = l;
    return 0;
}

void
ms_certlist_free(ms_certlist *l)
{
    if (l == NULL)
        return;
    sk_X509_pop_free(l->certs, X509_free);
    ms_free(l);
}

int
ms_certlist_add_file(ms_certlist *l, const char *path, ms_error *err)
{
    return ms_x509_load_certs(l->certs, path, err);
}

int
ms_certlist_add_mem(ms_certlist *l, const void *data, size_t len,
                    ms_error *err)
{
    return ms_x509_parse_certs(l->certs, data, len, err);
}

size_t
ms_certlist_count(const ms_certlist *l)
{
    return (size_t)sk_X509_num(l->certs);
}
