/* tests/unit/test_submit.c - lib/mail/submit: the relay URL and settings,
 * argument checks and the spool writer (the SMTP side is covered by
 * tests/integration/submit.sh against a real server). */
/* clang-format off: cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <sys/stat.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "mail/submit.h"
#include "ms_test.h"
#include "util/alloc.h"
#include "util/file.h"

static const char *const one_rcpt[] = {"bob@example.org"};
static const unsigned char hello[] = "Subject: hi\r\n\r\nhello\r\n";

/* A fresh scratch directory per test (removed by rm -r in teardown). */
typedef struct fixture {
    char dir[64];
    char spool[128];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    memcpy(f->dir, "/tmp/ms-submit-XXXXXX", sizeof("/tmp/ms-submit-XXXXXX"));
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    (void)snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];

    /* Our own mkdtemp name: no quoting needed. */
    (void)snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void
config_url(ms_submit_config *c, const char *url)
{
    ms_error err;

    ms_submit_config_init(c);
    if (ms_submit_config_parse_url(c, url, &err) != 0)
        fail_msg("%s: %s", url, err.msg);
}

static void
spool_config(ms_submit_config *c, const fixture *f)
{
    char url[160];

    (void)snprintf(url, sizeof(url), "spool:%s", f->spool);
    config_url(c, url);
}

/* The names in dir (at most 64), sorted; returns the count. */
static size_t
list_dir(const char *dir, char names[][128])
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t len = strnlen(e->d_name, 127);

        memcpy(names[n], e->d_name, len); /* our names are short */
        names[n++][len] = '\0';
    }
    (void)closedir(d);
    qsort(names, n, 128, (int (*)(const void *, const void *))strcmp);
    return n;
}

/* <digits>-<24 hex>.eml */
static bool
spool_name_ok(const char *s)
{
    size_t i = 0;

    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 0 || s[i++] != '-')
        return false;
    for (size_t k = 0; k < 24; k++, i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return strcmp(s + i, ".eml") == 0;
}

/* ---- URL ---- */

static void
test_submit__url_good(void **state)
{
    static const struct {
        const char *in, *canon;
        ms_submit_mode mode;
        const char *host;
        unsigned port;
    } cases[] = {
        {"smtp://mail.example.org", "smtp://mail.example.org:25",
         MS_SUBMIT_SMTP, "mail.example.org", 25},
        {"smtp://mail.example.org:587/", "smtp://mail.example.org:587",
         MS_SUBMIT_SMTP, "mail.example.org", 587},
        {"SMTP://relay:2525/client.example.org",
         "smtp://relay:2525/client.example.org", MS_SUBMIT_SMTP, "relay",
         2525},
        {"smtps://mx-1.example.org", "smtps://mx-1.example.org:465",
         MS_SUBMIT_SMTPS, "mx-1.example.org", 465},
        {"smtp://127.0.0.1:1", "smtp://127.0.0.1:1", MS_SUBMIT_SMTP,
         "127.0.0.1", 1},
        {"smtps://[::1]:65535", "smtps://[::1]:65535", MS_SUBMIT_SMTPS,
         "[::1]", 65535},
        {"smtp://[2001:db8::25]", "smtp://[2001:db8::25]:25", MS_SUBMIT_SMTP,
         "[2001:db8::25]", 25},
        {"spool:/var/spool/mailseal", "spool:/var/spool/mailseal",
         MS_SUBMIT_SPOOL, "", 0},
        {"spool:/var/spool//", "spool:/var/spool", MS_SUBMIT_SPOOL, "", 0},
        {"spool:/", "spool:/", MS_SUBMIT_SPOOL, "", 0},
    };
    char out[MS_SUBMIT_MAX_URL + 16];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms_submit_config c, again;

        config_url(&c, cases[i].in);
        assert_int_equal(c.mode, cases[i].mode);
        assert_string_equal(c.host, cases[i].host);
        assert_int_equal(c.port, cases[i].port);
        assert_int_equal(ms_submit_config_url(out, sizeof(out), &c), 0);
        assert_string_equal(out, cases[i].canon);
        config_url(&again, out);
        assert_memory_equal(&c, &again, sizeof(c));
        assert_int_equal(ms_submit_url_check(cases[i].in, NULL), 0);
    }
}

