/*
 * store/store_pg.c - the PostgreSQL backend (libpq).
 *
 * The URL is a libpq URI (postgresql://user@host:port/db?params). Every
 * statement has bound parameters (PQexecParams, binary format both ways);
 * each operation is one transaction. Writers run READ COMMITTED and take
 * explicit locks: whatever appends to the audit chain first locks the audit
 * table in SHARE ROW EXCLUSIVE mode (it conflicts with itself and with
 * plain INSERTs, not with readers), so two processes never read the same
 * last row and fork the chain; sequences advance with one
 * INSERT ... ON CONFLICT DO UPDATE, which row-locks the counter. Long
 * reads (CRL lists, audit scans) run in a REPEATABLE READ READ ONLY
 * transaction through a cursor, so memory stays bounded.
 *
 * Every session has a statement and a lock timeout (defaults below); a
 * lock wait or cancelled statement is MS_ETEMP, a lost connection MS_EIO (the
 * next call reconnects once). Server notices are dropped: lib/ never prints.
 * Error messages never contain the URL, and the password is cut out of the
 * messages libpq gives when it cannot connect.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/migrations/migrations.h"
#include "store/store_backend.h"
#include "util/alloc.h"
#include "util/error.h"

/* Session limits, unless the URL (options=-c...), role or database set
 * them: a statement 30 s, a lock wait 5 s (then MS_ETEMP). */
static const char session_sql[] =
    "SELECT CASE WHEN current_setting('statement_timeout') = '0'"
    " THEN set_config('statement_timeout', '30s', false) END,"
    " CASE WHEN current_setting('lock_timeout') = '0'"
    " THEN set_config('lock_timeout', '5s', false) END";
/* Seconds to connect, unless the URL says otherwise. */
#define CONNECT_TIMEOUT_S "10"
/* Rows fetched from a cursor at a time. */
#define FETCH_ROWS "256"
/* pg_advisory_xact_lock key serialising migrations ("mailseal"). */
#define MIGRATE_LOCK "7881697461385207148"

/* Built-in type OIDs (fixed in pg_type.dat since forever). */
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_INT2  21
#define OID_INT4  23
#define OID_TEXT  25

#define OID_BOOL    16
#define OID_NAME    19
#define OID_BPCHAR  1042
#define OID_VARCHAR 1043

#define MAX_PARAMS 8
/* Statements of the generic layer kept prepared per connection. */
#define STMT_CACHE 32

typedef struct pg_cached {
    char *sql;     /* the ?N text, the key (NULL: free slot) */
    char name[24]; /* "ms_<n>" on the server */
} pg_cached;

typedef struct pg_store {
    ms_store base; /* first: ms_store * and pg_store * convert */
    PGconn *conn;
    char state[6]; /* SQLSTATE of the last failed statement, "" if none */
    pg_cached cache[STMT_CACHE];
    size_t next_evict;     /* round robin when the cache is full */
    unsigned long stmt_no; /* names are never reused */
} pg_store;

/* Forgets the prepared statements (the server lost them on reconnect). */
static void
cache_clear(pg_store *q)
{
    for (size_t i = 0; i < STMT_CACHE; i++) {
        ms_free(q->cache[i].sql);
        q->cache[i].sql = NULL;
    }
}

/* Bound parameters, all in binary format. */
typedef struct params {
    int n;
    Oid types[MAX_PARAMS];
    const char *values[MAX_PARAMS];
    int lengths[MAX_PARAMS];
    int formats[MAX_PARAMS];
    unsigned char ints[MAX_PARAMS][8];
} params;

static void
p_add(params *p, Oid type, const void *v, size_t len)
{
    MS_ASSERT(p->n < MAX_PARAMS && len <= INT32_MAX);
    p->types[p->n] = type;
    p->values[p->n] = v;
    p->lengths[p->n] = (int)len;
    p->formats[p->n] = 1;
    p->n++;
}

/* Text is sent as its bytes (store.c capped every string). */
static void
p_text(params *p, const char *s)
{
    p_add(p, OID_TEXT, s, strlen(s));
}

static void
p_int8(params *p, int64_t v)
{
    unsigned char *b = p->ints[p->n];
    uint64_t u = (uint64_t)v;

    MS_ASSERT(p->n < MAX_PARAMS);
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
    p_add(p, OID_INT8, b, 8);
}

static void
p_bytea(params *p, const void *data, size_t len)
{
    p_add(p, OID_BYTEA, data, len);
}

/* The status for SQLSTATE st. */
static int
status_of(const char *st)
{
    static const char *const temp[] = {"40001", "40P01", "55P03",
                                       "57014", "53300", "57P03"};

    for (size_t i = 0; i < sizeof(temp) / sizeof(temp[0]); i++) {
        if (strcmp(st, temp[i]) == 0)
            return MS_ETEMP; /* serialization, deadlock, lock or statement
                              * timeout, too many connections, starting */
    }
    if (strcmp(st, "53200") == 0)
        return MS_ENOMEM;
    if (strncmp(st, "23", 2) == 0)
        return MS_EPOLICY; /* integrity constraint, as SQLite's */
    if (strncmp(st, "22", 2) == 0)
        return MS_EINVAL; /* data exception: e.g. text not UTF-8 */
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "28", 2) == 0 ||
        strncmp(st, "53", 2) == 0 || strncmp(st, "58", 2) == 0 ||
        strncmp(st, "57P", 3) == 0 || strcmp(st, "42501") == 0 ||
        strcmp(st, "25006") == 0)
        return MS_EIO; /* connection, authorisation, disk, shutdown,
                        * permission, read-only server */
    return MS_ERR;
}

