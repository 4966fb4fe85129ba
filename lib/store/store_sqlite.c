/*
 * store/store_sqlite.c - the SQLite backend (the embedded default).
 *
 * The database runs in WAL mode with synchronous=FULL (a committed
 * issuance survives power loss), foreign keys on and a busy timeout.
 * Writers start with BEGIN IMMEDIATE so two handles never deadlock on a
 * lock upgrade; readers use a deferred transaction for a consistent view.
 * Statements are prepared per call and always finalised.
 */
#include <limits.h>
#include <string.h>

#include <sqlite3.h>

#include "store/migrations/migrations.h"
#include "store/store_backend.h"
#include "util/alloc.h"
#include "util/error.h"

/* How long a writer waits for another one before MS_ETEMP. */
#define BUSY_TIMEOUT_MS 5000
/* Statements of the generic layer kept prepared per connection. */
#define STMT_CACHE 32

typedef struct sq_cached {
    char *sql; /* our copy, the key */
    sqlite3_stmt *st;
} sq_cached;

typedef struct sq_store {
    ms_store base; /* first: ms_store * and sq_store * convert */
    sqlite3 *db;
    sqlite3_stmt *epoch; /* kept prepared: OCSP reads it per request */
    sq_cached cache[STMT_CACHE];
    size_t next_evict; /* round robin when the cache is full */
} sq_store;

static sqlite3 *
db_of(ms_store *s)
{
    return ((sq_store *)s)->db;
}

static int
status_of(int src)
{
    switch (src & 0xff) {
    case SQLITE_NOMEM:
        return MS_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MS_ETEMP;
    case SQLITE_CONSTRAINT:
        return MS_EPOLICY;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
        return MS_EIO;
    default:
        return MS_ERR;
    }
}

static int
db_fail(ms_error *err, sqlite3 *db, int src, const char *what)
{
    return ms_error_set(err, status_of(src), "%s: %s", what,
                        db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(src));
}

static int
prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql, ms_error *err)
{
    int src = sqlite3_prepare_v2(db, sql, -1, st, NULL);

    if (src != SQLITE_OK)
        return db_fail(err, db, src, "cannot prepare statement");
    return 0;
}

static int
bind_text(sqlite3_stmt *st, int i, const char *v, ms_error *err)
{
    int src = sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);

    if (src != SQLITE_OK)
        return db_fail(err, sqlite3_db_handle(st), src, "cannot bind");
    return 0;
}

static int
bind_int64(sqlite3_stmt *st, int i, int64_t v, ms_error *err)
{
    int src = sqlite3_bind_int64(st, i, v);

    if (src != SQLITE_OK)
        return db_fail(err, sqlite3_db_handle(st), src, "cannot bind");
    return 0;
}

static int
exec(sqlite3 *db, const char *sql, ms_error *err)
{
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);

    if (src != SQLITE_OK)
        return db_fail(err, db, src, "cannot run statement");
    return 0;
}

