/*
 * tests/unit/test_store.c - lib/store: the store interface on SQLite and,
 * when MS_STORE_TEST_URL_FILE names a file holding a PostgreSQL URL (ctest
 * fixture "pg", tests/support/pg-cluster.sh), on PostgreSQL.
 *
 * The group "store" runs against the backend under test: every case gets
 * an empty store (a new SQLite database, or the schema ms_store_test of the
 * PostgreSQL database dropped and created again, so the database is
 * wiped). "sqlite-only" and "pg-only" hold what only one backend has (raw
 * files, :memory:, reconnects, lock timeouts). The raw helpers play the
 * operator or the attacker with sqlite3 or libpq directly.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/err.h>
#include <sqlite3.h>

#include <mailseal/error.h>

#include "store/migrations/migrations.h"
#include "store/store.h"
#include "util/alloc.h"

#define ISSUER "mailseal V3 Organisation CA"

static const unsigned char der_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x00};

/* PostgreSQL under test: the URL with search_path = ms_store_test. */
static bool use_pg;
static char pg_url[1024];

static void
pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A raw libpq connection to the test schema. */
static PGconn *
pg_raw(const char *url)
{
    PGconn *c = PQconnectdb(url);

    assert_non_null(c);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    (void)PQsetNoticeProcessor(c, pg_quiet, NULL); /* returns the old one */
    return c;
}

/* Runs sql on c; returns the SQLSTATE of its failure ("" on success). */
static const char *
pg_state(PGconn *c, const char *sql, char state[6])
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    const char *e;

    state[0] = '\0';
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        e = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        assert_non_null(e);
        assert_int_equal(strlen(e), 5);
        memcpy(state, e, 6);
    }
    PQclear(r);
    return state;
}

static void
pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static void
pg_raw_exec(const char *sql)
{
    PGconn *c = pg_raw(pg_url);

    pg_exec(c, sql);
    PQfinish(c);
}

static int
pg_raw_count(const char *sql)
{
    PGconn *c = pg_raw(pg_url);
    PGresult *r = PQexec(c, sql);
    char *end = NULL;
    long n;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    n = strtol(PQgetvalue(r, 0, 0), &end, 10);
    assert_true(end != NULL && *end == '\0' && n >= 0 && n < 1000000);
    PQclear(r);
    PQfinish(c);
    return (int)n;
}

/*
 * The URL of an empty store: a private in-memory SQLite database, or the
 * test schema of the PostgreSQL database, dropped and made again.
 */
static const char *
fresh_url(void)
{
    if (!use_pg)
        return "sqlite::memory:";
    pg_raw_exec("DROP SCHEMA IF EXISTS ms_store_test CASCADE;"
                " CREATE SCHEMA ms_store_test");
    return pg_url;
}

/* A temporary directory with db = DIR/store.db; url names the store
 * (that file, or the PostgreSQL test schema). */
typedef struct fixture {
    char dir[64];
    char db[96];
    char file_url[128];
    const char *url;
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
        snprintf(f->file_url, sizeof(f->file_url), "sqlite:%s", f->db) >=
            (int)sizeof(f->file_url)) {
        free(f);
        return -1;
    }
    f->url = use_pg ? fresh_url() : f->file_url;
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

/* A record borrowing the given serial and fixed fields, der empty. */
static void
make_cert_fields(ms_store_cert *c, char *serial, char *email)
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
}

