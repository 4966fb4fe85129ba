/* tests/unit/test_config.c - lib/config: the key = value parser and the
 * mailseald key table. */
/* clang-format off: cmocka needs these first */
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

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "config/config.h"
#include "config/daemon.h"
#include "util/alloc.h"

static ms_daemon_config *
parse_ok(const char *text)
{
    ms_daemon_config *c = NULL;
    ms_error err;
    int rc;

    rc = ms_daemon_config_parse(&c, text, strlen(text), "t.conf", "/srv/ms",
                                &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    return c;
}

/* Parsing text fails with code and a message equal to msg. */
static void
parse_fails(const char *text, int code, const char *msg)
{
    ms_daemon_config *c = NULL;
    ms_error err;

    assert_int_equal(ms_daemon_config_parse(&c, text, strlen(text), "t.conf",
                                            "/srv/ms", &err),
                     code);
    assert_null(c);
    assert_string_equal(err.msg, msg);
}

static void
test_config__defaults(void **state)
{
    ms_daemon_config *c = parse_ok("");

    (void)state;
    assert_string_equal(c->listen.host, "127.0.0.1");
    assert_int_equal(c->listen.port, 8025);
    assert_true(c->listen.loopback);
    assert_false(c->listen.ipv6);
    assert_string_equal(c->public_url, "http://127.0.0.1:8025");
    assert_string_equal(c->data_dir, "/srv/ms");
    assert_string_equal(c->database, "sqlite:/srv/ms/mailseal.db");
    assert_int_equal(c->modules.n, 6);
    assert_string_equal(c->modules.v[0], "ca");
    assert_string_equal(c->modules.v[3], "crl");
    assert_string_equal(c->modules.v[5], "kms");
    assert_null(c->modules.v[6]);
    assert_string_equal(c->mail_relay, "spool:/srv/ms/spool");
    assert_string_equal(c->mail_from, "mailseal@localhost");
    assert_string_equal(c->kms_master_key_file,
                        "/srv/ms/private/kms-master.key");
    assert_string_equal(c->kms_key_alg, "rsa-3072");
    assert_null(c->passphrase_file);
    assert_false(c->insecure_keys);
    assert_int_equal(c->threads, 0);
    assert_int_equal(c->max_body, 65536);
    assert_int_equal(c->max_connections, 1024);
    assert_int_equal(c->connection_timeout, 30);
    assert_int_equal(c->ocsp_validity, 86400);
    assert_int_equal(c->crl_validity, 604800);
    assert_int_equal(c->crl_interval, 3600);
    assert_int_equal(c->cert_validity_days, 365);
    assert_int_equal(c->tsa_accuracy, 1);
    assert_int_equal(c->log_level, MS_LOGLEVEL_INFO);
    assert_string_equal(c->source, "t.conf");
    ms_daemon_config_free(c);
}

static void
test_config__every_key(void **state)
{
    ms_daemon_config *c =
        parse_ok("# mailseald\n"
                 "\n"
                 "   listen   =   [::1]:0   \n"
                 "public_url = https://ca.example.test\r\n"
                 "\tdata_dir = /var/lib/ms\n"
                 "database = postgresql://u:pw@db/ms\n"
                 "modules = ocsp,crl   tsa\n"
                 "passphrase_file = /etc/ms/pass # not a comment\n"
                 "insecure_keys = yes\n"
                 "threads = 8\n"
                 "max_body = 1m\n"
                 "max_connections = 10\n"
                 "connection_timeout = 2m\n"
                 "ocsp_validity = 1d\n"
                 "crl_validity = 7d\n"
                 "crl_interval = 1h\n"
                 "cert_validity_days = 30\n"
                 "tsa_accuracy = 0\n"
                 "log_level = debug");

    (void)state;
    assert_string_equal(c->listen.host, "::1");
    assert_int_equal(c->listen.port, 0);
    assert_true(c->listen.ipv6);
    assert_true(c->listen.loopback);
    assert_string_equal(c->public_url, "https://ca.example.test");
    assert_string_equal(c->data_dir, "/var/lib/ms");
    assert_string_equal(c->database, "postgresql://u:pw@db/ms");
    assert_int_equal(c->modules.n, 3);
    assert_string_equal(c->modules.v[0], "ocsp");
    assert_string_equal(c->modules.v[2], "tsa");
    assert_string_equal(c->passphrase_file, "/etc/ms/pass # not a comment");
    assert_true(c->insecure_keys);
    assert_int_equal(c->threads, 8);
    assert_int_equal(c->max_body, 1024 * 1024);
    assert_int_equal(c->max_connections, 10);
    assert_int_equal(c->connection_timeout, 120);
    assert_int_equal(c->ocsp_validity, 86400);
    assert_int_equal(c->crl_validity, 7 * 86400);
    assert_int_equal(c->crl_interval, 3600);
    assert_int_equal(c->cert_validity_days, 30);
    assert_int_equal(c->tsa_accuracy, 0);
    assert_int_equal(c->log_level, MS_LOGLEVEL_DEBUG);
    ms_daemon_config_free(c);
}

static void
test_config__database_follows_data_dir(void **state)
{
    ms_daemon_config *c = parse_ok("data_dir = /d\n");

    (void)state;
    assert_string_equal(c->database, "sqlite:/d/mailseal.db");
    ms_daemon_config_free(c);
    c = parse_ok("modules =\n");
    assert_int_equal(c->modules.n, 0);
    assert_null(c->modules.v);
    ms_daemon_config_free(c);
}

static void
test_config__errors_name_file_and_line(void **state)
{
    (void)state;
    parse_fails("\n# c\nbogus = 1\n", MS_EINVAL,
                "t.conf:3: unknown key 'bogus'");
    parse_fails("threads = 1\nthreads = 2\n", MS_EINVAL,
                "t.conf:2: key 'threads' is set twice");
    parse_fails("threads\n", MS_EINVAL, "t.conf:1: expected key = value");
    parse_fails(" = 3\n", MS_EINVAL, "t.conf:1: missing key before '='");
    parse_fails("Threads = 3\n", MS_EINVAL,
                "t.conf:1: bad key name (expected [a-z0-9_]+)");
    parse_fails("insecure_keys = true\n", MS_EINVAL,
                "t.conf:1: insecure_keys: expected yes or no");
    parse_fails("threads =\n", MS_EINVAL, "t.conf:1: threads: empty value");
    parse_fails("threads = 257\n", MS_EINVAL,
                "t.conf:1: threads: 257 is out of range 0..256");
    parse_fails("threads = -1\n", MS_EINVAL,
                "t.conf:1: threads: not a decimal number");
    parse_fails("threads = 1k\n", MS_EINVAL,
                "t.conf:1: threads: not a decimal number");
    parse_fails("threads = 99999999999999999999\n", MS_EINVAL,
                "t.conf:1: threads: not a decimal number");
    parse_fails("max_body = 5x\n", MS_EINVAL,
                "t.conf:1: max_body: not a size (N, Nk, Nm, Ng)");
    parse_fails("max_body = 1023\n", MS_EINVAL,
                "t.conf:1: max_body: 1023 is out of range 1024..67108864");
    parse_fails("crl_interval = 1w\n", MS_EINVAL,
                "t.conf:1: crl_interval: not a duration (N, Ns, Nm, Nh, Nd)");
    parse_fails("log_level = loud\n", MS_EINVAL,
                "t.conf:1: log_level: unknown value 'loud'");
    parse_fails("modules = ca ca\n", MS_EINVAL,
                "t.conf:1: modules: 'ca' is listed twice");
    parse_fails("modules = ca nosuch\n", MS_EINVAL,
                "t.conf:1: modules: unknown word 'nosuch'");
    parse_fails("public_url = ftp://x\n", MS_EINVAL,
                "t.conf:1: public_url: must start with http:// or https://");
    parse_fails("public_url = http://x/\n", MS_EINVAL,
                "t.conf:1: public_url: no blanks, query, fragment or "
                "trailing slash");
    parse_fails("data_dir = rel\n", MS_EINVAL,
                "t.conf:1: data_dir: must be absolute");
    parse_fails("database = mysql://x\n", MS_EINVAL,
                "t.conf:1: database: expected sqlite:PATH or "
                "postgresql://...");
}

static void
test_config__listen_values(void **state)
{
    ms_config_listen l;
    ms_error err;

    (void)state;
    assert_int_equal(ms_config_parse_listen(&l, "0.0.0.0:443", &err), 0);
    assert_false(l.loopback);
    assert_int_equal(l.port, 443);
    assert_int_equal(ms_config_parse_listen(&l, "127.1.2.3:65535", &err), 0);
    assert_true(l.loopback);
    assert_int_equal(ms_config_parse_listen(&l, "[::]:1", &err), 0);
    assert_true(l.ipv6);
    assert_false(l.loopback);
    assert_int_equal(ms_config_parse_listen(&l, "[0:0::1]:1", &err), 0);
    assert_string_equal(l.host, "::1"); /* normalised */
    assert_true(l.loopback);
    assert_int_equal(ms_config_parse_listen(&l, "127.0.0.1:65536", &err),
                     MS_EINVAL);
    assert_int_equal(ms_config_parse_listen(&l, "127.0.0.1", &err), MS_EINVAL);
    assert_int_equal(ms_config_parse_listen(&l, "::1:80", &err), MS_EINVAL);
    assert_int_equal(ms_config_parse_listen(&l, "[::1]80", &err), MS_EINVAL);
    assert_int_equal(ms_config_parse_listen(&l, "[127.0.0.1]:80", &err),
                     MS_EINVAL);
    assert_int_equal(ms_config_parse_listen(&l, "localhost:80", &err),
                     MS_EINVAL);
    assert_string_equal(err.msg, "'localhost' is not a numeric IPv4 address "
                                 "or a bracketed IPv6 address");
    assert_int_equal(ms_config_parse_listen(&l, ":80", &err), MS_EINVAL);
    assert_int_equal(ms_config_parse_listen(&l, "1.2.3.4:", &err), MS_EINVAL);
    parse_fails("listen = localhost:80\n", MS_EINVAL,
                "t.conf:1: listen: 'localhost' is not a numeric IPv4 address "
                "or a bracketed IPv6 address");
}

static void
test_config__size_limits(void **state)
{
    ms_daemon_config *c = NULL;
    ms_error err;
    char *big;
    size_t n = MS_CONFIG_MAX_FILE + 1;

    (void)state;
    big = calloc(1, n + 1);
    assert_non_null(big);
    memset(big, '\n', n);
    assert_int_equal(ms_daemon_config_parse(&c, big, n, "b", NULL, &err),
                     MS_ETOOBIG);
    assert_string_equal(err.msg, "b: over 65536 bytes");
    /* Exactly at the limit is fine. */
    assert_int_equal(ms_daemon_config_parse(&c, big, n - 1, "b", NULL, &err),
                     0);
    ms_daemon_config_free(c);
    c = NULL;
    /* A line of MAX_LINE bytes is accepted, one more is not. */
    memset(big, '#', MS_CONFIG_MAX_LINE + 1);
    big[MS_CONFIG_MAX_LINE + 1] = '\0';
    assert_int_equal(
        ms_daemon_config_parse(&c, big, MS_CONFIG_MAX_LINE, "b", NULL, &err),
        0);
    ms_daemon_config_free(c);
    c = NULL;
    assert_int_equal(ms_daemon_config_parse(&c, big, MS_CONFIG_MAX_LINE + 1,
                                            "b", NULL, &err),
                     MS_ETOOBIG);
    assert_string_equal(err.msg, "b:1: line over 1024 bytes");
    assert_int_equal(ms_daemon_config_parse(&c, "a\0b", 3, "b", NULL, &err),
                     MS_EINVAL);
    assert_string_equal(err.msg, "b: contains a NUL byte");
    assert_null(c);
    free(big);
}

static void
test_config__format_redacts(void **state)
{
    ms_daemon_config *c = parse_ok("database = postgresql://u:s3cret@db/ms\n"
                                   "listen = [::1]:9\nmodules = tsa\n");
    ms_buf out;

    (void)state;
    ms_buf_init(&out, 0);
    assert_int_equal(ms_daemon_config_format(&out, c), 0);
    assert_non_null(strstr((char *)out.data, "listen = [::1]:9\n"));
    assert_non_null(
        strstr((char *)out.data, "database = postgresql://u:****@db/ms\n"));
    assert_non_null(strstr((char *)out.data, "modules = tsa\n"));
    assert_non_null(strstr((char *)out.data, "insecure_keys = no\n"));
    assert_non_null(strstr((char *)out.data, "log_level = info\n"));
    assert_non_null(strstr((char *)out.data, "passphrase_file = \n"));
    assert_null(strstr((char *)out.data, "s3cret"));
    ms_daemon_config_free(c);
    c = parse_ok("database = postgresql:// host=db password=s3cret user=u\n");
    ms_buf_reset(&out);
    assert_int_equal(ms_daemon_config_format(&out, c), 0);
    assert_non_null(strstr((char *)out.data, "host=db password=**** user=u\n"));
    assert_null(strstr((char *)out.data, "s3cret"));
    ms_daemon_config_free(c);
    ms_buf_cleanup(&out);
}

/* What -T prints parses back to the same values. */
static void
test_config__format_round_trips(void **state)
{
    ms_daemon_config *a = parse_ok("listen = [::1]:0\nmodules = ocsp crl\n"
                                   "max_body = 2k\nlog_level = error\n"
                                   "passphrase_file = /p\n");
    ms_daemon_config *b;
    const ms_config_key *keys;
    size_t n;
    ms_buf out;

    (void)state;
    ms_buf_init(&out, 0);
    assert_int_equal(ms_daemon_config_format(&out, a), 0);
    b = parse_ok((char *)out.data);
    keys = ms_daemon_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        assert_true(ms_config_equal(a, b, &keys[i]));
    ms_buf_cleanup(&out);
    ms_daemon_config_free(a);
    ms_daemon_config_free(b);
}

static void
test_config__equal_and_copy(void **state)
{
    ms_daemon_config *a = parse_ok("listen = 127.0.0.1:1\nmodules = ca\n"
                                   "log_level = debug\n");
    ms_daemon_config *b = parse_ok("passphrase_file = /x\n");
    const ms_config_key *keys;
    size_t n;

    (void)state;
    keys = ms_daemon_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        bool same = ms_config_equal(a, b, &keys[i]);

        if (strcmp(keys[i].name, "listen") == 0 ||
            strcmp(keys[i].name, "modules") == 0 ||
            strcmp(keys[i].name, "log_level") == 0 ||
            strcmp(keys[i].name, "passphrase_file") == 0)
            assert_false(same);
        else
            assert_true(same);
        assert_int_equal(ms_config_copy(b, a, &keys[i]), 0);
        assert_true(ms_config_equal(a, b, &keys[i]));
    }
    assert_null(b->passphrase_file);
    assert_true(ms_config_words_has(&b->modules, "ca"));
    assert_false(ms_config_words_has(&b->modules, "tsa"));
    assert_ptr_equal(ms_daemon_config_up_ref(a), a);
    ms_daemon_config_free(a);
    ms_daemon_config_free(a);
    ms_daemon_config_free(b);
    ms_daemon_config_free(NULL);
}

