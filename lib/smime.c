/* smime.c - the message-level operations: sign, encrypt, seal, decrypt. */
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mailseal/smime.h>

#include "cms/cms.h"
#include "ctx.h"
#include "mime/body.h"
#include "mime/build.h"
#include "mime/mime.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"
#include "x509/load.h"

struct ms_recipients {
    ms_cms_rcpt *r;
    size_t n;
    size_t cap;
};

/*
 * Signs msg: outer receives the fields that stay outside (From, To, ...,
 * MIME-Version), signed the signed entity (Content-Type multipart/signed
 * or application/pkcs7-mime and its body). ms_sign() emits both; ms_seal()
 * encrypts the entity straight away, without building and re-parsing a
 * whole message.
 */
static int
sign_parts(ms_buf *outer, ms_buf *signed_entity, ms_ctx *ctx,
           const ms_identity *id, const ms_sign_options *opts,
           const void *msg, size_t len, ms_error *err)
{
    ms_mime m;
    ms_buf entity, der, none;
    bool opaque = opts != NULL && opts->opaque;
    int rc;

    if (opts != NULL && opts->version != MS_SIGN_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL, "unknown sign options version");
    ms_buf_init(&entity, 0);
    ms_buf_init(&der, 0);
    ms_buf_init(&none, 0);
    if ((rc = ms_mime_parse(&m, ctx, msg, len, err)) != 0)
        goto out;
    if ((rc = ms_build_split(outer, &entity, &m, true)) != 0) {
        rc = ms_error_set(err, rc, "cannot prepare the message");
        goto out;
    }
    if ((rc = ms_cms_sign(&der, ctx, id, entity.data, entity.len, !opaque,
                          opts != NULL ? opts->tsa_url : NULL, err)) != 0)
        goto out;
    if (opaque)
        rc = ms_build_pkcs7(signed_entity, &none, "signed-data", der.data,
                            der.len);
    else
        rc = ms_build_signed(signed_entity, &none, &entity, der.data,
                             der.len);
    if (rc != 0)
        rc = ms_error_set(err, rc, "cannot build the signed message");
out:
    ms_mime_cleanup(&m);
    ms_buf_cleanup(&entity);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&none);
    return rc;
}

int
ms_sign(ms_buf *out, ms_ctx *ctx, const ms_identity *id,
        const ms_sign_options *opts, const void *msg, size_t len,
        ms_error *err)
{
    ms_buf signed_entity;
    int rc;

    ms_buf_reset(out);
    ms_buf_init(&signed_entity, 0);
    if ((rc = sign_parts(out, &signed_entity, ctx, id, opts, msg, len,
                         err)) == 0 &&
        (rc = ms_buf_append(out, signed_entity.data, signed_entity.len)) !=
            0)
        rc = ms_error_set(err, rc, "signed message too large");
    if (rc != 0)
        ms_buf_reset(out);
    ms_buf_cleanup(&signed_entity);
    return rc;
}

int
ms_recipients_new(ms_recipients **out, ms_error *err)
{
    if ((*out = ms_calloc(1, sizeof(**out))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    return 0;
}

void
ms_recipients_free(ms_recipients *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        X509_free(r->r[i].cert);
    ms_free(r->r);
    ms_free(r);
}

static int
push_cert(ms_recipients *r, X509 *x, unsigned caps, ms_error *err)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap == 0 ? 4 : r->cap * 2;
        ms_cms_rcpt *nr = ms_realloc(r->r, ncap * sizeof(*nr));

        if (nr == NULL)
            return ms_error_set(err, MS_ENOMEM, "out of memory");
        r->r = nr;
        r->cap = ncap;
    }
    if (!X509_up_ref(x))
        return ms_error_set(err, MS_ERR, "cannot reference a certificate");
    r->r[r->n].cert = x;
    r->r[r->n].caps = caps;
    r->n++;
    return 0;
}

/*
 * RFC 5280 4.2.1.3: a keyUsage extension, when present, must allow the key
 * management the recipient's key takes part in: keyAgreement for EC (ECDH),
 * keyEncipherment for RSA key transport.
 */
static bool
can_encrypt_to(X509 *x)
{
    uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no extension */
    EVP_PKEY *pk = X509_get0_pubkey(x);  /* borrowed */

    if (pk == NULL)
        return false;
    if (EVP_PKEY_is_a(pk, "EC"))
        return (ku & KU_KEY_AGREEMENT) != 0;
    return (ku & KU_KEY_ENCIPHERMENT) != 0;
}

