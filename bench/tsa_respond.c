/*
 * bench/tsa_respond.c - mailseal-bench-tsa: RFC 3161 responses per second.
 *
 * Usage: mailseal-bench-tsa [MS] [ROUNDS] [THREADS]
 *
 * For a P-256 and an RSA-2048 TSA key (made here, with a self-signed TSA
 * certificate; store sqlite::memory:), THREADS (default 2) threads run, in
 * each of ROUNDS (default 5) rounds, MS (default 1000) ms of each of:
 *   ceiling   EVP_DigestSignInit + EVP_DigestSign (SHA-256) of 200 bytes
 *             with the same key: the signature alone, a fresh context per
 *             operation as inside a token;
 *   ms_tsa    ms_tsa_respond() of one SHA-256 request with nonce and
 *             certReq (lib/ca/tsa.c: TSTInfo + PKCS7 built by us);
 *   ts_ctx    the same request through OpenSSL's TS_RESP_CTX (one context
 *             per thread, made before timing) and i2d_TS_RESP.
 * The modes alternate inside each round so that both sides of a ratio see
 * the same machine load. Prints the rates summed over all rounds and the
 * median of the per-round ratios to the ceiling.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include <mailseal/mailseal.h>

#include "ca/tsa.h"

#define MAX_THREADS 16
#define MAX_ROUNDS  99

enum { MODE_CEILING, MODE_MS_TSA, MODE_TS_CTX, MODE_COUNT };
static const char *const mode_names[] = {"ceiling", "ms_tsa", "ts_ctx"};

typedef struct tsa_key {
    const char *label;
    EVP_PKEY *key;
    X509 *cert;
    ms_store *store;
    ms_tsa *tsa;
} tsa_key;

typedef struct job {
    tsa_key *k;
    double deadline;
    const unsigned char *req;
    size_t req_len;
    unsigned long ops;
    int mode;
    int failed;
} job;

static atomic_ulong ts_serial;

static void
die(const char *what, const ms_error *err)
{
    fprintf(stderr, "mailseal-bench-tsa: %s%s%s\n", what,
            err != NULL ? ": " : "", err != NULL ? err->msg : "");
    ERR_print_errors_fp(stderr);
    exit(1);
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static X509 *
tsa_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *n;
    X509_EXTENSION *e;
    X509V3_CTX v3;

    if (x == NULL || !X509_set_version(x, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
        (n = X509_get_subject_name(x)) == NULL ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"bench TSA", -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, n) ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
        !X509_set_pubkey(x, key))
        die("cannot make the TSA certificate", NULL);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage,
                                 "critical,timeStamping")) == NULL ||
        !X509_add_ext(x, e, -1) || X509_sign(x, key, EVP_sha256()) <= 0)
        die("cannot sign the TSA certificate", NULL);
    X509_EXTENSION_free(e);
    return x;
}

static size_t
make_request(unsigned char **out)
{
    TS_REQ *r = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    ASN1_INTEGER *nonce = ASN1_INTEGER_new();
    unsigned char imprint[32];
    int len = 0;

    memset(imprint, 0xab, sizeof(imprint));
    if (r == NULL || mi == NULL || alg == NULL || nonce == NULL)
        die("out of memory", NULL);
    X509_ALGOR_set_md(alg, EVP_sha256());
    if (!TS_MSG_IMPRINT_set_algo(mi, alg) ||
        !TS_MSG_IMPRINT_set_msg(mi, imprint, 32) ||
        !ASN1_INTEGER_set(nonce, 0x3ade68b1) || !TS_REQ_set_version(r, 1) ||
        !TS_REQ_set_msg_imprint(r, mi) || !TS_REQ_set_nonce(r, nonce) ||
        !TS_REQ_set_cert_req(r, 1) || (len = i2d_TS_REQ(r, out)) <= 0)
        die("cannot make the request", NULL);
    TS_REQ_free(r);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    ASN1_INTEGER_free(nonce);
    return (size_t)len;
}

static ASN1_INTEGER *
serial_cb(TS_RESP_CTX *ctx, void *arg)
{
    ASN1_INTEGER *a = ASN1_INTEGER_new();

    (void)ctx;
    (void)arg;
    if (a != NULL && ASN1_INTEGER_set_uint64(a, ++ts_serial) != 1) {
        ASN1_INTEGER_free(a);
        return NULL;
    }
    return a;
}

/* The TS_RESP_CTX of the comparison, configured like our TSA. */
static TS_RESP_CTX *
ts_ctx_new(const tsa_key *k)
{
    const EVP_MD *mds[] = {EVP_sha256(),   EVP_sha384(),   EVP_sha512(),
                           EVP_sha3_256(), EVP_sha3_384(), EVP_sha3_512()};
    TS_RESP_CTX *c = TS_RESP_CTX_new();
    ASN1_OBJECT *pol = OBJ_txt2obj(MS_TSA_POLICY_DEFAULT, 1);

    if (c == NULL || pol == NULL || !TS_RESP_CTX_set_signer_cert(c, k->cert) ||
        !TS_RESP_CTX_set_signer_key(c, k->key) ||
        !TS_RESP_CTX_set_signer_digest(c, EVP_sha256()) ||
        !TS_RESP_CTX_set_ess_cert_id_digest(c, EVP_sha256()) ||
        !TS_RESP_CTX_set_def_policy(c, pol) ||
        !TS_RESP_CTX_set_accuracy(c, 1, 0, 0))
        die("cannot set up TS_RESP_CTX", NULL);
    for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
        if (!TS_RESP_CTX_add_md(c, mds[i]))
            die("cannot set up TS_RESP_CTX", NULL);
    TS_RESP_CTX_set_serial_cb(c, serial_cb, NULL);
    ASN1_OBJECT_free(pol);
    return c;
}

