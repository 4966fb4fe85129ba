/*
 * enroll/certs.c - what enroll takes from the server and checks before
 * anything is installed: the CA certificates (anchors), the device's
 * signing certificate, and the escrowed encryption keys opened from their
 * envelopes.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ctx.h"
#include "enroll/enroll_int.h"
#include "kms/deliver.h"
#include "kms/keygen.h"
#include "util/base64.h"
#include "util/error.h"
#include "x509/info.h"
#include "x509/load.h"

#define CAS "fetching the CA certificates"
#define CERT "getting the signing certificate"
#define KEYS "getting the encryption keys"

int
ms_enroll_fetch_cas(ms_enroll_state *e, ms_error *err)
{
    ms_enroll_req q = {"GET", "/ca/chain.pem", NULL, NULL, 0, false, 200, CAS, 0};
    ms_http_reply r;
    X509 *x;
    int rc;

    ms_http_reply_init(&r);
    if ((e->cas = sk_X509_new_null()) == NULL ||
        (e->roots = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ms_enroll_api_call(&r, &e->api, &q, err)) != 0)
        goto out;
    if (ms_x509_parse_certs(e->cas, r.body.data, r.body.len, err) != 0 ||
        sk_X509_num(e->cas) == 0) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: the answer holds no certificate", CAS);
        goto out;
    }
    for (int i = 0; i < sk_X509_num(e->cas); i++) {
        x = sk_X509_value(e->cas, i);
        if (X509_check_ca(x) == 0) {
            rc = ms_error_set(err, MS_EPOLICY,
                              "%s: the server sent a certificate that is "
                              "not a CA",
                              CAS);
            goto out;
        }
        if ((X509_get_extension_flags(x) & EXFLAG_SS) != 0 &&
            !sk_X509_push(e->roots, x)) {
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (sk_X509_num(e->roots) == 0)
        rc = ms_error_set(err, MS_EPOLICY, "%s: no root certificate", CAS);
    else if (ms_buf_append(&e->cadata, r.body.data, r.body.len) != 0)
        rc = ms_error_set(err, MS_ETOOBIG, "%s: answer too large", CAS);
out:
    ms_http_reply_cleanup(&r);
    return rc;
}

/* Does x chain to e->roots for purpose, at the context's time? */
static bool
chains(const ms_enroll_state *e, X509 *x, STACK_OF(X509) * extra, int purpose)
{
    const ms_ctx *ctx = e->api.ctx;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *st = NULL;
    X509_STORE_CTX *vc = NULL;
    bool ok = false;

    if ((st = X509_STORE_new()) == NULL ||
        (vc = X509_STORE_CTX_new_ex(ctx->libctx, ctx->propq)) == NULL ||
        (untrusted = sk_X509_dup(e->cas)) == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(e->roots); i++) {
        if (!X509_STORE_add_cert(st, sk_X509_value(e->roots, i)))
            goto out;
    }
    for (int i = 0; extra != NULL && i < sk_X509_num(extra); i++) {
        if (!sk_X509_push(untrusted, sk_X509_value(extra, i)))
            goto out;
    }
    if (!X509_STORE_CTX_init(vc, st, x, untrusted) ||
        X509_STORE_CTX_set_purpose(vc, purpose) != 1)
        goto out;
    X509_STORE_CTX_set_time(vc, 0, ms_ctx_now(ctx));
    ok = X509_verify_cert(vc) == 1;
out:
    X509_STORE_CTX_free(vc);
    X509_STORE_free(st);
    sk_X509_free(untrusted); /* borrowed certificates */
    ERR_clear_error();       /* a failed check is an answer */
    return ok;
}

/* The checks every certificate from the server passes: an end entity of
 * our mailbox, for key, chaining to the anchors for purpose. */
static int
check_cert(const ms_enroll_state *e, X509 *x, EVP_PKEY *key,
           STACK_OF(X509) * extra, int purpose, const char *what,
           ms_error *err)
{
    if (X509_check_ca(x) != 0 || !ms_x509_has_email(x, e->addr))
        return ms_error_set(err, MS_EPOLICY,
                            "%s: the certificate is not one for %s", what,
                            e->addr);
    if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1) {
        ERR_clear_error();
        return ms_error_set(err, MS_EPOLICY,
                            "%s: the certificate is not for this key", what);
    }
    if (!chains(e, x, extra, purpose))
        return ms_error_set(err, MS_EPOLICY,
                            "%s: the certificate does not chain to the "
                            "server's root for S/MIME at this time",
                            what);
    return 0;
}

