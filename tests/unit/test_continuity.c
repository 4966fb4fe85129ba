/*
 * tests/unit/test_continuity.c - cli/continuity.c: the key continuity
 * rules, on their own and on real signed messages judged by ms_open()
 * with a real profile directory.
 */
/* cmocka.h needs these first (clang-format would sort it up). */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include <mailseal/mailseal.h>

#include "continuity.h"
#include "ms_test.h"

static char base[256];
static time_t now = MS_TEST_NOW;

static int
group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");

    (void)snprintf(base, sizeof(base), "%s/ms-cont-XXXXXX",
                   tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(base) == NULL)
        return -1;
    return ms_test_library_setup(state);
}

static int
group_teardown(void **state)
{
    char cmd[300];

    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return -1;
    return ms_test_library_teardown(state);
}

static ms_profile_seen
rec(char fp, const char *issuer, int level)
{
    ms_profile_seen s;

    memset(&s, 0, sizeof(s));
    memset(s.fingerprint, fp, 64);
    (void)snprintf(s.issuer, sizeof(s.issuer), "%s", issuer);
    s.level = level;
    s.first_seen = s.last_seen = MS_TEST_NOW;
    return s;
}

static void
test_continuity__judge(void **state)
{
    ms_profile_seen v3 = rec('a', "CN=CA3", 3);
    ms_profile_seen v3_renewed = rec('b', "CN=CA3", 3);
    ms_profile_seen v4_same_ca = rec('b', "CN=CA3", 4);
    ms_profile_seen v2_same_ca = rec('b', "CN=CA3", 2);
    ms_profile_seen v3_other_ca = rec('b', "CN=Other", 3);
    ms_profile_seen v3_same_cert_lower = rec('a', "CN=CA3", 1);

    (void)state;
    assert_int_equal(cli_continuity_judge(NULL, NULL), CLI_CONT_NONE);
    assert_int_equal(cli_continuity_judge(NULL, &v3), CLI_CONT_NEW);
    assert_int_equal(cli_continuity_judge(&v3, &v3), CLI_CONT_SAME);
    assert_int_equal(cli_continuity_judge(&v3, &v3_renewed), CLI_CONT_RENEWED);
    assert_int_equal(cli_continuity_judge(&v3, &v4_same_ca), CLI_CONT_RENEWED);
    assert_int_equal(cli_continuity_judge(&v3, &v2_same_ca), CLI_CONT_LOWER);
    assert_int_equal(cli_continuity_judge(&v3, &v3_other_ca), CLI_CONT_NEW_CA);
    assert_int_equal(cli_continuity_judge(&v3, &v3_same_cert_lower),
                     CLI_CONT_LOWER);
    assert_int_equal(cli_continuity_judge(&v3, NULL), CLI_CONT_UNSIGNED);
    assert_false(cli_continuity_warns(CLI_CONT_NEW));
    assert_false(cli_continuity_warns(CLI_CONT_SAME));
    assert_false(cli_continuity_warns(CLI_CONT_RENEWED));
    assert_true(cli_continuity_warns(CLI_CONT_NEW_CA));
    assert_true(cli_continuity_warns(CLI_CONT_LOWER));
    assert_true(cli_continuity_warns(CLI_CONT_UNSIGNED));
    assert_string_equal(cli_continuity_name(CLI_CONT_LOWER), "lower-level");
}

/* A message from eve@example.net signed with the PKI's name (or not). */
static ms_result *
judged(ms_ctx *ctx, const char *name)
{
    static const char msg[] = "From: eve@example.net\r\nTo: a@example.org\r\n"
                              "Subject: t\r\n\r\nhello\r\n";
    ms_sign_options so = MS_SIGN_OPTIONS_INIT;
    ms_identity *id = NULL;
    ms_verifier *v = NULL;
    ms_result *r = NULL;
    char cert[64], key[64], path[512];
    ms_buf out;
    ms_error err;

    ms_buf_init(&out, 0);
    if (name == NULL) {
        assert_int_equal(ms_buf_puts(&out, msg), 0);
    } else {
        (void)snprintf(cert, sizeof(cert), "%s.pem", name);
        (void)snprintf(key, sizeof(key), "%s.key", name);
        (void)snprintf(path, sizeof(path), "%s", ms_test_pki(key));
        assert_int_equal(ms_identity_load(&id, ctx, ms_test_pki(cert), path,
                                          NULL, NULL, &err),
                         0);
        assert_int_equal(
            ms_sign(&out, ctx, id, &so, msg, sizeof(msg) - 1, &err), 0);
        ms_identity_free(id);
    }
    assert_int_equal(ms_verifier_new(&v, ctx, &err), 0);
    assert_int_equal(
        ms_verifier_add_trust_file(v, ms_test_pki("root.pem"), &err), 0);
    assert_int_equal(
        ms_verifier_add_trust_file(v, ms_test_pki("other-root.pem"), &err), 0);
    assert_int_equal(
        ms_verifier_add_untrusted_file(v, ms_test_pki("ca-v1.pem"), &err), 0);
    assert_int_equal(ms_verifier_set_system_trust(v, false, &err), 0);
    ms_verifier_set_offline(v, true);
    assert_int_equal(ms_open(&r, NULL, ctx, v, NULL, out.data, out.len, &err),
                     0);
    ms_verifier_free(v);
    ms_buf_cleanup(&out);
    return r;
}

