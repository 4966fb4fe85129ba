/*
 * kms/deliver.c - envelopes carrying an escrowed key to one device:
 * ephemeral-static X25519, HKDF-SHA256, AES-256-GCM (kms/deliver.h).
 */
#include "kms/deliver.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "kms/kms_int.h"
#include "util/error.h"

#define ENV_TYPE  'E'
#define ENV_LABEL "mailseal kms envelope v1"
/* Offsets in an envelope. */
#define OFF_PUB   2
#define OFF_NONCE (OFF_PUB + MS_KMS_X25519_LEN)

int
ms_kms_device_keygen(EVP_PKEY **out, uint8_t pub[MS_KMS_X25519_LEN],
                     ms_error *err)
{
    EVP_PKEY *k = NULL;
    size_t n = MS_KMS_X25519_LEN;

    MS_ASSERT(out != NULL && pub != NULL);
    *out = NULL;
    if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL)
        return ms_error_set_ossl(err, MS_ERR, "X25519 key generation failed");
    if (EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 ||
        n != MS_KMS_X25519_LEN) {
        EVP_PKEY_free(k);
        return ms_error_set_ossl(err, MS_ERR, "cannot read the X25519 key");
    }
    *out = k;
    return 0;
}

/* HKDF info: label, key id, mailbox (length-prefixed). */
static void
env_info(ms_kms_aad *a, const char *key_id, const char *mailbox)
{
    memset(a, 0, sizeof(*a));
    ms_kms_aad_str(a, ENV_LABEL);
    ms_kms_aad_str(a, key_id);
    ms_kms_aad_str(a, mailbox);
}

/* GCM associated data: the 34 header bytes, device public, then info. */
static void
env_aad(ms_kms_aad *a, const unsigned char *header,
        const unsigned char *device_pub, const char *key_id,
        const char *mailbox)
{
    memset(a, 0, sizeof(*a));
    ms_kms_aad_raw(a, header, OFF_NONCE);
    ms_kms_aad_raw(a, device_pub, MS_KMS_X25519_LEN);
    ms_kms_aad_str(a, ENV_LABEL);
    ms_kms_aad_str(a, key_id);
    ms_kms_aad_str(a, mailbox);
}

/* shared = X25519(priv, peer); OpenSSL refuses an all-zero result. */
static int
x25519(unsigned char shared[MS_KMS_X25519_LEN], EVP_PKEY *priv,
       const unsigned char *peer_raw, ms_error *err)
{
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *pc = NULL;
    size_t n = MS_KMS_X25519_LEN;
    int rc = 0;

    if ((peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_raw,
                                               MS_KMS_X25519_LEN)) == NULL ||
        (pc = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set up X25519");
        goto out;
    }
    if (EVP_PKEY_derive_init(pc) != 1 ||
        EVP_PKEY_derive_set_peer_ex(pc, peer, 0) != 1 ||
        EVP_PKEY_derive(pc, shared, &n) != 1 || n != MS_KMS_X25519_LEN) {
        OPENSSL_cleanse(shared, MS_KMS_X25519_LEN);
        rc = ms_error_set_ossl(err, MS_EINVAL,
                               "X25519 failed: a public key of low order");
    }
out:
    EVP_PKEY_CTX_free(pc);
    EVP_PKEY_free(peer);
    return rc;
}

/* key = HKDF-SHA256(shared, server_pub || device_pub, info). */
static int
hkdf(unsigned char key[MS_KMS_GCM_KEY_LEN],
     unsigned char shared[MS_KMS_X25519_LEN], const unsigned char *server_pub,
     const unsigned char *device_pub, const char *key_id, const char *mailbox,
     ms_error *err)
{
    unsigned char salt[2 * MS_KMS_X25519_LEN];
    char digest[] = "SHA256";
    OSSL_PARAM params[5];
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kc = NULL;
    ms_kms_aad info;
    int rc = 0;

    memcpy(salt, server_pub, MS_KMS_X25519_LEN);
    memcpy(salt + MS_KMS_X25519_LEN, device_pub, MS_KMS_X25519_LEN);
    env_info(&info, key_id, mailbox);
    MS_ASSERT(!info.overflow);
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared,
                                                  MS_KMS_X25519_LEN);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt,
                                                  sizeof(salt));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  info.data, info.len);
    params[4] = OSSL_PARAM_construct_end();
    if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
        (kc = EVP_KDF_CTX_new(kdf)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set up HKDF");
        goto out;
    }
    if (EVP_KDF_derive(kc, key, MS_KMS_GCM_KEY_LEN, params) != 1) {
        OPENSSL_cleanse(key, MS_KMS_GCM_KEY_LEN);
        rc = ms_error_set_ossl(err, MS_ERR, "HKDF failed");
    }
