/*
 * fuzz/smime_open.c - ms_open() as a delivery filter runs it: decrypt with
 * bob's key when the message is encrypted, verify against the fuzz root
 * (offline, fixed time), then render the result (JSON, annotated output).
 */
#include <openssl/err.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_ctx *ctx = ms_fuzz_ctx();
    const ms_identity *id = ms_fuzz_identity();
    const ms_verifier *v = ms_fuzz_verifier();
    ms_result *r = NULL;
    ms_buf clear, out;
    ms_error err;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_buf_init(&clear, 0);
    ms_buf_init(&out, 0);
    if (ms_open(&r, &clear, ctx, v, id, data, size, &err) == 0) {
        (void)ms_verdict_name(ms_result_verdict(r));
        (void)ms_result_level(r);
        (void)ms_result_display(r);
        (void)ms_result_encrypted(r);
        for (size_t i = 0; i < ms_result_warning_count(r); i++)
            (void)ms_result_warning(r, i);
        (void)ms_result_json(&out, r, NULL);
        ms_buf_reset(&out);
        (void)ms_result_annotate(&out, r, clear.data, clear.len, NULL);
        ms_result_free(r);
    }
    ms_buf_cleanup(&clear);
    ms_buf_cleanup(&out);
    ERR_clear_error();
    return 0;
}