/* Length of the first line of s. */
static int
line_len(const char *s)
{
    size_t n = strcspn(s, "\r\n");

    return n > 200 ? 200 : (int)n;
}

/* Records the failure of r (may be NULL) as "what: server message". */
static int
pg_fail(pg_store *q, const PGresult *r, const char *what, ms_error *err)
{
    const char *st = NULL, *msg = NULL;
    int code;

    if (r != NULL) {
        st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    }
    if (st != NULL && strlen(st) == 5) {
        memcpy(q->state, st, 6);
        code = status_of(st);
    } else if (PQstatus(q->conn) != CONNECTION_OK) {
        code = MS_EIO; /* lost the connection */
    } else {
        code = r == NULL ? MS_ENOMEM : MS_ERR; /* libpq's own failure */
    }
    if (msg == NULL)
        msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(q->conn);
    if (msg == NULL || msg[0] == '\0') {
        if (code == MS_ENOMEM)
            msg = "out of memory";
        else if (r != NULL) /* a success of the wrong kind */
            msg = PQresStatus(PQresultStatus(r));
        else
            msg = "no reason given";
    }
    return ms_error_set(err, code, "%s: %.*s", what, line_len(msg), msg);
}

/* Runs sql with p (NULL: none); a result of status want goes to *res
 * (NULL: discarded), anything else is an error. */
static int
run(pg_store *q, const char *sql, const params *p, ExecStatusType want,
    PGresult **res, const char *what, ms_error *err)
{
    PGresult *r;
    int rc = 0;

    q->state[0] = '\0';
    r = PQexecParams(q->conn, sql, p != NULL ? p->n : 0,
                     p != NULL ? p->types : NULL, p != NULL ? p->values : NULL,
                     p != NULL ? p->lengths : NULL,
                     p != NULL ? p->formats : NULL, 1);
    if (r == NULL || PQresultStatus(r) != want)
        rc = pg_fail(q, r, what, err);
    else if (res != NULL)
        *res = r;
    if (rc != 0 || res == NULL)
        PQclear(r);
    return rc;
}