out:
    /* Frees the context, which wipes its copy of the secret. */
    EVP_KDF_CTX_free(kc);
    EVP_KDF_free(kdf);
    return rc;
}

/* The AES key of the envelope from our private key and the peer's raw
 * public key; server_pub/device_pub are the raw keys of the two sides. */
static int
env_key(unsigned char key[MS_KMS_GCM_KEY_LEN], EVP_PKEY *priv,
        const unsigned char *peer, const unsigned char *server_pub,
        const unsigned char *device_pub, const char *key_id,
        const char *mailbox, ms_error *err)
{
    unsigned char shared[MS_KMS_X25519_LEN];
    int rc;

    if ((rc = x25519(shared, priv, peer, err)) == 0)
        rc = hkdf(key, shared, server_pub, device_pub, key_id, mailbox, err);
    OPENSSL_cleanse(shared, sizeof(shared));
    return rc;
}

/* Checks the arguments of a seal; the device key's length and form. */
static int
seal_check(const uint8_t *device_pub, size_t device_pub_len, const char *key_id,
           const char *mailbox, const uint8_t *pkcs8, size_t len, ms_error *err)
{
    int rc;

    if ((rc = ms_kms_names_check(mailbox, key_id, err)) != 0)
        return rc;
    if (device_pub == NULL || device_pub_len != MS_KMS_X25519_LEN)
        return ms_error_set(err, MS_EINVAL,
                            "the device key must be a raw X25519 public key "
                            "of %d bytes",
                            MS_KMS_X25519_LEN);
    if (len > MS_KMS_PKCS8_MAX)
        return ms_error_set(err, MS_ETOOBIG, "the key is over %d bytes",
                            MS_KMS_PKCS8_MAX);
    if (pkcs8 == NULL || len == 0 || !ms_kms_is_pkcs8(pkcs8, len))
        return ms_error_set(err, MS_EINVAL,
                            "the key to deliver is not a DER PKCS#8 "
                            "PrivateKeyInfo");
    return 0;
}

int
ms_kms_seal_for_device(ms_buf *out, const uint8_t *device_pub,
                       size_t device_pub_len, const char *key_id,
                       const char *mailbox, const uint8_t *pkcs8, size_t len,
                       ms_error *err)
{
    unsigned char key[MS_KMS_GCM_KEY_LEN];
    EVP_PKEY *eph = NULL;
    ms_kms_aad aad;
    unsigned char *b;
    int rc;

    MS_ASSERT(out != NULL);
    if ((rc = seal_check(device_pub, device_pub_len, key_id, mailbox, pkcs8,
                         len, err)) != 0)
        return rc;
    if ((rc = ms_buf_reserve(out, len + MS_KMS_ENVELOPE_OVERHEAD)) != 0)
        return ms_error_set(err, rc, "no room for the envelope");
    b = out->data + out->len;
    b[0] = ENV_TYPE;
    b[1] = MS_KMS_ENVELOPE_VERSION;
    if ((rc = ms_kms_device_keygen(&eph, b + OFF_PUB, err)) != 0)
        goto out;
    if (RAND_bytes(b + OFF_NONCE, MS_KMS_GCM_NONCE_LEN) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "no randomness for the nonce");
        goto out;
    }
    if ((rc = env_key(key, eph, device_pub, b + OFF_PUB, device_pub, key_id,
                      mailbox, err)) != 0)
        goto out;
    env_aad(&aad, b, device_pub, key_id, mailbox);
    if ((rc = ms_kms_gcm_seal(b + MS_KMS_ENVELOPE_HEADER,
                              b + MS_KMS_ENVELOPE_HEADER + len, key,
                              b + OFF_NONCE, &aad, pkcs8, len, err)) != 0)
        goto out;
    out->len += len + MS_KMS_ENVELOPE_OVERHEAD;
    out->data[out->len] = '\0';
