/* fuzz/common.c - the fixed environment shared by the fuzz targets. */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "fuzz.h"

#ifndef MS_FUZZ_FIXTURES
#error "MS_FUZZ_FIXTURES must name the fuzz/fixtures directory"
#endif

static ms_ctx *g_ctx;
static ms_identity *g_id;
static ms_verifier *g_verifier;
static STACK_OF(X509) *g_anchors;

void
ms_fuzz_die(const char *msg, const ms_error *err)
{
    fprintf(stderr, "fuzz setup: %s%s%s\n", msg, err != NULL ? ": " : "",
            err != NULL ? err->msg : "");
    abort();
}

static time_t
fixed_clock(void *arg)
{
    (void)arg;
    return MS_FUZZ_TIME;
}

ms_ctx *
ms_fuzz_ctx(void)
{
    ms_error err;

    if (g_ctx != NULL)
        return g_ctx;
    if (ms_library_init(&err) != 0)
        ms_fuzz_die("ms_library_init", &err);
    if (ms_ctx_new(&g_ctx, &err) != 0)
        ms_fuzz_die("ms_ctx_new", &err);
    ms_ctx_set_clock(g_ctx, fixed_clock, NULL);
    ERR_clear_error();
    return g_ctx;
}

const ms_identity *
ms_fuzz_identity(void)
{
    ms_ctx *ctx = ms_fuzz_ctx();
    ms_error err;

    if (g_id != NULL)
        return g_id;
    if (ms_identity_load(&g_id, ctx, MS_FUZZ_FIXTURES "/rcpt.pem",
                         MS_FUZZ_FIXTURES "/rcpt.key", NULL, NULL,
                         &err) != 0)
        ms_fuzz_die("loading fixtures/rcpt.pem", &err);
    ERR_clear_error();
    return g_id;
}

const ms_verifier *
ms_fuzz_verifier(void)
{
    ms_ctx *ctx = ms_fuzz_ctx();
    ms_error err;

    if (g_verifier != NULL)
        return g_verifier;
    if (ms_verifier_new(&g_verifier, ctx, &err) != 0 ||
        ms_verifier_set_system_trust(g_verifier, false, &err) != 0 ||
        ms_verifier_add_trust_file(g_verifier, MS_FUZZ_FIXTURES "/root.pem",
                                   &err) != 0 ||
        ms_verifier_add_tsa_trust_file(g_verifier,
                                       MS_FUZZ_FIXTURES "/root.pem",
                                       &err) != 0)
        ms_fuzz_die("configuring the verifier", &err);
    ms_verifier_set_offline(g_verifier, true);
    ms_verifier_set_time(g_verifier, MS_FUZZ_TIME);
    ERR_clear_error();
    return g_verifier;
}

STACK_OF(X509) *
ms_fuzz_anchors(void)
{
    FILE *f;
    X509 *x = NULL;

    if (g_anchors != NULL)
        return g_anchors;
    (void)ms_fuzz_ctx();
    if ((f = fopen(MS_FUZZ_FIXTURES "/root.pem", "r")) == NULL)
        ms_fuzz_die("cannot open fixtures/root.pem", NULL);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL || (g_anchors = sk_X509_new_null()) == NULL ||
        sk_X509_push(g_anchors, x) <= 0)
        ms_fuzz_die("cannot load fixtures/root.pem", NULL);
    ERR_clear_error();
    return g_anchors;
}
