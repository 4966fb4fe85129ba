/* tests/unit/test_ctx.c - lib/ctx.c: the context, limits and RFC 3339. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mailseal/mailseal.h>

#include "ms_test.h"
#include "util/alloc.h"

static time_t
parse_ok(const char *s)
{
    time_t t = 0;
    ms_error err;

    if (ms_time_parse(&t, s, &err) != 0)
        fail_msg("rejected \"%s\": %s", s, err.msg);
    return t;
}

static void
assert_limits_equal(const ms_limits *a, const ms_limits *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->max_message, b->max_message);
    assert_int_equal(a->max_depth, b->max_depth);
    assert_int_equal(a->max_headers, b->max_headers);
    assert_int_equal(a->max_header_line, b->max_header_line);
    assert_int_equal(a->max_signers, b->max_signers);
    assert_int_equal(a->max_recipients, b->max_recipients);
}

static void
test_ctx__time_format(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(ms_time_format(out, sizeof(out), 0), 0);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    assert_int_equal(ms_time_format(out, sizeof(out), MS_TEST_NOW), 0);
    assert_string_equal(out, "2026-11-23T10:00:00Z");
    assert_int_equal(ms_time_format(out, sizeof(out), 951782400), 0);
    assert_string_equal(out, "2000-02-29T00:00:00Z");
    assert_int_equal(ms_time_format(out, sizeof(out), -1), 0);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
}

static void
test_ctx__time_format_buffer_size(void **state)
{
    char out[21];

    (void)state;
    assert_int_equal(ms_time_format(out, 21, MS_TEST_NOW), 0);
    assert_string_equal(out, "2026-11-23T10:00:00Z");
    assert_int_equal(ms_time_format(out, 20, MS_TEST_NOW), MS_ETOOBIG);
    assert_int_equal(ms_time_format(out, 0, MS_TEST_NOW), MS_ETOOBIG);
}

static void
test_ctx__time_parse_utc(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-23T10:00:00Z") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23t10:00:00z") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23 10:00:00Z") == MS_TEST_NOW);
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    assert_true(parse_ok("1969-12-31T23:59:59Z") == -1);
    assert_true(parse_ok("2000-02-29T00:00:00Z") == 951782400);
    assert_true(parse_ok("2024-02-29T12:00:00Z") == 1709208000);
}

static void
test_ctx__time_parse_offsets(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-23T12:00:00+02:00") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23T04:30:00-05:30") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23T10:00:00+00:00") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23T10:00:00-00:00") == MS_TEST_NOW);
    /* Offsets cross the date line. */
    assert_true(parse_ok("2026-11-24T09:59:00+23:59") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-22T10:01:00-23:59") == MS_TEST_NOW);
}

static void
test_ctx__time_parse_fraction(void **state)
{
    (void)state;
    assert_true(parse_ok("2026-11-23T10:00:00.5Z") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23T10:00:00.999999999Z") == MS_TEST_NOW);
    assert_true(parse_ok("2026-11-23T12:00:00.000+02:00") == MS_TEST_NOW);
}

static void
test_ctx__time_parse_leap_second(void **state)
{
    (void)state;
    /* 23:59:60 is read as 23:59:59 (time_t has no leap seconds). */
    assert_true(parse_ok("2016-12-31T23:59:60Z") ==
                parse_ok("2016-12-31T23:59:59Z"));
    assert_true(parse_ok("2016-12-31T23:59:60Z") + 1 ==
                parse_ok("2017-01-01T00:00:00Z"));
}

static void
test_ctx__time_round_trip(void **state)
{
    char out[32];
    static const time_t samples[] = {0, 1, 86399, 951782400, MS_TEST_NOW,
                                     2147483647, 4102444800};

    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        assert_int_equal(ms_time_format(out, sizeof(out), samples[i]), 0);
        assert_true(parse_ok(out) == samples[i]);
    }
}

static void
test_ctx__time_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-11-23",
        "2026-11-23T10:00",
        "2026-11-23T10:00:00",       /* no zone */
        "2026-11-23T10:00:00 Z",
        "2026-11-23T10:00:00Zjunk",
        "2026-11-23T10:00:00.Z",     /* fraction without digits */
        "2026-11-23T10:00:00,5Z",
        "2026-11-23T10:00:00+02",    /* offset without minutes */
        "2026-11-23T10:00:00+0200",
        "2026-11-23T10:00:00+24:00",
        "2026-11-23T10:00:00+02:60",
        "2026-11-23X10:00:00Z",
        "2026/11/23T10:00:00Z",
        "26-11-23T10:00:00Z",
        "2026-1-23T10:00:00Z",
        "2026-00-23T10:00:00Z",
        "2026-13-23T10:00:00Z",
        "2026-11-00T10:00:00Z",
        "2026-11-32T10:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T10:60:00Z",
        "2026-11-23T10:00:61Z",
        "2026-11-23T-1:00:00Z",
        "+026-11-23T10:00:00Z",
        "2026-02-29T00:00:00Z",      /* not a leap year */
        "2026-02-30T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-06-31T00:00:00Z",
        "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2100-02-29T00:00:00Z",      /* century, not a leap year */
    };
    ms_error err;
    time_t t = 42;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ms_time_parse(&t, bad[i], &err) != MS_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(err.code, MS_EINVAL);
        assert_int_equal(ms_time_parse(&t, bad[i], NULL), MS_EINVAL);
    }
    assert_true(t == 42);
}

