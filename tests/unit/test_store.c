/* tests/unit/test_store.c - lib/store: the store interface on SQLite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <sqlite3.h>

#include <mailseal/error.h>

#include "store/store.h"
#include "util/alloc.h"

#define ISSUER "mailseal V3 Organisation CA"

static const unsigned char der_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x00};

/* A temporary directory with db = DIR/store.db. */
typedef struct fixture {
    char dir[64];
    char db[96];
    char url[128];
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    memcpy(f->dir, "/tmp/ms-store-XXXXXX", sizeof("/tmp/ms-store-XXXXXX"));
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    if (snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir) >=
            (int)sizeof(f->db) ||
        snprintf(f->url, sizeof(f->url), "sqlite:%s", f->db) >=
            (int)sizeof(f->url)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static void
remove_file(const char *db, const char *suffix)
{
    char p[128];

    if (snprintf(p, sizeof(p), "%s%s", db, suffix) < (int)sizeof(p))
        (void)unlink(p); /* may not exist (WAL files go on clean close) */
}

static int
teardown(void **state)
{
    fixture *f = *state;

    remove_file(f->db, "");
    remove_file(f->db, "-wal");
    remove_file(f->db, "-shm");
    (void)rmdir(f->dir); /* best effort: only our files were in it */
    free(f);
    return 0;
}

static ms_store *
open_ok(const char *url)
{
    ms_store *s = NULL;
    ms_error err;

    if (ms_store_open(&s, url, &err) != 0)
        fail_msg("open %s: %s", url, err.msg);
    assert_non_null(s);
    return s;
}

/* A certificate record borrowing the given serial and fixed fields. */
static void
make_cert(ms_store_cert *c, char *serial, char *email)
{
    static char issuer[] = ISSUER;
    static char use[] = "signing";

    ms_store_cert_init(c);
    c->serial_hex = serial;
    c->issuer = issuer;
    c->subject_email = email;
    c->level = 3;
    c->use = use;
    c->not_before = 1700000000;
    c->not_after = 1731536000;
    assert_int_equal(ms_buf_append(&c->der, der_bytes, sizeof(der_bytes)), 0);
}

static void
insert(ms_store *s, const char *serial, const char *email, int want)
{
    char sbuf[64], ebuf[64];
    ms_store_cert c;
    ms_error err;

    assert_true(strlen(serial) < sizeof(sbuf) && strlen(email) < sizeof(ebuf));
    memcpy(sbuf, serial, strlen(serial) + 1);
    memcpy(ebuf, email, strlen(email) + 1);
    make_cert(&c, sbuf, ebuf);
    assert_int_equal(ms_store_cert_insert(s, &c, &err), want);
    ms_buf_cleanup(&c.der);
}

static void
test_store__serials_increase(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    uint64_t v = 0;

    (void)state;
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal(ms_store_next_serial(s, "tsa", &v, NULL), 0);
        assert_true(v == i);
    }
    assert_int_equal(ms_store_next_serial(s, "other", &v, NULL), 0);
    assert_true(v == 1);
    assert_int_equal(ms_store_next_serial(s, "", &v, NULL), MS_EINVAL);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store__reserve_serials(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    uint64_t first = 0, v = 0;
    ms_error err;

    (void)state;
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    assert_true(v == 1);
    assert_int_equal(ms_store_reserve_serials(s, "tsa", 100, &first, &err), 0);
    assert_true(first == 2);
    assert_int_equal(ms_store_reserve_serials(s, "tsa", 1, &first, &err), 0);
    assert_true(first == 102);
    assert_int_equal(ms_store_reserve_serials(s, "new", 10, &first, &err), 0);
    assert_true(first == 1);
    assert_int_equal(ms_store_next_serial(s, "new", &v, &err), 0);
    assert_true(v == 11);
    assert_int_equal(ms_store_reserve_serials(s, "tsa", 0, &first, &err),
                     MS_EINVAL);
    assert_int_equal(ms_store_reserve_serials(s, "tsa",
                                              MS_STORE_RESERVE_MAX + 1,
                                              &first, &err),
                     MS_EINVAL);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store__cert_insert_get(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    ms_store_cert got;
    ms_error err;

    (void)state;
    insert(s, "0a1b2c", "alice@example.org", 0);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "0a1b2c", &got, &err), 0);
    assert_string_equal(got.serial_hex, "0a1b2c");
    assert_string_equal(got.issuer, ISSUER);
    assert_string_equal(got.subject_email, "alice@example.org");
    assert_string_equal(got.use, "signing");
    assert_int_equal(got.level, 3);
    assert_true(got.not_before == 1700000000 && got.not_after == 1731536000);
    assert_int_equal(got.der.len, sizeof(der_bytes));
    assert_memory_equal(got.der.data, der_bytes, sizeof(der_bytes));
    assert_false(got.revoked);
    ms_store_cert_cleanup(&got);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store__duplicate_serial_writes_nothing(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    ms_store_cert got;
    ms_error err;

    (void)state;
    insert(s, "ff", "alice@example.org", 0);
    insert(s, "ff", "mallory@example.org", MS_EPOLICY);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "ff", &got, &err), 0);
    assert_string_equal(got.subject_email, "alice@example.org");
    ms_store_cert_cleanup(&got);
    ms_store_close(s);
}

