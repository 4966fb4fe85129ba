/* tests/unit/test_smime.c - lib/smime.c through the public API: sign,
 * encrypt, seal, decrypt, then open and judge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>

#include <mailseal/mailseal.h>

#include "mime/body.h"
#include "mime/mime.h"
#include "ms_test.h"
#include "util/alloc.h"
#include "util/base64.h"

static const char msg_v1[] = "From: Eve <eve@example.net>\r\n"
                             "To: john.doe@example.org\r\n"
                             "Subject: unit test\r\n"
                             "\r\n"
                             "Hello from the unit tests.\n";

typedef struct fixture {
    time_t now;
    ms_ctx *ctx;
    ms_identity *v1;      /* signer: eve@example.net, level 1 */
    ms_identity *v2;      /* signer: john.doe@example.org, level 2 */
    ms_identity *v2_enc;  /* john's decryption key */
    ms_identity *v3_enc;  /* an unrelated decryption key */
    ms_verifier *ver;
    ms_recipients *to_v2; /* john's encryption cert, GCM and OAEP */
} fixture;

static ms_identity *
load_identity(fixture *f, const char *cert, const char *key,
              const char *chain)
{
    ms_identity *id = NULL;
    ms_error err;
    char c[4096], k[4096], ch[4096];

    (void)snprintf(c, sizeof(c), "%s", ms_test_pki(cert));
    (void)snprintf(k, sizeof(k), "%s", ms_test_pki(key));
    if (chain != NULL)
        (void)snprintf(ch, sizeof(ch), "%s", ms_test_pki(chain));
    if (ms_identity_load(&id, f->ctx, c, k, chain != NULL ? ch : NULL, NULL,
                         &err) != 0)
        fail_msg("%s: %s", cert, err.msg);
    return id;
}

static int
setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));
    ms_error err;

    f->now = MS_TEST_NOW;
    f->ctx = ms_test_ctx(&f->now);
    f->v1 = load_identity(f, "v1-sign.pem", "v1-sign.key", "v1-chain.pem");
    f->v2 = load_identity(f, "v2-sign.pem", "v2-sign.key", "v2-chain.pem");
    f->v2_enc = load_identity(f, "v2-enc.pem", "v2-enc.key", NULL);
    f->v3_enc = load_identity(f, "v3-enc.pem", "v3-enc.key", NULL);
    assert_int_equal(ms_verifier_new(&f->ver, f->ctx, &err), 0);
    assert_int_equal(ms_verifier_set_system_trust(f->ver, false, &err), 0);
    assert_int_equal(
        ms_verifier_add_trust_file(f->ver, ms_test_pki("root.pem"), &err), 0);
    ms_verifier_set_offline(f->ver, true);
    assert_int_equal(ms_recipients_new(&f->to_v2, &err), 0);
    assert_int_equal(ms_recipients_add_file(f->to_v2,
                                            ms_test_pki("v2-enc.pem"),
                                            MS_CAP_GCM | MS_CAP_OAEP, &err),
                     0);
    ERR_clear_error();
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    ms_recipients_free(f->to_v2);
    ms_verifier_free(f->ver);
    ms_identity_free(f->v1);
    ms_identity_free(f->v2);
    ms_identity_free(f->v2_enc);
    ms_identity_free(f->v3_enc);
    ms_ctx_free(f->ctx);
    test_free(f);
    return 0;
}

static void
sign(fixture *f, ms_buf *out, const ms_identity *id, bool opaque,
     const char *msg)
{
    ms_sign_options o = MS_SIGN_OPTIONS_INIT;
    ms_error err;

    o.opaque = opaque;
    if (ms_sign(out, f->ctx, id, &o, msg, strlen(msg), &err) != 0)
        fail_msg("ms_sign: %s", err.msg);
    assert_int_equal(ERR_peek_error(), 0);
}

static ms_result *
open_msg(fixture *f, const ms_identity *id, const ms_buf *in,
         ms_buf *clear)
{
    ms_result *r = NULL;
    ms_error err;

    if (ms_open(&r, clear, f->ctx, f->ver, id, in->data, in->len, &err) != 0)
        fail_msg("ms_open: %s", err.msg);
    assert_non_null(r);
    assert_int_equal(ERR_peek_error(), 0);
    return r;
}

