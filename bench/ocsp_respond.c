/*
 * bench/ocsp_respond.c - ms_ocsp_respond() throughput, by hand (never a
 * timed test): cached answers (the same request bytes again, as every
 * client GET of one certificate looks) against uncached ones (a nonce:
 * parsed, looked up and signed every time), in one thread and in THREADS
 * threads each with its own store handle.
 *
 * Usage: mailseal-bench-ocsp [SECONDS [THREADS [rsa]]]  (default 2 1)
 * The CA and responder are made in memory (P-256, or RSA-2048 with "rsa");
 * the store is a SQLite file in a temp directory, removed at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <mailseal/mailseal.h>

#include "ca/ocsp.h"
#include "util/alloc.h"
#include "x509/info.h"

#define CA_NAME "mailseal Bench CA"

typedef struct run {
    ms_ocsp_responder *r;
    const char *url;
    const ms_buf *req;
    double seconds;
    unsigned long done;
    int failed;
} run;

static void
die(const char *what, const ms_error *err)
{
    fprintf(stderr, "bench: %s%s%s\n", what, err != NULL ? ": " : "",
            err != NULL ? err->msg : "");
    exit(1);
}

static double
now_s(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, long serial, X509 *ca,
          EVP_PKEY *ca_key, const char *ku, const char *eku)
{
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *e;

    if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
        X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName,
                                   MBSTRING_UTF8, (const unsigned char *)cn,
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca != NULL ? ca : x)) !=
            1 ||
        X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) == NULL ||
        X509_set_pubkey(x, key) != 1)
        die("certificate", NULL);
    X509V3_set_ctx(&v3, ca != NULL ? ca : x, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_nconf_nid(NULL, &v3, NID_key_usage, ku)) == NULL ||
        X509_add_ext(x, e, -1) != 1)
        die("keyUsage", NULL);
    X509_EXTENSION_free(e);
    e = NULL;
    if (eku != NULL &&
        ((e = X509V3_EXT_nconf_nid(NULL, &v3, NID_ext_key_usage, eku)) ==
             NULL ||
         X509_add_ext(x, e, -1) != 1))
        die("extKeyUsage", NULL);
    X509_EXTENSION_free(e);
    if (X509_sign(x, ca_key != NULL ? ca_key : key, EVP_sha256()) <= 0)
        die("signing", NULL);
    return x;
}

static void
store_cert(ms_store *s, X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    ms_store_cert c;
    char *hex = ms_x509_serial_hex(x);
    ms_error err;

    ms_store_cert_init(&c);
    c.serial_hex = hex;
    c.issuer = (char *)(uintptr_t)CA_NAME; /* only read */
    c.subject_email = (char *)(uintptr_t)"bench@example.net";
    c.level = 1;
    c.use = (char *)(uintptr_t)"signing";
    c.not_after = time(NULL) + 86400;
    if (n <= 0 || hex == NULL || ms_buf_append(&c.der, der, (size_t)n) != 0 ||
        ms_store_cert_insert(s, &c, &err) != 0)
        die("storing the certificate", &err);
    ms_buf_cleanup(&c.der);
    ms_free(hex);
    OPENSSL_free(der);
}

static void
request(ms_buf *out, X509 *leaf, X509 *ca, bool nonce)
{
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    unsigned char *der = NULL;
    int n;

    if (req == NULL ||
        OCSP_request_add0_id(req, OCSP_cert_to_id(NULL, leaf, ca)) == NULL ||
        (nonce && OCSP_request_add1_nonce(req, NULL, -1) != 1) ||
        (n = i2d_OCSP_REQUEST(req, &der)) <= 0 ||
        ms_buf_append(out, der, (size_t)n) != 0)
        die("request", NULL);
    OPENSSL_free(der);
    OCSP_REQUEST_free(req);
}

static void *
worker(void *arg)
{
    run *w = arg;
    ms_store *s = NULL;
    ms_buf resp;
    ms_error err;
    double end;

    ms_buf_init(&resp, 0);
    if (ms_store_open(&s, w->url, &err) != 0)
        die("ms_store_open", &err);
    end = now_s() + w->seconds;
    while ((w->done & 63) != 0 || now_s() < end) {
        if (ms_ocsp_respond(w->r, s, w->req->data, w->req->len, &resp,
                            &err) != 0)
            w->failed = 1;
        w->done++;
    }
    ms_store_close(s);
    ms_buf_cleanup(&resp);
    return NULL;
}