/* Runs a parameterless script (several statements allowed). */
static int
run_script(pg_store *q, const char *sql, const char *what, ms_error *err)
{
    PGresult *r;
    int rc = 0;

    q->state[0] = '\0';
    r = PQexec(q->conn, sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_fail(q, r, what, err);
    PQclear(r);
    return rc;
}

static int
session_limits(pg_store *q, ms_error *err)
{
    return run(q, session_sql, NULL, PGRES_TUPLES_OK, NULL,
               "cannot set session limits", err);
}

/* Reconnects once when the connection was lost since the last call. */
static int
conn_ok(pg_store *q, ms_error *err)
{
    if (PQstatus(q->conn) == CONNECTION_OK)
        return 0;
    PQreset(q->conn);
    cache_clear(q);
    if (PQstatus(q->conn) != CONNECTION_OK)
        return pg_fail(q, NULL, "cannot reconnect to PostgreSQL", err);
    return session_limits(q, err);
}

static int
tx_begin(pg_store *q, bool write, ms_error *err)
{
    int rc;

    if ((rc = conn_ok(q, err)) != 0)
        return rc;
    return run_script(q,
                      write
                          ? "BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE"
                          : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                      "cannot begin transaction", err);
}

/* Commits when rc is 0, else rolls back; returns the final status. */
static int
tx_end(pg_store *q, int rc, ms_error *err)
{
    if (rc == 0 && PQtransactionStatus(q->conn) == PQTRANS_INTRANS &&
        (rc = run_script(q, "COMMIT", "cannot commit", err)) == 0)
        return 0;
    if (rc == 0)
        rc = ms_error_set(err, MS_ERR, "transaction in error, not committed");
    if (PQtransactionStatus(q->conn) == PQTRANS_INTRANS ||
        PQtransactionStatus(q->conn) == PQTRANS_INERROR) {
        /* The failure being reported matters more than a failed rollback,
         * and the server rolls back when the connection ends anyway. */
        PQclear(PQexec(q->conn, "ROLLBACK"));
    }
    return rc;
}

/* Takes the lock every audit appender holds until its commit. */
static int
lock_audit(pg_store *q, ms_error *err)
{
    return run_script(q, "LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE",
                      "cannot lock audit log", err);
}

/* Integer column (int2, int4 or int8) of row i, not NULL. */
static int
col_int(const PGresult *r, int i, int col, int64_t *out, ms_error *err)
{
    const unsigned char *v;
    Oid t = PQftype(r, col);
    uint64_t u = 0;
    int n = PQgetlength(r, i, col);

    *out = 0;
    if (PQgetisnull(r, i, col) || PQfformat(r, col) != 1 ||
        !((t == OID_INT8 && n == 8) || (t == OID_INT4 && n == 4) ||
          (t == OID_INT2 && n == 2)))
        return ms_error_set(err, MS_EIO, "column %d is not an integer", col);
    v = (const unsigned char *)PQgetvalue(r, i, col);
    for (int k = 0; k < n; k++)
        u = (u << 8) | v[k];
    if (n < 8 && (v[0] & 0x80) != 0)
        u |= ~(uint64_t)0 << (8 * n); /* sign extension */
    *out = (int64_t)u;
    return 0;
}

/* Text column of row i, not NULL (borrowed from r, NUL-terminated). */
static int
col_text(const PGresult *r, int i, int col, const char **out, ms_error *err)
{
    *out = "";
    if (PQgetisnull(r, i, col) || PQftype(r, col) != OID_TEXT)
        return ms_error_set(err, MS_EIO, "column %d is not text", col);
    *out = PQgetvalue(r, i, col);
    return 0;
}

static void
pg_close(ms_store *s)
{
    pg_store *q = (pg_store *)s;

    PQfinish(q->conn);
    cache_clear(q);
    ms_free(q);
}

static int
pg_next_serial(ms_store *s, const char *name, uint64_t count, uint64_t *out,
               ms_error *err)
{
    pg_store *q = (pg_store *)s;
    PGresult *r = NULL;
    params p = {0};
    int64_t v = 0;
    int rc;

    /* One statement: its implicit transaction row-locks the counter. */
    p_text(&p, name);
    p_int8(&p, (int64_t)count);
    if ((rc = conn_ok(q, err)) != 0 ||
        (rc = run(q,
                  "INSERT INTO sequences (name, value) VALUES ($1, $2)"
                  " ON CONFLICT (name) DO UPDATE"
                  " SET value = sequences.value + $2"
                  " WHERE sequences.value <= 9223372036854775807 - $2"
                  " RETURNING value",
                  &p, PGRES_TUPLES_OK, &r, "cannot advance sequence", err)) !=
            0)
        goto out;
    if (PQntuples(r) != 1) {
        rc = ms_error_set(err, MS_ETOOBIG, "sequence %s exhausted", name);
        goto out;
    }
    if ((rc = col_int(r, 0, 0, &v, err)) != 0)
        goto out;
    /* value is the last one reserved. */
    *out = (uint64_t)v - count + 1;
out:
    PQclear(r);
    return rc;
}

/* The last audit row's id and hash (0 and the genesis hash when empty). */
static int
audit_last(pg_store *q, uint64_t *id, char hash[MS_STORE_HASH_HEX],
           ms_error *err)
{
    PGresult *r = NULL;
    const char *h;
    int64_t v;
    int rc;

    *id = 0;
    memcpy(hash, ms_store_audit_genesis, MS_STORE_HASH_HEX);
    if ((rc = run(q, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
                  NULL, PGRES_TUPLES_OK, &r, "cannot read audit log", err)) !=
            0 ||
        PQntuples(r) == 0)
        goto out;
    if ((rc = col_int(r, 0, 0, &v, err)) != 0 ||
        (rc = col_text(r, 0, 1, &h, err)) != 0)
        goto out;
    if (strlen(h) != MS_STORE_HASH_HEX - 1) {
        rc = ms_error_set(err, MS_EBADSIG, "last audit row has a bad hash");
        goto out;
    }
    *id = (uint64_t)v;
    memcpy(hash, h, MS_STORE_HASH_HEX);
out:
    PQclear(r);
    return rc;
}

/* Appends one chained audit row; the caller holds the audit lock. */
static int
audit_add(pg_store *q, int64_t now, const char *event, const char *detail,
          ms_error *err)
{
    char prev[MS_STORE_HASH_HEX], hash[MS_STORE_HASH_HEX];
    params p = {0};
    uint64_t id;
    int rc;

    if ((rc = audit_last(q, &id, prev, err)) != 0)
        return rc;
    if (id >= INT64_MAX)
        return ms_error_set(err, MS_ETOOBIG, "audit log full");
    id++;
    if ((rc = ms_store_audit_hash(hash, prev, id, now, event, detail, err)) !=
        0)
        return rc;
    p_int8(&p, (int64_t)id);
    p_int8(&p, now);
    p_text(&p, event);
    p_text(&p, detail);
    p_text(&p, prev);
    p_text(&p, hash);
    return run(q,
               "INSERT INTO audit (id, time, event, detail, prev_hash, hash)"
               " VALUES ($1, $2, $3, $4, $5, $6)",
               &p, PGRES_COMMAND_OK, NULL, "cannot append audit row", err);
}

static int
pg_audit_append(ms_store *s, int64_t now, const char *event, const char *detail,
                ms_error *err)
{
    pg_store *q = (pg_store *)s;
    int rc;

    if ((rc = tx_begin(q, true, err)) != 0)
        return rc;
    if ((rc = lock_audit(q, err)) == 0)
        rc = audit_add(q, now, event, detail, err);
    return tx_end(q, rc, err);
}

static int
pg_cert_insert(ms_store *s, const ms_store_cert *c, int64_t now,
               const char *detail, ms_error *err)
{
    pg_store *q = (pg_store *)s;
    params p = {0};
    int rc;

    if ((rc = tx_begin(q, true, err)) != 0)
        return rc;
    if ((rc = lock_audit(q, err)) != 0)
        goto out;
    p_text(&p, c->serial_hex);
    p_text(&p, c->issuer);
    p_text(&p, c->subject_email);
    p_int8(&p, c->level);
    p_text(&p, c->use);
    p_int8(&p, (int64_t)c->not_before);
    p_int8(&p, (int64_t)c->not_after);
    p_bytea(&p, c->der.data, c->der.len);
    rc = run(q,
             "INSERT INTO certs (serial_hex, issuer, subject_email, level,"
             " cert_use, not_before, not_after, der)"
             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
             &p, PGRES_COMMAND_OK, NULL, "cannot record certificate", err);
    if (rc != 0 && strcmp(q->state, "23505") == 0)
        rc = ms_error_set(err, MS_EPOLICY, "serial %s already issued",
                          c->serial_hex);
    if (rc != 0)
        goto out;
    rc = audit_add(q, now, "cert.issue", detail, err);
out:
    return tx_end(q, rc, err);
}

/* Copies text column col of row 0 into *out. */
static int
col_dup(char **out, const PGresult *r, int col, ms_error *err)
{
    const char *t;
    int rc;

    if ((rc = col_text(r, 0, col, &t, err)) != 0)
        return rc;
    if ((*out = ms_strdup(t)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot copy column");
    return 0;
}

static int
cert_fill(ms_store_cert *c, const PGresult *r, ms_error *err)
{
    int64_t level, nb, na, at, reason;
    int rc, n;

    if ((rc = col_dup(&c->serial_hex, r, 0, err)) != 0 ||
        (rc = col_dup(&c->issuer, r, 1, err)) != 0 ||
        (rc = col_dup(&c->subject_email, r, 2, err)) != 0 ||
        (rc = col_dup(&c->use, r, 4, err)) != 0 ||
        (rc = col_int(r, 0, 3, &level, err)) != 0 ||
        (rc = col_int(r, 0, 5, &nb, err)) != 0 ||
        (rc = col_int(r, 0, 6, &na, err)) != 0)
        return rc;
    if (level < 1 || level > 4)
        return ms_error_set(err, MS_EIO, "certificate %s has level %lld",
                            c->serial_hex, (long long)level);
    c->level = (int)level;
    c->not_before = (time_t)nb;
    c->not_after = (time_t)na;
    n = PQgetlength(r, 0, 7);
    if (PQgetisnull(r, 0, 7) || PQftype(r, 7) != OID_BYTEA || n <= 0)
        return ms_error_set(err, MS_EIO, "certificate %s has no DER",
                            c->serial_hex);
    if ((rc = ms_buf_append(&c->der, PQgetvalue(r, 0, 7), (size_t)n)) != 0)
        return ms_error_set(err, rc, "cannot copy certificate");
    c->revoked = !PQgetisnull(r, 0, 8);
    if (c->revoked) {
        if ((rc = col_int(r, 0, 8, &at, err)) != 0 ||
            (rc = col_int(r, 0, 9, &reason, err)) != 0)
            return rc;
        if (reason < 0 || reason > 10)
            return ms_error_set(err, MS_EIO, "certificate %s has reason %lld",
                                c->serial_hex, (long long)reason);
        c->revoked_at = (time_t)at;
        c->reason = (int)reason;
    }
    return 0;
}

static int
pg_cert_get(ms_store *s, const char *issuer, const char *serial_hex,
            ms_store_cert *out, ms_error *err)
{
    pg_store *q = (pg_store *)s;
    PGresult *r = NULL;
    params p = {0};
    int rc;

    /* One statement: its implicit transaction is a consistent read. */
    p_text(&p, issuer);
    p_text(&p, serial_hex);
    if ((rc = conn_ok(q, err)) != 0 ||
        (rc = run(q,
                  "SELECT c.serial_hex, c.issuer, c.subject_email,"
                  " c.level, c.cert_use, c.not_before, c.not_after,"
                  " c.der, r.revoked_at, r.reason"
                  " FROM certs c LEFT JOIN revocations r"
                  " ON r.serial_hex = c.serial_hex"
                  " WHERE c.issuer = $1 AND c.serial_hex = $2",
                  &p, PGRES_TUPLES_OK, &r, "cannot read certificate", err)) !=
            0)
        goto out;
    if (PQntuples(r) == 0) {
        rc = ms_error_set(err, MS_ENOTFOUND, "no certificate %s from %s",
                          serial_hex, issuer);
        goto out;
    }
    rc = cert_fill(out, r, err);
out:
    PQclear(r);
    if (rc != 0)
        ms_store_cert_cleanup(out);
    return rc;
}

/* 0 when issuer's certificate serial_hex exists, else MS_ENOTFOUND. */
static int
cert_exists(pg_store *q, const char *issuer, const char *serial_hex,
            ms_error *err)
{
    PGresult *r = NULL;
    params p = {0};
    int rc;

    p_text(&p, issuer);
    p_text(&p, serial_hex);
    if ((rc = run(
             q, "SELECT 1 FROM certs WHERE issuer = $1 AND serial_hex = $2", &p,
             PGRES_TUPLES_OK, &r, "cannot look up certificate", err)) == 0 &&
        PQntuples(r) == 0)
        rc = ms_error_set(err, MS_ENOTFOUND, "no certificate %s from %s",
                          serial_hex, issuer);
    PQclear(r);
    return rc;
}

static int
pg_cert_revoke(ms_store *s, const char *issuer, const char *serial_hex,
               int reason, time_t at, int64_t now, const char *detail,
               ms_error *err)
{
    pg_store *q = (pg_store *)s;
    params p = {0};
    int rc;

    if ((rc = tx_begin(q, true, err)) != 0)
        return rc;
    if ((rc = lock_audit(q, err)) != 0 ||
        (rc = cert_exists(q, issuer, serial_hex, err)) != 0)
        goto out;
    p_text(&p, serial_hex);
    p_int8(&p, (int64_t)at);
    p_int8(&p, reason);
    rc = run(q,
             "INSERT INTO revocations (serial_hex, revoked_at, reason)"
             " VALUES ($1, $2, $3)",
             &p, PGRES_COMMAND_OK, NULL, "cannot record revocation", err);
    if (rc != 0 && strcmp(q->state, "23505") == 0)
        rc = ms_error_set(err, MS_EPOLICY, "certificate %s already revoked",
                          serial_hex);
    if (rc != 0 || (rc = run(q,
                             "INSERT INTO sequences (name, value)"
                             " VALUES ('revocations', 1) ON CONFLICT (name)"
                             " DO UPDATE SET value = sequences.value + 1",
                             NULL, PGRES_COMMAND_OK, NULL,
                             "cannot raise revocation epoch", err)) != 0)
        goto out;
    rc = audit_add(q, now, "cert.revoke", detail, err);
out:
    return tx_end(q, rc, err);
}

static int
pg_revocation_epoch(ms_store *s, uint64_t *out, ms_error *err)
{
    pg_store *q = (pg_store *)s;
    PGresult *r = NULL;
    int64_t v = 0;
    int rc;

    /* One statement: its implicit transaction is a consistent read. */
    if ((rc = conn_ok(q, err)) != 0 ||
        (rc = run(q, "SELECT value FROM sequences WHERE name = 'revocations'",
                  NULL, PGRES_TUPLES_OK, &r, "cannot read revocation epoch",
                  err)) != 0)
        goto out;
    if (PQntuples(r) == 1 && (rc = col_int(r, 0, 0, &v, err)) == 0)
        *out = (uint64_t)v;
out:
    PQclear(r);
    return rc;
}

/* Called per fetched row; returns 0 or a status that stops the scan. */
typedef int (*row_fn)(const PGresult *r, int i, void *arg, ms_error *err);

/*
 * Declares a cursor for sql with p inside a read-only transaction and
 * calls fn for every row, FETCH_ROWS at a time.
 */
static int
scan(pg_store *q, const char *declare, const params *p, row_fn fn, void *arg,
     const char *what, ms_error *err)
{
    PGresult *r = NULL;
    int rc, n;

    if ((rc = tx_begin(q, false, err)) != 0)
        return rc;
    if ((rc = run(q, declare, p, PGRES_COMMAND_OK, NULL, what, err)) != 0)
        goto out;
    do {
        PQclear(r);
        r = NULL;
        if ((rc = run(q, "FETCH " FETCH_ROWS " FROM scan", NULL,
                      PGRES_TUPLES_OK, &r, what, err)) != 0)
            goto out;
        n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            if ((rc = fn(r, i, arg, err)) != 0)
                goto out;
        }
    } while (n > 0);
out:
    PQclear(r);
    return tx_end(q, rc, err);
}

typedef struct revoked_arg {
    ms_store_revoked_fn fn;
    void *arg;
} revoked_arg;

static int
revoked_row(const PGresult *r, int i, void *arg, ms_error *err)
{
    revoked_arg *a = arg;
    const char *serial;
    int64_t at, reason;
    int rc;

    if ((rc = col_text(r, i, 0, &serial, err)) != 0 ||
        (rc = col_int(r, i, 1, &at, err)) != 0 ||
        (rc = col_int(r, i, 2, &reason, err)) != 0)
        return rc;
    if (reason < 0 || reason > 10)
        return ms_error_set(err, MS_EIO, "revocation %s has reason %lld",
                            serial, (long long)reason);
    if ((rc = a->fn(serial, (time_t)at, (int)reason, a->arg)) != 0)
        return ms_error_set(err, rc, "revocation listing stopped");
    return 0;
}

static int
pg_revoked_list(ms_store *s, const char *issuer, ms_store_revoked_fn fn,
                void *arg, ms_error *err)
{
    revoked_arg a = {fn, arg};
    params p = {0};

    p_text(&p, issuer);
    /* COLLATE "C": byte order, as SQLite sorts. */
    return scan((pg_store *)s,
                "DECLARE scan NO SCROLL CURSOR FOR"
                " SELECT r.serial_hex, r.revoked_at, r.reason"
                " FROM revocations r JOIN certs c"
                " ON c.serial_hex = r.serial_hex"
                " WHERE c.issuer = $1 ORDER BY r.serial_hex COLLATE \"C\"",
                &p, revoked_row, &a, "cannot list revocations", err);
}

typedef struct audit_arg {
    ms_store_audit_fn fn;
    void *arg;
} audit_arg;

static int
audit_row(const PGresult *r, int i, void *arg, ms_error *err)
{
    audit_arg *a = arg;
    ms_store_audit_row row;
    int64_t id;
    int rc;

    if ((rc = col_int(r, i, 0, &id, err)) != 0 ||
        (rc = col_int(r, i, 1, &row.time, err)) != 0 ||
        (rc = col_text(r, i, 2, &row.event, err)) != 0 ||
        (rc = col_text(r, i, 3, &row.detail, err)) != 0 ||
        (rc = col_text(r, i, 4, &row.prev_hash, err)) != 0 ||
        (rc = col_text(r, i, 5, &row.hash, err)) != 0)
        return rc;
    row.id = (uint64_t)id;
    return a->fn(&row, a->arg);
}

static int
pg_audit_scan(ms_store *s, ms_store_audit_fn fn, void *arg, ms_error *err)
{
    audit_arg a = {fn, arg};

    return scan((pg_store *)s,
                "DECLARE scan NO SCROLL CURSOR FOR"
                " SELECT id, time, event, detail, prev_hash, hash"
                " FROM audit ORDER BY id",
                NULL, audit_row, &a, "cannot read audit log", err);
}

/* The generic statement layer (store_backend.h). */

static int
pg_begin(ms_store *s, int mode, ms_error *err)
{
    pg_store *q = (pg_store *)s;
    int rc;

    if ((rc = tx_begin(q, mode != MS_STORE_TX_READ, err)) != 0)
        return rc;
    if (mode == MS_STORE_TX_AUDIT && (rc = lock_audit(q, err)) != 0)
        return tx_end(q, rc, err);
    return 0;
}

static int
pg_commit(ms_store *s, ms_error *err)
{
    return tx_end((pg_store *)s, 0, err);
}

static void
pg_rollback(ms_store *s)
{
    /* tx_end with a failure only rolls back; the status is ours. */
    (void)tx_end((pg_store *)s, MS_ERR, NULL);
}

/* ?N -> $N outside quoted literals and identifiers (same length). */
static char *
placeholders(const char *sql)
{
    char *out = ms_strdup(sql), quote = 0;

    for (char *c = out; c != NULL && *c != '\0'; c++) {
        if (quote != 0) {
            if (*c == quote)
                quote = 0;
        } else if (*c == '\'' || *c == '"') {
            quote = *c;
        } else if (*c == '?' && c[1] >= '1' && c[1] <= '9') {
            *c = '$';
        }
    }
    return out;
}

/* The server-side name of sql, prepared on first use. */
static int
stmt_get(pg_store *q, const char *sql, int nparams, const char **name,
         ms_error *err)
{
    pg_cached *c;
    PGresult *r;
    char *text = NULL;
    int rc = 0;

    for (size_t i = 0; i < STMT_CACHE; i++) {
        if (q->cache[i].sql != NULL && strcmp(q->cache[i].sql, sql) == 0) {
            *name = q->cache[i].name;
            return 0;
        }
    }
    c = &q->cache[q->next_evict];
    if (c->sql != NULL) {
        char dealloc[48];

        /* Frees the server's copy; failing only leaks it until the
         * session ends, as names are never reused. */
        (void)snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", c->name);
        PQclear(PQexec(q->conn, dealloc));
        ms_free(c->sql);
        c->sql = NULL;
    }
    if ((c->sql = ms_strdup(sql)) == NULL ||
        (text = placeholders(sql)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "cannot copy statement");
        goto out;
    }
    (void)snprintf(c->name, sizeof(c->name), "ms_%lu", ++q->stmt_no);
    q->state[0] = '\0';
    r = PQprepare(q->conn, c->name, text, nparams, NULL);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_fail(q, r, "cannot prepare statement", err);
    PQclear(r);
    if (rc == 0) {
        *name = c->name;
        q->next_evict = (q->next_evict + 1) % STMT_CACHE;
    }
out:
    if (rc != 0) {
        ms_free(c->sql);
        c->sql = NULL;
    }
    ms_free(text);
    return rc;
}

/* Column col of row i as a value (borrowed from r). */
static int
pg_value(const PGresult *r, int i, int col, ms_store_val *v, ms_error *err)
{
    Oid t = PQftype(r, col);
    int64_t n;
    int rc;

    memset(v, 0, sizeof(*v));
    if (PQgetisnull(r, i, col)) {
        v->type = MS_STORE_VNULL;
        return 0;
    }
    if (t == OID_INT2 || t == OID_INT4 || t == OID_INT8) {
        if ((rc = col_int(r, i, col, &n, err)) != 0)
            return rc;
        v->type = MS_STORE_VINT;
        v->i = n;
    } else if (t == OID_BOOL && PQgetlength(r, i, col) == 1) {
        v->type = MS_STORE_VINT;
        v->i = PQgetvalue(r, i, col)[0] != 0;
    } else if (t == OID_TEXT || t == OID_VARCHAR || t == OID_BPCHAR ||
               t == OID_NAME) {
        v->type = MS_STORE_VTEXT;
    } else if (t == OID_BYTEA) {
        v->type = MS_STORE_VBLOB;
    } else {
        return ms_error_set(err, MS_EIO, "column %d: unsupported type %u", col,
                            (unsigned)t);
    }
    if (v->type != MS_STORE_VINT) {
        v->p = PQgetvalue(r, i, col);
        v->len = (size_t)PQgetlength(r, i, col);
    }
    return 0;
}

static int
pg_rows(const PGresult *r, ms_store_row_fn fn, void *arg, ms_error *err)
{
    ms_store_val vals[MS_STORE_COLS_MAX];
    ms_store_row row = {0, vals};
    int rc = 0, n = PQntuples(r), cols = PQnfields(r);

    if (cols > MS_STORE_COLS_MAX)
        return ms_error_set(err, MS_EINVAL, "%d columns", cols);
    row.n = (size_t)cols;
    for (int i = 0; i < n && rc == 0; i++) {
        for (int c = 0; c < cols && rc == 0; c++)
            rc = pg_value(r, i, c, &vals[c], err);
        if (rc == 0)
            rc = fn(&row, arg, err);
    }
    return rc;
}

static int
pg_exec(ms_store *s, const char *sql, const ms_store_val *pv, size_t nparams,
        ms_store_row_fn fn, void *arg, ms_error *err)
{
    pg_store *q = (pg_store *)s;
    const char *values[MS_STORE_PARAMS_MAX], *name = NULL;
    int lengths[MS_STORE_PARAMS_MAX], formats[MS_STORE_PARAMS_MAX];
    char ints[MS_STORE_PARAMS_MAX][24];
    PGresult *r = NULL;
    int rc;

    MS_ASSERT(nparams <= MS_STORE_PARAMS_MAX);
    /* Outside a transaction a lost connection is mended first. */
    if (PQtransactionStatus(q->conn) != PQTRANS_INTRANS &&
        PQtransactionStatus(q->conn) != PQTRANS_INERROR &&
        (rc = conn_ok(q, err)) != 0)
        return rc;
    for (size_t i = 0; i < nparams; i++) {
        const ms_store_val *v = &pv[i];

        /* Integers and text go as text (the server infers the types),
         * blobs as binary bytea. */
        values[i] = NULL;
        lengths[i] = 0;
        formats[i] = v->type == MS_STORE_VBLOB;
        if (v->type == MS_STORE_VINT) {
            (void)snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)v->i);
            values[i] = ints[i];
        } else if (v->type == MS_STORE_VTEXT || v->type == MS_STORE_VBLOB) {
            MS_ASSERT(v->len <= INT32_MAX);
            values[i] = v->p != NULL ? v->p : "";
            lengths[i] = (int)v->len;
        }
    }
    if ((rc = stmt_get(q, sql, (int)nparams, &name, err)) != 0)
        return rc;
    q->state[0] = '\0';
    r = PQexecPrepared(q->conn, name, (int)nparams, values, lengths, formats,
                       1);
    if (r == NULL || (PQresultStatus(r) != PGRES_TUPLES_OK &&
                      PQresultStatus(r) != PGRES_COMMAND_OK))
        rc = pg_fail(q, r, "statement failed", err);
    else if (fn != NULL)
        rc = pg_rows(r, fn, arg, err);
    PQclear(r);
    return rc;
}