/* *out = the one certificate in PEM s; MS_EMALFORMED otherwise. */
static int
one_cert(X509 **out, const char *s, const char *what, ms_error *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    int rc = 0;

    *out = NULL;
    if (sk == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (s == NULL || ms_x509_parse_certs(sk, s, strlen(s), err) != 0 ||
        sk_X509_num(sk) != 1)
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: the answer holds no certificate", what);
    else
        *out = sk_X509_shift(sk);
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

/* e->chain = the PEM strings of the JSON array chain (at most 8). */
static int
take_chain(ms_enroll_state *e, json_t *chain, ms_error *err)
{
    X509 *x = NULL;
    int rc = 0;

    if ((e->chain = sk_X509_new_null()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (!json_is_array(chain) || json_array_size(chain) > 8)
        return ms_error_set(err, MS_EMALFORMED, "%s: bad \"chain\"", CERT);
    for (size_t i = 0; rc == 0 && i < json_array_size(chain); i++) {
        rc = one_cert(&x, json_string_value(json_array_get(chain, i)), CERT,
                      err);
        if (rc == 0 && !sk_X509_push(e->chain, x)) {
            X509_free(x);
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        }
    }
    return rc;
}

int
ms_enroll_get_cert(ms_enroll_state *e, ms_error *err)
{
    ms_enroll_req q = {"POST",     "/v1/certificates", "application/pkcs10",
                       e->csr.data, e->csr.len,        true,
                       201,        CERT, 0};
    json_t *o = NULL;
    ms_http_reply r;
    int rc;

    ms_http_reply_init(&r);
    if ((rc = ms_enroll_api_call(&r, &e->api, &q, err)) != 0 ||
        (rc = ms_enroll_api_json(&o, &r, CERT, err)) != 0 ||
        (rc = one_cert(&e->cert,
                       json_string_value(json_object_get(o, "certificate")),
                       CERT, err)) != 0 ||
        (rc = take_chain(e, json_object_get(o, "chain"), err)) != 0)
        goto out;
    rc = check_cert(e, e->cert, e->sign_key, e->chain, X509_PURPOSE_SMIME_SIGN,
                    CERT, err);
out:
    json_decref(o);
    ms_http_reply_cleanup(&r);
    return rc;
}

/* The JSON body {"device_public_key": base64url(pub)}. */
static int
key_request(char *out, size_t n, const uint8_t pub[MS_KMS_X25519_LEN])
{
    unsigned char b64[64];
    int len = EVP_EncodeBlock(b64, pub, MS_KMS_X25519_LEN);

    while (len > 0 && b64[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++)
        b64[i] = b64[i] == '+' ? '-' : (b64[i] == '/' ? '_' : b64[i]);
    return snprintf(out, n, "{\"device_public_key\":\"%.*s\"}", len,
                    (const char *)b64) < (int)n
               ? 0
               : MS_ERR;
}

/* True when s is 1..MS_KMS_KEY_ID_MAX printable ASCII characters. */
static bool
key_id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    }
    return n > 0 && n <= MS_KMS_KEY_ID_MAX;
}

/* Opens one entry of the keys array: e->enc_key/enc_cert[e->nenc]. */
static int
open_key(ms_enroll_state *e, EVP_PKEY *dev, json_t *k, ms_error *err)
{
    const char *id = json_string_value(json_object_get(k, "key_id"));
    const char *env = json_string_value(json_object_get(k, "envelope"));
    EVP_PKEY *key = NULL;
    X509 *x = NULL;
    ms_buf raw, pkcs8;
    ms_error why;
    int rc;

    ms_buf_init(&raw, MS_KMS_ENVELOPE_MAX);
    ms_buf_init_secret(&pkcs8, MS_KMS_PKCS8_MAX);
    if (!key_id_ok(id) || env == NULL || ms_base64_decode(&raw, env, strlen(env)) != 0) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: a key without a usable key id or envelope",
                          KEYS);
        goto out;
    }
    if ((rc = one_cert(&x, json_string_value(json_object_get(k,
                                                             "certificate")),
                       KEYS, err)) != 0)
        goto out;
    if ((rc = ms_kms_open_from_server(&pkcs8, dev, id, e->addr, raw.data,
                                      raw.len, &why)) != 0 ||
        (rc = ms_kms_pkcs8_decode(&key, pkcs8.data, pkcs8.len, &why)) != 0) {
        rc = ms_error_set(err, rc, "%s: key %s: %s", KEYS, id, why.msg);
        goto out;
    }
    if ((rc = check_cert(e, x, key, e->chain, X509_PURPOSE_SMIME_ENCRYPT,
                         KEYS, err)) != 0)
        goto out;
    e->enc_key[e->nenc] = key;
    e->enc_cert[e->nenc++] = x;
    key = NULL; /* e owns them now */
    x = NULL;
out:
    EVP_PKEY_free(key);
    X509_free(x);
    ms_buf_cleanup(&pkcs8);
    ms_buf_cleanup(&raw);
    return rc;
}

int
ms_enroll_get_keys(ms_enroll_state *e, ms_error *err)
{
    uint8_t pub[MS_KMS_X25519_LEN];
    char body[128];
    /* On a mailbox's first request the server makes its key (RSA-3072 by
     * default: seconds on a busy machine) and has it certified. */
    ms_enroll_req q = {"POST", "/v1/keys/encryption", "application/json",
                       body,   0,                     true,
                       200,    KEYS,                  120000};
    EVP_PKEY *dev = NULL;
    json_t *o = NULL, *keys;
    ms_http_reply r;
    size_t n;
    int rc;

    ms_http_reply_init(&r);
    if ((rc = ms_kms_device_keygen(&dev, pub, err)) != 0)
        goto out;
    if (key_request(body, sizeof(body), pub) != 0) {
        rc = ms_error_set(err, MS_ERR, "cannot encode the device key");
        goto out;
    }
    q.len = strlen(body);
    if ((rc = ms_enroll_api_call(&r, &e->api, &q, err)) != 0 ||
        (rc = ms_enroll_api_json(&o, &r, KEYS, err)) != 0)
        goto out;
    keys = json_object_get(o, "keys");
    n = json_array_size(keys);
    if (!json_is_array(keys) || n == 0 || n > MS_ENROLL_MAX_KEYS) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: the answer has no usable \"keys\"", KEYS);
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = open_key(e, dev, json_array_get(keys, i), err);
out:
    EVP_PKEY_free(dev); /* wipes the X25519 private key */
    json_decref(o);
    ms_http_reply_cleanup(&r);
    return rc;
}