static void
test_submit__url_format_limits(void **state)
{
    ms_submit_config c;
    char out[16];

    (void)state;
    ms_submit_config_init(&c);
    assert_int_equal(ms_submit_config_url(out, sizeof(out), &c), MS_EINVAL);
    config_url(&c, "smtp://mail.example.org:587");
    assert_int_equal(ms_submit_config_url(out, sizeof(out), &c), MS_ETOOBIG);
    assert_string_equal(out, "");
}

static void
test_submit__url_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "smtp:",
        "smtp://",
        "smtp://:25",
        "http://mail.example.org",
        "smtp:/mail.example.org",
        "smtp://user@mail.example.org",
        "smtp://user:secret@mail.example.org:587",
        "smtp://mail.example.org:0",
        "smtp://mail.example.org:65536",
        "smtp://mail.example.org:123456",
        "smtp://mail.example.org:",
        "smtp://mail.example.org:+25",
        "smtp://mail.example.org:25x",
        "smtp://mail.example.org?x=1",
        "smtp://mail.example.org#frag",
        "smtp://mail.example.org/a/b",
        "smtp://mail.example.org/-bad",
        "smtp://mail..example.org",
        "smtp://.example.org",
        "smtp://example.org.",
        "smtp://-example.org",
        "smtp://exa_mple.org",
        "smtp://ex%61mple.org",
        "smtp://b\303\274cher.example",
        "smtp://[::1",
        "smtp://[]",
        "smtp://[not:v6]",
        "smtp://[fe80::1%25eth0]",
        "smtp://[::1]x",
        "smtp://mail example.org",
        "smtp://mail.example.org\r\nRCPT",
        "spool:",
        "spool:relative/dir",
        "spool:/tmp/a\nb",
    };
    ms_submit_config c;
    ms_error err;

    (void)state;
    config_url(&c, "smtp://keep.example.org:26");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms_submit_config before = c;

        if (ms_submit_config_parse_url(&c, bad[i], &err) != MS_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(err.msg) > 10);
        assert_memory_equal(&c, &before, sizeof(c)); /* unchanged */
        assert_int_equal(ms_submit_url_check(bad[i], NULL), MS_EINVAL);
    }
    assert_int_equal(ms_submit_config_parse_url(&c, "ftp://x", &err),
                     MS_EINVAL);
    assert_string_equal(err.msg,
                        "relay URL must start with smtp://, smtps:// or "
                        "spool:");
    assert_int_equal(
        ms_submit_config_parse_url(&c, "smtp://u:pw@h.example", &err),
        MS_EINVAL);
    assert_null(strstr(err.msg, "pw")); /* the URL is not echoed */
}

static void
test_submit__url_length_limits(void **state)
{
    char url[MS_SUBMIT_MAX_URL + 2];
    char host[300];
    ms_submit_config c;
    ms_error err;

    (void)state;
    ms_submit_config_init(&c);
    /* 4 labels of 63 + 3 dots = 255 > 253 bytes. */
    memset(host, 'a', sizeof(host));
    host[63] = host[127] = host[191] = '.';
    host[255] = '\0';
    (void)snprintf(url, sizeof(url), "smtp://%s", host);
    assert_int_equal(ms_submit_config_parse_url(&c, url, &err), MS_EINVAL);
    host[253] = '\0'; /* exactly 253 */
    (void)snprintf(url, sizeof(url), "smtp://%s", host);
    assert_int_equal(ms_submit_config_parse_url(&c, url, &err), 0);
    /* A label of 64. */
    memset(host, 'b', 64);
    host[64] = '\0';
    (void)snprintf(url, sizeof(url), "smtp://%s", host);
    assert_int_equal(ms_submit_config_parse_url(&c, url, &err), MS_EINVAL);
    /* Whole URL over MS_SUBMIT_MAX_URL. */
    memset(url, 'x', sizeof(url));
    memcpy(url, "spool:/", 7);
    url[MS_SUBMIT_MAX_URL + 1] = '\0';
    assert_int_equal(ms_submit_config_parse_url(&c, url, &err), MS_EINVAL);
    assert_string_equal(err.msg, "relay URL over 512 bytes");
    url[MS_SUBMIT_MAX_URL] = '\0';
    assert_int_equal(ms_submit_config_parse_url(&c, url, &err), 0);
    assert_int_equal(strlen(c.spool_dir), MS_SUBMIT_MAX_URL - 6);
}

/* ---- settings ---- */

