/*
 * fuzz/ca_csr.c - ms_ca_csr_check() on the input as a CSR (PEM or DER):
 * parsing, the weak-key check, proof of possession and the extension
 * requests, for a fixed V1 identity. Nothing is signed or stored.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "ca/issue.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ms_ca_identity id = {
        1, "bob@fuzz.example", NULL, NULL, NULL, NULL, NULL, NULL};
    EVP_PKEY *key = NULL;
    ms_error err;

    (void)ms_fuzz_ctx();
    if (size == 0 || size > MS_FUZZ_MAX_INPUT)
        return 0;
    /* The first octet picks the use; the rest is the CSR. */
    if (ms_ca_csr_check(&key, data + 1, size - 1, &id,
                        (data[0] & 1) != 0 ? MS_LINT_ENCRYPTION
                                           : MS_LINT_SIGNING,
                        &err) == 0 &&
        key == NULL)
        abort();
    EVP_PKEY_free(key);
    ERR_clear_error();
    return 0;
}
