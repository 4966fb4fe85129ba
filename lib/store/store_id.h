/*
 * store/store_id.h - the issue-4 store: mailbox validations, devices,
 * escrowed keys, the certificate directory, harvested certificates, API
 * keys, invitations, opt-outs and one-time link tokens.
 *
 * Written once over the generic statement layer (store_sql.h), so every
 * function works on SQLite and PostgreSQL alike. Each function is one
 * transaction; events that matter append their audit row (as
 * ms_store_audit_append(), time from the store's clock) in that same
 * transaction, so the change and its record commit together or not at all:
 * device.create, device.revoke, key.create, key.release, apikey.create,
 * apikey.revoke, directory.publish, directory.unpublish, directory.harvest.
 * Times are seconds since the epoch; "now" is the store's clock
 * (ms_store_set_clock()).
 *
 * Secrets are never passed in clear: codes, poll tokens, device tokens, API
 * keys and link tokens travel as their SHA-256 (MS_STORE_SHA256 bytes).
 * Lookups by hash are exact; where a secret is checked against a record
 * found by id (the validation code), the caller compares the hashes with
 * CRYPTO_memcmp().
 *
 * Addresses are stored as given: callers normalise them first (one shared
 * function). Ids are chosen by the caller (random, URL-safe): 1..
 * MS_STORE_ID_MAX characters of [A-Za-z0-9_-].
 *
 * Common returns: 0, MS_EINVAL (an argument out of range), MS_EPOLICY (a
 * uniqueness or other constraint: nothing written), MS_ENOTFOUND, MS_ETEMP
 * (busy or serialization failure: retry), MS_EIO, MS_ENOMEM.
 *
 * Ownership: records are caller storage with fixed-size fields (no
 * cleanup); blobs in input records are read only; pointers handed to
 * callbacks are borrowed for the call. Thread safety: as store.h, a handle
 * is used by one thread at a time.
 */
#ifndef MS_STORE_STORE_ID_H
#define MS_STORE_STORE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"

#define MS_STORE_SHA256 32
/* Longest id (validation, device, key, API key, master key). */
#define MS_STORE_ID_MAX 64
/* Longest mailbox address (RFC 5321: 254) and device or key name. */
#define MS_STORE_EMAIL_MAX 254
/* Largest wrapped private key. */
#define MS_STORE_WRAPPED_MAX (16 * 1024)
/* Wrong codes before a validation dies. */
#define MS_STORE_ATTEMPTS_MAX 5

typedef struct ms_store_device ms_store_device; /* below */

/* ---- Mailbox validations ---- */

typedef enum ms_store_vstate {
    MS_STORE_VPENDING,   /* mail sent, code not yet given */
    MS_STORE_VCONFIRMED, /* the mail's link was followed */
    MS_STORE_VUSED,      /* a device credential was issued (final) */
    MS_STORE_VDEAD       /* too many wrong codes (final) */
} ms_store_vstate;

typedef struct ms_store_validation {
    char id[MS_STORE_ID_MAX + 1];
    char email[MS_STORE_EMAIL_MAX + 1];
    char device[MS_STORE_NAME_MAX + 1]; /* the device name asked for */
    unsigned char code_hash[MS_STORE_SHA256];
    unsigned char poll_hash[MS_STORE_SHA256];
    time_t created; /* set by ms_store_validation_create() */
    time_t expires;
    int attempts;          /* wrong codes so far */
    ms_store_vstate state; /* MS_STORE_VPENDING on creation */
} ms_store_validation;

/*
 * Records a new pending validation v (id, email, device, both hashes,
 * expires > now; created, attempts and state are set here). MS_EPOLICY
 * when the id or poll hash exists.
 */
int ms_store_validation_create(ms_store *s, const ms_store_validation *v,
                               ms_error *err);

/* Fills *out with validation id (MS_ENOTFOUND when unknown). Expiry is
 * the caller's to check against out->expires. */
int ms_store_validation_get(ms_store *s, const char *id,
                            ms_store_validation *out, ms_error *err);

