/*
 * fuzz/ocsp_req.c - ms_ocsp_respond() on the input as an OCSPRequest.
 *
 * Set up once: the fixtures' P-256 root is the issuing CA, a delegated
 * responder (P-256, OCSPSigning) is generated for it, and a store
 * (sqlite::memory:) holds fixtures/ec-signer.pem (good) and
 * fixtures/signer.pem (revoked). Each input is answered twice (the second
 * answer may come from the cache), then the cache is dropped so inputs do
 * not influence each other. Seeds: corpus/ocsp_req/README.
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ocsp.h"
#include "fuzz.h"
#include "util/alloc.h"
#include "x509/info.h"

#define CA_NAME "mailseal Fuzz Root"

static ms_ocsp_responder *g_r;
static ms_store *g_store;

static time_t
fixed_clock(void *arg)
{
    (void)arg;
    return MS_FUZZ_TIME;
}

static void *
read_pem(const char *path, bool key)
{
    FILE *f = fopen(path, "rb");
    void *obj;

    if (f == NULL)
        ms_fuzz_die(path, NULL);
    obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
              : (void *)PEM_read_X509(f, NULL, NULL, NULL);
    (void)fclose(f); /* read-only */
    if (obj == NULL)
        ms_fuzz_die(path, NULL);
    return obj;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509_EXTENSION *e;

    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    if ((e = X509V3_EXT_nconf_nid(NULL, &v3, nid, value)) == NULL ||
        X509_add_ext(x, e, -1) != 1)
        ms_fuzz_die("responder extension", NULL);
    X509_EXTENSION_free(e);
}

/* A responder certificate for key under ca. */
static X509 *
make_responder(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
    X509 *x = X509_new();

    if (x == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(x), 0x0c59) != 1 ||
        X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName,
                                   MBSTRING_UTF8,
                                   (const unsigned char *)"Fuzz OCSP", -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
        ASN1_TIME_set(X509_getm_notBefore(x), MS_FUZZ_TIME - 86400) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), MS_FUZZ_TIME + 86400) == NULL ||
        X509_set_pubkey(x, key) != 1)
        ms_fuzz_die("responder certificate", NULL);
    add_ext(x, ca, NID_key_usage, "critical,digitalSignature");
    add_ext(x, ca, NID_ext_key_usage, "OCSPSigning");
    if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
        ms_fuzz_die("signing the responder", NULL);
    return x;
}

static void
store_cert(const char *path, bool revoke)
{
    X509 *x = read_pem(path, false);
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    ms_store_cert c;
    ms_error err;

    ms_store_cert_init(&c);
    c.serial_hex = ms_x509_serial_hex(x);
    c.issuer = (char *)(uintptr_t)CA_NAME; /* only read */
    c.subject_email = (char *)(uintptr_t)"fuzz@fuzz.example";
    c.level = 1;
    c.use = (char *)(uintptr_t)"signing";
    c.not_before = 0;
    c.not_after = MS_FUZZ_TIME * 2;
    if (n <= 0 || c.serial_hex == NULL ||
        ms_buf_append(&c.der, der, (size_t)n) != 0 ||
        ms_store_cert_insert(g_store, &c, &err) != 0 ||
        (revoke && ms_store_cert_revoke(g_store, CA_NAME, c.serial_hex, 1,
                                        MS_FUZZ_TIME - 60, &err) != 0))
        ms_fuzz_die("storing a certificate", NULL);
    ms_free(c.serial_hex);
    c.serial_hex = NULL;
    c.issuer = c.subject_email = c.use = NULL; /* ours, not the record's */
    ms_store_cert_cleanup(&c);
    OPENSSL_free(der);
    X509_free(x);
}

static void
setup(void)
{
    ms_ocsp_options opt = MS_OCSP_OPTIONS_INIT;
    X509 *ca = NULL;
    X509 *resp = NULL;
    EVP_PKEY *ca_key = NULL;
    EVP_PKEY *key = NULL;
    ms_error err;

    (void)ms_fuzz_ctx(); /* library initialisation */
    opt.clock = fixed_clock;
    ca = read_pem(MS_FUZZ_FIXTURES "/root.pem", false);
    ca_key = read_pem(MS_FUZZ_FIXTURES "/root.key", true);
    if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
        ms_fuzz_die("responder key", NULL);
    resp = make_responder(key, ca, ca_key);
    if (ms_store_open(&g_store, "sqlite::memory:", &err) != 0)
        ms_fuzz_die("ms_store_open", &err);
    ms_store_set_clock(g_store, fixed_clock, NULL);
    store_cert(MS_FUZZ_FIXTURES "/ec-signer.pem", false);
    store_cert(MS_FUZZ_FIXTURES "/signer.pem", true);
    if (ms_ocsp_responder_new(&g_r, &opt, &err) != 0 ||
        ms_ocsp_responder_add_issuer(g_r, ca, CA_NAME, resp, key, &err) != 0)
        ms_fuzz_die("responder", &err);
    X509_free(ca);
    X509_free(resp);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    ERR_clear_error();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (g_r == NULL)
        setup();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_buf resp;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    if (g_r == NULL)
        setup(); /* the corpus replay driver calls no initializer */
    ms_buf_init(&resp, 0);
    for (int i = 0; i < 2; i++)
        (void)ms_ocsp_respond(g_r, g_store, data, size, &resp, NULL);
    ms_buf_cleanup(&resp);
    ms_ocsp_responder_invalidate(g_r);
    ERR_clear_error();
    return 0;
}
