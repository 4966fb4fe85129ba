/* tests/unit/test_build.c - lib/mime/build.c: splitting a message into
 * outer header and entity, and building S/MIME messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mailseal/mailseal.h>

#include "mime/body.h"
#include "mime/build.h"
#include "mime/mime.h"
#include "ms_test.h"
#include "util/alloc.h"
#include "util/base64.h"

typedef struct fixture {
    time_t now;
    ms_ctx *ctx;
    ms_buf outer;
    ms_buf entity;
} fixture;

static int
setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));

    f->now = MS_TEST_NOW;
    f->ctx = ms_test_ctx(&f->now);
    ms_buf_init(&f->outer, 0);
    ms_buf_init(&f->entity, 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    ms_buf_cleanup(&f->outer);
    ms_buf_cleanup(&f->entity);
    ms_ctx_free(f->ctx);
    test_free(f);
    return 0;
}

static int
split(fixture *f, const char *msg, bool for_signing)
{
    ms_mime m;
    ms_error err;
    int rc;

    assert_int_equal(ms_mime_parse(&m, f->ctx, msg, strlen(msg), &err), 0);
    rc = ms_build_split(&f->outer, &f->entity, &m, for_signing);
    ms_mime_cleanup(&m);
    return rc;
}

static size_t
count(const ms_buf *b, const char *needle)
{
    size_t n = 0;
    const char *p = (const char *)b->data;

    while (p != NULL && (p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void
test_build__split_content_and_outer(void **state)
{
    fixture *f = *state;

    assert_int_equal(split(f,
                           "From: a@example.net\n"
                           "Subject: hello\n"
                           "MIME-Version: 1.0\n"
                           "Content-Type: text/plain; charset=utf-8\n"
                           "To: b@example.net\n"
                           "Content-Transfer-Encoding: 7bit\n"
                           "\n"
                           "line 1\n"
                           "line 2\n",
                           false),
                     0);
    assert_string_equal((char *)f->outer.data, "From: a@example.net\r\n"
                                               "Subject: hello\r\n"
                                               "To: b@example.net\r\n"
                                               "MIME-Version: 1.0\r\n");
    assert_string_equal((char *)f->entity.data,
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 7bit\r\n"
                        "\r\n"
                        "line 1\r\n"
                        "line 2\r\n");
}

static void
test_build__split_outer_only(void **state)
{
    fixture *f = *state;
    const char *msg = "From: a@example.net\n"
                      "Content-Type: text/plain; charset=utf-8\n"
                      "Subject: hello\n"
                      "\n"
                      "caf\xc3\xa9\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(ms_mime_parse(&m, f->ctx, msg, strlen(msg), &err), 0);
    for (int signing = 0; signing < 2; signing++) {
        ms_buf_reset(&f->outer);
        assert_int_equal(ms_build_split(&f->outer, NULL, &m, signing == 1),
                         0);
        assert_string_equal((char *)f->outer.data, "From: a@example.net\r\n"
                                                   "Subject: hello\r\n"
                                                   "MIME-Version: 1.0\r\n");
    }
    ms_mime_cleanup(&m);
}

static void
test_build__split_adds_mime_version_once(void **state)
{
    fixture *f = *state;

    assert_int_equal(split(f,
                           "MIME-Version: 1.0\r\n"
                           "mime-version: 1.0 (twice)\r\n"
                           "From: a@example.net\r\n\r\nx\r\n",
                           false),
                     0);
    assert_int_equal(count(&f->outer, "MIME-Version"), 1);
    assert_int_equal(count(&f->outer, "mime-version"), 0);
    assert_int_equal(count(&f->entity, "MIME-Version"), 0);
}

static void
test_build__split_defaults_content_type(void **state)
{
    fixture *f = *state;

    assert_int_equal(split(f, "From: a@example.net\r\n\r\nhello\r\n", true),
                     0);
    assert_string_equal((char *)f->entity.data,
                        "Content-Type: text/plain; charset=us-ascii\r\n"
                        "\r\n"
                        "hello\r\n");
}

static void
test_build__split_keeps_folding(void **state)
{
    fixture *f = *state;

    assert_int_equal(split(f,
                           "Subject: a\n b\n"
                           "Content-Type: text/plain;\n\tcharset=us-ascii\n"
                           "\nx\n",
                           false),
                     0);
    assert_string_equal((char *)f->outer.data, "Subject: a\r\n b\r\n"
                                               "MIME-Version: 1.0\r\n");
    assert_string_equal((char *)f->entity.data,
                        "Content-Type: text/plain;\r\n\tcharset=us-ascii\r\n"
                        "\r\nx\r\n");
}

static void
test_build__split_last_field_without_line_end(void **state)
{
    fixture *f = *state;

    /* No body and no final line end: each field still ends in CRLF, and
     * nothing else is added to the outer header. */
    assert_int_equal(split(f, "From: a@example.net\r\nMIME-Version: 1.0",
                           false),
                     0);
    assert_string_equal((char *)f->outer.data, "From: a@example.net\r\n"
                                               "MIME-Version: 1.0\r\n");
    ms_buf_reset(&f->outer);
    ms_buf_reset(&f->entity);
    assert_int_equal(split(f, "MIME-Version: 1.0\r\nSubject: s", false), 0);
    assert_string_equal((char *)f->outer.data, "Subject: s\r\n"
                                               "MIME-Version: 1.0\r\n");
    ms_buf_reset(&f->outer);
    ms_buf_reset(&f->entity);
    assert_int_equal(split(f, "Subject: s\r\nContent-Type: text/plain",
                           false),
                     0);
    assert_string_equal((char *)f->entity.data,
                        "Content-Type: text/plain\r\n\r\n");
}

