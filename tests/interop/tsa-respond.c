/*
 * tests/interop/tsa-respond.c - ms-tsa-respond: one ms_tsa_respond() call
 * from the command line, so tests/interop/tsa.sh can check our responses
 * with `openssl ts`. TEST-ONLY: keys are read unencrypted.
 *
 * Usage: ms-tsa-respond CERT KEY CHAIN|- DB-URL <REQUEST.tsq >RESPONSE.tsr
 * Exits 0 with a TimeStampResp on stdout, 2 when the input is not a
 * TimeStampReq (MS_EINVAL: what the daemon answers with HTTP 400), 1 on
 * any other failure; errors go to stderr.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <mailseal/mailseal.h>

#include "ca/tsa.h"
#include "store/store.h"

static int
fail(const char *what, const ms_error *err)
{
    /* nothing better to do when stderr fails */
    (void)fprintf(stderr, "ms-tsa-respond: %s%s%s\n", what,
                  err != NULL ? ": " : "", err != NULL ? err->msg : "");
    return 1;
}

/* Adds the certificates of path ("-": none) to sk; false on failure. */
static bool
read_chain(STACK_OF(X509) *sk, const char *path)
{
    FILE *f;
    X509 *x;

    if (strcmp(path, "-") == 0)
        return true;
    if ((f = fopen(path, "r")) == NULL)
        return false;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        if (sk_X509_push(sk, x) <= 0)
            X509_free(x);
    (void)fclose(f); /* read-only stream */
    ERR_clear_error(); /* the end of the file */
    return true;
}

int
main(int argc, char **argv)
{
    static unsigned char req[MS_TSA_MAX_REQUEST + 1];
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *chain = NULL;
    ms_store *store = NULL;
    ms_tsa *tsa = NULL;
    ms_buf out;
    ms_error err;
    size_t len;
    FILE *f;
    int rc = 1;

    if (argc != 5) {
        return fail("usage: ms-tsa-respond CERT KEY CHAIN|- DB-URL "
                    "<REQUEST >RESPONSE",
                    NULL);
    }
    ms_buf_init(&out, 0);
    if (ms_library_init(&err) != 0)
        return fail("ms_library_init", &err);
    if ((f = fopen(argv[1], "r")) != NULL) {
        cert = PEM_read_X509(f, NULL, NULL, NULL);
        (void)fclose(f); /* read-only stream */
    }
    if ((f = fopen(argv[2], "r")) != NULL) {
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        (void)fclose(f); /* read-only stream */
    }
    len = fread(req, 1, sizeof(req), stdin);
    if (cert == NULL || key == NULL || (chain = sk_X509_new_null()) == NULL ||
        !read_chain(chain, argv[3]) || ferror(stdin)) {
        rc = fail("cannot read the certificate, key, chain or request", NULL);
        goto out;
    }
    if (ms_store_open(&store, argv[4], &err) != 0 ||
        ms_tsa_new(&tsa, NULL, cert, key, chain, store, &err) != 0) {
        rc = fail("TSA setup", &err);
        goto out;
    }
    if ((rc = ms_tsa_respond(tsa, req, len, &out, &err)) != 0) {
        rc = fail(ms_status_name(rc), &err) + (rc == MS_EINVAL ? 1 : 0);
        goto out;
    }
    if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)
        rc = fail("cannot write the response", NULL);
out:
    ms_buf_cleanup(&out);
    ms_tsa_free(tsa);
    ms_store_close(store);
    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    ms_library_cleanup();
    return rc;
}