static void
assert_verdict(const ms_result *r, ms_verdict want)
{
    if (ms_result_verdict(r) != want)
        fail_msg("verdict %s, want %s (%s)",
                 ms_verdict_name(ms_result_verdict(r)), ms_verdict_name(want),
                 ms_result_display(r));
}

static void
test_smime__sign_then_open_v1(void **state)
{
    fixture *f = *state;
    ms_buf s, clear;
    ms_result *r;

    ms_buf_init(&s, 0);
    ms_buf_init(&clear, 0);
    sign(f, &s, f->v1, false, msg_v1);
    r = open_msg(f, NULL, &s, &clear);
    assert_verdict(r, MS_VERDICT_MAILBOX_VALIDATED);
    assert_int_equal(ms_result_level(r), 1);
    assert_false(ms_result_encrypted(r));
    assert_non_null(strstr(ms_result_display(r), "eve@example.net"));
    /* The cleartext is the signed message, byte for byte. */
    assert_int_equal(clear.len, s.len);
    assert_memory_equal(clear.data, s.data, s.len);
    ms_result_free(r);
    ms_buf_cleanup(&s);
    ms_buf_cleanup(&clear);
}

static void
test_smime__sign_then_open_v2_opaque(void **state)
{
    static const char msg[] = "From: john.doe@example.org\r\n"
                              "Subject: opaque\r\n\r\nopaque body\r\n";
    fixture *f = *state;
    ms_buf s, clear;
    ms_result *r;

    ms_buf_init(&s, 0);
    ms_buf_init(&clear, 0);
    sign(f, &s, f->v2, true, msg);
    assert_non_null(strstr((char *)s.data, "smime-type=signed-data"));
    r = open_msg(f, NULL, &s, &clear);
    assert_verdict(r, MS_VERDICT_VALIDATED);
    assert_int_equal(ms_result_level(r), 2);
    assert_non_null(strstr(ms_result_display(r), "John Doe"));
    /* Unwrapped: the reader gets the content, not the DER. */
    assert_non_null(strstr((char *)clear.data, "opaque body\r\n"));
    assert_null(strstr((char *)clear.data, "pkcs7-mime"));
    ms_result_free(r);
    ms_buf_cleanup(&s);
    ms_buf_cleanup(&clear);
}

static void
test_smime__from_mismatch(void **state)
{
    static const char msg[] = "From: ceo@bank.example\r\n\r\nPay now.\r\n";
    fixture *f = *state;
    ms_buf s;
    ms_result *r;

    ms_buf_init(&s, 0);
    sign(f, &s, f->v1, false, msg);
    r = open_msg(f, NULL, &s, NULL);
    assert_verdict(r, MS_VERDICT_MISMATCH);
    assert_int_equal(ms_result_level(r), 0);
    ms_result_free(r);
    ms_buf_cleanup(&s);
}

/* Flips one byte of the body text after the signature was made. */
static void
test_smime__tampered_signed_is_invalid(void **state)
{
    fixture *f = *state;
    ms_buf s;
    ms_result *r;
    char *p;

    ms_buf_init(&s, 0);
    sign(f, &s, f->v1, false, msg_v1);
    p = strstr((char *)s.data, "Hello from");
    assert_non_null(p);
    *p = 'J';
    r = open_msg(f, NULL, &s, NULL);
    assert_verdict(r, MS_VERDICT_INVALID);
    ms_result_free(r);
    ms_buf_cleanup(&s);
}

static void
test_smime__unsigned(void **state)
{
    fixture *f = *state;
    ms_buf m;
    ms_result *r;

    ms_buf_init(&m, 0);
    assert_int_equal(ms_buf_puts(&m, msg_v1), 0);
    r = open_msg(f, NULL, &m, NULL);
    assert_verdict(r, MS_VERDICT_UNSIGNED);
    ms_result_free(r);
    ms_buf_cleanup(&m);
}