/*
 * Counts one wrong code, atomically (two callers never read the same
 * count): *attempts_out = the new count; the validation dies at
 * MS_STORE_ATTEMPTS_MAX (*dead_out true). MS_ENOTFOUND when unknown,
 * MS_EPOLICY when it is no longer pending or confirmed (nothing counted).
 */
int ms_store_validation_fail(ms_store *s, const char *id, int *attempts_out,
                             bool *dead_out, ms_error *err);

/* pending -> confirmed (the mail's link). MS_ENOTFOUND when unknown,
 * MS_EPOLICY when expired, used, dead or already confirmed. */
int ms_store_validation_confirm(ms_store *s, const char *id, ms_error *err);

/*
 * Redeems validation id, once: it becomes used, the mailbox is proven now,
 * the device (device_id, the validation's email and device name,
 * token_hash) is created with audit row device.create, and the mailbox is
 * published in the directory on its first proof (directory.publish; an
 * unpublished mailbox stays unpublished). need_confirmed: the validation
 * must be confirmed (the credential call after the link), else pending or
 * confirmed (a code given directly). *out = the new device. MS_ENOTFOUND
 * when unknown, MS_EPOLICY when expired, in the wrong state, or the
 * device id or token hash exists: nothing changes.
 */
int ms_store_validation_redeem(ms_store *s, const char *id,
                               const char *device_id,
                               const unsigned char token_hash[MS_STORE_SHA256],
                               bool need_confirmed, ms_store_device *out,
                               ms_error *err);

/* *out = when the mailbox was last proven (MS_ENOTFOUND: never). */
int ms_store_mailbox_proven_at(ms_store *s, const char *email, time_t *out,
                               ms_error *err);

/* ---- Devices ---- */

struct ms_store_device {
    char id[MS_STORE_ID_MAX + 1];
    char email[MS_STORE_EMAIL_MAX + 1];
    char name[MS_STORE_NAME_MAX + 1];
    time_t created;
    time_t revoked_at; /* 0: active */
    time_t proven_at;  /* when this device proved the mailbox */
};

/* The device whose token hashes to token_hash, revoked ones included
 * (check revoked_at). MS_ENOTFOUND when none. */
int ms_store_device_by_token(ms_store *s,
                             const unsigned char token_hash[MS_STORE_SHA256],
                             ms_store_device *out, ms_error *err);

/* Called per device (borrowed) in creation order; 0 goes on. */
typedef int (*ms_store_device_fn)(const ms_store_device *d, void *arg);

/* Lists the devices of email, revoked ones included. */
int ms_store_device_list(ms_store *s, const char *email, ms_store_device_fn fn,
                         void *arg, ms_error *err);

/*
 * Revokes device_id of mailbox email at the store's now: the credential
 * and every signing certificate of the device (CRLReason
 * cessationOfOperation; the revocation epoch rises and cert.revoke rows
 * are written as by ms_store_cert_revoke()), audit row device.revoke.
 * *certs_out (may be NULL) = certificates revoked. MS_ENOTFOUND when the
 * device does not exist or belongs to another mailbox, MS_EPOLICY when
 * already revoked.
 */
int ms_store_device_revoke(ms_store *s, const char *email,
                           const char *device_id, size_t *certs_out,
                           ms_error *err);

/*
 * Records c (as ms_store_cert_insert(), audit row cert.issue) as a signing
 * certificate of device_id, in one transaction. MS_ENOTFOUND when the
 * device is unknown, MS_EPOLICY when it is revoked, belongs to another
 * mailbox than c->subject_email, or the serial exists.
 */
int ms_store_device_cert_add(ms_store *s, const char *device_id,
                             const ms_store_cert *c, ms_error *err);

/* Called per serial (borrowed); 0 goes on. */
typedef int (*ms_store_serial_fn)(const char *serial_hex, void *arg);

/* Lists the certificate serials of device_id in serial order. */
int ms_store_device_cert_list(ms_store *s, const char *device_id,
                              ms_store_serial_fn fn, void *arg, ms_error *err);

/* ---- Escrowed keys ---- */