/* The same with der_bytes as the certificate. */
static void
make_cert(ms_store_cert *c, char *serial, char *email)
{
    make_cert_fields(c, serial, email);
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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
    ms_store *s = open_ok(fresh_url());
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

/* Asserts that msg does not contain secret. */
static void
assert_no_secret(const char *msg, const char *secret)
{
    if (strstr(msg, secret) != NULL)
        fail_msg("password in error message: %s", msg);
}

static void
test_store__bad_url(void **state)
{
    ms_store *s = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(ms_store_open(&s, "mysql:x", &err), MS_EINVAL);
    assert_string_equal(err.msg, "unknown database URL scheme");
    assert_int_equal(ms_store_open(&s, "postgresq://localhost/ca", &err),
                     MS_EINVAL);
    assert_int_equal(ms_store_open(&s, "sqlite:", &err), MS_EINVAL);
    assert_int_equal(ms_store_open(&s, "sqlite:/nonexistent/dir/x.db", &err),
                     MS_EIO);
    assert_null(s);
}

/* Nothing listens on 127.0.0.1:1: MS_EIO, and never the password. */
static void
test_store__pg_unreachable(void **state)
{
    ms_store *s = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(
        ms_store_open(&s, "postgresql://ca:Sesame-42@127.0.0.1:1/ca", &err),
        MS_EIO);
    assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL"));
    assert_no_secret(err.msg, "Sesame");
    assert_int_equal(ms_store_open(&s,
                                   "postgres://ca@127.0.0.1:1/ca"
                                   "?password=Sesame-42&connect_timeout=5",
                                   &err),
                     MS_EIO);
    assert_no_secret(err.msg, "Sesame");
    /* libpq quotes the URI part it cannot decode. */
    assert_int_equal(
        ms_store_open(&s, "postgresql://ca:Sesame%zz@127.0.0.1:1/ca", &err),
        MS_EIO);
    assert_no_secret(err.msg, "Sesame");
    assert_non_null(strstr(err.msg, "***"));
    assert_int_equal(ms_store_open(&s,
                                   "postgresql://ca@127.0.0.1:1/ca"
                                   "?password=Sesame%00x",
                                   &err),
                     MS_EIO);
    assert_no_secret(err.msg, "Sesame");
    assert_null(s);
    assert_int_equal(ERR_peek_error(), 0);
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

/* Runs SQL as an operator or attacker would, on the backend under test. */
static void
raw_exec_any(const fixture *f, const char *sqlite_sql, const char *pg_sql)
{
    if (use_pg)
        pg_raw_exec(pg_sql);
    else
        raw_exec(f->db, sqlite_sql);
}

static int
raw_count_any(const fixture *f, const char *sql)
{
    return use_pg ? pg_raw_count(sql) : raw_count(f->db, sql);
}

/* True when the database itself refuses sql (a constraint or trigger). */
static bool
raw_refused(const fixture *f, const char *sql)
{
    sqlite3 *h = NULL;
    PGconn *c;
    char state[6];
    bool refused;

    if (use_pg) {
        c = pg_raw(pg_url);
        refused = strcmp(pg_state(c, sql, state), "23000") == 0;
        PQfinish(c);
        return refused;
    }
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    refused = sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_CONSTRAINT;
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    return refused;
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
    assert_int_equal(raw_count_any(f, "SELECT count(*) FROM schema_version"),
                     (int)ms_store_migrations_count);
    assert_int_equal(raw_count_any(f, "SELECT count(*) FROM certs"), 1);
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
    raw_exec_any(f,
                 "DROP TRIGGER audit_no_update;"
                 " UPDATE audit SET detail = 'serial=03' WHERE id = 2",
                 "DROP TRIGGER audit_no_update ON audit;"
                 " UPDATE audit SET detail = 'serial=03' WHERE id = 2");
    s = open_ok(f->url);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), MS_EBADSIG);
    assert_non_null(strstr(err.msg, "audit row 2"));
    assert_true(rows == 1);
    ms_store_close(s);

    /* Deleting a row breaks the id sequence. */
    raw_exec_any(f,
                 "DROP TRIGGER audit_no_delete; DELETE FROM audit"
                 " WHERE id = 1",
                 "DROP TRIGGER audit_no_delete ON audit; DELETE FROM audit"
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

    assert_int_equal(ms_store_audit_append(s, "issue", "x", NULL), 0);
    insert(s, "01", "a@example.org", 0);
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "01", 1, 5, NULL), 0);
    ms_store_close(s);
    assert_true(raw_refused(f, "UPDATE audit SET detail = 'y'"));
    assert_true(raw_refused(f, "DELETE FROM audit"));
    assert_true(raw_refused(f, "UPDATE revocations SET reason = 0"));
    /* TRUNCATE skips row triggers; PostgreSQL refuses it on its own. */
    if (use_pg)
        assert_true(raw_refused(f, "TRUNCATE audit"));
    assert_int_equal(raw_count_any(f, "SELECT count(*) FROM audit"), 3);
}

static void
test_store__newer_schema_refused(void **state)
{
    fixture *f = *state;
    ms_store *s = open_ok(f->url);
    ms_error err;

    ms_store_close(s);
    raw_exec_any(f, "INSERT INTO schema_version VALUES (999, 0)",
                 "INSERT INTO schema_version VALUES (999, 0)");
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
    s = open_ok(fresh_url());
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
    assert_int_equal(ms_store_open(&s, fresh_url(), &err), MS_ENOMEM);
    (void)ms_alloc_fail_at(0);
    assert_null(s);
    assert_int_equal(ERR_peek_error(), 0);
}

/* Two handles at once: a worker's share of the concurrency test. */
#define WORKERS 2
#define ROUNDS  30
#define BLOCK   4

typedef struct worker {
    const char *url;
    pthread_barrier_t *start;
    int id;
    int rc;
    char msg[256];
    uint64_t first[ROUNDS]; /* the serial blocks it reserved */
} worker;