/* The store's revocation epoch read alone (one per ms_ocsp_respond()). */
static double
epoch_us(const char *url)
{
    ms_store *s = NULL;
    uint64_t epoch;
    ms_error err;
    double start;
    int n = 20000;

    if (ms_store_open(&s, url, &err) != 0)
        die("ms_store_open", &err);
    start = now_s();
    for (int i = 0; i < n; i++)
        if (ms_store_revocation_epoch(s, &epoch, &err) != 0)
            die("ms_store_revocation_epoch", &err);
    start = now_s() - start;
    ms_store_close(s);
    return 1e6 * start / n;
}

static double
measure(ms_ocsp_responder *r, const char *url, const ms_buf *req,
        double seconds, int threads)
{
    pthread_t t[64];
    run w[64];
    unsigned long total = 0;
    double start = now_s();
    double elapsed;

    for (int i = 0; i < threads; i++) {
        w[i] = (run){r, url, req, seconds, 0, 0};
        if (pthread_create(&t[i], NULL, worker, &w[i]) != 0)
            die("pthread_create", NULL);
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_join(t[i], NULL) != 0 || w[i].failed)
            die("a worker failed", NULL);
        total += w[i].done;
    }
    elapsed = now_s() - start;
    return (double)total / elapsed;
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    int threads = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 1;
    bool rsa = argc > 3 && strcmp(argv[3], "rsa") == 0;
    char dir[] = "/tmp/ms-bench-ocsp-XXXXXX";
    char url[96], path[96];
    EVP_PKEY *ca_key, *resp_key;
    X509 *ca, *resp, *leaf;
    ms_ocsp_responder *r = NULL;
    ms_store *s = NULL;
    ms_buf cached, fresh;
    ms_error err;
    double c1, u1;

    if (seconds <= 0 || threads < 1 || threads > 64)
        die("usage: mailseal-bench-ocsp [SECONDS [THREADS [rsa]]]", NULL);
    if (ms_library_init(&err) != 0)
        die("ms_library_init", &err);
    if (mkdtemp(dir) == NULL)
        die("mkdtemp", NULL);
    (void)snprintf(url, sizeof(url), "sqlite:%s/b.db", dir);
    ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    resp_key = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                   : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (ca_key == NULL || resp_key == NULL)
        die("keys", NULL);
    ca = make_cert(ca_key, CA_NAME, 1, NULL, NULL, "keyCertSign,cRLSign", NULL);
    resp = make_cert(resp_key, "Bench OCSP", 2, ca, ca_key,
                     "critical,digitalSignature", "OCSPSigning");
    leaf = make_cert(resp_key, "leaf", 0x5a1122334455667L, ca, ca_key,
                     "critical,digitalSignature", "emailProtection");
    if (ms_store_open(&s, url, &err) != 0)
        die("ms_store_open", &err);
    store_cert(s, leaf);
    if (ms_ocsp_responder_new(&r, NULL, &err) != 0 ||
        ms_ocsp_responder_add_issuer(r, ca, CA_NAME, resp, resp_key, &err) != 0)
        die("responder", &err);
    ms_buf_init(&cached, 0);
    ms_buf_init(&fresh, 0);
    request(&cached, leaf, ca, false);
    request(&fresh, leaf, ca, true);
    c1 = measure(r, url, &cached, seconds, threads);
    u1 = measure(r, url, &fresh, seconds, threads);
    printf("ocsp %s responder, %d thread(s): cached %.0f/s (%.2f us), "
           "uncached %.0f/s (%.1f us), ratio %.1f\n",
           rsa ? "RSA-2048" : "P-256", threads, c1, 1e6 * threads / c1, u1,
           1e6 * threads / u1, c1 / u1);
    printf("of which the store's revocation epoch read: %.2f us\n",
           epoch_us(url));
    ms_ocsp_responder_free(r);
    ms_store_close(s);
    for (size_t i = 0; i < 3; i++) {
        static const char *const ext[] = {"", "-wal", "-shm"};

        (void)snprintf(path, sizeof(path), "%s/b.db%s", dir, ext[i]);
        (void)unlink(path); /* some never exist */
    }
    (void)rmdir(dir);
    ms_buf_cleanup(&cached);
    ms_buf_cleanup(&fresh);
    X509_free(ca);
    X509_free(resp);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(resp_key);
    ms_library_cleanup();
    return 0;
}