static void
test_submit__set(void **state)
{
    ms_submit_config c;
    ms_error err;
    char big[MS_SUBMIT_MAX_VALUE + 2];

    (void)state;
    ms_submit_config_init(&c);
    assert_int_equal(c.timeout_s, MS_SUBMIT_TIMEOUT_DEFAULT);
    assert_int_equal(ms_submit_config_set(&c, "relay", "smtp://h.example:587",
                                          &err),
                     0);
    assert_int_equal(c.port, 587);
    assert_int_equal(ms_submit_config_set(&c, "starttls", "Opportunistic",
                                          &err),
                     0);
    assert_int_equal(c.starttls, MS_SUBMIT_TLS_OPPORTUNISTIC);
    assert_int_equal(ms_submit_config_set(&c, "starttls", "maybe", &err),
                     MS_EINVAL);
    assert_int_equal(c.starttls, MS_SUBMIT_TLS_OPPORTUNISTIC);
    assert_int_equal(ms_submit_config_set(&c, "user", "alice@example.org",
                                          &err),
                     0);
    assert_string_equal(c.user, "alice@example.org");
    assert_int_equal(ms_submit_config_set(&c, "user", "a\nb", &err),
                     MS_EINVAL);
    assert_int_equal(ms_submit_config_set(&c, "password_file", "/etc/pw",
                                          &err),
                     0);
    assert_int_equal(ms_submit_config_set(&c, "ca_file", "/etc/ca.pem", &err),
                     0);
    assert_string_equal(c.ca_file, "/etc/ca.pem");
    assert_int_equal(ms_submit_config_set(&c, "ca_file", "", &err), 0);
    assert_string_equal(c.ca_file, "");
    assert_int_equal(ms_submit_config_set(&c, "timeout", "90", &err), 0);
    assert_int_equal(c.timeout_s, 90);
    assert_int_equal(ms_submit_config_set(&c, "timeout", "45s", &err), 0);
    assert_int_equal(c.timeout_s, 45);
    assert_int_equal(ms_submit_config_set(&c, "timeout", "2m", &err), 0);
    assert_int_equal(c.timeout_s, 120);
    assert_int_equal(ms_submit_config_set(&c, "timeout", "3600", &err), 0);
    static const char *const bad_timeouts[] = {"0", "3601", "61m", "",
                                               "-5", "10h", "5 s", "99999"};
    for (size_t i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++)
        assert_int_equal(ms_submit_config_set(&c, "timeout", bad_timeouts[i],
                                              &err),
                         MS_EINVAL);
    assert_int_equal(c.timeout_s, 3600);
    assert_int_equal(ms_submit_config_set(&c, "password", "x", &err),
                     MS_EINVAL);
    assert_non_null(strstr(err.msg, "unknown"));
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[MS_SUBMIT_MAX_VALUE + 1] = '\0';
    assert_int_equal(ms_submit_config_set(&c, "ca_file", big, &err),
                     MS_EINVAL);
    big[MS_SUBMIT_MAX_PATH] = '\0';
    assert_int_equal(ms_submit_config_set(&c, "ca_file", big, &err), 0);
    big[MS_SUBMIT_MAX_USER + 1] = '\0';
    assert_int_equal(ms_submit_config_set(&c, "user", big, &err), MS_EINVAL);
    assert_string_equal(c.user, "alice@example.org");
}

static void
set_ok(ms_submit_config *c, const char *key, const char *value)
{
    ms_error err;

    if (ms_submit_config_set(c, key, value, &err) != 0)
        fail_msg("%s = %s: %s", key, value, err.msg);
}

static void
test_submit__check(void **state)
{
    ms_submit_config c;
    ms_error err;

    (void)state;
    ms_submit_config_init(&c);
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EINVAL);
    assert_string_equal(err.msg, "no relay or spool directory configured");

    set_ok(&c, "relay", "spool:/tmp/x");
    assert_int_equal(ms_submit_config_check(&c, &err), 0);
    set_ok(&c, "starttls", "required");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EINVAL);

    config_url(&c, "smtps://h.example");
    set_ok(&c, "starttls", "none");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EINVAL);

    config_url(&c, "smtp://h.example:587");
    set_ok(&c, "user", "alice");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EINVAL);
    assert_string_equal(err.msg, "user and password_file go together");
    set_ok(&c, "password_file", "/nonexistent/pw");
    /* Default policy for a remote relay: STARTTLS required. */
    assert_int_equal(ms_submit_config_check(&c, &err), 0);
    set_ok(&c, "starttls", "opportunistic");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EPOLICY);
    assert_string_equal(err.msg,
                        "refusing to send the AUTH password in clear to "
                        "h.example: use smtps:// or starttls = required");
    set_ok(&c, "starttls", "none");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EPOLICY);
    set_ok(&c, "relay", "smtps://h.example");
    set_ok(&c, "starttls", "required");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EINVAL);

    /* A loopback relay: clear text is acceptable (never leaves the host). */
    config_url(&c, "smtp://127.0.0.1:2525");
    set_ok(&c, "user", "alice");
    set_ok(&c, "password_file", "/nonexistent/pw");
    assert_int_equal(ms_submit_config_check(&c, &err), 0);
    set_ok(&c, "relay", "smtp://localhost");
    assert_int_equal(ms_submit_config_check(&c, &err), 0);
    set_ok(&c, "relay", "smtp://[::1]");
    assert_int_equal(ms_submit_config_check(&c, &err), 0);
    set_ok(&c, "relay", "smtp://128.0.0.1");
    assert_int_equal(ms_submit_config_check(&c, &err), 0); /* required */
    set_ok(&c, "starttls", "none");
    assert_int_equal(ms_submit_config_check(&c, &err), MS_EPOLICY);
}