/* Inserts the certificate serial of worker id (no cmocka: any thread). */
static int
worker_insert(ms_store *s, char *serial, ms_error *err)
{
    char email[] = "w@example.org";
    ms_store_cert c;
    int rc;

    make_cert_fields(&c, serial, email);
    if ((rc = ms_buf_append(&c.der, der_bytes, sizeof(der_bytes))) == 0)
        rc = ms_store_cert_insert(s, &c, err);
    ms_buf_cleanup(&c.der);
    return rc;
}

/* One round: an audit row, a serial block, an issuance and, every third
 * round, a revocation. Each step is retried while another writer holds the
 * lock past the timeout (MS_ETEMP: the transaction changed nothing). */
static int
work_round(worker *w, ms_store *s, int i, ms_error *err)
{
    char detail[64], serial[8];
    int rc, tries;

    (void)snprintf(detail, sizeof(detail), "worker=%d round=%d", w->id, i);
    (void)snprintf(serial, sizeof(serial), "%02x%02x", w->id, i);
    tries = 0;
    do
        rc = ms_store_audit_append(s, "test.concurrent", detail, err);
    while (rc == MS_ETEMP && ++tries < 10);
    tries = 0;
    while (rc == 0 &&
           (rc = ms_store_reserve_serials(s, "tsa", BLOCK, &w->first[i],
                                          err)) == MS_ETEMP &&
           ++tries < 10)
        rc = 0;
    tries = 0;
    while (rc == 0 && (rc = worker_insert(s, serial, err)) == MS_ETEMP &&
           ++tries < 10)
        rc = 0;
    tries = 0;
    while (rc == 0 && i % 3 == 0 &&
           (rc = ms_store_cert_revoke(s, ISSUER, serial, 1, 7, err)) ==
               MS_ETEMP &&
           ++tries < 10)
        rc = 0;
    return rc;
}

static void *
work(void *arg)
{
    worker *w = arg;
    ms_store *s = NULL;
    ms_error err;
    int rc;

    ms_error_clear(&err);
    /* Both open together: the migration of an empty store races too. */
    (void)pthread_barrier_wait(w->start); /* 0 or SERIAL_THREAD: both go */
    if ((rc = ms_store_open(&s, w->url, &err)) == 0) {
        for (int i = 0; i < ROUNDS && rc == 0; i++)
            rc = work_round(w, s, i, &err);
    }
    if (rc != 0) {
        w->rc = rc;
        (void)snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
    }
    ms_store_close(s);
    return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Two handles append, reserve, issue and revoke at once: the chain
 * verifies and no serial is handed out twice. */
static void
test_store__concurrent_handles(void **state)
{
    fixture *f = *state;
    pthread_barrier_t start;
    pthread_t th[WORKERS];
    worker w[WORKERS];
    uint64_t all[WORKERS * ROUNDS], rows = 0, epoch = 0;
    int revokes = (ROUNDS + 2) / 3;
    ms_store *s;
    ms_error err;

    assert_int_equal(pthread_barrier_init(&start, NULL, WORKERS), 0);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < WORKERS; i++) {
        w[i].url = f->url;
        w[i].start = &start;
        w[i].id = i + 1;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        if (w[i].rc != 0)
            fail_msg("worker %d: %s: %s", i, ms_status_name(w[i].rc), w[i].msg);
        memcpy(all + (size_t)i * ROUNDS, w[i].first, sizeof(w[i].first));
    }
    assert_int_equal(pthread_barrier_destroy(&start), 0);
    /* The blocks tile 1..WORKERS * ROUNDS * BLOCK exactly. */
    qsort(all, sizeof(all) / sizeof(all[0]), sizeof(all[0]), cmp_u64);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        assert_true(all[i] == 1 + i * BLOCK);

    s = open_ok(f->url);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == (uint64_t)WORKERS * (2 * ROUNDS + revokes));
    assert_int_equal(ms_store_revocation_epoch(s, &epoch, &err), 0);
    assert_true(epoch == (uint64_t)WORKERS * revokes);
    ms_store_close(s);
    assert_int_equal(raw_count_any(f, "SELECT count(*) FROM schema_version"),
                     (int)ms_store_migrations_count);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A lost connection is MS_EIO once; the next call reconnects. */