static int
one_ceiling(const tsa_key *k, const unsigned char *msg)
{
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL &&
             EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->key) == 1 &&
             EVP_DigestSign(md, sig, &siglen, msg, 200) == 1;

    EVP_MD_CTX_free(md);
    return ok;
}

static int
one_ms_tsa(const job *j)
{
    ms_buf out;
    ms_error err;
    int rc;

    ms_buf_init(&out, 0);
    rc = ms_tsa_respond(j->k->tsa, j->req, j->req_len, &out, &err);
    ms_buf_cleanup(&out);
    return rc == 0;
}

static int
one_ts_ctx(const job *j, TS_RESP_CTX *c)
{
    BIO *in = BIO_new_mem_buf(j->req, (int)j->req_len);
    TS_RESP *resp = in != NULL ? TS_RESP_create_response(c, in) : NULL;
    unsigned char *der = NULL;
    int ok = resp != NULL &&
             ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
                 TS_RESP_get_status_info(resp))) == TS_STATUS_GRANTED &&
             i2d_TS_RESP(resp, &der) > 0;

    OPENSSL_free(der);
    TS_RESP_free(resp);
    BIO_free(in);
    return ok;
}

static void *
run(void *arg)
{
    job *j = arg;
    unsigned char msg[200];
    TS_RESP_CTX *c = j->mode == MODE_TS_CTX ? ts_ctx_new(j->k) : NULL;

    memset(msg, 0x42, sizeof(msg));
    while (now_s() < j->deadline) {
        int ok;

        if (j->mode == MODE_CEILING)
            ok = one_ceiling(j->k, msg);
        else if (j->mode == MODE_MS_TSA)
            ok = one_ms_tsa(j);
        else
            ok = one_ts_ctx(j, c);
        if (!ok) {
            j->failed = 1;
            break;
        }
        j->ops++;
    }
    TS_RESP_CTX_free(c);
    return NULL;
}