static const struct ms_store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .next_serial = pg_next_serial,
    .cert_insert = pg_cert_insert,
    .cert_get = pg_cert_get,
    .cert_revoke = pg_cert_revoke,
    .revoked_list = pg_revoked_list,
    .revocation_epoch = pg_revocation_epoch,
    .audit_append = pg_audit_append,
    .audit_scan = pg_audit_scan,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .exec = pg_exec,
};

/* The schema version recorded in the database (0 when new). */
static int
schema_version(pg_store *q, int *out, ms_error *err)
{
    PGresult *r = NULL;
    int64_t v = 0;
    int rc;

    if ((rc = run(q, "SELECT coalesce(max(version), 0) FROM schema_version",
                  NULL, PGRES_TUPLES_OK, &r, "cannot read schema version",
                  err)) == 0 &&
        (rc = col_int(r, 0, 0, &v, err)) == 0) {
        if (v < 0 || v > INT32_MAX)
            rc = ms_error_set(err, MS_EIO, "bad schema version");
        else
            *out = (int)v;
    }
    PQclear(r);
    return rc;
}

/* Runs migration m and records it (inside the migration transaction). */
static int
apply(pg_store *q, const ms_store_migration *m, ms_error *err)
{
    params p = {0};
    int rc;

    p_int8(&p, m->version);
    if ((rc = run_script(q, m->pg, "cannot run migration", err)) != 0 ||
        (rc = run(q,
                  "INSERT INTO schema_version (version, applied_at)"
                  " VALUES ($1, extract(epoch FROM now())::bigint)",
                  &p, PGRES_COMMAND_OK, NULL, "cannot record schema version",
                  err)) != 0) {
        char why[sizeof(err->msg)] = "failed";

        if (err != NULL)
            memcpy(why, err->msg, sizeof(why));
        return ms_error_set(err, rc, "migration %d (%s): %s", m->version,
                            m->what, why);
    }
    return 0;
}

