/*
 * fuzz/tsa_req.c - ms_tsa_respond() on the input as a TimeStampReq, by a
 * fixed TSA made once: fixtures/tsa.pem and tsa.key (P-256, critical
 * timeStamping EKU), store sqlite::memory:, clock at MS_FUZZ_TIME. Every
 * input must give either a response or MS_EINVAL, nothing else.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/tsa.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static ms_store *g_store;
static ms_tsa *g_tsa;

static time_t
fixed_clock(void *arg)
{
    (void)arg;
    return MS_FUZZ_TIME;
}

static void
setup(void)
{
    ms_tsa_options opt = MS_TSA_OPTIONS_INIT;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    FILE *f;
    ms_error err;

    (void)ms_fuzz_ctx(); /* ms_library_init() */
    if ((f = fopen(MS_FUZZ_FIXTURES "/tsa.pem", "r")) != NULL) {
        cert = PEM_read_X509(f, NULL, NULL, NULL);
        (void)fclose(f); /* read-only stream */
    }
    if ((f = fopen(MS_FUZZ_FIXTURES "/tsa.key", "r")) != NULL) {
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        (void)fclose(f); /* read-only stream */
    }
    if (cert == NULL || key == NULL)
        ms_fuzz_die("cannot load fixtures/tsa.pem and tsa.key", NULL);
    opt.clock = fixed_clock;
    opt.serial_block = MS_STORE_RESERVE_MAX; /* few audit rows */
    if (ms_store_open(&g_store, "sqlite::memory:", &err) != 0)
        ms_fuzz_die("ms_store_open", &err);
    if (ms_tsa_new(&g_tsa, &opt, cert, key, NULL, g_store, &err) != 0)
        ms_fuzz_die("ms_tsa_new", &err);
    X509_free(cert); /* the TSA holds its own references */
    EVP_PKEY_free(key);
    ERR_clear_error();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (g_tsa == NULL)
        setup();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_buf out;
    ms_error err;
    int rc;

    if (g_tsa == NULL) /* fuzz/driver.c does not call the initializer */
        setup();
    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_buf_init(&out, 0);
    rc = ms_tsa_respond(g_tsa, data, size, &out, &err);
    if ((rc == 0) != (out.len > 0) || (rc != 0 && rc != MS_EINVAL))
        abort(); /* a response exactly when 0; only MS_EINVAL otherwise */
    if (ERR_peek_error() != 0)
        abort(); /* ms_ calls leave the OpenSSL error queue empty */
    ms_buf_cleanup(&out);
    return 0;
}
