/*
 * store/store.h - the persistent store of the CA, TSA, OCSP and CRL modules.
 *
 * One interface, two backends behind a vtable (store_backend.h): SQLite
 * (store_sqlite.c, the embedded default) and PostgreSQL via libpq
 * (store_pg.c, for several hosts or an existing database service).
 * ms_store_open() picks the backend from the database URL and migrates the
 * schema (migrations/) before returning.
 *
 * Every operation is one transaction with prepared statements and bound
 * parameters: it either happens completely or not at all.
 *
 * Ownership: ms_store_open() returns a handle released by ms_store_close().
 * ms_store_cert_get() fills caller storage released by
 * ms_store_cert_cleanup(); ms_store_cert_insert() only reads its argument.
 *
 * Thread safety: a handle is used by one thread at a time. Threads open
 * their own handles on the same database (SQLite in WAL mode lets readers
 * proceed while one writer commits; writers wait up to the busy timeout,
 * then get MS_ETEMP). On PostgreSQL each handle is one connection; writers
 * of the audit chain take turns on a table lock (MS_ETEMP after the lock
 * timeout), readers never wait for them.
 */
#ifndef MS_STORE_STORE_H
#define MS_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

typedef struct ms_store ms_store;

/* Longest serial number accepted, in hex digits (RFC 5280: 20 octets). */
#define MS_STORE_SERIAL_HEX_MAX 40
/* Longest issuer name, subject mailbox, audit event name. */
#define MS_STORE_NAME_MAX 255
/* Longest audit detail text. */
#define MS_STORE_DETAIL_MAX 4096
/* Largest certificate accepted. */
#define MS_STORE_DER_MAX (64 * 1024)

/*
 * An issued certificate. For ms_store_cert_insert() the caller owns every
 * field (revoked, revoked_at and reason are ignored there); after
 * ms_store_cert_get() the strings and der belong to the record and are
 * released by ms_store_cert_cleanup().
 */
typedef struct ms_store_cert {
    char *serial_hex;    /* lower-case hex, 1..MS_STORE_SERIAL_HEX_MAX */
    char *issuer;        /* issuing CA name ("mailseal V3 Organisation CA") */
    char *subject_email; /* the mailbox */
    int level;           /* identity level 1..4 (V1..V4) */
    char *use;           /* "signing" or "encryption" */
    time_t not_before;
    time_t not_after; /* >= not_before */
    ms_buf der;       /* the certificate, 1..MS_STORE_DER_MAX bytes */
    bool revoked;     /* set by ms_store_cert_get() */
    time_t revoked_at;
    int reason; /* CRLReason (RFC 5280 5.3.1) when revoked */
} ms_store_cert;

/* Empty record (all NULL, der empty). */
void ms_store_cert_init(ms_store_cert *c);
/* Releases what ms_store_cert_get() stored; c is left as after _init. */
void ms_store_cert_cleanup(ms_store_cert *c);

/*
 * Opens the database named by url and migrates its schema:
 *   sqlite:PATH        a file (created when missing), WAL journal
 *   sqlite::memory:    a private in-memory database (tests)
 *   postgresql://...   a PostgreSQL database, as a libpq connection URI
 *   postgres://...     (user, password, host, port, dbname, ?sslmode=...
 *                      and the other libpq parameters); the tables go to
 *                      the first schema of the role's search_path
 * Returns 0, MS_EINVAL (unknown database URL scheme, empty path), MS_EIO
 * (cannot open or connect, not a database, WAL refused), MS_EPOLICY (the
 * schema is newer than this program), MS_ETEMP (locked), MS_ENOMEM. The
 * error message never contains a password given in the URL.
 */
int ms_store_open(ms_store **out, const char *url, ms_error *err);
/* Closes the handle; NULL is a no-op. */
void ms_store_close(ms_store *s);
/* The clock stamping audit rows (NULL restores time(2)). */
void ms_store_set_clock(ms_store *s, ms_clock_fn fn, void *arg);