static int
tx_begin(sqlite3 *db, bool write, ms_error *err)
{
    return exec(db, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", err);
}

/* Commits when rc is 0, else rolls back; returns the final status. */
static int
tx_end(sqlite3 *db, int rc, ms_error *err)
{
    if (rc == 0 && (rc = exec(db, "COMMIT", err)) == 0)
        return 0;
    if (sqlite3_get_autocommit(db) == 0) {
        /* The failure being reported matters more than a failed rollback,
         * and SQLite rolls back on close anyway. */
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

/* Runs a prepared statement expected to finish without rows. */
static int
step_done(sqlite3_stmt *st, const char *what, ms_error *err)
{
    int src = sqlite3_step(st);

    if (src != SQLITE_DONE)
        return db_fail(err, sqlite3_db_handle(st), src, what);
    return 0;
}

static void
sq_close(ms_store *s)
{
    sq_store *q = (sq_store *)s;

    sqlite3_finalize(q->epoch);
    for (size_t i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(q->cache[i].st);
        ms_free(q->cache[i].sql);
    }
    /* sqlite3_close_v2 only fails on a NULL-safe misuse we never make:
     * every other statement is finalised before its function returns. */
    (void)sqlite3_close_v2(q->db);
    ms_free(q);
}

static int
sq_next_serial(ms_store *s, const char *name, uint64_t count, uint64_t *out,
               ms_error *err)
{
    sqlite3 *db = db_of(s);
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = tx_begin(db, true, err)) != 0)
        return rc;
    if ((rc = prepare(db, &st,
                      "INSERT INTO sequences (name, value) VALUES (?1, ?2)"
                      " ON CONFLICT (name) DO UPDATE SET value = value + ?2"
                      " WHERE value <= 9223372036854775807 - ?2"
                      " RETURNING value",
                      err)) != 0 ||
        (rc = bind_text(st, 1, name, err)) != 0 ||
        (rc = bind_int64(st, 2, (int64_t)count, err)) != 0)
        goto out;
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = ms_error_set(err, MS_ETOOBIG, "sequence %s exhausted", name);
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = db_fail(err, db, src, "cannot advance sequence");
        goto out;
    }
    /* value is the last one reserved. */
    *out = (uint64_t)sqlite3_column_int64(st, 0) - count + 1;
    rc = step_done(st, "cannot advance sequence", err);
out:
    sqlite3_finalize(st);
    return tx_end(db, rc, err);
}

