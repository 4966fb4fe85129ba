/* tests/unit/test_mime.c - lib/mime/mime.c: the bounded MIME walk, header
 * iteration and CRLF canonicalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <mailseal/mailseal.h>

#include "mime/mime.h"
#include "ms_test.h"
#include "util/alloc.h"

typedef struct fixture {
    time_t now;
    ms_ctx *ctx;
} fixture;

static int
setup(void **state)
{
    fixture *f = test_calloc(1, sizeof(*f));

    f->now = MS_TEST_NOW;
    f->ctx = ms_test_ctx(&f->now);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    ms_ctx_free(f->ctx);
    test_free(f);
    return 0;
}

static void
set_limits(fixture *f, unsigned depth, unsigned headers, size_t line)
{
    ms_limits l = MS_LIMITS_INIT;
    ms_error err;

    l.max_depth = depth;
    l.max_headers = headers;
    l.max_header_line = line;
    assert_int_equal(ms_ctx_set_limits(f->ctx, &l, &err), 0);
}

static int
parse(ms_mime *m, fixture *f, const char *text, ms_error *err)
{
    return ms_mime_parse(m, f->ctx, text, strlen(text), err);
}

/* The bytes [start, end) of part i. */
static void
assert_part_bytes(const ms_mime *m, size_t i, const char *want)
{
    const ms_mime_part *p = &m->parts[i];

    assert_true(i < m->nparts);
    assert_int_equal(p->end - p->start, strlen(want));
    assert_memory_equal(m->data + p->start, want, strlen(want));
}

static void
assert_body(const ms_mime *m, size_t i, const char *want)
{
    const ms_mime_part *p = &m->parts[i];

    assert_int_equal(p->end - p->body, strlen(want));
    assert_memory_equal(m->data + p->body, want, strlen(want));
}

static void
test_mime__single_part(void **state)
{
    static const char msg[] = "From: a@example.net\r\n"
                              "Subject: hi\r\n"
                              "\r\n"
                              "body line\r\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_int_equal(m.nparts, 1);
    assert_string_equal(m.parts[0].type, "text/plain");
    assert_int_equal(m.parts[0].start, 0);
    assert_int_equal(m.parts[0].hdr_end, strlen("From: a@example.net\r\n"
                                                "Subject: hi\r\n"));
    assert_body(&m, 0, "body line\r\n");
    assert_int_equal(m.parts[0].parent, -1);
    assert_int_equal(m.parts[0].first_child, -1);
    assert_int_equal(m.parts[0].next, -1);
    assert_int_equal(m.parts[0].depth, 0);
    assert_false(m.parts[0].in_rfc822);
    assert_false(m.parts[0].attachment);
    assert_null(m.parts[0].boundary);
    ms_mime_cleanup(&m);
}

static void
test_mime__single_part_lf_and_no_body(void **state)
{
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, "Subject: x\n\nbody\n", &err), 0);
    assert_body(&m, 0, "body\n");
    assert_int_equal(m.parts[0].hdr_end, strlen("Subject: x\n"));
    ms_mime_cleanup(&m);
    /* Headers only: the body is empty. */
    assert_int_equal(parse(&m, *state, "Subject: x\r\n", &err), 0);
    assert_int_equal(m.parts[0].body, m.len);
    assert_int_equal(m.parts[0].hdr_end, m.len);
    ms_mime_cleanup(&m);
}

static void
test_mime__type_and_parameters_lower_case(void **state)
{
    static const char msg[] =
        "Content-Type: Application/PKCS7-MIME; SMIME-Type=Signed-Data;\r\n"
        "\tname=smime.p7m\r\n"
        "\r\n"
        "MIIB\r\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_string_equal(m.parts[0].type, "application/pkcs7-mime");
    assert_string_equal(m.parts[0].smime_type, "signed-data");
    ms_mime_cleanup(&m);
}

