/*
 * fuzz/tsp_verify.c - ms_tsp_verify() on the input as a DER timestamp
 * token over a fixed "signature" (the seed tokens were made over it), with
 * the fuzz root as the only anchor, as of the fixed time.
 */
#include <openssl/err.h>

#include "cms/tsp.h"
#include "fuzz.h"

/* The bytes the seed tokens time-stamp: fuzz/corpus/tsp_verify/README. */
static const unsigned char fixed_sig[] = "mailseal fuzz signature value\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_ctx *ctx = ms_fuzz_ctx();
    STACK_OF(X509) *anchors = ms_fuzz_anchors();
    ms_tsp_check check;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_tsp_verify(&check, ctx, data, size, fixed_sig, sizeof(fixed_sig) - 1,
                  anchors, MS_FUZZ_TIME);
    ERR_clear_error();
    return 0;
}