/* ---- arguments ---- */

static void
send_fails(const fixture *f, const char *from, const char *const *rcpts,
           size_t n, const void *msg, size_t len, int code, const char *want)
{
    ms_submit_config c;
    ms_error err;
    char names[64][128];

    spool_config(&c, f);
    assert_int_equal(ms_submit_send(&c, from, rcpts, n, msg, len, &err),
                     code);
    if (want != NULL && strstr(err.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    assert_int_equal(list_dir(f->spool, names), 0); /* nothing written */
}

static void
test_submit__bad_addresses(void **state)
{
    fixture *f = *state;
    char longaddr[MS_SUBMIT_MAX_ADDR + 2];
    const char *r[2] = {"bob@example.org", NULL};
    static const char *const bad[] = {
        "",          "bob",        "@example.org", "bob@",
        "bob@ex\r",  "b\nb@x.org", "<bob@x.org>",  "bob@x.org>",
        "b b@x.org", "bob@x\tc",   "bob@x\x7f",    "bob@x.org\r\nDATA",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r[1] = bad[i];
        send_fails(f, "alice@example.org", r, 2, hello, sizeof(hello) - 1,
                   MS_EINVAL, "recipient 2");
        send_fails(f, i == 0 ? "a\rb@x" : bad[i], one_rcpt, 1, hello,
                   sizeof(hello) - 1, MS_EINVAL, "sender");
    }
    r[1] = NULL;
    send_fails(f, "alice@example.org", r, 2, hello, sizeof(hello) - 1,
               MS_EINVAL, "recipient 2 is NULL");
    send_fails(f, NULL, one_rcpt, 1, hello, sizeof(hello) - 1, MS_EINVAL,
               "sender 0 is NULL");
    /* 255 bytes: one over. */
    memset(longaddr, 'a', sizeof(longaddr));
    memcpy(longaddr + MS_SUBMIT_MAX_ADDR + 1 - 6, "@x.org", 6);
    longaddr[MS_SUBMIT_MAX_ADDR + 1] = '\0';
    r[1] = longaddr;
    send_fails(f, "alice@example.org", r, 2, hello, sizeof(hello) - 1,
               MS_EINVAL, "over 254 bytes");
}

static void
test_submit__bad_counts_and_messages(void **state)
{
    fixture *f = *state;
    static const char *rcpts[MS_SUBMIT_MAX_RCPT + 1];
    static const unsigned char nul[] = "Subject: x\r\n\r\na\0b\r\n";
    static const unsigned char cr[] = "Subject: x\r\n\r\na\rb\r\n";
    static const unsigned char cr_end[] = "Subject: x\r\n\r\nab\r";

    for (size_t i = 0; i <= MS_SUBMIT_MAX_RCPT; i++)
        rcpts[i] = "r@example.org";
    send_fails(f, "", NULL, 0, hello, sizeof(hello) - 1, MS_EINVAL,
               "no recipient");
    send_fails(f, "", rcpts, 0, hello, sizeof(hello) - 1, MS_EINVAL,
               "no recipient");
    send_fails(f, "", rcpts, MS_SUBMIT_MAX_RCPT + 1, hello, sizeof(hello) - 1,
               MS_EINVAL, "1001 recipients, over 1000");
    send_fails(f, "", one_rcpt, 1, hello, 0, MS_EINVAL, "empty message");
    send_fails(f, "", one_rcpt, 1, NULL, 10, MS_EINVAL, "empty message");
    /* The size is checked before a byte is read: a short buffer is safe. */
    send_fails(f, "", one_rcpt, 1, hello, MS_SUBMIT_MAX_MESSAGE + 1,
               MS_ETOOBIG, "message over 67108864 bytes");
    send_fails(f, "", one_rcpt, 1, nul, sizeof(nul) - 1, MS_EMALFORMED,
               "NUL byte at offset 15");
    send_fails(f, "", one_rcpt, 1, cr, sizeof(cr) - 1, MS_EMALFORMED,
               "bare CR at offset 15");
    send_fails(f, "", one_rcpt, 1, cr_end, sizeof(cr_end) - 1, MS_EMALFORMED,
               "bare CR at offset 16");
}

/* ---- spool ---- */

static void
assert_spool_file(const fixture *f, const char *name, const void *want,
                  size_t len)
{
    char path[256];
    struct stat st;
    ms_buf got;
    ms_error err;

    assert_true(spool_name_ok(name));
    (void)snprintf(path, sizeof(path), "%s/%s", f->spool, name);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    ms_buf_init(&got, 0);
    assert_int_equal(ms_file_read(&got, path, 1 << 20, &err), 0);
    assert_int_equal(got.len, len);
    assert_memory_equal(got.data, want, len);
    ms_buf_cleanup(&got);
}

static void
test_submit__spool_writes(void **state)
{
    fixture *f = *state;
    static const unsigned char lf[] = "Subject: LF only\n\n.\n..dots\n\xc3\xa9t\xc3\xa9\n";
    const char *const two[] = {"bob@example.org", "carol@example.net"};
    ms_submit_config c;
    ms_error err;
    char names[64][128];
    struct stat st;
    size_t n;

    spool_config(&c, f);
    assert_int_equal(ms_submit_send(&c, "alice@example.org", two, 2, hello,
                                    sizeof(hello) - 1, &err),
                     0);
    assert_int_equal(stat(f->spool, &st), 0); /* made on first use */
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(list_dir(f->spool, names), 1);
    assert_spool_file(f, names[0], hello, sizeof(hello) - 1);

    /* LF line ends, dots and 8-bit bytes are stored as given. */
    assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, lf, sizeof(lf) - 1,
                                    &err),
                     0);
    n = list_dir(f->spool, names);
    assert_int_equal(n, 2); /* no temp file left */
    for (size_t i = 0; i < n; i++) {
        char path[256];
        ms_buf b;

        (void)snprintf(path, sizeof(path), "%s/%s", f->spool, names[i]);
        ms_buf_init(&b, 0);
        assert_int_equal(ms_file_read(&b, path, 1 << 20, &err), 0);
        if (b.len == sizeof(lf) - 1)
            assert_spool_file(f, names[i], lf, sizeof(lf) - 1);
        else
            assert_spool_file(f, names[i], hello, sizeof(hello) - 1);
        ms_buf_cleanup(&b);
    }
    assert_string_not_equal(names[0], names[1]);
}