out:
    OPENSSL_cleanse(key, sizeof(key));
    EVP_PKEY_free(eph); /* wipes the ephemeral private key */
    return rc;
}

int
ms_kms_release(ms_buf *out, const ms_kms_master *m, const char *key_id,
               const char *mailbox, const uint8_t *blob, size_t blob_len,
               const uint8_t *device_pub, size_t device_pub_len, ms_error *err)
{
    ms_buf pkcs8;
    int rc;

    ms_buf_init_secret(&pkcs8, MS_KMS_PKCS8_MAX);
    if ((rc = ms_kms_unwrap(&pkcs8, m, key_id, mailbox, blob, blob_len, err)) ==
        0)
        rc = ms_kms_seal_for_device(out, device_pub, device_pub_len, key_id,
                                    mailbox, pkcs8.data, pkcs8.len, err);
    ms_buf_cleanup(&pkcs8); /* wipes */
    return rc;
}

/* The structure of an envelope: size, type, version. */
static int
env_parse(const uint8_t *env, size_t len, ms_error *err)
{
    if (len > MS_KMS_ENVELOPE_MAX)
        return ms_error_set(err, MS_ETOOBIG, "key envelope over %d bytes",
                            MS_KMS_ENVELOPE_MAX);
    if (env == NULL || len < MS_KMS_ENVELOPE_OVERHEAD + 1)
        return ms_error_set(err, MS_EMALFORMED, "key envelope too short");
    if (env[0] != ENV_TYPE)
        return ms_error_set(err, MS_EMALFORMED, "not a key envelope");
    if (env[1] != MS_KMS_ENVELOPE_VERSION)
        return ms_error_set(err, MS_EMALFORMED,
                            "key envelope of unknown version %u",
                            (unsigned)env[1]);
    return 0;
}

int
ms_kms_open_from_server(ms_buf *pkcs8_out, EVP_PKEY *device_private,
                        const char *key_id, const char *mailbox,
                        const uint8_t *envelope, size_t len, ms_error *err)
{
    unsigned char key[MS_KMS_GCM_KEY_LEN];
    unsigned char dpub[MS_KMS_X25519_LEN];
    size_t n = sizeof(dpub), priv_len = 0;
    ms_kms_aad aad;
    size_t ctlen;
    int rc;

    MS_ASSERT(pkcs8_out != NULL && device_private != NULL);
    if (!pkcs8_out->secret)
        return ms_error_set(err, MS_EINVAL,
                            "a private key goes only into a secret buffer");
    if ((rc = ms_kms_names_check(mailbox, key_id, err)) != 0 ||
        (rc = env_parse(envelope, len, err)) != 0)
        return rc;
    if (!EVP_PKEY_is_a(device_private, "X25519") ||
        EVP_PKEY_get_raw_public_key(device_private, dpub, &n) != 1 ||
        n != sizeof(dpub) ||
        EVP_PKEY_get_raw_private_key(device_private, NULL, &priv_len) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the device key is not an X25519 private "
                                 "key");
    ctlen = len - MS_KMS_ENVELOPE_OVERHEAD;
    if ((rc = ms_buf_reserve(pkcs8_out, ctlen)) != 0)
        return ms_error_set(err, rc, "no room for the key");
    /* A low-order server key is a damaged envelope like any other. */
    rc = env_key(key, device_private, envelope + OFF_PUB, envelope + OFF_PUB,
                 dpub, key_id, mailbox, err);
    if (rc == MS_EINVAL)
        rc = ms_error_set(err, MS_EBADSIG,
                          "key envelope: unusable server key (damaged)");
    if (rc != 0)
        goto out;
    env_aad(&aad, envelope, dpub, key_id, mailbox);
    if ((rc = ms_kms_gcm_open(pkcs8_out->data + pkcs8_out->len, key,
                              envelope + OFF_NONCE, &aad,
                              envelope + MS_KMS_ENVELOPE_HEADER, ctlen,
                              envelope + MS_KMS_ENVELOPE_HEADER + ctlen,
                              "key envelope", err)) != 0)
        goto out;
    pkcs8_out->len += ctlen;
    pkcs8_out->data[pkcs8_out->len] = '\0';
out:
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}
