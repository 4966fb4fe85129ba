/* fuzz/from_addr.c - ms_addr_parse_from() on the input as one From value. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "mime/addr.h"
#include "util/alloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value, *addr = NULL;
    const char *why = NULL;

    (void)ms_fuzz_ctx();
    if (size > MS_FUZZ_MAX_INPUT || (value = malloc(size + 1)) == NULL)
        return 0;
    memcpy(value, data, size);
    value[size] = '\0';
    if (ms_addr_parse_from(&addr, value, &why) == 0) {
        (void)ms_addr_equal(addr, addr);
        ms_free(addr);
    }
    free(value);
    ERR_clear_error();
    return 0;
}