static const char multipart_msg[] =
    "From: a@example.net\r\n"
    "Content-Type: multipart/mixed; boundary=\"XyZ\"\r\n"
    "\r\n"
    "This is the preamble.\r\n"
    "--XyZ\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "part one\r\n"
    "--XyZ \t\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: ATTACHMENT; filename=x.bin\r\n"
    "\r\n"
    "part two\r\n"
    "\r\n"
    "--XyZ--\r\n"
    "This is the epilogue.\r\n"
    "--XyZ\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "not a part\r\n";

static void
test_mime__multipart_preamble_epilogue(void **state)
{
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, multipart_msg, &err), 0);
    assert_int_equal(m.nparts, 3);
    assert_string_equal(m.parts[0].type, "multipart/mixed");
    assert_string_equal(m.parts[0].boundary, "XyZ");
    assert_int_equal(m.parts[0].first_child, 1);
    assert_int_equal(m.parts[1].next, 2);
    assert_int_equal(m.parts[2].next, -1);
    assert_int_equal(m.parts[1].parent, 0);
    assert_int_equal(m.parts[2].parent, 0);
    assert_int_equal(m.parts[1].depth, 1);
    /* The line end before a delimiter belongs to the delimiter. */
    assert_part_bytes(&m, 1, "Content-Type: text/plain\r\n\r\npart one");
    assert_body(&m, 1, "part one");
    assert_part_bytes(&m, 2,
                      "Content-Type: application/octet-stream\r\n"
                      "Content-Disposition: ATTACHMENT; filename=x.bin\r\n"
                      "\r\n"
                      "part two\r\n");
    assert_false(m.parts[1].attachment);
    assert_true(m.parts[2].attachment);
    ms_mime_cleanup(&m);
}

static void
test_mime__nested_multipart(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=outer\r\n"
        "\r\n"
        "--outer\r\n"
        "Content-Type: multipart/alternative; boundary=inner\r\n"
        "\r\n"
        "--inner\r\n"
        "\r\n"
        "plain\r\n"
        "--inner\r\n"
        "Content-Type: text/html\r\n"
        "\r\n"
        "<p>html</p>\r\n"
        "--inner--\r\n"
        "--outer\r\n"
        "Content-Type: image/png\r\n"
        "Content-Disposition: inline\r\n"
        "\r\n"
        "PNG\r\n"
        "--outer--\r\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_int_equal(m.nparts, 5);
    assert_string_equal(m.parts[1].type, "multipart/alternative");
    assert_string_equal(m.parts[2].type, "text/plain");
    assert_string_equal(m.parts[3].type, "text/html");
    assert_string_equal(m.parts[4].type, "image/png");
    assert_int_equal(m.parts[2].depth, 2);
    assert_int_equal(m.parts[3].parent, 1);
    assert_int_equal(m.parts[1].next, 4);
    assert_int_equal(m.parts[1].first_child, 2);
    assert_int_equal(m.parts[2].start, m.parts[2].hdr_end);
    assert_body(&m, 2, "plain");
    assert_body(&m, 3, "<p>html</p>");
    assert_false(m.parts[4].attachment);
    ms_mime_cleanup(&m);
}

static void
test_mime__missing_close_delimiter(void **state)
{
    static const char msg[] = "Content-Type: multipart/mixed; boundary=b\r\n"
                              "\r\n"
                              "--b\r\n"
                              "\r\n"
                              "one\r\n"
                              "--b\r\n"
                              "\r\n"
                              "two runs to the end\r\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_int_equal(m.nparts, 3);
    assert_body(&m, 1, "one");
    assert_body(&m, 2, "two runs to the end\r\n");
    assert_int_equal(m.parts[2].end, m.len);
    ms_mime_cleanup(&m);
}

static void
test_mime__multipart_without_parts(void **state)
{
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state,
                           "Content-Type: multipart/mixed; boundary=b\r\n"
                           "\r\n"
                           "only a preamble, --b is not at line start\r\n",
                           &err),
                     MS_EMALFORMED);
    assert_int_equal(err.code, MS_EMALFORMED);
    assert_null(m.parts);
}