/* Applies every migration above the recorded version, in one transaction
 * under an advisory lock (processes starting together take turns). */
static int
migrate(pg_store *q, ms_error *err)
{
    int rc, have = 0, newest;

    newest = ms_store_migrations[ms_store_migrations_count - 1].version;
    if ((rc = tx_begin(q, true, err)) != 0)
        return rc;
    if ((rc = run(q, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", NULL,
                  PGRES_TUPLES_OK, NULL, "cannot lock schema", err)) != 0 ||
        (rc = run_script(q,
                         "CREATE TABLE IF NOT EXISTS schema_version ("
                         " version INTEGER PRIMARY KEY,"
                         " applied_at BIGINT NOT NULL)",
                         "cannot create schema_version", err)) != 0 ||
        (rc = schema_version(q, &have, err)) != 0)
        goto out;
    if (have > newest) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "database schema version %d is newer than %d", have,
                          newest);
        goto out;
    }
    for (size_t i = 0; i < ms_store_migrations_count && rc == 0; i++) {
        if (ms_store_migrations[i].version > have)
            rc = apply(q, &ms_store_migrations[i], err);
    }
out:
    return tx_end(q, rc, err);
}

/* Server notices (e.g. "relation already exists, skipping") are dropped. */
static void
notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* The password part of a URI's userinfo (raw, maybe percent-encoded). */
static void
uri_password(const char *url, const char **pw, size_t *len)
{
    const char *a = strstr(url, "://"), *at = NULL, *colon;
    size_t n;

    *pw = NULL;
    *len = 0;
    if (a == NULL)
        return;
    a += 3;
    n = strcspn(a, "/?");
    for (size_t i = 0; i < n; i++) {
        if (a[i] == '@')
            at = a + i; /* the last '@' ends the userinfo */
    }
    if (at == NULL || (colon = memchr(a, ':', (size_t)(at - a))) == NULL)
        return;
    *pw = colon + 1;
    *len = (size_t)(at - colon - 1);
}