/*
 * *out = the next value of the named sequence (1 for a new one). Values
 * increase strictly, also across restarts and handles. Returns 0,
 * MS_EINVAL (empty or long name), MS_ETOOBIG (sequence exhausted),
 * MS_ETEMP, MS_EIO, MS_ENOMEM.
 */
int ms_store_next_serial(ms_store *s, const char *sequence_name,
                         uint64_t *out, ms_error *err);

/*
 * Reserves count (1..MS_STORE_RESERVE_MAX) consecutive values of the named
 * sequence in one transaction: *first is the lowest, first + count - 1 the
 * highest. A process hands them out from memory (the TSA does, so a
 * timestamp costs no write); values reserved and never used are skipped,
 * never reused, also after a crash. Same returns as ms_store_next_serial().
 */
#define MS_STORE_RESERVE_MAX 1000000
int ms_store_reserve_serials(ms_store *s, const char *sequence_name,
                             uint64_t count, uint64_t *first, ms_error *err);

/*
 * Records an issued certificate and, in the same transaction, the audit row
 * "cert.issue" naming it (a crash leaves both or neither). Returns 0, MS_EINVAL (a field out of its
 * range), MS_EPOLICY (the serial number exists: nothing is written),
 * MS_ETEMP, MS_EIO, MS_ENOMEM.
 */
int ms_store_cert_insert(ms_store *s, const ms_store_cert *c, ms_error *err);

/*
 * Fills *out (ms_store_cert_init'ed or cleaned up by the caller) with the
 * certificate serial_hex of issuer. Returns 0, MS_ENOTFOUND, MS_EINVAL,
 * MS_ETEMP, MS_EIO, MS_ENOMEM; on failure *out stays empty.
 */
int ms_store_cert_get(ms_store *s, const char *issuer, const char *serial_hex,
                      ms_store_cert *out, ms_error *err);

/*
 * Revokes a certificate at time at with a CRLReason (0..10 except 7); the
 * audit row "cert.revoke" and the revocation epoch (below) change in the
 * same transaction. Returns 0, MS_ENOTFOUND, MS_EPOLICY (already revoked: the first record
 * stays), MS_EINVAL, MS_ETEMP, MS_EIO.
 */
int ms_store_cert_revoke(ms_store *s, const char *issuer,
                         const char *serial_hex, int reason, time_t at,
                         ms_error *err);

/*
 * Called once per revoked certificate, in serial order. Returns 0 to go on
 * or a negative ms_status to stop; that status is returned by the lister.
 */
typedef int (*ms_store_revoked_fn)(const char *serial_hex, time_t at,
                                   int reason, void *arg);

/*
 * *out = the revocation epoch: a counter that every revocation raises, in
 * any process using this database (0 before the first). A responder caching
 * status compares it per request to see revocations at once. Returns 0,
 * MS_ETEMP, MS_EIO, MS_ENOMEM.
 */
int ms_store_revocation_epoch(ms_store *s, uint64_t *out, ms_error *err);

/* Lists the certificates of issuer that are revoked (for CRLs). */
int ms_store_revoked_list(ms_store *s, const char *issuer,
                          ms_store_revoked_fn fn, void *arg, ms_error *err);

/*
 * Appends an audit row (id = previous id + 1, time from the store's clock).
 * Rows are hash-chained: prev_hash is the previous row's hash (64 zeros for
 * the first) and hash = hex(SHA-256(prev_hash || id || time || event ||
 * detail)), see ms_store_audit_hash(). detail may be "" but not NULL.
 * Returns 0, MS_EINVAL, MS_ETEMP, MS_EIO, MS_ENOMEM.
 */
int ms_store_audit_append(ms_store *s, const char *event, const char *detail,
                          ms_error *err);

/*
 * Recomputes the whole audit chain. *rows_out = the number of rows checked
 * (also when the chain is broken: the rows before the first broken one).
 * Returns 0, MS_EBADSIG naming the first broken row, MS_ETEMP, MS_EIO,
 * MS_ENOMEM.
 */
int ms_store_audit_verify(ms_store *s, uint64_t *rows_out, ms_error *err);

#endif