static void
test_mime__multipart_without_boundary(void **state)
{
    ms_mime m;
    ms_error err;
    char msg[1024];

    assert_int_equal(parse(&m, *state,
                           "Content-Type: multipart/mixed\r\n\r\n--\r\n",
                           &err),
                     MS_EMALFORMED);
    assert_null(m.parts);
    assert_int_equal(parse(&m, *state,
                           "Content-Type: multipart/mixed; boundary=\"\"\r\n"
                           "\r\n--\r\n",
                           &err),
                     MS_EMALFORMED);
    /* Boundaries are at most 70 characters (RFC 2046); over 200 is
     * refused outright. */
    (void)snprintf(msg, sizeof(msg),
                   "Content-Type: multipart/mixed; boundary=%0201d\r\n\r\n"
                   "--%0201d\r\n\r\nx\r\n--%0201d--\r\n",
                   0, 0, 0);
    assert_int_equal(parse(&m, *state, msg, &err), MS_EMALFORMED);
    (void)snprintf(msg, sizeof(msg),
                   "Content-Type: multipart/mixed; boundary=%0200d\r\n\r\n"
                   "--%0200d\r\n\r\nx\r\n--%0200d--\r\n",
                   0, 0, 0);
    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_int_equal(m.nparts, 2);
    ms_mime_cleanup(&m);
}

static void
test_mime__two_content_type_fields(void **state)
{
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state,
                           "Content-Type: text/plain\r\n"
                           "content-type: text/html\r\n\r\nx\r\n",
                           &err),
                     MS_EMALFORMED);
    assert_int_equal(err.code, MS_EMALFORMED);
    /* Also inside a part. */
    assert_int_equal(parse(&m, *state,
                           "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                           "--b\r\n"
                           "Content-Type: text/plain\r\n"
                           "Content-Type: text/html\r\n\r\nx\r\n--b--\r\n",
                           &err),
                     MS_EMALFORMED);
}

static void
test_mime__malformed_header_lines(void **state)
{
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, "no colon here\r\n\r\nx", &err),
                     MS_EMALFORMED);
    assert_int_equal(parse(&m, *state, "Bad Name: x\r\n\r\nx", &err),
                     MS_EMALFORMED);
    assert_int_equal(parse(&m, *state, ": empty name\r\n\r\nx", &err),
                     MS_EMALFORMED);
}

/* A message whose deepest part lies at depth d. */
static void
nest(ms_buf *b, unsigned level, unsigned d)
{
    if (level == d) {
        assert_int_equal(ms_buf_puts(b, "Content-Type: text/plain\r\n\r\n"
                                        "leaf\r\n"),
                         0);
        return;
    }
    assert_int_equal(ms_buf_printf(b,
                                   "Content-Type: multipart/mixed; "
                                   "boundary=\"b%u\"\r\n\r\n--b%u\r\n",
                                   level, level),
                     0);
    nest(b, level + 1, d);
    assert_int_equal(ms_buf_printf(b, "\r\n--b%u--\r\n", level), 0);
}

static int
parse_depth(fixture *f, unsigned d)
{
    ms_buf b;
    ms_mime m;
    ms_error err;
    int rc;

    ms_buf_init(&b, 0);
    nest(&b, 0, d);
    rc = ms_mime_parse(&m, f->ctx, b.data, b.len, &err);
    if (rc == 0) {
        assert_int_equal(m.nparts, d + 1);
        assert_int_equal(m.parts[d].depth, d);
        ms_mime_cleanup(&m);
    } else {
        assert_int_equal(err.code, rc);
        assert_null(m.parts);
    }
    ms_buf_cleanup(&b);
    return rc;
}

static void
test_mime__depth_limit(void **state)
{
    fixture *f = *state;

    set_limits(f, 3, 100, 1000);
    assert_int_equal(parse_depth(f, 3), 0);
    assert_int_equal(parse_depth(f, 4), MS_ETOOBIG);
    set_limits(f, 1, 100, 1000);
    assert_int_equal(parse_depth(f, 1), 0);
    assert_int_equal(parse_depth(f, 2), MS_ETOOBIG);
}