static void
test_store__pg_reconnects(void **state)
{
    fixture *f = *state;
    char url[sizeof(pg_url) + 64];
    ms_store *s;
    uint64_t v = 0;
    ms_error err;
    int n;

    /* Its own application name: only this handle's backend is ended, not
     * those of other tests (or daemons) using the same cluster. */
    n = snprintf(url, sizeof(url), "%s%capplication_name=ms-store-reconnect",
                 f->url, strchr(f->url, '?') != NULL ? '&' : '?');
    assert_true(n > 0 && n < (int)sizeof(url));
    s = open_ok(url);
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    assert_int_equal(pg_raw_count("SELECT count(*) FILTER"
                                  " (WHERE pg_terminate_backend(pid, 10000))"
                                  " FROM pg_stat_activity"
                                  " WHERE application_name ="
                                  " 'ms-store-reconnect'"
                                  " AND usename = current_user"
                                  " AND pid <> pg_backend_pid()"),
                     1);
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), MS_EIO);
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    assert_true(v == 2);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A writer waiting for a lock gives up after lock_timeout: MS_ETEMP, and
 * nothing is written. The URL's own lock_timeout wins over the default. */
static void
test_store__pg_lock_timeout(void **state)
{
    fixture *f = *state;
    char url[sizeof(pg_url) + 32];
    ms_store *s;
    PGconn *c;
    uint64_t v = 0, rows = 99;
    ms_error err;

    assert_true(snprintf(url, sizeof(url), "%s%%20-clock_timeout%%3D200",
                         f->url) < (int)sizeof(url));
    s = open_ok(url);
    c = pg_raw(f->url);
    pg_exec(c, "BEGIN; LOCK TABLE audit IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(ms_store_audit_append(s, "issue", "x", &err), MS_ETEMP);
    insert(s, "01", "a@example.org", MS_ETEMP);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), MS_ETEMP);
    assert_int_equal(ms_store_next_serial(s, "tsa", &v, &err), 0);
    pg_exec(c, "COMMIT");
    PQfinish(c);
    assert_int_equal(ms_store_audit_append(s, "issue", "x", &err), 0);
    assert_int_equal(ms_store_audit_verify(s, &rows, &err), 0);
    assert_true(rows == 1);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

/*
 * PostgreSQL mode when MS_STORE_TEST_URL_FILE is set: its first line is the
 * database URL. Returns 0, or 1 when the file is missing or empty (the
 * cluster did not start: a failure, never a skip).
 */
static int
pg_setup(void)
{
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): before any thread starts */
    const char *file = getenv("MS_STORE_TEST_URL_FILE");
    char base[768];
    FILE *fp;
    int n;

    if (file == NULL)
        return 0;
    if ((fp = fopen(file, "r")) == NULL) {
        printf("FAIL: no PostgreSQL URL in %s\n", file);
        return 1;
    }
    if (fgets(base, sizeof(base), fp) == NULL)
        base[0] = '\0';
    (void)fclose(fp); /* read-only: nothing to flush */
    base[strcspn(base, "\r\n")] = '\0';
    if (base[0] == '\0') {
        printf("FAIL: %s is empty\n", file);
        return 1;
    }
    /* Every case works in schema ms_store_test (search_path). */
    n = snprintf(pg_url, sizeof(pg_url),
                 "%s%coptions=-csearch_path%%3D"
                 "ms_store_test",
                 base, strchr(base, '?') != NULL ? '&' : '?');
    if (n < 0 || n >= (int)sizeof(pg_url)) {
        printf("FAIL: URL in %s too long\n", file);
        return 1;
    }
    use_pg = true;
    return 0;
}

#define T(fn)  cmocka_unit_test(fn)
#define TF(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    /* Against the backend under test. */
    const struct CMUnitTest store[] = {
        T(test_store__serials_increase),
        T(test_store__reserve_serials),
        T(test_store__issue_revoke_audited),
        T(test_store__cert_insert_get),
        T(test_store__duplicate_serial_writes_nothing),
        T(test_store__bad_fields_rejected),
        T(test_store__unknown_serial),
        T(test_store__revoke_and_list),
        T(test_store__audit_chain),
        TF(test_store__file_persists),
        TF(test_store__audit_tamper_detected),
        TF(test_store__audit_is_append_only),
        TF(test_store__newer_schema_refused),
        TF(test_store__concurrent_handles),
        T(test_store__alloc_failure_loop),
    };
    /* URL checks (no server needed) and what only SQLite has. */
    const struct CMUnitTest sqlite_only[] = {
        T(test_store__bad_url),
        T(test_store__pg_unreachable),
        TF(test_store__not_a_database),
    };
    const struct CMUnitTest pg_only[] = {
        TF(test_store__pg_reconnects),
        TF(test_store__pg_lock_timeout),
    };
    int rc;

    if ((rc = pg_setup()) != 0)
        return rc;
    rc = cmocka_run_group_tests_name("store", store, NULL, NULL);
    if (use_pg)
        rc += cmocka_run_group_tests_name("pg-only", pg_only, NULL, NULL);
    else
        rc +=
            cmocka_run_group_tests_name("sqlite-only", sqlite_only, NULL, NULL);
    return rc;
}
