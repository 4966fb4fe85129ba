/*
 * store/store_backend.h - the vtable a storage backend implements.
 *
 * store.c checks every argument, then calls the backend through ops; the
 * backend runs each operation as one transaction. Two backends:
 * store_sqlite.c and store_pg.c (libpq). A backend allocates its own
 * structure with `ms_store base` as first member and sets base.ops. Shared
 * by store.c and the backends only; same threading rule as store.h.
 */
#ifndef MS_STORE_STORE_BACKEND_H
#define MS_STORE_STORE_BACKEND_H

#include "store/store.h"

/* Hex SHA-256 plus NUL. */
#define MS_STORE_HASH_HEX 65

/* One audit row as a backend reads it (all borrowed for the callback). */
typedef struct ms_store_audit_row {
    uint64_t id;
    int64_t time;
    const char *event;
    const char *detail;
    const char *prev_hash;
    const char *hash;
} ms_store_audit_row;

/* Returns 0 to go on or a negative status to stop the scan with. */
typedef int (*ms_store_audit_fn)(const ms_store_audit_row *row, void *arg);

/*
 * The generic statement layer (store_sql.h builds on it): SQL written once
 * with ?1..?N placeholders, typed parameters and typed columns. A value is
 * NULL, a 64-bit integer, text (p NUL-terminated, len bytes) or a blob.
 */
typedef enum ms_store_vtype {
    MS_STORE_VNULL,
    MS_STORE_VINT,
    MS_STORE_VTEXT,
    MS_STORE_VBLOB
} ms_store_vtype;

typedef struct ms_store_val {
    ms_store_vtype type;
    int64_t i;     /* MS_STORE_VINT */
    const void *p; /* MS_STORE_VTEXT, MS_STORE_VBLOB (NULL only if len 0) */
    size_t len;
} ms_store_val;

/* Most parameters of one statement, most columns of one result. */
#define MS_STORE_PARAMS_MAX 16
#define MS_STORE_COLS_MAX   16

/* One result row; the values are borrowed for the callback only. */
typedef struct ms_store_row {
    size_t n;
    const ms_store_val *col;
} ms_store_row;

/* Returns 0 to go on or a negative status (recorded in err) to stop. */
typedef int (*ms_store_row_fn)(const ms_store_row *row, void *arg,
                               ms_error *err);

/* Transaction modes: a consistent read, a write, a write that appends to
 * the audit chain (PostgreSQL locks the audit table first, as the
 * operations above do, so the chain never forks and locks come in one
 * order). */
#define MS_STORE_TX_READ  0
#define MS_STORE_TX_WRITE 1
#define MS_STORE_TX_AUDIT 2

struct ms_store_ops {
    const char *name; /* "sqlite", "postgresql" */
    void (*close)(ms_store *s);
    /* Advances the sequence by count; *out = the first value reserved. */
    int (*next_serial)(ms_store *s, const char *name, uint64_t count,
                       uint64_t *out, ms_error *err);
    /* Inserts c and appends the audit row (now, "cert.issue", detail) in
     * the same transaction. */
    int (*cert_insert)(ms_store *s, const ms_store_cert *c, int64_t now,
                       const char *detail, ms_error *err);
    int (*cert_get)(ms_store *s, const char *issuer, const char *serial_hex,
                    ms_store_cert *out, ms_error *err);
    /* Records the revocation, raises the "revocations" sequence (the
     * epoch) and appends the audit row (now, "cert.revoke", detail), all
     * in one transaction. */
    int (*cert_revoke)(ms_store *s, const char *issuer,
                       const char *serial_hex, int reason, time_t at,
                       int64_t now, const char *detail, ms_error *err);
    /* Value of the "revocations" sequence, 0 when it does not exist. */
    int (*revocation_epoch)(ms_store *s, uint64_t *out, ms_error *err);
    int (*revoked_list)(ms_store *s, const char *issuer,
                        ms_store_revoked_fn fn, void *arg, ms_error *err);
    /* Reads the last row, chains the new one with ms_store_audit_hash(). */
    int (*audit_append)(ms_store *s, int64_t now, const char *event,
                        const char *detail, ms_error *err);
    /* Calls fn for every row in id order, inside one read transaction. */
    int (*audit_scan)(ms_store *s, ms_store_audit_fn fn, void *arg,
                      ms_error *err);
    /* The generic layer. begin opens a transaction of mode
     * MS_STORE_TX_*; commit ends it (a failed commit rolls back);
     * rollback ends it without changes (no-op outside one). */
    int (*begin)(ms_store *s, int mode, ms_error *err);
    int (*commit)(ms_store *s, ms_error *err);
    void (*rollback)(ms_store *s);
    /* Runs one statement (in the open transaction, or alone) with
     * nparams (<= MS_STORE_PARAMS_MAX) parameters for ?1..?N; fn (may be
     * NULL) gets every result row. Constraint violations are MS_EPOLICY,
     * lock waits and serialization failures MS_ETEMP. */
    int (*exec)(ms_store *s, const char *sql, const ms_store_val *params,
                size_t nparams, ms_store_row_fn fn, void *arg, ms_error *err);
};

struct ms_store {
    const struct ms_store_ops *ops;
    ms_clock_fn clock; /* NULL: time(2) */
    void *clock_arg;
};

/* The prev_hash of the first audit row: 64 '0' characters. */
extern const char ms_store_audit_genesis[MS_STORE_HASH_HEX];

/*
 * out = hex(SHA-256(prev_hash || id || time || event || detail)), where
 * id and time are 8-byte big-endian and each text is preceded by its
 * length as 8-byte big-endian, so no two rows share an input. Returns 0 or
 * MS_ENOMEM/MS_ERR (OpenSSL failure).
 */
int ms_store_audit_hash(char out[MS_STORE_HASH_HEX], const char *prev_hash,
                        uint64_t id, int64_t time, const char *event,
                        const char *detail, ms_error *err);

/*
 * Checks every field of c as ms_store_cert_insert() does and writes the
 * detail of its cert.issue audit row into detail (cap >= 512 bytes).
 * Returns 0 or MS_EINVAL.
 */
int ms_store_cert_check(const ms_store_cert *c, char *detail, size_t cap,
                        ms_error *err);

/* The SQLite backend: path is a file name or ":memory:". */
int ms_store_sqlite_open(ms_store **out, const char *path, ms_error *err);
/* The PostgreSQL backend: url is a libpq URI (postgresql:// or
 * postgres://). Error messages never contain the URL's password. */
int ms_store_pg_open(ms_store **out, const char *url, ms_error *err);

#endif