static void
test_mime__depth_limit_default(void **state)
{
    fixture *f = *state;

    assert_int_equal(parse_depth(f, 32), 0);
    assert_int_equal(parse_depth(f, 33), MS_ETOOBIG);
}

static void
test_mime__depth_counts_rfc822(void **state)
{
    static const char msg[] = "Content-Type: message/rfc822\r\n\r\n"
                              "Content-Type: message/rfc822\r\n\r\n"
                              "Subject: inner\r\n\r\nx\r\n";
    fixture *f = *state;
    ms_mime m;
    ms_error err;

    set_limits(f, 2, 100, 1000);
    assert_int_equal(parse(&m, f, msg, &err), 0);
    assert_int_equal(m.nparts, 3);
    ms_mime_cleanup(&m);
    set_limits(f, 1, 100, 1000);
    assert_int_equal(parse(&m, f, msg, &err), MS_ETOOBIG);
}

static void
headers(ms_buf *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(ms_buf_printf(b, "X-H%u: v\r\n", i), 0);
}

static void
test_mime__header_count_limit(void **state)
{
    fixture *f = *state;
    ms_buf b;
    ms_mime m;
    ms_error err;

    set_limits(f, 32, 5, 1000);
    ms_buf_init(&b, 0);
    headers(&b, 5);
    assert_int_equal(ms_buf_puts(&b, "\r\nbody\r\n"), 0);
    assert_int_equal(ms_mime_parse(&m, f->ctx, b.data, b.len, &err), 0);
    ms_mime_cleanup(&m);
    ms_buf_reset(&b);
    headers(&b, 6);
    assert_int_equal(ms_buf_puts(&b, "\r\nbody\r\n"), 0);
    assert_int_equal(ms_mime_parse(&m, f->ctx, b.data, b.len, &err),
                     MS_ETOOBIG);
    /* The limit holds per part, inside a multipart too. */
    ms_buf_reset(&b);
    assert_int_equal(ms_buf_puts(&b, "Content-Type: multipart/mixed; "
                                     "boundary=b\r\n\r\n--b\r\n"),
                     0);
    headers(&b, 6);
    assert_int_equal(ms_buf_puts(&b, "\r\nx\r\n--b--\r\n"), 0);
    assert_int_equal(ms_mime_parse(&m, f->ctx, b.data, b.len, &err),
                     MS_ETOOBIG);
    ms_buf_cleanup(&b);
}

static void
test_mime__header_line_limit(void **state)
{
    fixture *f = *state;
    char msg[256];
    ms_mime m;
    ms_error err;

    set_limits(f, 32, 100, 40);
    /* "Subject: " + 29 + CRLF = 40 bytes. */
    (void)snprintf(msg, sizeof(msg), "Subject: %029d\r\n\r\nx", 0);
    assert_int_equal(parse(&m, f, msg, &err), 0);
    ms_mime_cleanup(&m);
    (void)snprintf(msg, sizeof(msg), "Subject: %030d\r\n\r\nx", 0);
    assert_int_equal(parse(&m, f, msg, &err), MS_ETOOBIG);
    /* A folded field counts with its continuation lines. */
    assert_int_equal(parse(&m, f,
                           "Subject: 0123456789\r\n 0123456789\r\n"
                           " 0123456789\r\n\r\nx",
                           &err),
                     MS_ETOOBIG);
}

static void
test_mime__message_over_max(void **state)
{
    fixture *f = *state;
    ms_limits l = MS_LIMITS_INIT;
    ms_mime m;
    ms_error err;

    l.max_message = 10;
    assert_int_equal(ms_ctx_set_limits(f->ctx, &l, &err), 0);
    assert_int_equal(parse(&m, f, "Subject:x\n", &err), 0);
    ms_mime_cleanup(&m);
    assert_int_equal(parse(&m, f, "Subject:xy\n", &err), MS_ETOOBIG);
}