/* Replaces every occurrence of secret (len bytes) in line with "***". */
static void
redact(char *line, size_t cap, const char *secret, size_t len)
{
    char tmp[512];
    size_t o = 0;

    if (secret == NULL || len == 0)
        return;
    for (const char *s = line; *s != '\0' && o + 4 < sizeof(tmp);) {
        if (strncmp(s, secret, len) == 0) {
            memcpy(tmp + o, "***", 3);
            o += 3;
            s += len;
        } else {
            tmp[o++] = *s++;
        }
    }
    tmp[o] = '\0';
    MS_ASSERT(cap >= sizeof(tmp));
    memcpy(line, tmp, o + 1);
}

/*
 * MS_EIO with libpq's reason for not connecting, minus the password:
 * libpq quotes URI parts it cannot parse, and the password may be given
 * in the userinfo or as a password= parameter, raw or percent-encoded.
 */
static int
connect_fail(PGconn *conn, const char *url, ms_error *err)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    const char *m = PQerrorMessage(conn), *pw, *qp;
    char line[512];
    size_t len;
    int n;

    n = line_len(m != NULL ? m : "");
    memcpy(line, m != NULL ? m : "", (size_t)n);
    line[n] = '\0';
    uri_password(url, &pw, &len);
    redact(line, sizeof(line), pw, len);
    for (qp = strstr(url, "password="); qp != NULL;
         qp = strstr(qp + 1, "password=")) {
        redact(line, sizeof(line), qp + 9, strcspn(qp + 9, "&"));
    }
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            redact(line, sizeof(line), o->val, strlen(o->val));
    }
    PQconninfoFree(opts);
    return ms_error_set(err, MS_EIO, "cannot connect to PostgreSQL: %s",
                        line[0] != '\0' ? line : "no reason given");
}