static void
test_submit__spool_existing_dir_keeps_mode(void **state)
{
    fixture *f = *state;
    ms_submit_config c;
    ms_error err;
    char names[64][128];
    struct stat st;

    assert_int_equal(mkdir(f->spool, 0750), 0);
    spool_config(&c, f);
    assert_int_equal(ms_submit_send(&c, "a@b.c", one_rcpt, 1, hello,
                                    sizeof(hello) - 1, &err),
                     0);
    assert_int_equal(stat(f->spool, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    assert_int_equal(list_dir(f->spool, names), 1);
    assert_spool_file(f, names[0], hello, sizeof(hello) - 1);
}

static void
test_submit__spool_bad_dir(void **state)
{
    fixture *f = *state;
    ms_submit_config c;
    ms_error err;
    char url[256];
    char names[64][128];
    FILE *fp;

    /* The parent does not exist: only the last component is made. */
    (void)snprintf(url, sizeof(url), "spool:%s/missing/spool", f->dir);
    config_url(&c, url);
    assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, hello,
                                    sizeof(hello) - 1, &err),
                     MS_EIO);
    assert_non_null(strstr(err.msg, "cannot create spool directory"));
    assert_non_null(strstr(err.msg, "No such file or directory"));

    /* A regular file where the directory should be. */
    fp = fopen(f->spool, "w");
    assert_non_null(fp);
    assert_int_equal(fclose(fp), 0);
    spool_config(&c, f);
    assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, hello,
                                    sizeof(hello) - 1, &err),
                     MS_EIO);
    assert_non_null(strstr(err.msg, "is not a directory"));
    assert_int_equal(unlink(f->spool), 0);

    /* A directory we cannot write to (permissions bind only non-root). */
    if (geteuid() != 0) {
        assert_int_equal(mkdir(f->spool, 0500), 0);
        assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, hello,
                                        sizeof(hello) - 1, &err),
                         MS_EIO);
        assert_non_null(strstr(err.msg, "cannot create"));
        assert_int_equal(list_dir(f->spool, names), 0);
        assert_int_equal(chmod(f->spool, 0700), 0);
    }
}

