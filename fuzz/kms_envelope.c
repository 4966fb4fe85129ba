/*
 * fuzz/kms_envelope.c - ms_kms_open_from_server() on the input as a key
 * envelope, for a fixed TEST-ONLY X25519 device key (private bytes
 * 0x40..0x5f, as fuzz/gen-kms-corpus.py), key id "fuzz-key-1" and mailbox
 * bob@fuzz.example. An envelope that authenticates is decoded as PKCS#8.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "kms/deliver.h"
#include "kms/keygen.h"

static EVP_PKEY *
device(void)
{
    static EVP_PKEY *k;
    uint8_t priv[MS_KMS_X25519_LEN];

    if (k != NULL)
        return k;
    for (size_t i = 0; i < sizeof(priv); i++)
        priv[i] = (uint8_t)(0x40 + i);
    if ((k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
                                             sizeof(priv))) == NULL)
        ms_fuzz_die("device key", NULL);
    return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    EVP_PKEY *key = NULL;
    ms_error err;
    ms_buf out;

    (void)ms_fuzz_ctx();
    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_buf_init_secret(&out, MS_KMS_PKCS8_MAX);
    if (ms_kms_open_from_server(&out, device(), "fuzz-key-1",
                                "bob@fuzz.example", data, size, &err) == 0) {
        if (out.len == 0 || out.len + MS_KMS_ENVELOPE_OVERHEAD != size)
            abort();
        (void)ms_kms_pkcs8_decode(&key, out.data, out.len, &err);
    } else if (out.len != 0) {
        abort(); /* fail closed: nothing comes out of a failed open */
    }
    EVP_PKEY_free(key);
    ms_buf_cleanup(&out);
    ERR_clear_error();
    return 0;
}
