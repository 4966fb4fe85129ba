/* fuzz/decrypt.c - ms_decrypt() with bob's RSA-2048 key. */
#include <openssl/err.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_ctx *ctx = ms_fuzz_ctx();
    const ms_identity *id = ms_fuzz_identity();
    ms_buf out;
    ms_error err;
    const char *cipher = NULL;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_buf_init_secret(&out, 0);
    (void)ms_decrypt(&out, ctx, id, data, size, &cipher, &err);
    ms_buf_cleanup(&out);
    ERR_clear_error();
    return 0;
}
