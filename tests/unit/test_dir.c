/*
 * tests/unit/test_dir.c - the pure parts of the directory module
 * (services/directory/dir.h): the exact address of a lookup path and the
 * per-process rate limiter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "directory/dir.h"
#include "ms_test.h"

static void
addr_ok(const char *in, const char *want)
{
    char out[MS_DIR_ADDR_BUF];
    ms_error err;

    if (ms_dir_addr_parse(out, in, &err) != 0)
        fail_msg("rejected \"%s\": %s", in, err.msg);
    assert_string_equal(out, want);
}

static void
addr_bad(const char *in)
{
    char out[MS_DIR_ADDR_BUF] = "untouched";
    ms_error err;

    if (ms_dir_addr_parse(out, in, &err) != MS_EINVAL)
        fail_msg("accepted \"%s\" as \"%s\"", in != NULL ? in : "(null)", out);
    assert_string_equal(out, "");
}

static void
test_addr_normalised(void **state)
{
    (void)state;
    addr_ok("alice@example.org", "alice@example.org");
    addr_ok("ALICE@Example.ORG", "alice@example.org");
    addr_ok("  Bob.Smith@example.org\t", "bob.smith@example.org");
    addr_ok("first_last+tag@sub.ex-ample.co.uk",
            "first_last+tag@sub.ex-ample.co.uk");
    addr_ok("o'neil@example.org", "o'neil@example.org");
    addr_ok("a@b", "a@b");
}

static void
test_addr_patterns(void **state)
{
    static const char *const bad[] = {
        "*@example.org",        "alice*",
        "al*ce@example.org",    "a?@example.org",
        "a%@example.org",       "a%2A@example.org",
        "[a-z]@example.org",    "a^b@example.org",
        "a$@example.org",       "a|b@example.org",
        "a\\b@example.org",     "a/b@example.org",
        "a,b@example.org",      "a;b@example.org",
        "a:b@example.org",      "(a)@example.org",
        "<a@example.org>",      "\"a\"@example.org",
        "{a}@example.org",      "alice@example.*",
        "alice@*.org",          "alice@example.org/x",
        "alice@example.org%00", NULL};

    (void)state;
    for (size_t i = 0; bad[i] != NULL; i++)
        addr_bad(bad[i]);
}

static void
test_addr_shape(void **state)
{
    char long_local[80], long_addr[300];

    (void)state;
    addr_bad(NULL);
    addr_bad("");
    addr_bad("   ");
    addr_bad("alice");
    addr_bad("alice@");
    addr_bad("@example.org");
    addr_bad("a@b@example.org");
    addr_bad("a b@example.org");
    addr_bad("a\tb@example.org");
    addr_bad(".a@example.org");
    addr_bad("a.@example.org");
    addr_bad("a..b@example.org");
    addr_bad("a@example..org");
    addr_bad("a@.example.org");
    addr_bad("a@example.org.");
    addr_bad("a@-example.org");
    addr_bad("a@example-.org");
    addr_bad("a@ex_ample.org");
    addr_bad("a\x01@example.org");
    addr_bad("j\xc3\xb6rg@example.org");
    addr_bad("a@b\xc3\xbc.example");
    memset(long_local, 'a', 65);
    (void)snprintf(long_local + 65, sizeof(long_local) - 65, "@x.org");
    addr_bad(long_local);
    memset(long_addr, 'b', sizeof(long_addr));
    memcpy(long_addr, "a@", 2);
    for (size_t i = 50; i < 250; i += 50)
        long_addr[i] = '.';
    long_addr[255] = '\0';
    addr_bad(long_addr); /* 255 bytes: one too many */
}

static void
test_rate(void **state)
{
    ms_dir_rate *r = NULL;
    long after = 0;

    (void)state;
    assert_int_equal(ms_dir_rate_new(&r, 16, NULL), 0);
    /* burst of 3, then 429 for 20 s (3 a minute) */
    for (int i = 0; i < 3; i++)
        assert_true(ms_dir_rate_take(r, "10.0.0.1", 3, 1000, &after));
    assert_false(ms_dir_rate_take(r, "10.0.0.1", 3, 1000, &after));
    assert_true(after >= 1 && after <= 21);
    /* another key has its own bucket */
    assert_true(ms_dir_rate_take(r, "10.0.0.2", 3, 1000, &after));
    /* refilled with time */
    assert_false(ms_dir_rate_take(r, "10.0.0.1", 3, 1019, &after));
    assert_true(ms_dir_rate_take(r, "10.0.0.1", 3, 1021, &after));
    /* many keys: memory stays bounded, old keys are forgotten */
    for (int i = 0; i < 1000; i++) {
        char k[32];

        (void)snprintf(k, sizeof(k), "k%d", i);
        assert_true(ms_dir_rate_take(r, k, 1, 2000, &after));
    }
    assert_false(ms_dir_rate_take(r, "x", 0, 2000, &after));
    ms_dir_rate_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_normalised),
        cmocka_unit_test(test_addr_patterns),
        cmocka_unit_test(test_addr_shape),
        cmocka_unit_test(test_rate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