static void
test_store__bad_fields_rejected(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    char serial[] = "0A", email[] = "a@example.org", use[] = "both";
    ms_store_cert c;

    (void)state;
    make_cert(&c, serial, email);
    assert_int_equal(ms_store_cert_insert(s, &c, NULL), MS_EINVAL);
    serial[1] = 'a';
    c.level = 5;
    assert_int_equal(ms_store_cert_insert(s, &c, NULL), MS_EINVAL);
    c.level = 1;
    c.use = use;
    assert_int_equal(ms_store_cert_insert(s, &c, NULL), MS_EINVAL);
    c.use = NULL;
    assert_int_equal(ms_store_cert_insert(s, &c, NULL), MS_EINVAL);
    ms_buf_cleanup(&c.der);
    ms_store_close(s);
}

static void
test_store__unknown_serial(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    ms_store_cert got;
    ms_error err;

    (void)state;
    insert(s, "01", "a@example.org", 0);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "02", &got, &err),
                     MS_ENOTFOUND);
    assert_null(got.serial_hex);
    /* The right serial under another issuer is not found either. */
    assert_int_equal(ms_store_cert_get(s, "other CA", "01", &got, &err),
                     MS_ENOTFOUND);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "02", 1, 5, &err),
                     MS_ENOTFOUND);
    assert_int_equal(ms_store_cert_revoke(s, "other CA", "01", 1, 5, &err),
                     MS_ENOTFOUND);
    ms_store_close(s);
}

typedef struct listed {
    int n;
    char serial[4][8];
    time_t at[4];
    int reason[4];
} listed;

static int
collect(const char *serial_hex, time_t at, int reason, void *arg)
{
    listed *l = arg;

    assert_true(l->n < 4 && strlen(serial_hex) < sizeof(l->serial[0]));
    memcpy(l->serial[l->n], serial_hex, strlen(serial_hex) + 1);
    l->at[l->n] = at;
    l->reason[l->n] = reason;
    l->n++;
    return 0;
}

static int
stop(const char *serial_hex, time_t at, int reason, void *arg)
{
    (void)serial_hex;
    (void)at;
    (void)reason;
    (void)arg;
    return MS_EIO;
}