static void
test_config__load_file(void **state)
{
    char dir[] = "/tmp/ms-config-XXXXXX", path[64], cwd[4096];
    ms_daemon_config *c = NULL;
    ms_error err;
    FILE *fp;

    (void)state;
    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/mailseald.conf", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs("threads = 2\nlog_level = warning\n", fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(ms_daemon_config_load(&c, path, &err), 0);
    assert_int_equal(c->threads, 2);
    assert_string_equal(c->data_dir, dir);
    assert_string_equal(c->source, path);
    ms_daemon_config_free(c);
    c = NULL;
    /* A relative path gives an absolute data_dir. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(ms_daemon_config_load(&c, "mailseald.conf", &err), 0);
    assert_string_equal(c->data_dir, dir);
    ms_daemon_config_free(c);
    c = NULL;
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ms_daemon_config_load(&c, path, &err), MS_EIO);
    assert_non_null(strstr(err.msg, "No such file"));
    assert_null(c);
    assert_int_equal(rmdir(dir), 0);
}

static void
test_config__alloc_failures(void **state)
{
    const char *text = "modules = ca tsa\ndatabase = sqlite:/x\n"
                       "passphrase_file = /p\n";
    ms_daemon_config *c;
    ms_error err;
    size_t n;
    int rc;

    (void)state;
    for (n = 1;; n++) {
        c = NULL;
        ms_alloc_fail_at(n);
        rc = ms_daemon_config_parse(&c, text, strlen(text), "t", "/d", &err);
        ms_alloc_fail_at(0);
        if (rc == 0)
            break;
        assert_int_equal(rc, MS_ENOMEM);
        assert_null(c);
    }
    assert_true(n > 5);
    ms_daemon_config_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__defaults),
        cmocka_unit_test(test_config__every_key),
        cmocka_unit_test(test_config__database_follows_data_dir),
        cmocka_unit_test(test_config__errors_name_file_and_line),
        cmocka_unit_test(test_config__listen_values),
        cmocka_unit_test(test_config__size_limits),
        cmocka_unit_test(test_config__format_redacts),
        cmocka_unit_test(test_config__format_round_trips),
        cmocka_unit_test(test_config__equal_and_copy),
        cmocka_unit_test(test_config__load_file),
        cmocka_unit_test(test_config__alloc_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