static void
test_mime__rfc822_marks_inner_parts(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        "--b\r\n"
        "\r\n"
        "see the forwarded mail\r\n"
        "--b\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        "From: inner@example.net\r\n"
        "Content-Type: multipart/mixed; boundary=c\r\n"
        "\r\n"
        "--c\r\n"
        "\r\n"
        "inner text\r\n"
        "--c--\r\n"
        "--b--\r\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_int_equal(m.nparts, 5);
    assert_false(m.parts[0].in_rfc822);
    assert_false(m.parts[1].in_rfc822);
    assert_string_equal(m.parts[2].type, "message/rfc822");
    assert_false(m.parts[2].in_rfc822);
    assert_string_equal(m.parts[3].type, "multipart/mixed");
    assert_true(m.parts[3].in_rfc822);
    assert_int_equal(m.parts[3].parent, 2);
    assert_int_equal(m.parts[3].start, m.parts[2].body);
    assert_true(m.parts[4].in_rfc822);
    assert_body(&m, 4, "inner text");
    assert_int_equal(ms_mime_header_count(&m, &m.parts[3], "From"), 1);
    assert_int_equal(ms_mime_header_count(&m, &m.parts[0], "From"), 0);
    ms_mime_cleanup(&m);
}

static void
test_mime__digest_defaults_to_rfc822(void **state)
{
    static const char msg[] =
        "Content-Type: multipart/digest; boundary=d\r\n\r\n"
        "--d\r\n"
        "\r\n"
        "Subject: one\r\n\r\nfirst\r\n"
        "--d--\r\n";
    ms_mime m;
    ms_error err;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_string_equal(m.parts[1].type, "message/rfc822");
    assert_int_equal(m.nparts, 3);
    assert_true(m.parts[2].in_rfc822);
    ms_mime_cleanup(&m);
}

static void
test_mime__mbox_from_line(void **state)
{
    static const char msg[] = "From a@example.net Mon Nov 23 10:00:00 2026\n"
                              "From: a@example.net\n"
                              "\n"
                              "hi\n";
    ms_mime m;
    ms_error err;
    ms_buf v;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    assert_int_equal(m.parts[0].start,
                     strlen("From a@example.net Mon Nov 23 10:00:00 2026\n"));
    assert_int_equal(ms_mime_header_count(&m, &m.parts[0], "From"), 1);
    ms_buf_init(&v, 0);
    assert_int_equal(ms_mime_header(&v, &m, &m.parts[0], "from"), 0);
    assert_string_equal((char *)v.data, "a@example.net");
    ms_buf_cleanup(&v);
    assert_body(&m, 0, "hi\n");
    ms_mime_cleanup(&m);
}

static void
test_mime__header_lookup(void **state)
{
    static const char msg[] = "Subject: one\r\n"
                              "X-Twice: a\r\n"
                              "x-twice: b\r\n"
                              "X-Folded:  first\r\n"
                              "\tsecond \r\n"
                              "\r\n";
    ms_mime m;
    ms_error err;
    ms_buf v;

    assert_int_equal(parse(&m, *state, msg, &err), 0);
    ms_buf_init(&v, 0);
    assert_int_equal(ms_mime_header(&v, &m, &m.parts[0], "SUBJECT"), 0);
    assert_string_equal((char *)v.data, "one");
    assert_int_equal(ms_mime_header(&v, &m, &m.parts[0], "X-Twice"),
                     MS_EMALFORMED);
    assert_int_equal(ms_mime_header(&v, &m, &m.parts[0], "X-None"),
                     MS_ENOTFOUND);
    assert_int_equal(ms_mime_header(&v, &m, &m.parts[0], "X-Folded"), 0);
    assert_string_equal((char *)v.data, "first\tsecond");
    assert_int_equal(ms_mime_header_count(&m, &m.parts[0], "x-twice"), 2);
    assert_int_equal(ms_mime_header_count(&m, &m.parts[0], "X-Twic"), 0);
    ms_buf_cleanup(&v);
    ms_mime_cleanup(&m);
}

