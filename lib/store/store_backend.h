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

/* The SQLite backend: path is a file name or ":memory:". */
int ms_store_sqlite_open(ms_store **out, const char *path, ms_error *err);
/* The PostgreSQL backend: url is a libpq URI (postgresql:// or
 * postgres://). Error messages never contain the URL's password. */
int ms_store_pg_open(ms_store **out, const char *url, ms_error *err);

#endif