static void
check_base64_body(const ms_buf *entity, const char *want)
{
    const char *body = strstr((const char *)entity->data, "\r\n\r\n");
    ms_buf dec;

    assert_non_null(body);
    body += 4;
    ms_buf_init(&dec, 0);
    assert_int_equal(ms_base64_decode(&dec, body, strlen(body)), 0);
    assert_int_equal(dec.len, strlen(want));
    assert_memory_equal(dec.data, want, dec.len);
    ms_buf_cleanup(&dec);
}

static void
test_build__signing_reencodes_8bit_single_part(void **state)
{
    static const char body[] = "Gr\xc3\xbc\xc3\x9f" "e\r\n";
    fixture *f = *state;
    char msg[256];

    (void)snprintf(msg, sizeof(msg),
                   "From: a@example.net\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n"
                   "\r\n%s",
                   body);
    assert_int_equal(split(f, msg, true), 0);
    assert_int_equal(count(&f->entity, "Content-Transfer-Encoding: base64"),
                     1);
    assert_int_equal(count(&f->entity, "8bit"), 0);
    check_base64_body(&f->entity, body);
    /* Without for_signing the body is left alone. */
    ms_buf_reset(&f->outer);
    ms_buf_reset(&f->entity);
    assert_int_equal(split(f, msg, false), 0);
    assert_int_equal(count(&f->entity, "8bit"), 1);
    assert_non_null(strstr((char *)f->entity.data, body));
}

static void
test_build__signing_reencodes_long_lines(void **state)
{
    fixture *f = *state;
    ms_buf msg;

    ms_buf_init(&msg, 0);
    assert_int_equal(ms_buf_puts(&msg, "Subject: long\r\n\r\n"), 0);
    for (int i = 0; i < 999; i++)
        assert_int_equal(ms_buf_puts(&msg, "x"), 0);
    assert_int_equal(split(f, (const char *)msg.data, true), 0);
    assert_int_equal(count(&f->entity, "Content-Transfer-Encoding: base64"),
                     1);
    ms_buf_reset(&f->outer);
    ms_buf_reset(&f->entity);
    /* 998 characters is still a legal line. */
    ms_buf_reset(&msg);
    assert_int_equal(ms_buf_puts(&msg, "Subject: long\r\n\r\n"), 0);
    for (int i = 0; i < 998; i++)
        assert_int_equal(ms_buf_puts(&msg, "x"), 0);
    assert_int_equal(split(f, (const char *)msg.data, true), 0);
    assert_int_equal(count(&f->entity, "base64"), 0);
    ms_buf_cleanup(&msg);
}