static int
pg_connect(pg_store *q, const char *url, ms_error *err)
{
    /* Defaults first: whatever the URL says overrides them. */
    const char *const keys[] = {"connect_timeout", "client_encoding",
                                "fallback_application_name", "dbname", NULL};
    const char *const vals[] = {CONNECT_TIMEOUT_S, "UTF8", "mailseal", url,
                                NULL};

    if ((q->conn = PQconnectdbParams(keys, vals, 1)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot allocate connection");
    if (PQstatus(q->conn) != CONNECTION_OK)
        return connect_fail(q->conn, url, err);
    /* Returns the previous processor, which we do not keep. */
    (void)PQsetNoticeProcessor(q->conn, notice_ignore, NULL);
    return session_limits(q, err);
}

int
ms_store_pg_open(ms_store **out, const char *url, ms_error *err)
{
    pg_store *q = NULL;
    int rc;

    if ((q = ms_calloc(1, sizeof(*q))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot allocate store");
    q->base.ops = &pg_ops;
    if ((rc = pg_connect(q, url, err)) != 0 || (rc = migrate(q, err)) != 0)
        goto out;
    *out = &q->base;
    q = NULL; /* the caller owns it now */
out:
    if (q != NULL)
        pg_close(&q->base);
    return rc;
}