static void
test_smime__seal_then_open_with_key(void **state)
{
    fixture *f = *state;
    ms_buf s, clear;
    ms_result *r;
    ms_error err;

    ms_buf_init(&s, 0);
    ms_buf_init(&clear, 0);
    assert_int_equal(ms_seal(&s, f->ctx, f->v1, NULL, f->to_v2, NULL, msg_v1,
                             strlen(msg_v1), &err),
                     0);
    assert_int_equal(ERR_peek_error(), 0);
    assert_null(strstr((char *)s.data, "Hello from"));
    r = open_msg(f, f->v2_enc, &s, &clear);
    assert_verdict(r, MS_VERDICT_MAILBOX_VALIDATED);
    assert_true(ms_result_encrypted(r));
    assert_non_null(strstr((char *)clear.data, "Hello from the unit tests."));
    ms_result_free(r);
    /* Without a key: the verdict says so. */
    r = open_msg(f, NULL, &s, NULL);
    assert_verdict(r, MS_VERDICT_ERROR);
    assert_true(ms_result_encrypted(r));
    ms_result_free(r);
    /* v1 has no encryption certificate and its signing key may not
     * decrypt: it gets no copy of its own. */
    r = open_msg(f, f->v1, &s, NULL);
    assert_verdict(r, MS_VERDICT_ERROR);
    ms_result_free(r);
    ms_buf_cleanup(&s);
    ms_buf_cleanup(&clear);
}