typedef struct ms_store_escrow_key {
    char key_id[MS_STORE_ID_MAX + 1];
    char email[MS_STORE_EMAIL_MAX + 1];
    char alg[MS_STORE_ID_MAX + 1];           /* "X25519", "RSA-3072" ... */
    const unsigned char *wrapped;            /* the key wrapped under ... */
    size_t wrapped_len;                      /* 1..MS_STORE_WRAPPED_MAX */
    char master_key_id[MS_STORE_ID_MAX + 1]; /* ... this master key */
    char cert_serial[MS_STORE_SERIAL_HEX_MAX + 1]; /* "" when none */
    time_t created;                                /* set on add */
    time_t retired_at;                             /* 0: current */
} ms_store_escrow_key;

/*
 * Adds k as the current key of k->email, with audit row key.create. cert
 * (may be NULL) is its encryption certificate, recorded in the same
 * transaction (as ms_store_cert_insert()); k->cert_serial must then name
 * it. rollover: the current key, if any, is retired first; otherwise a
 * second current key is MS_EPOLICY (nothing written), as a duplicate key
 * id or serial is.
 */
int ms_store_escrow_key_add(ms_store *s, const ms_store_escrow_key *k,
                            const ms_store_cert *cert, bool rollover,
                            ms_error *err);

/* Called per key (borrowed, wrapped included); 0 goes on. */
typedef int (*ms_store_key_fn)(const ms_store_escrow_key *k, void *arg);

/*
 * Releases the keys of email to requester `by` ("device:<id>" or
 * "apikey:<id>", printable ASCII): calls fn for each (the current key
 * first, then retired ones, newest first) and appends audit row
 * key.release (mailbox, requester, time, key ids) in the same
 * transaction; if fn fails, nothing is recorded and its status returns.
 * MS_ENOTFOUND when email has no key (no audit row).
 */
int ms_store_escrow_key_release(ms_store *s, const char *email, const char *by,
                                ms_store_key_fn fn, void *arg, ms_error *err);

/* ---- Directory ---- */

/* Publishes email now (directory.publish); publishing again after an
 * unpublication is allowed (an explicit consent). */
int ms_store_directory_publish(ms_store *s, const char *email, ms_error *err);

/* Unpublishes email now (directory.unpublish). MS_ENOTFOUND when not
 * published. */
int ms_store_directory_unpublish(ms_store *s, const char *email, ms_error *err);

/* *out = whether email is published now. */
int ms_store_directory_published(ms_store *s, const char *email, bool *out,
                                 ms_error *err);

/* A current certificate of the directory (borrowed for the callback). */
typedef struct ms_store_dir_cert {
    bool harvested;         /* from a signed message, else issued here */
    const char *issuer;     /* issued: the CA name; harvested: NULL */
    const char *serial_hex; /* issued: the serial; harvested: NULL */
    int level;
    const char *use; /* "signing" or "encryption" */
    time_t not_before;
    time_t not_after;
    const unsigned char *der;
    size_t der_len;
} ms_store_dir_cert;

typedef int (*ms_store_dir_fn)(const ms_store_dir_cert *c, void *arg);

/*
 * Calls fn for every current certificate of email, in one indexed query:
 * only when email is published; issued certificates not revoked, valid at
 * now and not of a retired escrow key; harvested ones valid at now.
 * Issued first, each group by not_after descending. MS_ENOTFOUND when
 * nothing was returned (unknown, unpublished or no current certificate).
 */
int ms_store_directory_lookup(ms_store *s, const char *email,
                              ms_store_dir_fn fn, void *arg, ms_error *err);

/* A harvested certificate (input: the caller owns der). */
typedef struct ms_store_harvest {
    char email[MS_STORE_EMAIL_MAX + 1];
    unsigned char sha256[MS_STORE_SHA256]; /* of der */
    const unsigned char *der;              /* 1..MS_STORE_DER_MAX bytes */
    size_t der_len;
    int level;    /* 1..4 */
    char use[16]; /* "signing" or "encryption" */
    time_t not_before;
    time_t not_after;
} ms_store_harvest;