/* Ops per second of mode over seconds with n threads. */
static double
measure(tsa_key *k, int mode, double seconds, int n, const unsigned char *req,
        size_t req_len)
{
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    unsigned long ops = 0;
    double start = now_s();

    for (int i = 0; i < n; i++) {
        jobs[i] = (job){k, start + seconds, req, req_len, 0, mode, 0};
        if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0)
            die("pthread_create", NULL);
    }
    for (int i = 0; i < n; i++) {
        if (pthread_join(th[i], NULL) != 0 || jobs[i].failed)
            die(mode_names[mode], NULL);
        ops += jobs[i].ops;
    }
    return (double)ops / (now_s() - start);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
bench_key(tsa_key *k, double seconds, int rounds, int threads,
          const unsigned char *req, size_t req_len)
{
    double sum[MODE_COUNT] = {0}, ratio[2][MAX_ROUNDS];

    for (int r = 0; r < rounds; r++) {
        double rate[MODE_COUNT];

        for (int m = 0; m < MODE_COUNT; m++) {
            rate[m] = measure(k, m, seconds, threads, req, req_len);
            sum[m] += rate[m];
        }
        ratio[0][r] = rate[MODE_MS_TSA] / rate[MODE_CEILING];
        ratio[1][r] = rate[MODE_TS_CTX] / rate[MODE_CEILING];
    }
    qsort(ratio[0], (size_t)rounds, sizeof(double), cmp_double);
    qsort(ratio[1], (size_t)rounds, sizeof(double), cmp_double);
    printf("%-9s %7d %12.0f %12.0f %7.1f%% %12.0f %7.1f%%\n", k->label, threads,
           sum[MODE_CEILING] / rounds, sum[MODE_MS_TSA] / rounds,
           100.0 * ratio[0][rounds / 2], sum[MODE_TS_CTX] / rounds,
           100.0 * ratio[1][rounds / 2]);
    fflush(stdout);
}

static long
arg_or(int argc, char **argv, int i, long def, long min, long max)
{
    char *end;
    long v;

    if (argc <= i)
        return def;
    v = strtol(argv[i], &end, 10);
    if (*end != '\0' || v < min || v > max) {
        fprintf(stderr,
                "usage: mailseal-bench-tsa [MS 100..60000] "
                "[ROUNDS 1..%d] [THREADS 1..%d]\n",
                MAX_ROUNDS, MAX_THREADS);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    double seconds = (double)arg_or(argc, argv, 1, 1000, 100, 60000) / 1000;
    int rounds = (int)arg_or(argc, argv, 2, 5, 1, MAX_ROUNDS);
    int threads = (int)arg_or(argc, argv, 3, 2, 1, MAX_THREADS);
    tsa_key keys[2] = {{"P-256", NULL, NULL, NULL, NULL},
                       {"RSA-2048", NULL, NULL, NULL, NULL}};
    unsigned char *req = NULL;
    size_t req_len = make_request(&req);
    ms_error err;

    if (ms_library_init(&err) != 0)
        die("ms_library_init", &err);
    keys[0].key = EVP_EC_gen("P-256");
    keys[1].key = EVP_RSA_gen(2048);
    printf("TSA responses per second, %d thread(s), median of %d rounds of "
           "%.1f s per mode\n",
           threads, rounds, seconds);
    printf("%-9s %7s %12s %12s %8s %12s %8s\n", "key", "threads", "ceiling/s",
           "ms_tsa/s", "ms/ceil", "ts_ctx/s", "ts/ceil");
    for (int i = 0; i < 2; i++) {
        tsa_key *k = &keys[i];

        if (k->key == NULL)
            die("key generation", NULL);
        k->cert = tsa_cert(k->key);
        if (ms_store_open(&k->store, "sqlite::memory:", &err) != 0 ||
            ms_tsa_new(&k->tsa, NULL, k->cert, k->key, NULL, k->store, &err) !=
                0)
            die("TSA setup", &err);
        bench_key(k, seconds, rounds, threads, req, req_len);
        ms_tsa_free(k->tsa);
        ms_store_close(k->store);
        X509_free(k->cert);
        EVP_PKEY_free(k->key);
    }
    OPENSSL_free(req);
    ms_library_cleanup();
    return 0;
}
