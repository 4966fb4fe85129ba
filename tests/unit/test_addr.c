/* tests/unit/test_addr.c - lib/mime/addr.c: the From address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mailseal/mailseal.h>

#include "mime/addr.h"
#include "ms_test.h"
#include "util/alloc.h"

static void
check_ok(const char *value, const char *want)
{
    char sentinel[] = "untouched";
    char *a = sentinel;
    const char *why = NULL;
    int rc = ms_addr_parse_from(&a, value, &why);

    if (rc != 0)
        fail_msg("rejected \"%s\": %s", value, why != NULL ? why : "?");
    assert_string_equal(a, want);
    ms_free(a);
}

static const char *
check_bad(const char *value)
{
    char sentinel[] = "untouched";
    char *a = sentinel;
    const char *why = NULL;

    if (ms_addr_parse_from(&a, value, &why) != MS_EMALFORMED)
        fail_msg("accepted \"%s\"", value != NULL ? value : "(null)");
    assert_null(a);
    assert_non_null(why);
    return why;
}

static void
test_addr__plain(void **state)
{
    (void)state;
    check_ok("alice@example.net", "alice@example.net");
    check_ok("  alice@example.net  ", "alice@example.net");
    check_ok("alice@localhost", "alice@localhost");
    check_ok("first.last+tag@sub.example.org", "first.last+tag@sub.example.org");
}

static void
test_addr__display_name(void **state)
{
    (void)state;
    check_ok("Alice Example <alice@example.net>", "alice@example.net");
    check_ok("<alice@example.net>", "alice@example.net");
    check_ok("=?utf-8?q?J=C3=B6rg?= <joerg@example.net>", "joerg@example.net");
}

static void
test_addr__quoted_display_name_holding_an_address(void **state)
{
    (void)state;
    /* The display name must not win over the real addr-spec. */
    check_ok("\"ceo@bank.example\" <mallory@evil.example>",
             "mallory@evil.example");
    check_ok("\"Bank, Inc. <ceo@bank.example>\" <mallory@evil.example>",
             "mallory@evil.example");
}

static void
test_addr__two_mailboxes(void **state)
{
    (void)state;
    assert_non_null(strstr(check_bad("a@example.net, b@example.net"),
                           "exactly one"));
    check_bad("A <a@example.net>, B <b@example.net>");
}

static void
test_addr__group(void **state)
{
    (void)state;
    assert_non_null(strstr(check_bad("Friends: a@example.net;"), "group"));
    check_bad("undisclosed-recipients:;");
}

static void
test_addr__empty(void **state)
{
    (void)state;
    assert_non_null(strstr(check_bad(""), "empty"));
    assert_non_null(strstr(check_bad(NULL), "empty"));
}

static void
test_addr__idn_domain_to_a_label(void **state)
{
    (void)state;
    check_ok("user@b\xc3\xbc" "cher.example", "user@xn--bcher-kva.example");
    check_ok("M\xc3\xbcller <user@b\xc3\xbc" "cher.example>",
             "user@xn--bcher-kva.example");
    check_ok("user@xn--bcher-kva.example", "user@xn--bcher-kva.example");
}

static void
test_addr__garbage(void **state)
{
    (void)state;
    check_bad("not an address");
    check_bad("alice");
    check_bad("@example.net");
    check_bad("alice@");
    check_bad("alice@example");
    check_bad("<<<>>>");
    check_bad("alice@example.net>");
}

static void
test_addr__too_long(void **state)
{
    char *v;
    size_t n = 64 * 1024 + 1;

    (void)state;
    v = test_malloc(n + 1);
    memset(v, 'a', n);
    v[n] = '\0';
    assert_non_null(strstr(check_bad(v), "too long"));
    test_free(v);
}

static void
test_addr__equal(void **state)
{
    (void)state;
    assert_true(ms_addr_equal("Alice@Example.NET", "alice@example.net"));
    assert_false(ms_addr_equal("alice@example.net", "alice@example.ne"));
}

static void
test_addr__alloc_failure(void **state)
{
    char *a = NULL;
    const char *why = NULL;

    (void)state;
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_addr_parse_from(&a, "alice@example.net", &why),
                     MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_null(a);
    assert_non_null(why);
}

static int
from_of(char **out, const char *msg, const char **why)
{
    time_t now = MS_TEST_NOW;
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_mime m;
    ms_error err;
    int rc;

    assert_int_equal(ms_mime_parse(&m, ctx, msg, strlen(msg), &err), 0);
    rc = ms_mime_from(out, &m, why);
    ms_mime_cleanup(&m);
    ms_ctx_free(ctx);
    return rc;
}

static void
test_addr__mime_from(void **state)
{
    char *a = NULL;
    const char *why = NULL;

    (void)state;
    assert_int_equal(from_of(&a,
                             "To: b@example.net\r\n"
                             "FROM: Alice\r\n <Alice@Example.net>\r\n"
                             "\r\nbody\r\n",
                             &why),
                     0);
    assert_string_equal(a, "Alice@Example.net");
    ms_free(a);
}

static void
test_addr__mime_from_missing(void **state)
{
    char sentinel[] = "untouched";
    char *a = sentinel;
    const char *why = NULL;

    (void)state;
    assert_int_equal(from_of(&a, "Sender: a@example.net\r\n\r\nbody\r\n",
                             &why),
                     MS_EMALFORMED);
    assert_null(a);
    assert_non_null(strstr(why, "no From"));
}

static void
test_addr__mime_from_duplicate(void **state)
{
    char sentinel[] = "untouched";
    char *a = sentinel;
    const char *why = NULL;

    (void)state;
    assert_int_equal(from_of(&a,
                             "From: a@example.net\r\n"
                             "from: b@example.net\r\n\r\nbody\r\n",
                             &why),
                     MS_EMALFORMED);
    assert_null(a);
    assert_non_null(strstr(why, "more than one"));
}

static void
test_addr__mime_from_only_top_level(void **state)
{
    char *a = NULL;
    const char *why = NULL;

    (void)state;
    /* A From inside a forwarded message is not the message's From. */
    assert_int_equal(from_of(&a,
                             "Content-Type: message/rfc822\r\n\r\n"
                             "From: inner@example.net\r\n\r\nx\r\n",
                             &why),
                     MS_EMALFORMED);
    assert_null(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr__plain),
        cmocka_unit_test(test_addr__display_name),
        cmocka_unit_test(test_addr__quoted_display_name_holding_an_address),
        cmocka_unit_test(test_addr__two_mailboxes),
        cmocka_unit_test(test_addr__group),
        cmocka_unit_test(test_addr__empty),
        cmocka_unit_test(test_addr__idn_domain_to_a_label),
        cmocka_unit_test(test_addr__garbage),
        cmocka_unit_test(test_addr__too_long),
        cmocka_unit_test(test_addr__equal),
        cmocka_unit_test(test_addr__alloc_failure),
        cmocka_unit_test(test_addr__mime_from),
        cmocka_unit_test(test_addr__mime_from_missing),
        cmocka_unit_test(test_addr__mime_from_duplicate),
        cmocka_unit_test(test_addr__mime_from_only_top_level),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
