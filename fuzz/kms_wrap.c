/*
 * fuzz/kms_wrap.c - ms_kms_wrap_master_id() and ms_kms_unwrap() on the
 * input as a wrap blob, under a fixed TEST-ONLY master key (bytes 0x00..
 * 0x1f, as fuzz/gen-kms-corpus.py), for key id "fuzz-key-1" and mailbox
 * bob@fuzz.example. A blob that authenticates is decoded as PKCS#8.
 */
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "kms/escrow.h"
#include "kms/keygen.h"

static const ms_kms_master *
master(void)
{
    static ms_kms_master *m;
    uint8_t key[MS_KMS_MASTER_KEY_LEN];
    ms_error err;

    if (m != NULL)
        return m;
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)i;
    if (ms_kms_master_new(&m, key, &err) != 0)
        ms_fuzz_die("master key", &err);
    return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    EVP_PKEY *key = NULL;
    uint32_t id;
    ms_error err;
    ms_buf out;

    (void)ms_fuzz_ctx();
    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_buf_init_secret(&out, MS_KMS_PKCS8_MAX);
    (void)ms_kms_wrap_master_id(&id, data, size, &err);
    if (ms_kms_unwrap(&out, master(), "fuzz-key-1", "bob@fuzz.example", data,
                      size, &err) == 0) {
        if (out.len == 0 || out.len + MS_KMS_WRAP_OVERHEAD != size)
            abort();
        (void)ms_kms_pkcs8_decode(&key, out.data, out.len, &err);
    } else if (out.len != 0) {
        abort(); /* fail closed: nothing comes out of a failed unwrap */
    }
    EVP_PKEY_free(key);
    ms_buf_cleanup(&out);
    ERR_clear_error();
    return 0;
}