static void
test_ctx__new_has_defaults(void **state)
{
    const ms_limits def = MS_LIMITS_INIT;
    const ms_limits *l;
    ms_ctx *ctx = NULL;
    ms_error err;
    time_t before, now;

    (void)state;
    assert_int_equal(ms_ctx_new(&ctx, &err), 0);
    l = ms_ctx_get0_limits(ctx);
    assert_limits_equal(l, &def);
    assert_int_equal(l->max_depth, 32);
    before = time(NULL);
    now = ms_ctx_now(ctx);
    assert_true(now >= before && now <= time(NULL));
    ms_ctx_free(ctx);
    ms_ctx_free(NULL);
}

static void
test_ctx__clock_injection(void **state)
{
    time_t fixed = MS_TEST_NOW;
    ms_ctx *ctx = ms_test_ctx(&fixed);

    (void)state;
    assert_true(ms_ctx_now(ctx) == MS_TEST_NOW);
    fixed += 60;
    assert_true(ms_ctx_now(ctx) == MS_TEST_NOW + 60);
    ms_ctx_set_clock(ctx, NULL, &fixed);
    assert_true(ms_ctx_now(ctx) > MS_TEST_NOW - 86400 * 365 * 10);
    assert_true(ms_ctx_now(ctx) != MS_TEST_NOW + 60);
    ms_ctx_free(ctx);
}

static void
test_ctx__set_limits(void **state)
{
    ms_limits l = MS_LIMITS_INIT;
    ms_ctx *ctx = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(ms_ctx_new(&ctx, &err), 0);
    l.max_depth = 3;
    l.max_message = 1;
    assert_int_equal(ms_ctx_set_limits(ctx, &l, &err), 0);
    assert_int_equal(ms_ctx_get0_limits(ctx)->max_depth, 3);
    assert_int_equal(ms_ctx_get0_limits(ctx)->max_message, 1);
    ms_ctx_free(ctx);
}

static void
test_ctx__set_limits_rejects(void **state)
{
    ms_ctx *ctx = NULL;
    ms_error err;
    const ms_limits def = MS_LIMITS_INIT;

    (void)state;
    assert_int_equal(ms_ctx_new(&ctx, &err), 0);
    for (int field = 0; field < 7; field++) {
        ms_limits l = MS_LIMITS_INIT;

        switch (field) {
        case 0:
            l.version = MS_LIMITS_VERSION + 1;
            break;
        case 1:
            l.max_message = 0;
            break;
        case 2:
            l.max_depth = 0;
            break;
        case 3:
            l.max_headers = 0;
            break;
        case 4:
            l.max_header_line = 0;
            break;
        case 5:
            l.max_signers = 0;
            break;
        default:
            l.max_recipients = 0;
            break;
        }
        l.max_depth = field == 2 ? 0 : 5;
        assert_int_equal(ms_ctx_set_limits(ctx, &l, &err), MS_EINVAL);
        assert_int_equal(err.code, MS_EINVAL);
        assert_int_equal(ms_ctx_set_limits(ctx, &l, NULL), MS_EINVAL);
        /* A refused set changes nothing. */
        assert_limits_equal(ms_ctx_get0_limits(ctx), &def);
    }
    ms_ctx_free(ctx);
}

static void
test_ctx__new_alloc_failure(void **state)
{
    ms_ctx *ctx = NULL;
    ms_error err;

    (void)state;
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_ctx_new(&ctx, &err), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_null(ctx);
    assert_int_equal(err.code, MS_ENOMEM);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx__time_format),
        cmocka_unit_test(test_ctx__time_format_buffer_size),
        cmocka_unit_test(test_ctx__time_parse_utc),
        cmocka_unit_test(test_ctx__time_parse_offsets),
        cmocka_unit_test(test_ctx__time_parse_fraction),
        cmocka_unit_test(test_ctx__time_parse_leap_second),
        cmocka_unit_test(test_ctx__time_round_trip),
        cmocka_unit_test(test_ctx__time_parse_rejects),
        cmocka_unit_test(test_ctx__new_has_defaults),
        cmocka_unit_test(test_ctx__clock_injection),
        cmocka_unit_test(test_ctx__set_limits),
        cmocka_unit_test(test_ctx__set_limits_rejects),
        cmocka_unit_test(test_ctx__new_alloc_failure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