/* The last audit row's id and hash (0 and the genesis hash when empty). */
static int
audit_last(sqlite3 *db, uint64_t *id, char hash[MS_STORE_HASH_HEX],
           ms_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    *id = 0;
    memcpy(hash, ms_store_audit_genesis, MS_STORE_HASH_HEX);
    if ((rc = prepare(db, &st,
                      "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
                      err)) != 0)
        goto out;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 1);

        if (h == NULL || strlen((const char *)h) != MS_STORE_HASH_HEX - 1) {
            rc = ms_error_set(err, MS_EBADSIG, "last audit row has a bad hash");
            goto out;
        }
        *id = (uint64_t)sqlite3_column_int64(st, 0);
        memcpy(hash, h, MS_STORE_HASH_HEX);
    } else if (src != SQLITE_DONE) {
        rc = db_fail(err, db, src, "cannot read audit log");
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* Appends one chained audit row inside the caller's write transaction. */
static int
audit_add(sqlite3 *db, int64_t now, const char *event, const char *detail,
          ms_error *err)
{
    sqlite3_stmt *st = NULL;
    char prev[MS_STORE_HASH_HEX], hash[MS_STORE_HASH_HEX];
    uint64_t id;
    int rc;

    if ((rc = audit_last(db, &id, prev, err)) != 0)
        goto out;
    if (id >= INT64_MAX) {
        rc = ms_error_set(err, MS_ETOOBIG, "audit log full");
        goto out;
    }
    id++;
    if ((rc = ms_store_audit_hash(hash, prev, id, now, event, detail, err)) !=
            0 ||
        (rc = prepare(db, &st,
                      "INSERT INTO audit (id, time, event, detail,"
                      " prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                      err)) != 0 ||
        (rc = bind_int64(st, 1, (int64_t)id, err)) != 0 ||
        (rc = bind_int64(st, 2, now, err)) != 0 ||
        (rc = bind_text(st, 3, event, err)) != 0 ||
        (rc = bind_text(st, 4, detail, err)) != 0 ||
        (rc = bind_text(st, 5, prev, err)) != 0 ||
        (rc = bind_text(st, 6, hash, err)) != 0)
        goto out;
    rc = step_done(st, "cannot append audit row", err);
out:
    sqlite3_finalize(st);
    return rc;
}

static int
sq_audit_append(ms_store *s, int64_t now, const char *event,
                const char *detail, ms_error *err)
{
    sqlite3 *db = db_of(s);
    int rc;

    if ((rc = tx_begin(db, true, err)) != 0)
        return rc;
    rc = audit_add(db, now, event, detail, err);
    return tx_end(db, rc, err);
}

static int
sq_cert_insert(ms_store *s, const ms_store_cert *c, int64_t now,
               const char *detail, ms_error *err)
{
    sqlite3 *db = db_of(s);
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = tx_begin(db, true, err)) != 0)
        return rc;
    if ((rc = prepare(db, &st,
                      "INSERT INTO certs (serial_hex, issuer, subject_email,"
                      " level, cert_use, not_before, not_after, der)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                      err)) != 0 ||
        (rc = bind_text(st, 1, c->serial_hex, err)) != 0 ||
        (rc = bind_text(st, 2, c->issuer, err)) != 0 ||
        (rc = bind_text(st, 3, c->subject_email, err)) != 0 ||
        (rc = bind_int64(st, 4, c->level, err)) != 0 ||
        (rc = bind_text(st, 5, c->use, err)) != 0 ||
        (rc = bind_int64(st, 6, (int64_t)c->not_before, err)) != 0 ||
        (rc = bind_int64(st, 7, (int64_t)c->not_after, err)) != 0)
        goto out;
    /* store.c capped der.len at MS_STORE_DER_MAX, far below INT_MAX. */
    if ((src = sqlite3_bind_blob(st, 8, c->der.data, (int)c->der.len,
                                 SQLITE_STATIC)) != SQLITE_OK) {
        rc = db_fail(err, db, src, "cannot bind");
        goto out;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_PRIMARYKEY) {
        rc = ms_error_set(err, MS_EPOLICY, "serial %s already issued",
                          c->serial_hex);
        goto out;
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(err, db, src, "cannot record certificate");
        goto out;
    }
    rc = audit_add(db, now, "cert.issue", detail, err);
out:
    sqlite3_finalize(st);
    return tx_end(db, rc, err);
}

/* A copy of text column i (NULL text is stored as ""). */
static int
column_dup(char **out, sqlite3_stmt *st, int i, ms_error *err)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    if (t == NULL && sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM)
        return ms_error_set(err, MS_ENOMEM, "cannot read column");
    if ((*out = ms_strdup(t != NULL ? (const char *)t : "")) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot copy column");
    return 0;
}

static int
cert_fill(ms_store_cert *c, sqlite3_stmt *st, ms_error *err)
{
    const void *der;
    int rc, n;

    if ((rc = column_dup(&c->serial_hex, st, 0, err)) != 0 ||
        (rc = column_dup(&c->issuer, st, 1, err)) != 0 ||
        (rc = column_dup(&c->subject_email, st, 2, err)) != 0 ||
        (rc = column_dup(&c->use, st, 4, err)) != 0)
        return rc;
    c->level = sqlite3_column_int(st, 3);
    c->not_before = (time_t)sqlite3_column_int64(st, 5);
    c->not_after = (time_t)sqlite3_column_int64(st, 6);
    der = sqlite3_column_blob(st, 7);
    n = sqlite3_column_bytes(st, 7);
    if (der == NULL || n <= 0)
        return ms_error_set(err, MS_EIO, "certificate %s has no DER",
                            c->serial_hex);
    if ((rc = ms_buf_append(&c->der, der, (size_t)n)) != 0)
        return ms_error_set(err, rc, "cannot copy certificate");
    c->revoked = sqlite3_column_type(st, 8) != SQLITE_NULL;
    if (c->revoked) {
        c->revoked_at = (time_t)sqlite3_column_int64(st, 8);
        c->reason = sqlite3_column_int(st, 9);
    }
    return 0;
}

static int
sq_cert_get(ms_store *s, const char *issuer, const char *serial_hex,
            ms_store_cert *out, ms_error *err)
{
    sqlite3 *db = db_of(s);
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = tx_begin(db, false, err)) != 0)
        return rc;
    if ((rc = prepare(db, &st,
                      "SELECT c.serial_hex, c.issuer, c.subject_email,"
                      " c.level, c.cert_use, c.not_before, c.not_after,"
                      " c.der, r.revoked_at, r.reason"
                      " FROM certs c LEFT JOIN revocations r"
                      " ON r.serial_hex = c.serial_hex"
                      " WHERE c.issuer = ?1 AND c.serial_hex = ?2",
                      err)) != 0 ||
        (rc = bind_text(st, 1, issuer, err)) != 0 ||
        (rc = bind_text(st, 2, serial_hex, err)) != 0)
        goto out;
    src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = ms_error_set(err, MS_ENOTFOUND, "no certificate %s from %s",
                          serial_hex, issuer);
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = db_fail(err, db, src, "cannot read certificate");
        goto out;
    }
    rc = cert_fill(out, st, err);
out:
    sqlite3_finalize(st);
    rc = tx_end(db, rc, err);
    if (rc != 0)
        ms_store_cert_cleanup(out);
    return rc;
}