static void
test_build__signing_keeps_encoded_and_ascii(void **state)
{
    fixture *f = *state;

    assert_int_equal(split(f,
                           "Content-Type: text/plain\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\n"
                           "\r\nGr=C3=BC\xc3\x9f" "e\r\n",
                           true),
                     0);
    assert_int_equal(count(&f->entity, "base64"), 0);
    ms_buf_reset(&f->outer);
    ms_buf_reset(&f->entity);
    assert_int_equal(split(f, "Subject: s\r\n\r\nplain ascii\r\n", true), 0);
    assert_int_equal(count(&f->entity, "base64"), 0);
}

static void
test_build__signing_never_reencodes_multipart(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "Gr\xc3\xbc\xc3\x9f" "e\n"
        "--b--\n";
    fixture *f = *state;

    assert_int_equal(split(f, msg, true), 0);
    assert_int_equal(count(&f->entity, "base64"), 0);
    assert_int_equal(count(&f->entity, "8bit"), 1);
    assert_non_null(strstr((char *)f->entity.data,
                           "\r\n\r\nGr\xc3\xbc\xc3\x9f" "e\r\n--b--\r\n"));
    ms_buf_reset(&f->outer);
    ms_buf_reset(&f->entity);
    assert_int_equal(split(f,
                           "Content-Type: message/rfc822\n\n"
                           "Subject: \xc3\xbc\n\nx\n",
                           true),
                     0);
    assert_int_equal(count(&f->entity, "base64"), 0);
}

static const unsigned char fake_der[] = {0x30, 0x03, 0x02, 0x01, 0x00, 0xff,
                                         0x00, 0x80, 0x0a, 0x0d};

static void
test_build__signed_parses(void **state)
{
    fixture *f = *state;
    ms_buf out, sig;
    ms_mime m;
    ms_error err;
    const ms_mime_part *c1, *c2;

    assert_int_equal(split(f,
                           "From: a@example.net\nSubject: s\n\n"
                           "body\n--not-a-boundary\n",
                           true),
                     0);
    ms_buf_init(&out, 0);
    ms_buf_init(&sig, 0);
    assert_int_equal(ms_build_signed(&out, &f->outer, &f->entity, fake_der,
                                     sizeof(fake_der)),
                     0);
    assert_null(memchr(out.data, '\0', out.len));
    assert_int_equal(ms_mime_parse(&m, f->ctx, out.data, out.len, &err), 0);
    assert_string_equal(m.parts[0].type, "multipart/signed");
    assert_string_equal(m.parts[0].protocol, "application/pkcs7-signature");
    assert_int_equal(m.nparts, 3);
    c1 = &m.parts[1];
    c2 = &m.parts[2];
    /* The signed entity comes through byte for byte. */
    assert_int_equal(c1->end - c1->start, f->entity.len);
    assert_memory_equal(m.data + c1->start, f->entity.data, f->entity.len);
    assert_string_equal(c2->type, "application/pkcs7-signature");
    assert_int_equal(ms_mime_body_decoded(&sig, &m, c2, &err), 0);
    assert_int_equal(sig.len, sizeof(fake_der));
    assert_memory_equal(sig.data, fake_der, sizeof(fake_der));
    assert_int_equal(ms_mime_header_count(&m, &m.parts[0], "MIME-Version"),
                     1);
    assert_int_equal(ms_mime_header_count(&m, &m.parts[0], "From"), 1);
    ms_mime_cleanup(&m);
    ms_buf_cleanup(&out);
    ms_buf_cleanup(&sig);
}