static void
test_store__revoke_and_list(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    ms_store_cert got;
    listed l = {0};
    ms_error err;

    (void)state;
    insert(s, "03", "a@example.org", 0);
    insert(s, "01", "b@example.org", 0);
    insert(s, "02", "c@example.org", 0);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "03", 1, 100, &err), 0);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "01", 4, 200, &err), 0);
    /* Twice: refused, the first record stays. */
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "01", 1, 300, &err),
                     MS_EPOLICY);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "02", 7, 300, &err),
                     MS_EINVAL);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "01", &got, &err), 0);
    assert_true(got.revoked && got.revoked_at == 200 && got.reason == 4);
    ms_store_cert_cleanup(&got);

    assert_int_equal(ms_store_revoked_list(s, ISSUER, collect, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.serial[0], "01");
    assert_true(l.at[0] == 200 && l.reason[0] == 4);
    assert_string_equal(l.serial[1], "03");
    assert_true(l.at[1] == 100 && l.reason[1] == 1);
    l.n = 0;
    assert_int_equal(ms_store_revoked_list(s, "other CA", collect, &l, &err),
                     0);
    assert_int_equal(l.n, 0);
    assert_int_equal(ms_store_revoked_list(s, ISSUER, stop, NULL, &err),
                     MS_EIO);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

/* Issuance and revocation write their audit rows and raise the epoch. */
static void
test_store__issue_revoke_audited(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    uint64_t epoch = 99, rows = 0;
    ms_error err;

    (void)state;
    assert_int_equal(ms_store_revocation_epoch(s, &epoch, &err), 0);
    assert_true(epoch == 0);
    insert(s, "0a", "a@example.org", 0);
    insert(s, "0b", "b@example.org", 0);
    insert(s, "0a", "c@example.org", MS_EPOLICY);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == 2);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "0a", 1, 100, &err), 0);
    assert_int_equal(ms_store_revocation_epoch(s, &epoch, &err), 0);
    assert_true(epoch == 1);
    /* A refused revocation changes nothing. */
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "0a", 1, 100, &err),
                     MS_EPOLICY);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "0c", 1, 100, &err),
                     MS_ENOTFOUND);
    assert_int_equal(ms_store_revocation_epoch(s, &epoch, &err), 0);
    assert_true(epoch == 1);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "0b", 4, 101, &err), 0);
    assert_int_equal(ms_store_revocation_epoch(s, &epoch, &err), 0);
    assert_true(epoch == 2);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == 4);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static time_t
fixed_clock(void *arg)
{
    return *(const time_t *)arg;
}

static void
test_store__audit_chain(void **state)
{
    ms_store *s = open_ok("sqlite::memory:");
    time_t now = 1795428000;
    uint64_t rows = 99;
    ms_error err;

    (void)state;
    ms_store_set_clock(s, fixed_clock, &now);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == 0);
    assert_int_equal(ms_store_audit_append(s, "issue", "serial=01", &err), 0);
    assert_int_equal(ms_store_audit_append(s, "revoke", "", &err), 0);
    assert_int_equal(ms_store_audit_append(s, "", "x", &err), MS_EINVAL);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == 2);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store__bad_url(void **state)
{
    ms_store *s = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(ms_store_open(&s, "mysql:x", &err), MS_EINVAL);
    assert_string_equal(err.msg, "unknown database URL scheme");
    /* PostgreSQL URLs go to libpq; nothing listens on port 1. */
    assert_int_equal(ms_store_open(&s, "postgresql://127.0.0.1:1/ca", &err),
                     MS_EIO);
    assert_int_equal(ms_store_open(&s, "sqlite:", &err), MS_EINVAL);
    assert_int_equal(ms_store_open(&s, "sqlite:/nonexistent/dir/x.db", &err),
                     MS_EIO);
    assert_null(s);
}