static int
push_stack(ms_recipients *r, STACK_OF(X509) *sk, unsigned caps,
           ms_error *err)
{
    int rc = 0;

    for (int i = 0; rc == 0 && i < sk_X509_num(sk); i++) {
        if (!can_encrypt_to(sk_X509_value(sk, i)))
            return ms_error_set(err, MS_EPOLICY,
                                "recipient certificate %d: its key usage "
                                "does not allow encryption",
                                i + 1);
        rc = push_cert(r, sk_X509_value(sk, i), caps, err);
    }
    return rc;
}

int
ms_recipients_add_file(ms_recipients *r, const char *path, unsigned caps,
                       ms_error *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    int rc;

    if (sk == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_x509_load_certs(sk, path, err)) == 0)
        rc = push_stack(r, sk, caps, err);
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int
ms_recipients_add_mem(ms_recipients *r, const void *data, size_t len,
                      unsigned caps, ms_error *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    int rc;

    if (sk == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_x509_parse_certs(sk, data, len, err)) == 0)
        rc = push_stack(r, sk, caps, err);
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int
ms_recipients_add_self(ms_recipients *r, const ms_identity *id, ms_error *err)
{
    X509 *x = id->enc_cert != NULL ? id->enc_cert : id->cert;

    if (!can_encrypt_to(x)) {
        /* A signing-only certificate gets no copy; a named one must fit. */
        if (id->enc_cert == NULL)
            return 0;
        return ms_error_set(err, MS_EPOLICY,
                            "the encryption certificate's key usage does "
                            "not allow encryption");
    }
    for (size_t i = 0; i < r->n; i++) {
        if (X509_cmp(r->r[i].cert, x) == 0)
            return 0;
    }
    /* We advertise GCM and OAEP ourselves (see cms/sign.c). */
    return push_cert(r, x, MS_CAP_GCM | MS_CAP_OAEP, err);
}

size_t
ms_recipients_count(const ms_recipients *r)
{
    return r->n;
}

static bool
is_signed(const ms_mime *m)
{
    const ms_mime_part *top = &m->parts[0];

    if (strcmp(top->type, "multipart/signed") == 0)
        return true;
    return ms_mime_is_pkcs7_mime(top) && top->smime_type != NULL &&
           strcmp(top->smime_type, "signed-data") == 0;
}

static ms_cipher
choose_cipher(const ms_recipients *r, ms_cipher asked)
{
    if (asked != MS_CIPHER_AUTO)
        return asked;
    for (size_t i = 0; i < r->n; i++) {
        if ((r->r[i].caps & MS_CAP_GCM) == 0)
            return MS_CIPHER_AES256_CBC;
    }
    return MS_CIPHER_AES256_GCM;
}

/* Encrypts entity with cipher c and appends outer + pkcs7-mime to out. */
static int
encrypt_entity(ms_buf *out, ms_ctx *ctx, const ms_recipients *r,
               const ms_encrypt_options *opts, ms_cipher c,
               const ms_buf *outer, const ms_buf *entity, ms_error *err)
{
    ms_buf der;
    int rc;

    ms_buf_init(&der, 0);
    if ((rc = ms_cms_encrypt(&der, ctx, r->r, r->n, c, opts->key_transport,
                             entity->data, entity->len, err)) != 0)
        goto out;
    rc = ms_build_pkcs7(out, outer,
                        c == MS_CIPHER_AES256_CBC ? "enveloped-data"
                                                  : "authEnveloped-data",
                        der.data, der.len);
    if (rc != 0)
        rc = ms_error_set(err, rc, "cannot build the encrypted message");
out:
    ms_buf_cleanup(&der);
    return rc;
}

int
ms_encrypt(ms_buf *out, ms_ctx *ctx, const ms_recipients *r,
           const ms_encrypt_options *opts, const void *msg, size_t len,
           ms_error *err)
{
    const ms_encrypt_options def = MS_ENCRYPT_OPTIONS_INIT;
    ms_mime m;
    ms_buf outer, entity;
    ms_cipher c;
    int rc;

    if (opts == NULL)
        opts = &def;
    if (opts->version != MS_ENCRYPT_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL, "unknown encrypt options version");
    ms_buf_reset(out);
    ms_buf_init(&outer, 0);
    ms_buf_init(&entity, 0);
    if ((rc = ms_mime_parse(&m, ctx, msg, len, err)) != 0)
        goto out;
    c = choose_cipher(r, opts->cipher);
    if (c == MS_CIPHER_AES256_CBC && !is_signed(&m)) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "AES-CBC has no integrity: only a signed message "
                          "may be encrypted with it (use seal, or "
                          "--cipher aes-256-gcm)");
        goto out;
    }
    if ((rc = ms_build_split(&outer, &entity, &m, false)) != 0) {
        rc = ms_error_set(err, rc, "cannot prepare the message");
        goto out;
    }
    rc = encrypt_entity(out, ctx, r, opts, c, &outer, &entity, err);