/* 0 when issuer's certificate serial_hex exists, else MS_ENOTFOUND. */
static int
cert_exists(sqlite3 *db, const char *issuer, const char *serial_hex,
            ms_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = prepare(db, &st,
                      "SELECT 1 FROM certs"
                      " WHERE issuer = ?1 AND serial_hex = ?2",
                      err)) != 0 ||
        (rc = bind_text(st, 1, issuer, err)) != 0 ||
        (rc = bind_text(st, 2, serial_hex, err)) != 0)
        goto out;
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = ms_error_set(err, MS_ENOTFOUND, "no certificate %s from %s",
                          serial_hex, issuer);
    else if (src != SQLITE_ROW)
        rc = db_fail(err, db, src, "cannot look up certificate");
out:
    sqlite3_finalize(st);
    return rc;
}

static int
sq_cert_revoke(ms_store *s, const char *issuer, const char *serial_hex,
               int reason, time_t at, int64_t now, const char *detail,
               ms_error *err)
{
    sqlite3 *db = db_of(s);
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = tx_begin(db, true, err)) != 0)
        return rc;
    if ((rc = cert_exists(db, issuer, serial_hex, err)) != 0)
        goto out;
    if ((rc = prepare(db, &st,
                      "INSERT INTO revocations (serial_hex, revoked_at, reason)"
                      " VALUES (?1, ?2, ?3)",
                      err)) != 0 ||
        (rc = bind_text(st, 1, serial_hex, err)) != 0 ||
        (rc = bind_int64(st, 2, (int64_t)at, err)) != 0 ||
        (rc = bind_int64(st, 3, reason, err)) != 0)
        goto out;
    src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_PRIMARYKEY) {
        rc = ms_error_set(err, MS_EPOLICY, "certificate %s already revoked",
                          serial_hex);
        goto out;
    }
    if (src != SQLITE_DONE) {
        rc = db_fail(err, db, src, "cannot record revocation");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = prepare(db, &st,
                      "INSERT INTO sequences (name, value)"
                      " VALUES ('revocations', 1) ON CONFLICT (name)"
                      " DO UPDATE SET value = value + 1",
                      err)) != 0 ||
        (rc = step_done(st, "cannot raise revocation epoch", err)) != 0)
        goto out;
    rc = audit_add(db, now, "cert.revoke", detail, err);
out:
    sqlite3_finalize(st);
    return tx_end(db, rc, err);
}