static void
test_mime__hdr_next_iterates(void **state)
{
    static const char block[] = "A: 1\r\n"
                                "B:\r\n 2\r\n\tx\r\n"
                                "C \t: 3\n"
                                "no colon\r\n"
                                "D:4";
    ms_hdr_iter it;
    const char *n, *v, *f;
    size_t nl, vl, fl;

    (void)state;
    ms_hdr_iter_init(&it, block, strlen(block));
    assert_true(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
    assert_int_equal(nl, 1);
    assert_memory_equal(n, "A", 1);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, " 1\r\n", 4);
    assert_ptr_equal(f, block);
    assert_int_equal(fl, 6);
    assert_true(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
    assert_memory_equal(n, "B", nl);
    assert_int_equal(vl, strlen("\r\n 2\r\n\tx\r\n"));
    assert_memory_equal(v, "\r\n 2\r\n\tx\r\n", vl);
    assert_true(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
    assert_int_equal(nl, 1); /* trailing blanks trimmed from the name */
    assert_memory_equal(n, "C", 1);
    assert_memory_equal(v, " 3\n", vl);
    assert_true(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
    assert_int_equal(nl, 0);
    assert_int_equal(fl, strlen("no colon\r\n"));
    assert_true(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
    assert_memory_equal(n, "D", nl);
    assert_int_equal(vl, 1);
    assert_false(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
    ms_hdr_iter_init(&it, block, 0);
    assert_false(ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl));
}

static void
test_mime__hdr_unfold(void **state)
{
    ms_buf b;
    static const char with_nul[] = " a\0b\r\n";

    (void)state;
    ms_buf_init(&b, 0);
    assert_int_equal(ms_hdr_unfold(&b, " a\r\n b \r\n", 9), 0);
    assert_string_equal((char *)b.data, "a b");
    assert_int_equal(ms_hdr_unfold(&b, " \t\r\n", 4), 0);
    assert_string_equal((char *)b.data, "");
    assert_int_equal(ms_hdr_unfold(&b, "x", 1), 0);
    assert_string_equal((char *)b.data, "x");
    assert_int_equal(ms_hdr_unfold(&b, with_nul, sizeof(with_nul) - 1),
                     MS_EMALFORMED);
    ms_buf_cleanup(&b);
    ms_buf_init(&b, 2);
    assert_int_equal(ms_hdr_unfold(&b, " abc", 4), MS_ETOOBIG);
    ms_buf_cleanup(&b);
}

static void
test_mime__hdr_is_content(void **state)
{
    (void)state;
    assert_true(ms_hdr_is_content("Content-Type", 12));
    assert_true(ms_hdr_is_content("CONTENT-X", 9));
    assert_true(ms_hdr_is_content("content-", 8));
    assert_false(ms_hdr_is_content("Content", 7));
    assert_false(ms_hdr_is_content("X-Content-Type", 14));
    assert_false(ms_hdr_is_content("MIME-Version", 12));
}

static void
check_canon(const char *in, size_t len, const char *want)
{
    ms_buf b;

    ms_buf_init(&b, 0);
    assert_int_equal(ms_buf_puts(&b, ">"), 0);
    assert_int_equal(ms_mime_canon_crlf(&b, in, len), 0);
    assert_int_equal(b.len, strlen(want) + 1);
    assert_memory_equal(b.data + 1, want, strlen(want));
    assert_int_equal(b.data[b.len], '\0');
    ms_buf_cleanup(&b);
}

static void
test_mime__canon_crlf(void **state)
{
    (void)state;
    check_canon("a\nb\n", 4, "a\r\nb\r\n");
    check_canon("a\r\nb\r\n", 6, "a\r\nb\r\n");
    check_canon("\n", 1, "\r\n");
    check_canon("\n\n", 2, "\r\n\r\n");
    check_canon("a\rb\r", 4, "a\rb\r");
    check_canon("\r\r\n", 3, "\r\r\n");
    check_canon("\r", 1, "\r");
    check_canon("no newline", 10, "no newline");
    check_canon("", 0, "");
    check_canon("x\n\r\ny\r\n\n", 8, "x\r\n\r\ny\r\n\r\n");
}

static void
test_mime__has_bare_lf(void **state)
{
    (void)state;
    assert_false(ms_mime_has_bare_lf("", 0));
    assert_false(ms_mime_has_bare_lf("no newline", 10));
    assert_false(ms_mime_has_bare_lf("a\r\nb\r\n", 6));
    assert_false(ms_mime_has_bare_lf("a\rb\r", 4));
    assert_true(ms_mime_has_bare_lf("\n", 1));
    assert_true(ms_mime_has_bare_lf("a\r\nb\n", 5));
    assert_true(ms_mime_has_bare_lf("\r\n\n", 3));
    /* Only the bytes given count: the CR before them is not looked at. */
    assert_true(ms_mime_has_bare_lf(&"\r\n"[1], 1));
}

static void
test_mime__canon_crlf_limits(void **state)
{
    ms_buf b;

    (void)state;
    ms_buf_init(&b, 5);
    assert_int_equal(ms_mime_canon_crlf(&b, "ab\nc", 4), 0);
    assert_int_equal(ms_mime_canon_crlf(&b, "\n", 1), MS_ETOOBIG);
    assert_string_equal((char *)b.data, "ab\r\nc");
    ms_buf_cleanup(&b);
    ms_buf_init(&b, 0);
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_mime_canon_crlf(&b, "a\n", 2), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    ms_buf_cleanup(&b);
}

/* Fails each ms_ allocation of a parse in turn: MS_ENOMEM every time, no
 * leak, and never a parse that "succeeds" after losing an allocation. */
static void
test_mime__alloc_failure_loop(void **state)
{
    fixture *f = *state;
    ms_mime ref, m;
    ms_error err;
    size_t total;

    (void)ms_alloc_fail_at(0);
    assert_int_equal(parse(&ref, f, multipart_msg, &err), 0);
    total = ms_alloc_fail_at(0);
    assert_true(total > 3);
    for (size_t n = 1; n <= total; n++) {
        int rc;

        (void)ms_alloc_fail_at(n);
        rc = parse(&m, f, multipart_msg, &err);
        (void)ms_alloc_fail_at(0);
        if (rc != MS_ENOMEM)
            fail_msg("allocation %zu of %zu failed, parse returned %s", n,
                     total, ms_status_name(rc));
        assert_int_equal(err.code, MS_ENOMEM);
        assert_null(m.parts);
        assert_int_equal(m.nparts, 0);
    }
    ms_mime_cleanup(&ref);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mime__single_part),
        T(test_mime__single_part_lf_and_no_body),
        T(test_mime__type_and_parameters_lower_case),
        T(test_mime__multipart_preamble_epilogue),
        T(test_mime__nested_multipart),
        T(test_mime__missing_close_delimiter),
        T(test_mime__multipart_without_parts),
        T(test_mime__multipart_without_boundary),
        T(test_mime__two_content_type_fields),
        T(test_mime__malformed_header_lines),
        T(test_mime__depth_limit),
        T(test_mime__depth_limit_default),
        T(test_mime__depth_counts_rfc822),
        T(test_mime__header_count_limit),
        T(test_mime__header_line_limit),
        T(test_mime__message_over_max),
        T(test_mime__rfc822_marks_inner_parts),
        T(test_mime__digest_defaults_to_rfc822),
        T(test_mime__mbox_from_line),
        T(test_mime__header_lookup),
        T(test_mime__hdr_next_iterates),
        T(test_mime__hdr_unfold),
        T(test_mime__hdr_is_content),
        T(test_mime__canon_crlf),
        T(test_mime__canon_crlf_limits),
        T(test_mime__has_bare_lf),
        T(test_mime__alloc_failure_loop),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
