/*
 * fuzz/addr_norm.c - ms_addr_normalise() on the input as one address.
 *
 * Checks the contract as well as memory safety: a result is at most
 * MS_ADDR_NORM_MAX bytes of lower-case ASCII with one '@', is its own
 * normal form, and a refusal leaves the output empty.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "mime/addr.h"

static void
check_result(const char *out)
{
    char again[MS_ADDR_NORM_MAX + 1];
    const char *at = strchr(out, '@');
    size_t len = strlen(out);

    if (len == 0 || len > MS_ADDR_NORM_MAX || at == NULL ||
        strchr(at + 1, '@') != NULL || strpbrk(out, "*%?/\" ") != NULL)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];

        if (c <= 0x20 || c >= 0x7f || (c >= 'A' && c <= 'Z'))
            abort();
    }
    if (ms_addr_normalise(again, sizeof(again), out, NULL) != 0 ||
        strcmp(again, out) != 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[MS_ADDR_NORM_MAX + 1];
    char *in;
    ms_error err;

    if (size > MS_FUZZ_MAX_INPUT || (in = malloc(size + 1)) == NULL)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    if (ms_addr_normalise(out, sizeof(out), in, &err) == 0)
        check_result(out);
    else if (out[0] != '\0' || err.code != MS_EINVAL)
        abort();
    free(in);
    ERR_clear_error();
    return 0;
}
