/*
 * fuzz/lookup_json.c - ms_lookup_parse_json() on the input as a directory
 * answer for info@example.com: whatever parses leaves the certificates in
 * the two stacks, nothing else.
 */
#include <openssl/err.h>

#include "fuzz.h"
#include "lookup/lookup.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    STACK_OF(X509) *chain = sk_X509_new_null();
    ms_error err;

    (void)ms_fuzz_ctx();
    if (certs != NULL && chain != NULL && size <= MS_FUZZ_MAX_INPUT &&
        ms_lookup_parse_json(certs, chain, data, size, "info@example.com",
                             &err) == 0) {
        for (int i = 0; i < sk_X509_num(certs); i++)
            (void)ms_lookup_can_encrypt(sk_X509_value(certs, i));
    }
    sk_X509_pop_free(certs, X509_free);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return 0;
}