typedef struct spooler {
    const ms_submit_config *c;
    int failures;
} spooler;

static void *
spool_many(void *arg)
{
    spooler *s = arg;

    for (int i = 0; i < 8; i++) {
        ms_error err;

        if (ms_submit_send(s->c, "", one_rcpt, 1, hello, sizeof(hello) - 1,
                           &err) != 0)
            s->failures++;
    }
    return NULL;
}

static void
test_submit__spool_threads(void **state)
{
    fixture *f = *state;
    ms_submit_config c;
    pthread_t th[4];
    spooler s[4];
    char names[64][128];

    spool_config(&c, f);
    for (int i = 0; i < 4; i++) {
        s[i].c = &c;
        s[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, spool_many, &s[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(s[i].failures, 0);
    }
    assert_int_equal(list_dir(f->spool, names), 32);
    for (size_t i = 0; i < 32; i++)
        assert_true(spool_name_ok(names[i]));
}

/* ---- the password file (checked before any connection) ---- */

static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void
test_submit__password_file_must_be_private(void **state)
{
    fixture *f = *state;
    ms_submit_config c;
    ms_error err;
    char pw[128];

    (void)snprintf(pw, sizeof(pw), "%s/pw", f->dir);
    write_file(pw, "s3cret-pass\n", 0644);
    /* Port 1 of loopback: the call must fail before it connects. */
    config_url(&c, "smtp://127.0.0.1:1");
    set_ok(&c, "user", "alice");
    set_ok(&c, "password_file", pw);
    assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, hello,
                                    sizeof(hello) - 1, &err),
                     MS_EPOLICY);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_null(strstr(err.msg, "s3cret"));
    assert_int_equal(unlink(pw), 0);
    assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, hello,
                                    sizeof(hello) - 1, &err),
                     MS_EIO);
    assert_non_null(strstr(err.msg, pw));
}

static void
test_submit__password_alloc_failure_loop(void **state)
{
    fixture *f = *state;
    ms_submit_config c;
    ms_error err;
    char pw[128];
    size_t total;

    (void)snprintf(pw, sizeof(pw), "%s/pw", f->dir);
    write_file(pw, "s3cret-pass\n", 0600);
    config_url(&c, "smtp://127.0.0.1:1");
    set_ok(&c, "user", "alice");
    set_ok(&c, "password_file", pw);
    set_ok(&c, "timeout", "5");
    (void)ms_alloc_fail_at(0);
    /* Nothing listens on port 1: a temporary failure, after reading. */
    assert_int_equal(ms_submit_send(&c, "", one_rcpt, 1, hello,
                                    sizeof(hello) - 1, &err),
                     MS_ETEMP);
    assert_non_null(strstr(err.msg, "relay 127.0.0.1:1"));
    total = ms_alloc_fail_at(0);
    assert_true(total > 0);
    for (size_t n = 1; n <= total; n++) {
        int rc;

        (void)ms_alloc_fail_at(n);
        rc = ms_submit_send(&c, "", one_rcpt, 1, hello, sizeof(hello) - 1,
                            &err);
        (void)ms_alloc_fail_at(0);
        if (rc != MS_ENOMEM)
            fail_msg("allocation %zu of %zu failed, send returned %s", n,
                     total, ms_status_name(rc));
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_submit__url_good),
        T(test_submit__url_format_limits),
        T(test_submit__url_bad),
        T(test_submit__url_length_limits),
        T(test_submit__set),
        T(test_submit__check),
        T(test_submit__bad_addresses),
        T(test_submit__bad_counts_and_messages),
        T(test_submit__spool_writes),
        T(test_submit__spool_existing_dir_keeps_mode),
        T(test_submit__spool_bad_dir),
        T(test_submit__spool_threads),
        T(test_submit__password_file_must_be_private),
        T(test_submit__password_alloc_failure_loop),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