static ms_profile *
fresh_profile(const char *name)
{
    ms_profile *p = NULL;
    ms_error err;
    char dir[300];

    (void)snprintf(dir, sizeof(dir), "%s/%s", base, name);
    assert_int_equal(ms_profile_open(&p, dir, MS_PROFILE_CREATE, &err), 0);
    return p;
}

static void
check(cli_continuity *c, ms_profile *p, ms_ctx *ctx, const char *name,
      cli_cont_status want)
{
    ms_result *r = judged(ctx, name);
    ms_error err;

    assert_int_equal(cli_continuity_check(c, p, r, now, &err), 0);
    assert_int_equal(c->status, want);
    assert_int_equal(c->warning[0] != '\0', cli_continuity_warns(want));
    ms_result_free(r);
}

static void
test_continuity__messages(void **state)
{
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_profile *p = fresh_profile("a");
    ms_profile_seen s;
    cli_continuity c;
    ms_error err;
    json_t *j;

    (void)state;
    check(&c, p, ctx, "v1-sign", CLI_CONT_NEW);
    assert_string_equal(c.address, "eve@example.net");
    assert_int_equal(c.cur.level, 1);
    assert_string_equal(c.cur.issuer, "CN=mailseal Test V1 Mailbox CA");
    check(&c, p, ctx, "v1-sign", CLI_CONT_SAME);
    /* An unsigned message from a known signer warns, changes nothing. */
    check(&c, p, ctx, NULL, CLI_CONT_UNSIGNED);
    assert_non_null(strstr(c.warning, "no trusted signature"));
    assert_int_equal(ms_profile_seen_get(&s, p, "eve@example.net", &err), 0);
    assert_int_equal(s.level, 1);
    /* Another CA (other-root's V1) warns once, then is the record. */
    check(&c, p, ctx, "other-v1", CLI_CONT_NEW_CA);
    assert_non_null(strstr(c.warning, "another CA"));
    assert_non_null(strstr(c.warning, "CN=mailseal Other Test Root CA"));
    j = cli_continuity_json(&c);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "new-ca");
    assert_true(json_is_string(json_object_get(j, "warning")));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "previous"), "level")),
                        "V1");
    json_decref(j);
    check(&c, p, ctx, "other-v1", CLI_CONT_SAME);
    ms_profile_free(p);
    ms_ctx_free(ctx);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_continuity__level_drop_and_renewal(void **state)
{
    ms_ctx *ctx = ms_test_ctx(&now);
    ms_profile *p = fresh_profile("b");
    ms_profile_seen s = rec('c', "CN=mailseal Test V1 Mailbox CA", 4);
    cli_continuity c;
    ms_error err;

    (void)state;
    /* The record says V4 under the same CA: V1 now is a drop. */
    assert_int_equal(ms_profile_seen_put(p, "eve@example.net", &s, &err), 0);
    check(&c, p, ctx, "v1-sign", CLI_CONT_LOWER);
    assert_non_null(strstr(c.warning, "lower identity level"));
    assert_non_null(strstr(c.warning, "now V1"));
    assert_non_null(strstr(c.warning, "before V4"));
    /* The record says V1 with another certificate of the same CA: a
     * renewal, silent, and the new certificate is remembered. */
    s = rec('d', "CN=mailseal Test V1 Mailbox CA", 1);
    assert_int_equal(ms_profile_seen_put(p, "eve@example.net", &s, &err), 0);
    check(&c, p, ctx, "v1-sign", CLI_CONT_RENEWED);
    assert_int_equal(ms_profile_seen_get(&s, p, "eve@example.net", &err), 0);
    /* The record now holds v1-sign's fingerprint, not the 64 'd's (a real
     * one may start with 'd': the test PKI is new every run). */
    assert_int_equal(strlen(s.fingerprint), 64);
    assert_string_equal(s.fingerprint, c.cur.fingerprint);
    ms_profile_free(p);
    ms_ctx_free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuity__judge),
        cmocka_unit_test(test_continuity__messages),
        cmocka_unit_test(test_continuity__level_drop_and_renewal),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