static int
sq_revocation_epoch(ms_store *s, uint64_t *out, ms_error *err)
{
    sq_store *q = (sq_store *)s;
    int rc = 0, src;

    /* One statement: its implicit transaction is a consistent read. */
    if (q->epoch == NULL &&
        (rc = prepare(q->db, &q->epoch,
                      "SELECT value FROM sequences WHERE name = 'revocations'",
                      err)) != 0)
        return rc;
    src = sqlite3_step(q->epoch);
    if (src == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(q->epoch, 0);
    else if (src != SQLITE_DONE)
        rc = db_fail(err, q->db, src, "cannot read revocation epoch");
    /* Ends the read transaction; the error, if any, was reported above. */
    (void)sqlite3_reset(q->epoch);
    return rc;
}

static int
sq_revoked_list(ms_store *s, const char *issuer, ms_store_revoked_fn fn,
                void *arg, ms_error *err)
{
    sqlite3 *db = db_of(s);
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = tx_begin(db, false, err)) != 0)
        return rc;
    if ((rc = prepare(db, &st,
                      "SELECT r.serial_hex, r.revoked_at, r.reason"
                      " FROM revocations r JOIN certs c"
                      " ON c.serial_hex = r.serial_hex"
                      " WHERE c.issuer = ?1 ORDER BY r.serial_hex",
                      err)) != 0 ||
        (rc = bind_text(st, 1, issuer, err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *serial = sqlite3_column_text(st, 0);

        if (serial == NULL) {
            rc = ms_error_set(err, MS_ENOMEM, "cannot read serial");
            goto out;
        }
        if ((rc = fn((const char *)serial,
                     (time_t)sqlite3_column_int64(st, 1),
                     sqlite3_column_int(st, 2), arg)) != 0) {
            rc = ms_error_set(err, rc, "revocation listing stopped");
            goto out;
        }
    }
    if (src != SQLITE_DONE)
        rc = db_fail(err, db, src, "cannot list revocations");
out:
    sqlite3_finalize(st);
    return tx_end(db, rc, err);
}

static const char *
text_or_empty(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t != NULL ? (const char *)t : "";
}

static int
sq_audit_scan(ms_store *s, ms_store_audit_fn fn, void *arg, ms_error *err)
{
    sqlite3 *db = db_of(s);
    sqlite3_stmt *st = NULL;
    ms_store_audit_row row;
    int rc, src;

    if ((rc = tx_begin(db, false, err)) != 0)
        return rc;
    if ((rc = prepare(db, &st,
                      "SELECT id, time, event, detail, prev_hash, hash"
                      " FROM audit ORDER BY id",
                      err)) != 0)
        goto out;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        row.id = (uint64_t)sqlite3_column_int64(st, 0);
        row.time = sqlite3_column_int64(st, 1);
        row.event = text_or_empty(st, 2);
        row.detail = text_or_empty(st, 3);
        row.prev_hash = text_or_empty(st, 4);
        row.hash = text_or_empty(st, 5);
        if (sqlite3_errcode(db) == SQLITE_NOMEM) {
            rc = ms_error_set(err, MS_ENOMEM, "cannot read audit row");
            goto out;
        }
        if ((rc = fn(&row, arg)) != 0)
            goto out;
    }
    if (src != SQLITE_DONE)
        rc = db_fail(err, db, src, "cannot read audit log");
out:
    sqlite3_finalize(st);
    return tx_end(db, rc, err);
}

/* The generic statement layer (store_backend.h). */

static int
sq_begin(ms_store *s, int mode, ms_error *err)
{
    return tx_begin(db_of(s), mode != MS_STORE_TX_READ, err);
}

static int
sq_commit(ms_store *s, ms_error *err)
{
    return tx_end(db_of(s), 0, err);
}

static void
sq_rollback(ms_store *s)
{
    /* tx_end with a failure only rolls back; the status is ours. */
    (void)tx_end(db_of(s), MS_ERR, NULL);
}

/* A prepared statement for sql: from the cache, else prepared (and kept
 * when the cache has room or an idle entry to evict). *owned says whether
 * the caller must finalise it. */
static int
stmt_get(sq_store *q, const char *sql, sqlite3_stmt **st, bool *owned,
         ms_error *err)
{
    sq_cached *c = NULL;
    char *key = NULL;
    int src;

    *owned = false;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        c = &q->cache[i];
        if (c->sql != NULL && strcmp(c->sql, sql) == 0 &&
            !sqlite3_stmt_busy(c->st)) {
            *st = c->st;
            return 0;
        }
    }
    src =
        sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (src != SQLITE_OK)
        return db_fail(err, q->db, src, "cannot prepare statement");
    c = &q->cache[q->next_evict];
    if ((c->st == NULL || !sqlite3_stmt_busy(c->st)) &&
        (key = ms_strdup(sql)) != NULL) {
        sqlite3_finalize(c->st);
        ms_free(c->sql);
        c->sql = key;
        c->st = *st;
        q->next_evict = (q->next_evict + 1) % STMT_CACHE;
        return 0;
    }
    *owned = true; /* no room (or no memory for the key): used once */
    return 0;
}

