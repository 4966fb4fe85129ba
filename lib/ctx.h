/*
 * ctx.h - the library context's internals, shared by the modules of lib/.
 */
#ifndef MS_CTX_INTERNAL_H
#define MS_CTX_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/ctx.h>

#define MS_OCSP_CACHE_SIZE 256

typedef struct ms_ocsp_entry {
    unsigned char key[32]; /* SHA-256 of the DER OCSP CertID */
    int status;            /* ms_revocation */
    int reason;            /* CRL reason or -1 */
    time_t revoked_at;
    time_t expires;        /* nextUpdate, or thisUpdate + 1 h */
    bool used;
} ms_ocsp_entry;

#define MS_CERT_CACHE_SIZE 128

/* A parsed certificate, keyed by the SHA-256 of its DER. */
typedef struct ms_cert_entry {
    unsigned char key[32];
    X509 *cert;        /* counted reference, NULL when free */
    unsigned long use; /* last use, for eviction */
} ms_cert_entry;

struct ms_ctx {
    OSSL_LIB_CTX *libctx; /* NULL: the default library context */
    const char *propq;
    ms_clock_fn clock;
    void *clock_arg;
    ms_limits limits;
    long net_timeout_ms;
    pthread_mutex_t ocsp_lock;
    ms_ocsp_entry ocsp_cache[MS_OCSP_CACHE_SIZE];
    size_t ocsp_next;
    BIO_METHOD *buf_sink; /* ms_cms_buf_sink_method(): BIOs into an ms_buf */
    pthread_mutex_t cert_lock;
    ms_cert_entry cert_cache[MS_CERT_CACHE_SIZE];
    unsigned long cert_tick;
};

#endif