static void
encrypt(fixture *f, ms_buf *out, ms_cipher c, const char *msg, int want)
{
    ms_encrypt_options o = MS_ENCRYPT_OPTIONS_INIT;
    ms_error err;

    o.cipher = c;
    assert_int_equal(ms_encrypt(out, f->ctx, f->to_v2, &o, msg, strlen(msg),
                                &err),
                     want);
    if (want != 0) {
        assert_int_equal(err.code, want);
        assert_int_equal(out->len, 0);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

static void
decrypt_ok(fixture *f, const ms_buf *in, const char *want_cipher,
           const char *want_text)
{
    ms_buf plain;
    ms_error err;
    const char *cipher = NULL;

    ms_buf_init(&plain, 0);
    if (ms_decrypt(&plain, f->ctx, f->v2_enc, in->data, in->len, &cipher,
                   &err) != 0)
        fail_msg("ms_decrypt: %s", err.msg);
    assert_string_equal(cipher, want_cipher);
    assert_non_null(strstr((char *)plain.data, want_text));
    assert_int_equal(ERR_peek_error(), 0);
    ms_buf_cleanup(&plain);
}

static void
test_smime__encrypt_gcm_round_trip(void **state)
{
    fixture *f = *state;
    ms_buf e;

    ms_buf_init(&e, 0);
    encrypt(f, &e, MS_CIPHER_AUTO, msg_v1, 0);
    assert_non_null(strstr((char *)e.data, "authEnveloped-data"));
    decrypt_ok(f, &e, "aes-256-gcm", "Hello from the unit tests.\r\n");
    ms_buf_reset(&e);
    encrypt(f, &e, MS_CIPHER_AES128_GCM, msg_v1, 0);
    decrypt_ok(f, &e, "aes-128-gcm", "Hello from the unit tests.\r\n");
    ms_buf_cleanup(&e);
}

static void
test_smime__encrypt_cbc_unsigned_is_policy_error(void **state)
{
    fixture *f = *state;
    ms_buf e;
    ms_recipients *no_gcm = NULL;
    ms_error err;

    ms_buf_init(&e, 0);
    encrypt(f, &e, MS_CIPHER_AES256_CBC, msg_v1, MS_EPOLICY);
    /* AUTO picks CBC when a recipient lacks GCM: same refusal. */
    assert_int_equal(ms_recipients_new(&no_gcm, &err), 0);
    assert_int_equal(ms_recipients_add_file(no_gcm, ms_test_pki("v2-enc.pem"),
                                            0, &err),
                     0);
    assert_int_equal(ms_encrypt(&e, f->ctx, no_gcm, NULL, msg_v1,
                                strlen(msg_v1), &err),
                     MS_EPOLICY);
    assert_int_equal(e.len, 0);
    ms_recipients_free(no_gcm);
    ms_buf_cleanup(&e);
}

static void
test_smime__encrypt_cbc_signed(void **state)
{
    fixture *f = *state;
    ms_buf s, e;
    ms_result *r;

    ms_buf_init(&s, 0);
    ms_buf_init(&e, 0);
    sign(f, &s, f->v1, false, msg_v1);
    encrypt(f, &e, MS_CIPHER_AES256_CBC, (const char *)s.data, 0);
    assert_non_null(strstr((char *)e.data, "smime-type=enveloped-data"));
    decrypt_ok(f, &e, "aes-256-cbc", "Hello from the unit tests.");
    r = open_msg(f, f->v2_enc, &e, NULL);
    assert_verdict(r, MS_VERDICT_MAILBOX_VALIDATED);
    ms_result_free(r);
    ms_buf_cleanup(&s);
    ms_buf_cleanup(&e);
}

static void
test_smime__decrypt_wrong_key(void **state)
{
    fixture *f = *state;
    ms_buf e, plain;
    ms_error err;
    ms_result *r;

    ms_buf_init(&e, 0);
    ms_buf_init(&plain, 0);
    encrypt(f, &e, MS_CIPHER_AUTO, msg_v1, 0);
    assert_int_equal(ms_decrypt(&plain, f->ctx, f->v3_enc, e.data, e.len,
                                NULL, &err),
                     MS_ENOTFOUND);
    assert_int_equal(err.code, MS_ENOTFOUND);
    assert_int_equal(plain.len, 0);
    assert_int_equal(ERR_peek_error(), 0);
    r = open_msg(f, f->v3_enc, &e, NULL);
    assert_verdict(r, MS_VERDICT_ERROR);
    ms_result_free(r);
    ms_buf_cleanup(&e);
    ms_buf_cleanup(&plain);
}

static void
test_smime__decrypt_not_encrypted(void **state)
{
    fixture *f = *state;
    ms_buf plain;
    ms_error err;

    ms_buf_init(&plain, 0);
    assert_int_equal(ms_decrypt(&plain, f->ctx, f->v2_enc, msg_v1,
                                strlen(msg_v1), NULL, &err),
                     MS_EMALFORMED);
    assert_int_equal(plain.len, 0);
    ms_buf_cleanup(&plain);
}

/* Re-encodes the message's DER body with the byte at -back flipped. */
static void
tamper(fixture *f, ms_buf *out, const ms_buf *in, size_t back)
{
    ms_mime m;
    ms_buf der;
    ms_error err;
    size_t hdr;

    ms_buf_init(&der, 0);
    assert_int_equal(ms_mime_parse(&m, f->ctx, in->data, in->len, &err), 0);
    assert_int_equal(ms_mime_body_decoded(&der, &m, &m.parts[0], &err), 0);
    assert_true(der.len > back);
    der.data[der.len - back] ^= 0x01;
    hdr = m.parts[0].body;
    assert_int_equal(ms_buf_append(out, in->data, hdr), 0);
    assert_int_equal(ms_base64_encode_lines(out, der.data, der.len), 0);
    ms_mime_cleanup(&m);
    ms_buf_cleanup(&der);
}

static void
test_smime__decrypt_tampered(void **state)
{
    fixture *f = *state;
    ms_buf e, bad, plain;
    ms_error err;
    ms_result *r;

    ms_buf_init(&e, 0);
    ms_buf_init(&plain, 0);
    encrypt(f, &e, MS_CIPHER_AES256_GCM, msg_v1, 0);
    /* The last bytes are the GCM tag, before it the ciphertext. */
    for (size_t back = 1; back <= 40; back += 13) {
        ms_buf_init(&bad, 0);
        tamper(f, &bad, &e, back);
        assert_int_equal(ms_decrypt(&plain, f->ctx, f->v2_enc, bad.data,
                                    bad.len, NULL, &err),
                         MS_EBADSIG);
        assert_int_equal(plain.len, 0);
        assert_int_equal(ERR_peek_error(), 0);
        r = open_msg(f, f->v2_enc, &bad, NULL);
        assert_verdict(r, MS_VERDICT_INVALID);
        ms_result_free(r);
        ms_buf_cleanup(&bad);
    }
    ms_buf_cleanup(&e);
    ms_buf_cleanup(&plain);
}

/* The DER of the pkcs7-signature part of a multipart/signed message. */
static void
signature_der(fixture *f, ms_buf *der, const ms_buf *signed_msg)
{
    ms_mime m;
    ms_error err;

    assert_int_equal(ms_mime_parse(&m, f->ctx, signed_msg->data,
                                   signed_msg->len, &err),
                     0);
    assert_int_equal(m.nparts, 3);
    assert_true(ms_mime_is_pkcs7_signature(m.parts[2].type));
    assert_int_equal(ms_mime_body_decoded(der, &m, &m.parts[2], &err), 0);
    ms_mime_cleanup(&m);
}

static void
test_smime__deterministic_at_fixed_clock(void **state)
{
    static const char plain[] = "From: eve@example.net\r\n\r\nfixed\r\n";
    fixture *f = *state;
    ms_buf s1, s2, d1, d2, j1, j2, a1, a2;
    ms_result *r1, *r2;
    ms_error err;

    ms_buf_init(&s1, 0);
    ms_buf_init(&s2, 0);
    ms_buf_init(&d1, 0);
    ms_buf_init(&d2, 0);
    ms_buf_init(&j1, 0);
    ms_buf_init(&j2, 0);
    ms_buf_init(&a1, 0);
    ms_buf_init(&a2, 0);
    sign(f, &s1, f->v1, false, plain);
    sign(f, &s2, f->v1, false, plain);
    /* The boundaries are random; the RSA PKCS#1 v1.5 signatures are not. */
    assert_false(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
    signature_der(f, &d1, &s1);
    signature_der(f, &d2, &s2);
    assert_int_equal(d1.len, d2.len);
    assert_memory_equal(d1.data, d2.data, d1.len);
    r1 = open_msg(f, NULL, &s1, NULL);
    r2 = open_msg(f, NULL, &s2, NULL);
    assert_int_equal(ms_result_json(&j1, r1, &err), 0);
    assert_int_equal(ms_result_json(&j2, r2, &err), 0);
    assert_string_equal((char *)j1.data, (char *)j2.data);
    assert_non_null(strstr((char *)j1.data,
                           "\"signing_time\":\"2026-11-23T10:00:00Z\""));
    assert_non_null(strstr((char *)j1.data, "\"verdict\":\"mailbox-validated\""));
    assert_non_null(strstr((char *)j1.data, "\"level\":\"V1\""));
    assert_non_null(strstr((char *)j1.data, "\"from\":\"eve@example.net\""));
    assert_non_null(strstr((char *)j1.data, "\"revocation\":\"not-checked\""));
    assert_int_equal(ms_result_annotate(&a1, r1, plain, strlen(plain), &err),
                     0);
    assert_int_equal(ms_result_annotate(&a2, r2, plain, strlen(plain), &err),
                     0);
    assert_string_equal((char *)a1.data, (char *)a2.data);
    assert_int_equal(ERR_peek_error(), 0);
    ms_result_free(r1);
    ms_result_free(r2);
    ms_buf_cleanup(&s1);
    ms_buf_cleanup(&s2);
    ms_buf_cleanup(&d1);
    ms_buf_cleanup(&d2);
    ms_buf_cleanup(&j1);
    ms_buf_cleanup(&j2);
    ms_buf_cleanup(&a1);
    ms_buf_cleanup(&a2);
}

static void
test_smime__annotate(void **state)
{
    static const char msg[] = "From a@example.net Mon Nov 23 10:00:00 2026\n"
                              "X-Mailseal-Verdict: validated\n"
                              "From: eve@example.net\n"
                              "x-mailseal-identity: forged\n"
                              "\n"
                              "X-Mailseal-Verdict: in the body stays\n";
    fixture *f = *state;
    ms_buf m, a;
    ms_result *r;
    ms_error err;

    ms_buf_init(&m, 0);
    ms_buf_init(&a, 0);
    assert_int_equal(ms_buf_puts(&m, msg), 0);
    r = open_msg(f, NULL, &m, NULL);
    assert_verdict(r, MS_VERDICT_UNSIGNED);
    assert_int_equal(ms_result_annotate(&a, r, msg, strlen(msg), &err), 0);
    assert_string_equal((char *)a.data,
                        "From a@example.net Mon Nov 23 10:00:00 2026\n"
                        "X-Mailseal-Verdict: unsigned\r\n"
                        "X-Mailseal-Identity: UNSIGNED — the sender is not "
                        "verified\r\n"
                        "From: eve@example.net\n"
                        "\n"
                        "X-Mailseal-Verdict: in the body stays\n");
    ms_result_free(r);
    ms_buf_cleanup(&m);
    ms_buf_cleanup(&a);
}

/* ms_open under each failing ms_ allocation: MS_ENOMEM or a result whose
 * verdict is "error", never a crash or leak, never a quiet success. */
static void
test_smime__open_alloc_failure_loop(void **state)
{
    fixture *f = *state;
    ms_buf s;
    ms_result *r = NULL;
    ms_error err;
    size_t total;

    ms_buf_init(&s, 0);
    sign(f, &s, f->v1, false, msg_v1);
    (void)ms_alloc_fail_at(0);
    assert_int_equal(ms_open(&r, NULL, f->ctx, f->ver, NULL, s.data, s.len,
                             &err),
                     0);
    total = ms_alloc_fail_at(0);
    assert_verdict(r, MS_VERDICT_MAILBOX_VALIDATED);
    ms_result_free(r);
    for (size_t n = 1; n <= total; n++) {
        ms_buf clear;
        int rc;

        r = NULL;
        ms_buf_init(&clear, 0);
        (void)ms_alloc_fail_at(n);
        rc = ms_open(&r, &clear, f->ctx, f->ver, NULL, s.data, s.len, &err);
        (void)ms_alloc_fail_at(0);
        if (rc == 0) {
            assert_non_null(r);
            if (ms_result_verdict(r) != MS_VERDICT_ERROR)
                fail_msg("allocation %zu of %zu failed, verdict %s", n, total,
                         ms_verdict_name(ms_result_verdict(r)));
        } else {
            assert_int_equal(rc, MS_ENOMEM);
            assert_null(r);
        }
        ms_result_free(r);
        ms_buf_cleanup(&clear);
        ERR_clear_error();
    }
    ms_buf_cleanup(&s);
}

static void
test_smime__sign_alloc_failure_loop(void **state)
{
    fixture *f = *state;
    ms_buf s;
    ms_error err;
    size_t total;

    ms_buf_init(&s, 0);
    (void)ms_alloc_fail_at(0);
    sign(f, &s, f->v1, false, msg_v1);
    total = ms_alloc_fail_at(0);
    ms_buf_cleanup(&s);
    for (size_t n = 1; n <= total; n++) {
        int rc;

        ms_buf_init(&s, 0);
        (void)ms_alloc_fail_at(n);
        rc = ms_sign(&s, f->ctx, f->v1, NULL, msg_v1, strlen(msg_v1), &err);
        (void)ms_alloc_fail_at(0);
        if (rc != MS_ENOMEM)
            fail_msg("allocation %zu of %zu failed, ms_sign returned %s", n,
                     total, ms_status_name(rc));
        assert_int_equal(s.len, 0);
        ms_buf_cleanup(&s);
        ERR_clear_error();
    }
}

/* One PKI-loaded fixture for the whole group, after the library is up. */
static int
group_setup(void **state)
{
    if (ms_test_library_setup(state) != 0)
        return -1;
    return setup(state);
}

static int
group_teardown(void **state)
{
    if (*state != NULL)
        (void)teardown(state);
    return ms_test_library_teardown(state);
}

#define T(fn) cmocka_unit_test(fn)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_smime__sign_then_open_v1),
        T(test_smime__sign_then_open_v2_opaque),
        T(test_smime__from_mismatch),
        T(test_smime__tampered_signed_is_invalid),
        T(test_smime__unsigned),
        T(test_smime__seal_then_open_with_key),
        T(test_smime__encrypt_gcm_round_trip),
        T(test_smime__encrypt_cbc_unsigned_is_policy_error),
        T(test_smime__encrypt_cbc_signed),
        T(test_smime__decrypt_wrong_key),
        T(test_smime__decrypt_not_encrypted),
        T(test_smime__decrypt_tampered),
        T(test_smime__deterministic_at_fixed_clock),
        T(test_smime__annotate),
        T(test_smime__open_alloc_failure_loop),
        T(test_smime__sign_alloc_failure_loop),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