static int
bind_val(sqlite3_stmt *st, int i, const ms_store_val *v, ms_error *err)
{
    int src;

    switch (v->type) {
    case MS_STORE_VNULL:
        src = sqlite3_bind_null(st, i);
        break;
    case MS_STORE_VINT:
        src = sqlite3_bind_int64(st, i, v->i);
        break;
    case MS_STORE_VTEXT:
        src = sqlite3_bind_text64(st, i, v->p, v->len, SQLITE_STATIC,
                                  SQLITE_UTF8);
        break;
    case MS_STORE_VBLOB:
        src = v->len == 0
                  ? sqlite3_bind_zeroblob(st, i, 0)
                  : sqlite3_bind_blob64(st, i, v->p, v->len, SQLITE_STATIC);
        break;
    default:
        return ms_error_set(err, MS_EINVAL, "parameter %d: bad type", i);
    }
    if (src != SQLITE_OK)
        return db_fail(err, sqlite3_db_handle(st), src, "cannot bind");
    return 0;
}

/* Fills vals from the current row of st. */
static int
row_read(sqlite3_stmt *st, ms_store_val *vals, size_t n, ms_error *err)
{
    for (size_t i = 0; i < n; i++) {
        ms_store_val *v = &vals[i];
        int c = (int)i;

        memset(v, 0, sizeof(*v));
        switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL:
            v->type = MS_STORE_VNULL;
            break;
        case SQLITE_INTEGER:
            v->type = MS_STORE_VINT;
            v->i = sqlite3_column_int64(st, c);
            break;
        case SQLITE_TEXT:
            v->type = MS_STORE_VTEXT;
            v->p = sqlite3_column_text(st, c);
            v->len = (size_t)sqlite3_column_bytes(st, c);
            break;
        case SQLITE_BLOB:
            v->type = MS_STORE_VBLOB;
            v->p = sqlite3_column_blob(st, c);
            v->len = (size_t)sqlite3_column_bytes(st, c);
            break;
        default:
            return ms_error_set(err, MS_EIO, "column %zu: unsupported type", i);
        }
        if ((v->type == MS_STORE_VTEXT || v->type == MS_STORE_VBLOB) &&
            v->p == NULL && v->len > 0)
            return ms_error_set(err, MS_ENOMEM, "cannot read column %zu", i);
    }
    return 0;
}

static int
sq_exec(ms_store *s, const char *sql, const ms_store_val *params,
        size_t nparams, ms_store_row_fn fn, void *arg, ms_error *err)
{
    sq_store *q = (sq_store *)s;
    ms_store_val vals[MS_STORE_COLS_MAX];
    ms_store_row row = {0, vals};
    sqlite3_stmt *st = NULL;
    bool owned = false;
    int rc, src = SQLITE_DONE;

    MS_ASSERT(nparams <= MS_STORE_PARAMS_MAX);
    if ((rc = stmt_get(q, sql, &st, &owned, err)) != 0)
        return rc;
    for (size_t i = 0; i < nparams && rc == 0; i++)
        rc = bind_val(st, (int)i + 1, &params[i], err);
    row.n = (size_t)sqlite3_column_count(st);
    if (rc == 0 && row.n > MS_STORE_COLS_MAX)
        rc = ms_error_set(err, MS_EINVAL, "%zu columns", row.n);
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = row_read(st, vals, row.n, err)) == 0 && fn != NULL)
            rc = fn(&row, arg, err);
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = db_fail(err, q->db, src, "statement failed");
    /* Ends the statement; its error, if any, was reported above. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st); /* always SQLITE_OK */
    if (owned)
        sqlite3_finalize(st);
    return rc;
}

static const struct ms_store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .next_serial = sq_next_serial,
    .cert_insert = sq_cert_insert,
    .cert_get = sq_cert_get,
    .cert_revoke = sq_cert_revoke,
    .revoked_list = sq_revoked_list,
    .revocation_epoch = sq_revocation_epoch,
    .audit_append = sq_audit_append,
    .audit_scan = sq_audit_scan,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec = sq_exec,
};

/* The schema version recorded in the database (0 when new). */
static int
schema_version(sqlite3 *db, int *out, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    if ((rc = prepare(db, &st,
                      "SELECT coalesce(max(version), 0) FROM schema_version",
                      err)) != 0)
        return rc;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        rc = db_fail(err, db, src, "cannot read schema version");
    sqlite3_finalize(st);
    return rc;
}