out:
    if (rc != 0)
        ms_buf_reset(out);
    ms_mime_cleanup(&m);
    ms_buf_cleanup(&outer);
    ms_buf_cleanup(&entity);
    return rc;
}

int
ms_seal(ms_buf *out, ms_ctx *ctx, const ms_identity *id,
        const ms_sign_options *sopts, const ms_recipients *r,
        const ms_encrypt_options *eopts, const void *msg, size_t len,
        ms_error *err)
{
    const ms_encrypt_options def = MS_ENCRYPT_OPTIONS_INIT;
    ms_recipients all = {NULL, 0, 0};
    ms_buf outer, signed_entity;
    int rc;

    if (eopts == NULL)
        eopts = &def;
    if (eopts->version != MS_ENCRYPT_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL, "unknown encrypt options version");
    ms_buf_reset(out);
    ms_buf_init(&outer, 0);
    ms_buf_init(&signed_entity, 0);
    for (size_t i = 0; r != NULL && i < r->n; i++) {
        if ((rc = push_cert(&all, r->r[i].cert, r->r[i].caps, err)) != 0)
            goto out;
    }
    if ((rc = ms_recipients_add_self(&all, id, err)) != 0)
        goto out;
    if (all.n == 0) {
        rc = ms_error_set(err, MS_EINVAL, "no recipients");
        goto out;
    }
    /* Sign-then-encrypt: the content is signed, so CBC is allowed here. */
    if ((rc = sign_parts(&outer, &signed_entity, ctx, id, sopts, msg, len,
                         err)) != 0)
        goto out;
    rc = encrypt_entity(out, ctx, &all, eopts,
                        choose_cipher(&all, eopts->cipher), &outer,
                        &signed_entity, err);
out:
    if (rc != 0)
        ms_buf_reset(out);
    for (size_t i = 0; i < all.n; i++)
        X509_free(all.r[i].cert);
    ms_free(all.r);
    ms_buf_cleanup(&outer);
    ms_buf_cleanup(&signed_entity);
    return rc;
}

int
ms_decrypt(ms_buf *out, ms_ctx *ctx, const ms_identity *id, const void *msg,
           size_t len, const char **cipher_out, ms_error *err)
{
    ms_mime m;
    ms_buf der, plain;
    const ms_mime_part *top;
    size_t outer_len;
    int rc;

    ms_buf_reset(out);
    ms_buf_init(&der, ctx->limits.max_message);
    ms_buf_init_secret(&plain, ctx->limits.max_message);
    if ((rc = ms_mime_parse(&m, ctx, msg, len, err)) != 0)
        goto out;
    top = &m.parts[0];
    if (!ms_mime_is_pkcs7_mime(top) ||
        (top->smime_type != NULL &&
         strcmp(top->smime_type, "enveloped-data") != 0 &&
         strcmp(top->smime_type, "authenveloped-data") != 0)) {
        rc = ms_error_set(err, MS_EMALFORMED, "not an encrypted message");
        goto out;
    }
    if ((rc = ms_mime_body_decoded(&der, &m, top, err)) != 0)
        goto out;
    /* plain = the outer fields, then the decrypted entity right after. */
    if ((rc = ms_build_split(&plain, NULL, &m, false)) != 0) {
        rc = ms_error_set(err, rc, "cannot build the decrypted message");
        goto out;
    }
    outer_len = plain.len;
    if ((rc = ms_cms_decrypt(&plain, ctx, id->cert, id->key, der.data,
                             der.len, cipher_out, err)) != 0)
        goto out;
    /* The entity is usually canonical already; else it is made so. */
    if (!ms_mime_has_bare_lf(plain.data + outer_len, plain.len - outer_len))
        rc = ms_buf_take(out, &plain);
    else if ((rc = ms_buf_append(out, plain.data, outer_len)) == 0)
        rc = ms_mime_canon_crlf(out, plain.data + outer_len,
                                plain.len - outer_len);
    if (rc != 0)
        rc = ms_error_set(err, rc, "cannot build the decrypted message");
out:
    if (rc != 0)
        ms_buf_reset(out);
    ms_mime_cleanup(&m);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&plain);
    return rc;
}
