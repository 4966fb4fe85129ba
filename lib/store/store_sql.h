/*
 * store/store_sql.h - helpers over the generic statement layer of the
 * backends (store_backend.h: begin/commit/rollback/exec), so an operation
 * is written once for SQLite and PostgreSQL: SQL with ?1..?N, values built
 * with the MS_SV_* initialisers, columns read with ms_store_col_*().
 *
 * Ownership: values and rows borrow their bytes; the ms_store_col_copy*()
 * helpers copy into caller storage. Same threading rule as store.h (a
 * handle is used by one thread at a time). Internal to lib/store.
 */
#ifndef MS_STORE_STORE_SQL_H
#define MS_STORE_STORE_SQL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "store/store_backend.h"

/* Initialisers of one ms_store_val (arrays of parameters). */
#define MS_SV_NULL                                                             \
    {                                                                          \
        MS_STORE_VNULL, 0, NULL, 0                                             \
    }
#define MS_SV_INT(v)                                                           \
    {                                                                          \
        MS_STORE_VINT, (int64_t)(v), NULL, 0                                   \
    }
#define MS_SV_TEXT(t)                                                          \
    {                                                                          \
        MS_STORE_VTEXT, 0, (t), strlen(t)                                      \
    }
#define MS_SV_BLOB(b, n)                                                       \
    {                                                                          \
        MS_STORE_VBLOB, 0, (b), (n)                                            \
    }
#define MS_SV_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A body run inside one transaction; returns 0 to commit. */
typedef int (*ms_store_tx_fn)(ms_store *s, void *arg, ms_error *err);

/*
 * Runs fn in one transaction of mode MS_STORE_TX_*: commits when it
 * returns 0, else rolls back and returns its status unchanged.
 */
int ms_store_sql_tx(ms_store *s, int mode, ms_store_tx_fn fn, void *arg,
                    ms_error *err);

/* Runs sql (see ops->exec). */
int ms_store_sql_exec(ms_store *s, const char *sql, const ms_store_val *p,
                      size_t n, ms_store_row_fn fn, void *arg, ms_error *err);

/* Runs sql; *rows_out = the number of result rows (RETURNING). */
int ms_store_sql_rows(ms_store *s, const char *sql, const ms_store_val *p,
                      size_t n, uint64_t *rows_out, ms_error *err);

/* Runs sql; *out = the integer in column 0 of its first row, *found
 * whether there was a row (out untouched otherwise). */
int ms_store_sql_int(ms_store *s, const char *sql, const ms_store_val *p,
                     size_t n, int64_t *out, bool *found, ms_error *err);

/*
 * Appends a chained audit row (ms_store_audit_append() semantics, time
 * from the store's clock) inside the caller's MS_STORE_TX_AUDIT
 * transaction: it commits or rolls back with the change it records.
 */
int ms_store_sql_audit(ms_store *s, const char *event, const char *detail,
                       ms_error *err);

/* The store's clock (time(2) unless ms_store_set_clock()). */
int64_t ms_store_sql_now(ms_store *s);

/* Column accessors: MS_EIO when column i is missing or of another type
 * (NULL included, except where said). */
bool ms_store_col_null(const ms_store_row *r, size_t i);
int ms_store_col_int(const ms_store_row *r, size_t i, int64_t *out,
                     ms_error *err);
/* As ms_store_col_int; NULL gives *out = 0. */
int ms_store_col_int0(const ms_store_row *r, size_t i, int64_t *out,
                      ms_error *err);
/* Borrowed, NUL-terminated. */
int ms_store_col_text(const ms_store_row *r, size_t i, const char **out,
                      ms_error *err);
int ms_store_col_blob(const ms_store_row *r, size_t i,
                      const unsigned char **out, size_t *len, ms_error *err);
/* Copies text column i into dst (cap bytes with the NUL; MS_EIO if it
 * does not fit); NULL gives "". */
int ms_store_col_copy(char *dst, size_t cap, const ms_store_row *r, size_t i,
                      ms_error *err);
/* Copies blob column i of exactly len bytes into dst. */
int ms_store_col_fixed(unsigned char *dst, size_t len, const ms_store_row *r,
                       size_t i, ms_error *err);

/* Printable ASCII, 1..max bytes. */
bool ms_store_sql_text_ok(const char *s, size_t max);
/* [A-Za-z0-9_-], 1..max bytes. */
bool ms_store_sql_id_ok(const char *s, size_t max);

/* Inside the caller's MS_STORE_TX_AUDIT transaction: records c (checked
 * as ms_store_cert_insert() does) with its cert.issue audit row.
 * MS_EPOLICY when the serial exists. */
int ms_store_sql_cert_insert(ms_store *s, const ms_store_cert *c,
                             ms_error *err);

/* Inside the caller's MS_STORE_TX_AUDIT transaction: revokes the
 * certificate serial_hex of issuer at `at` with reason, raises the
 * revocation epoch and appends cert.revoke, as ms_store_cert_revoke(). */
int ms_store_sql_cert_revoke(ms_store *s, const char *issuer,
                             const char *serial_hex, int reason, int64_t at,
                             ms_error *err);

/* Inside the caller's MS_STORE_TX_AUDIT transaction: publishes email at
 * `now` unless it has a publication record (one kept after unpublishing
 * too), with a directory.publish audit row when new. */
int ms_store_sql_publish_first(ms_store *s, const char *email, int64_t now,
                               ms_error *err);

#endif