static int
record_version(sqlite3 *db, int version, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = prepare(db, &st,
                      "INSERT INTO schema_version (version, applied_at)"
                      " VALUES (?1, strftime('%s', 'now'))",
                      err)) == 0 &&
        (rc = bind_int64(st, 1, version, err)) == 0)
        rc = step_done(st, "cannot record schema version", err);
    sqlite3_finalize(st);
    return rc;
}

/* Applies every migration above the recorded version, in one transaction. */
static int
migrate(sqlite3 *db, ms_error *err)
{
    const ms_store_migration *m;
    int rc, have = 0, newest;

    newest = ms_store_migrations[ms_store_migrations_count - 1].version;
    if ((rc = tx_begin(db, true, err)) != 0)
        return rc;
    if ((rc = exec(db,
                   "CREATE TABLE IF NOT EXISTS schema_version ("
                   " version INTEGER PRIMARY KEY,"
                   " applied_at INTEGER NOT NULL)",
                   err)) != 0 ||
        (rc = schema_version(db, &have, err)) != 0)
        goto out;
    if (have > newest) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "database schema version %d is newer than %d", have,
                          newest);
        goto out;
    }
    for (size_t i = 0; i < ms_store_migrations_count; i++) {
        m = &ms_store_migrations[i];
        if (m->version <= have)
            continue;
        if ((rc = exec(db, m->sqlite, err)) != 0 ||
            (rc = record_version(db, m->version, err)) != 0) {
            char why[sizeof(err->msg)] = "failed";

            if (err != NULL)
                memcpy(why, err->msg, sizeof(why));
            rc = ms_error_set(err, rc, "migration %d (%s): %s", m->version,
                              m->what, why);
            goto out;
        }
    }
out:
    return tx_end(db, rc, err);
}

/* PRAGMAs of every connection; WAL is required for files. */
static int
configure(sqlite3 *db, bool memory, ms_error *err)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int rc, src;

    if ((src = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS)) != SQLITE_OK)
        return db_fail(err, db, src, "cannot set busy timeout");
    if ((rc = exec(db, "PRAGMA foreign_keys = ON", err)) != 0 ||
        (rc = exec(db, "PRAGMA synchronous = FULL", err)) != 0 ||
        (rc = prepare(db, &st, "PRAGMA journal_mode = WAL", err)) != 0)
        return rc;
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = db_fail(err, db, src, "cannot select WAL journal");
        goto out;
    }
    mode = sqlite3_column_text(st, 0);
    /* An in-memory database has no journal file: it stays "memory". */
    if (mode == NULL ||
        strcmp((const char *)mode, memory ? "memory" : "wal") != 0)
        rc = ms_error_set(err, MS_EIO, "journal mode %s instead of WAL",
                          mode != NULL ? (const char *)mode : "unknown");
out:
    sqlite3_finalize(st);
    return rc;
}

int
ms_store_sqlite_open(ms_store **out, const char *path, ms_error *err)
{
    sq_store *q = NULL;
    bool memory = strcmp(path, ":memory:") == 0;
    int rc, src;

    if ((q = ms_calloc(1, sizeof(*q))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot allocate store");
    q->base.ops = &sq_ops;
    src = sqlite3_open_v2(path, &q->db,
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                              SQLITE_OPEN_NOFOLLOW,
                          NULL);
    if (src != SQLITE_OK) {
        rc = db_fail(err, q->db, src, "cannot open database");
        goto out;
    }
    if ((src = sqlite3_extended_result_codes(q->db, 1)) != SQLITE_OK) {
        rc = db_fail(err, q->db, src, "cannot enable extended codes");
        goto out;
    }
    if ((rc = configure(q->db, memory, err)) != 0 ||
        (rc = migrate(q->db, err)) != 0)
        goto out;
    *out = &q->base;
    q = NULL; /* the caller owns it now */
out:
    if (q != NULL)
        sq_close(&q->base);
    return rc;
}