/* Runs sql on the raw database file (an operator or an attacker). */
static void
raw_exec(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    char *msg = NULL;

    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static int
raw_count(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int n;

    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    return n;
}

static void
test_store__file_persists(void **state)
{
    fixture *f = *state;
    ms_store *s = open_ok(f->url);
    ms_store_cert got;
    uint64_t v = 0;
    ms_error err;

    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    assert_true(v == 2);
    insert(s, "abcdef", "a@example.org", 0);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "abcdef", 0, 9, &err), 0);
    assert_int_equal(ms_store_audit_append(s, "issue", "abcdef", &err), 0);
    ms_store_close(s);

    s = open_ok(f->url); /* migration again: nothing to do */
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    assert_true(v == 3);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "abcdef", &got, &err), 0);
    assert_true(got.revoked && got.revoked_at == 9 && got.reason == 0);
    ms_store_cert_cleanup(&got);
    insert(s, "abcdef", "b@example.org", MS_EPOLICY);
    ms_store_close(s);
    assert_int_equal(raw_count(f->db, "SELECT count(*) FROM schema_version"),
                     1);
    assert_int_equal(raw_count(f->db, "SELECT count(*) FROM certs"), 1);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store__audit_tamper_detected(void **state)
{
    fixture *f = *state;
    ms_store *s = open_ok(f->url);
    uint64_t rows = 0;
    ms_error err;

    assert_int_equal(ms_store_audit_append(s, "issue", "serial=01", &err), 0);
    assert_int_equal(ms_store_audit_append(s, "issue", "serial=02", &err), 0);
    assert_int_equal(ms_store_audit_append(s, "revoke", "serial=01", &err),
                     0);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == 3);
    ms_store_close(s);

    /* The database refuses edits; an attacker drops the trigger first. */
    raw_exec(f->db, "DROP TRIGGER audit_no_update;"
                    " UPDATE audit SET detail = 'serial=03' WHERE id = 2");
    s = open_ok(f->url);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), MS_EBADSIG);
    assert_non_null(strstr(err.msg, "audit row 2"));
    assert_true(rows == 1);
    ms_store_close(s);

    /* Deleting a row breaks the id sequence. */
    raw_exec(f->db, "DROP TRIGGER audit_no_delete; DELETE FROM audit"
                    " WHERE id = 1");
    s = open_ok(f->url);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), MS_EBADSIG);
    assert_non_null(strstr(err.msg, "audit row 2"));
    assert_true(rows == 0);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store__audit_is_append_only(void **state)
{
    fixture *f = *state;
    ms_store *s = open_ok(f->url);
    sqlite3 *h = NULL;

    assert_int_equal(ms_store_audit_append(s, "issue", "x", NULL), 0);
    ms_store_close(s);
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "UPDATE audit SET detail = 'y'", NULL,
                                  NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(h, "DELETE FROM audit", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void
test_store__newer_schema_refused(void **state)
{
    fixture *f = *state;
    ms_store *s = open_ok(f->url);
    ms_error err;

    ms_store_close(s);
    raw_exec(f->db, "INSERT INTO schema_version VALUES (999, 0)");
    s = NULL;
    assert_int_equal(ms_store_open(&s, f->url, &err), MS_EPOLICY);
    assert_null(s);
    assert_non_null(strstr(err.msg, "999"));
}

static void
test_store__not_a_database(void **state)
{
    fixture *f = *state;
    ms_store *s = NULL;
    FILE *fp = fopen(f->db, "w");
    ms_error err;

    assert_non_null(fp);
    assert_true(fputs("this is not an SQLite database, not at all\n", fp) >=
                0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(ms_store_open(&s, f->url, &err), MS_EIO);
    assert_null(s);
}

/* Fails each ms_ allocation of open + get in turn: MS_ENOMEM, no leak. */
static void
test_store__alloc_failure_loop(void **state)
{
    ms_store *s = NULL;
    ms_store_cert got;
    ms_error err;
    size_t total;

    (void)state;
    s = open_ok("sqlite::memory:");
    insert(s, "01", "a@example.org", 0);
    ms_store_cert_init(&got);
    (void)ms_alloc_fail_at(0);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "01", &got, &err), 0);
    total = ms_alloc_fail_at(0);
    assert_true(total >= 5);
    ms_store_cert_cleanup(&got);
    for (size_t n = 1; n <= total; n++) {
        int rc;

        (void)ms_alloc_fail_at(n);
        rc = ms_store_cert_get(s, ISSUER, "01", &got, &err);
        (void)ms_alloc_fail_at(0);
        if (rc != MS_ENOMEM)
            fail_msg("allocation %zu of %zu: %s", n, total, ms_status_name(rc));
        assert_null(got.serial_hex);
        assert_null(got.der.data);
    }
    ms_store_close(s);

    s = NULL;
    (void)ms_alloc_fail_at(1);
    assert_int_equal(ms_store_open(&s, "sqlite::memory:", &err), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_null(s);
    assert_int_equal(ERR_peek_error(), 0);
}

#define T(fn) cmocka_unit_test(fn)
#define TF(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_store__serials_increase),
        T(test_store__reserve_serials),
        T(test_store__issue_revoke_audited),
        T(test_store__cert_insert_get),
        T(test_store__duplicate_serial_writes_nothing),
        T(test_store__bad_fields_rejected),
        T(test_store__unknown_serial),
        T(test_store__revoke_and_list),
        T(test_store__audit_chain),
        T(test_store__bad_url),
        TF(test_store__file_persists),
        TF(test_store__audit_tamper_detected),
        TF(test_store__audit_is_append_only),
        TF(test_store__newer_schema_refused),
        TF(test_store__not_a_database),
        T(test_store__alloc_failure_loop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