/*
 * Stores the n (1..16) certificates of one message; those already known
 * (same fingerprint) are skipped. *stored_out = how many were new; one
 * audit row directory.harvest when any was. publish: also publish each
 * address on its first appearance (never over an unpublication).
 */
int ms_store_harvest_add(ms_store *s, const ms_store_harvest *h, size_t n,
                         bool publish, size_t *stored_out, ms_error *err);

/* ---- API keys ---- */

typedef struct ms_store_apikey {
    char id[MS_STORE_ID_MAX + 1];
    char name[MS_STORE_NAME_MAX + 1];
    unsigned char key_hash[MS_STORE_SHA256];
    char domain[MS_STORE_EMAIL_MAX + 1]; /* "" = every domain */
    int rate_per_min;                    /* > 0 */
    time_t created;                      /* set on create */
    time_t revoked_at;                   /* 0: active */
} ms_store_apikey;

/* Records k (apikey.create). MS_EPOLICY: id or key hash exists. */
int ms_store_apikey_create(ms_store *s, const ms_store_apikey *k,
                           ms_error *err);

/* The key whose hash is key_hash, revoked ones included (check
 * revoked_at). MS_ENOTFOUND when none. */
int ms_store_apikey_by_hash(ms_store *s,
                            const unsigned char key_hash[MS_STORE_SHA256],
                            ms_store_apikey *out, ms_error *err);

/* Revokes key id now (apikey.revoke). MS_ENOTFOUND, MS_EPOLICY when
 * already revoked. */
int ms_store_apikey_revoke(ms_store *s, const char *id, ms_error *err);

typedef int (*ms_store_apikey_fn)(const ms_store_apikey *k, void *arg);

/* Lists every key in creation order. */
int ms_store_apikey_list(ms_store *s, ms_store_apikey_fn fn, void *arg,
                         ms_error *err);

/* ---- Invitations, opt-outs, link tokens ---- */

typedef enum ms_store_invite {
    MS_STORE_INVITE_SEND,      /* recorded as sent now: send it */
    MS_STORE_INVITE_RECENT,    /* one was sent less than interval ago */
    MS_STORE_INVITE_OPTED_OUT, /* the address opted out (forever) */
    MS_STORE_INVITE_HAS_CERT   /* the directory has a current cert */
} ms_store_invite;

/*
 * Decides, in one transaction, whether email may be invited now and, if
 * so, records the invitation as sent: *out says which (checked in the
 * order opted out, has a current certificate, recent).
 */
int ms_store_invitation_claim(ms_store *s, const char *email, time_t interval,
                              ms_store_invite *out, ms_error *err);

/* Records the opt-out of email now (idempotent: the first time stays). */
int ms_store_optout_add(ms_store *s, const char *email, ms_error *err);

/* *out = whether email opted out. */
int ms_store_optout_check(ms_store *s, const char *email, bool *out,
                          ms_error *err);

typedef enum ms_store_action {
    MS_STORE_ACTION_UNPUBLISH, /* the directory unpublish link */
    MS_STORE_ACTION_OPT_OUT    /* the invitation opt-out link */
} ms_store_action;

/* Records a one-time link token for action on email, valid until
 * expires. MS_EPOLICY when the hash exists. */
int ms_store_action_token_add(ms_store *s,
                              const unsigned char token_hash[MS_STORE_SHA256],
                              const char *email, ms_store_action action,
                              time_t expires, ms_error *err);

/*
 * Uses the token once and performs its action in the same transaction
 * (unpublish with directory.unpublish, or the opt-out); email_out (may be
 * NULL) gets the address. MS_ENOTFOUND when unknown or for another
 * action, MS_EPOLICY when used or expired (nothing changes). Unpublishing
 * a mailbox that is not published is not an error.
 */
int ms_store_action_token_use(ms_store *s,
                              const unsigned char token_hash[MS_STORE_SHA256],
                              ms_store_action action,
                              char email_out[MS_STORE_EMAIL_MAX + 1],
                              ms_error *err);

#endif