static void
test_build__pkcs7_parses(void **state)
{
    fixture *f = *state;
    ms_buf out, der;
    ms_mime m;
    ms_error err;

    assert_int_equal(split(f, "From: a@example.net\n\nbody\n", true), 0);
    ms_buf_init(&out, 0);
    ms_buf_init(&der, 0);
    assert_int_equal(ms_build_pkcs7(&out, &f->outer, "signed-data", fake_der,
                                    sizeof(fake_der)),
                     0);
    assert_int_equal(ms_mime_parse(&m, f->ctx, out.data, out.len, &err), 0);
    assert_int_equal(m.nparts, 1);
    assert_true(ms_mime_is_pkcs7_mime(&m.parts[0]));
    assert_string_equal(m.parts[0].smime_type, "signed-data");
    assert_int_equal(ms_mime_body_decoded(&der, &m, &m.parts[0], &err), 0);
    assert_int_equal(der.len, sizeof(fake_der));
    assert_memory_equal(der.data, fake_der, sizeof(fake_der));
    ms_mime_cleanup(&m);
    ms_buf_cleanup(&out);
    ms_buf_cleanup(&der);
}

static void
test_build__join(void **state)
{
    fixture *f = *state;
    ms_buf out;

    (void)f;
    ms_buf_init(&out, 0);
    assert_int_equal(ms_buf_puts(&f->outer, "From: a@example.net\r\n"), 0);
    assert_int_equal(ms_build_join(&out, &f->outer,
                                   "Content-Type: text/plain\n\nx\n", 28),
                     0);
    assert_string_equal((char *)out.data, "From: a@example.net\r\n"
                                          "Content-Type: text/plain\r\n"
                                          "\r\nx\r\n");
    ms_buf_cleanup(&out);
}

static void
test_build__split_alloc_failure_loop(void **state)
{
    static const char msg[] = "From: a@example.net\n"
                              "Content-Type: text/plain; charset=utf-8\n"
                              "Content-Transfer-Encoding: 8bit\n"
                              "\n\xc3\xbc\n";
    fixture *f = *state;
    ms_mime m;
    ms_error err;
    size_t total;

    assert_int_equal(ms_mime_parse(&m, f->ctx, msg, strlen(msg), &err), 0);
    (void)ms_alloc_fail_at(0);
    assert_int_equal(ms_build_split(&f->outer, &f->entity, &m, true), 0);
    total = ms_alloc_fail_at(0);
    for (size_t n = 1; n <= total; n++) {
        ms_buf outer, entity;
        int rc;

        ms_buf_init(&outer, 0);
        ms_buf_init(&entity, 0);
        (void)ms_alloc_fail_at(n);
        rc = ms_build_split(&outer, &entity, &m, true);
        (void)ms_alloc_fail_at(0);
        if (rc != MS_ENOMEM)
            fail_msg("allocation %zu of %zu failed, split returned %s", n,
                     total, ms_status_name(rc));
        ms_buf_cleanup(&outer);
        ms_buf_cleanup(&entity);
    }
    ms_mime_cleanup(&m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_build__split_content_and_outer),
        T(test_build__split_outer_only),
        T(test_build__split_adds_mime_version_once),
        T(test_build__split_defaults_content_type),
        T(test_build__split_keeps_folding),
        T(test_build__split_last_field_without_line_end),
        T(test_build__signing_reencodes_8bit_single_part),
        T(test_build__signing_reencodes_long_lines),
        T(test_build__signing_keeps_encoded_and_ascii),
        T(test_build__signing_never_reencodes_multipart),
        T(test_build__signed_parses),
        T(test_build__pkcs7_parses),
        T(test_build__join),
        T(test_build__split_alloc_failure_loop),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
