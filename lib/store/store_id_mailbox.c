/*
 * store/store_id_mailbox.c - mailbox validations, proven mailboxes and
 * device credentials (store_id.h), written once over store_sql.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/store_id.h"
#include "store/store_sql.h"
#include "util/error.h"

/* Device revocation: CRLReason cessationOfOperation. */
#define REASON_CESSATION 5

static const char *const vstate_names[] = {"pending", "confirmed", "used",
                                           "dead"};

static bool
email_ok(const char *e)
{
    return ms_store_sql_text_ok(e, MS_STORE_EMAIL_MAX) &&
           strchr(e, '@') != NULL;
}

/* 0 when a row of sql (one text parameter) exists, else MS_ENOTFOUND. */
static int
exists(ms_store *s, const char *sql, const char *key, const char *what,
       ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(key)};
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s, sql, p, MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    if (rows == 0)
        return ms_error_set(err, MS_ENOTFOUND, "no %s %s", what, key);
    return 0;
}

/* MS_ENOTFOUND when validation id is unknown, else MS_EPOLICY (why). */
static int
validation_refused(ms_store *s, const char *id, const char *why, ms_error *err)
{
    int rc = exists(s, "SELECT 1 FROM validations WHERE id = ?1", id,
                    "validation", err);

    if (rc != 0)
        return rc;
    return ms_error_set(err, MS_EPOLICY, "validation %s %s", id, why);
}

int
ms_store_validation_create(ms_store *s, const ms_store_validation *v,
                           ms_error *err)
{
    int64_t now = ms_store_sql_now(s);

    MS_ASSERT(s != NULL && v != NULL);
    if (!ms_store_sql_id_ok(v->id, MS_STORE_ID_MAX) || !email_ok(v->email) ||
        !ms_store_sql_text_ok(v->device, MS_STORE_NAME_MAX))
        return ms_error_set(err, MS_EINVAL,
                            "bad validation id, mailbox or"
                            " device name");
    if ((int64_t)v->expires <= now)
        return ms_error_set(err, MS_EINVAL, "validation expires in the past");
    {
        ms_store_val p[] = {MS_SV_TEXT(v->id),
                            MS_SV_TEXT(v->email),
                            MS_SV_TEXT(v->device),
                            MS_SV_BLOB(v->code_hash, MS_STORE_SHA256),
                            MS_SV_BLOB(v->poll_hash, MS_STORE_SHA256),
                            MS_SV_INT(now),
                            MS_SV_INT(v->expires)};

        return ms_store_sql_exec(
            s,
            "INSERT INTO validations (id, email, device_name, code_hash,"
            " poll_hash, created, expires, attempts, state)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 'pending')",
            p, MS_SV_COUNT(p), NULL, NULL, err);
    }
}

/* A single-row read: the record and whether a row came. */
typedef struct one_arg {
    void *out;
    bool found;
} one_arg;

static int
validation_row(const ms_store_row *r, void *arg, ms_error *err)
{
    one_arg *a = arg;
    ms_store_validation *v = a->out;
    int64_t created, expires, attempts;
    const char *state;
    int rc;

    if ((rc = ms_store_col_copy(v->id, sizeof(v->id), r, 0, err)) != 0 ||
        (rc = ms_store_col_copy(v->email, sizeof(v->email), r, 1, err)) != 0 ||
        (rc = ms_store_col_copy(v->device, sizeof(v->device), r, 2, err)) !=
            0 ||
        (rc = ms_store_col_fixed(v->code_hash, MS_STORE_SHA256, r, 3, err)) !=
            0 ||
        (rc = ms_store_col_fixed(v->poll_hash, MS_STORE_SHA256, r, 4, err)) !=
            0 ||
        (rc = ms_store_col_int(r, 5, &created, err)) != 0 ||
        (rc = ms_store_col_int(r, 6, &expires, err)) != 0 ||
        (rc = ms_store_col_int(r, 7, &attempts, err)) != 0 ||
        (rc = ms_store_col_text(r, 8, &state, err)) != 0)
        return rc;
    v->created = (time_t)created;
    v->expires = (time_t)expires;
    v->attempts = attempts > MS_STORE_ATTEMPTS_MAX ? MS_STORE_ATTEMPTS_MAX
                                                   : (int)attempts;
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(state, vstate_names[i]) == 0) {
            v->state = (ms_store_vstate)i;
            a->found = true;
            return 0;
        }
    }
    return ms_error_set(err, MS_EIO, "validation has state %s", state);
}

int
ms_store_validation_get(ms_store *s, const char *id, ms_store_validation *out,
                        ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(id)};
    one_arg a = {out, false};
    int rc;

    MS_ASSERT(s != NULL && id != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (!ms_store_sql_id_ok(id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad validation id");
    rc = ms_store_sql_exec(s,
                           "SELECT id, email, device_name, code_hash,"
                           " poll_hash, created, expires, attempts, state"
                           " FROM validations WHERE id = ?1",
                           p, MS_SV_COUNT(p), validation_row, &a, err);
    if (rc == 0 && a.found)
        return 0;
    memset(out, 0, sizeof(*out));
    if (rc == 0)
        rc = ms_error_set(err, MS_ENOTFOUND, "no validation %s", id);
    return rc;
}

typedef struct fail_arg {
    const char *id;
    int64_t attempts;
    bool found;
    bool dead;
} fail_arg;

static int
fail_row(const ms_store_row *r, void *arg, ms_error *err)
{
    fail_arg *a = arg;
    const char *state;
    int rc;

    if ((rc = ms_store_col_int(r, 0, &a->attempts, err)) != 0 ||
        (rc = ms_store_col_text(r, 1, &state, err)) != 0)
        return rc;
    a->found = true;
    a->dead = strcmp(state, "dead") == 0;
    return 0;
}

static int
fail_tx(ms_store *s, void *arg, ms_error *err)
{
    fail_arg *a = arg;
    ms_store_val p[] = {MS_SV_TEXT(a->id), MS_SV_INT(MS_STORE_ATTEMPTS_MAX)};
    int rc;

    /* One statement reads and raises the count: atomic on both backends
     * (SQLite writers are serialised, PostgreSQL row-locks and rechecks). */
    if ((rc = ms_store_sql_exec(
             s,
             "UPDATE validations SET attempts = attempts + 1,"
             " state = CASE WHEN attempts + 1 >= ?2 THEN 'dead'"
             " ELSE state END"
             " WHERE id = ?1 AND state IN ('pending', 'confirmed')"
             " RETURNING attempts, state",
             p, MS_SV_COUNT(p), fail_row, a, err)) != 0)
        return rc;
    if (!a->found)
        return validation_refused(s, a->id, "is used or dead", err);
    return 0;
}

int
ms_store_validation_fail(ms_store *s, const char *id, int *attempts_out,
                         bool *dead_out, ms_error *err)
{
    fail_arg a = {id, 0, false, false};
    int rc;

    MS_ASSERT(s != NULL && id != NULL && attempts_out != NULL);
    MS_ASSERT(dead_out != NULL);
    if (!ms_store_sql_id_ok(id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad validation id");
    if ((rc = ms_store_sql_tx(s, MS_STORE_TX_WRITE, fail_tx, &a, err)) != 0)
        return rc;
    *attempts_out = (int)a.attempts;
    *dead_out = a.dead;
    return 0;
}

static int
confirm_tx(ms_store *s, void *arg, ms_error *err)
{
    const char *id = arg;
    ms_store_val p[] = {MS_SV_TEXT(id), MS_SV_INT(ms_store_sql_now(s))};
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s,
                                "UPDATE validations SET state = 'confirmed'"
                                " WHERE id = ?1 AND state = 'pending'"
                                " AND expires > ?2 RETURNING id",
                                p, MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    if (rows == 0)
        return validation_refused(s, id, "is not pending or has expired", err);
    return 0;
}

int
ms_store_validation_confirm(ms_store *s, const char *id, ms_error *err)
{
    MS_ASSERT(s != NULL && id != NULL);
    if (!ms_store_sql_id_ok(id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad validation id");
    /* The cast drops const only for the void * of the body. */
    return ms_store_sql_tx(s, MS_STORE_TX_WRITE, confirm_tx,
                           (void *)(uintptr_t)id, err);
}

typedef struct redeem_arg {
    const char *id;
    const char *device_id;
    const unsigned char *token_hash;
    bool need_confirmed;
    ms_store_device *dev;
    bool found;
} redeem_arg;

static int
redeem_row(const ms_store_row *r, void *arg, ms_error *err)
{
    redeem_arg *a = arg;
    int rc;

    if ((rc = ms_store_col_copy(a->dev->email, sizeof(a->dev->email), r, 0,
                                err)) != 0 ||
        (rc = ms_store_col_copy(a->dev->name, sizeof(a->dev->name), r, 1,
                                err)) != 0)
        return rc;
    a->found = true;
    return 0;
}

/* The device, the proof and its audit row, after the validation is used. */
static int
redeem_device(ms_store *s, redeem_arg *a, int64_t now, ms_error *err)
{
    ms_store_device *d = a->dev;
    ms_store_val pm[] = {MS_SV_TEXT(d->email), MS_SV_INT(now)};
    ms_store_val pd[] = {
        MS_SV_TEXT(a->device_id), MS_SV_TEXT(d->email), MS_SV_TEXT(d->name),
        MS_SV_BLOB(a->token_hash, MS_STORE_SHA256), MS_SV_INT(now)};
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    if ((rc = ms_store_sql_exec(s,
                                "INSERT INTO mailboxes (email, proven_at)"
                                " VALUES (?1, ?2) ON CONFLICT (email)"
                                " DO UPDATE SET proven_at = excluded.proven_at",
                                pm, MS_SV_COUNT(pm), NULL, NULL, err)) != 0)
        return rc;
    if ((rc = ms_store_sql_exec(s,
                                "INSERT INTO devices (id, email, name,"
                                " token_hash, created, revoked_at, proven_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?5)",
                                pd, MS_SV_COUNT(pd), NULL, NULL, err)) != 0)
        return rc == MS_EPOLICY
                   ? ms_error_set(err, rc, "device id or token exists")
                   : rc;
    (void)snprintf(detail, sizeof(detail),
                   "device=%s email=%s name=\"%s\" validation=%s", a->device_id,
                   d->email, d->name, a->id);
    if ((rc = ms_store_sql_audit(s, "device.create", detail, err)) != 0)
        return rc;
    return ms_store_sql_publish_first(s, d->email, now, err);
}

static int
redeem_tx(ms_store *s, void *arg, ms_error *err)
{
    redeem_arg *a = arg;
    int64_t now = ms_store_sql_now(s);
    ms_store_val p[] = {MS_SV_TEXT(a->id),
                        MS_SV_TEXT(a->need_confirmed ? "confirmed" : "pending"),
                        MS_SV_INT(now)};
    int rc;

    if ((rc = ms_store_sql_exec(s,
                                "UPDATE validations SET state = 'used'"
                                " WHERE id = ?1"
                                " AND state IN ('confirmed', ?2)"
                                " AND expires > ?3"
                                " RETURNING email, device_name",
                                p, MS_SV_COUNT(p), redeem_row, a, err)) != 0)
        return rc;
    if (!a->found)
        return validation_refused(
            s, a->id, "is expired, used, dead or not confirmed", err);
    memcpy(a->dev->id, a->device_id, strlen(a->device_id) + 1);
    a->dev->created = (time_t)now;
    a->dev->proven_at = (time_t)now;
    a->dev->revoked_at = 0;
    return redeem_device(s, a, now, err);
}

int
ms_store_validation_redeem(ms_store *s, const char *id, const char *device_id,
                           const unsigned char token_hash[MS_STORE_SHA256],
                           bool need_confirmed, ms_store_device *out,
                           ms_error *err)
{
    redeem_arg a = {id, device_id, token_hash, need_confirmed, out, false};
    int rc;

    MS_ASSERT(s != NULL && id != NULL && device_id != NULL);
    MS_ASSERT(token_hash != NULL && out != NULL);
    memset(out, 0, sizeof(*out));
    if (!ms_store_sql_id_ok(id, MS_STORE_ID_MAX) ||
        !ms_store_sql_id_ok(device_id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad validation or device id");
    if ((rc = ms_store_sql_tx(s, MS_STORE_TX_AUDIT, redeem_tx, &a, err)) != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int
ms_store_mailbox_proven_at(ms_store *s, const char *email, time_t *out,
                           ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email)};
    int64_t at = 0;
    bool found = false;
    int rc;

    MS_ASSERT(s != NULL && email != NULL && out != NULL);
    *out = 0;
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    if ((rc = ms_store_sql_int(s,
                               "SELECT proven_at FROM mailboxes"
                               " WHERE email = ?1",
                               p, MS_SV_COUNT(p), &at, &found, err)) != 0)
        return rc;
    if (!found)
        return ms_error_set(err, MS_ENOTFOUND, "mailbox %s never proven",
                            email);
    *out = (time_t)at;
    return 0;
}

#define DEVICE_COLS "id, email, name, created, revoked_at, proven_at"

static int
device_fill(ms_store_device *d, const ms_store_row *r, ms_error *err)
{
    int64_t created, revoked, proven;
    int rc;

    memset(d, 0, sizeof(*d));
    if ((rc = ms_store_col_copy(d->id, sizeof(d->id), r, 0, err)) != 0 ||
        (rc = ms_store_col_copy(d->email, sizeof(d->email), r, 1, err)) != 0 ||
        (rc = ms_store_col_copy(d->name, sizeof(d->name), r, 2, err)) != 0 ||
        (rc = ms_store_col_int(r, 3, &created, err)) != 0 ||
        (rc = ms_store_col_int0(r, 4, &revoked, err)) != 0 ||
        (rc = ms_store_col_int(r, 5, &proven, err)) != 0)
        return rc;
    d->created = (time_t)created;
    d->revoked_at = (time_t)revoked;
    d->proven_at = (time_t)proven;
    return 0;
}

static int
device_one_row(const ms_store_row *r, void *arg, ms_error *err)
{
    one_arg *a = arg;
    int rc;

    if ((rc = device_fill(a->out, r, err)) != 0)
        return rc;
    a->found = true;
    return 0;
}

int
ms_store_device_by_token(ms_store *s,
                         const unsigned char token_hash[MS_STORE_SHA256],
                         ms_store_device *out, ms_error *err)
{
    ms_store_val p[] = {MS_SV_BLOB(token_hash, MS_STORE_SHA256)};
    one_arg a = {out, false};
    int rc;

    MS_ASSERT(s != NULL && token_hash != NULL && out != NULL);
    rc = ms_store_sql_exec(
        s, "SELECT " DEVICE_COLS " FROM devices WHERE token_hash = ?1", p,
        MS_SV_COUNT(p), device_one_row, &a, err);
    if (rc == 0 && a.found)
        return 0;
    memset(out, 0, sizeof(*out));
    if (rc == 0)
        rc = ms_error_set(err, MS_ENOTFOUND, "no device with this token");
    return rc;
}

typedef struct list_arg {
    ms_store_device_fn fn;
    void *arg;
} list_arg;

static int
device_list_row(const ms_store_row *r, void *arg, ms_error *err)
{
    list_arg *a = arg;
    ms_store_device d;
    int rc;

    if ((rc = device_fill(&d, r, err)) != 0)
        return rc;
    if ((rc = a->fn(&d, a->arg)) != 0)
        return ms_error_set(err, rc, "device listing stopped");
    return 0;
}

int
ms_store_device_list(ms_store *s, const char *email, ms_store_device_fn fn,
                     void *arg, ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email)};
    list_arg a = {fn, arg};

    MS_ASSERT(s != NULL && email != NULL && fn != NULL);
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    return ms_store_sql_exec(s,
                             "SELECT " DEVICE_COLS " FROM devices"
                             " WHERE email = ?1 ORDER BY created, id",
                             p, MS_SV_COUNT(p), device_list_row, &a, err);
}

typedef struct revoke_arg {
    const char *email;
    const char *device_id;
    size_t certs;
    char issuer[MS_STORE_NAME_MAX + 1];
    char serial[MS_STORE_SERIAL_HEX_MAX + 1];
    bool found;
} revoke_arg;

static int
live_cert_row(const ms_store_row *r, void *arg, ms_error *err)
{
    revoke_arg *a = arg;
    int rc;

    if ((rc = ms_store_col_copy(a->issuer, sizeof(a->issuer), r, 0, err)) !=
            0 ||
        (rc = ms_store_col_copy(a->serial, sizeof(a->serial), r, 1, err)) != 0)
        return rc;
    a->found = true;
    return 0;
}

/* Revokes the device's certificates one at a time (each lookup is one
 * indexed row), so no list is held in memory. */
static int
revoke_device_certs(ms_store *s, revoke_arg *a, int64_t now, ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(a->device_id)};
    int rc;

    for (;;) {
        a->found = false;
        if ((rc = ms_store_sql_exec(
                 s,
                 "SELECT c.issuer, c.serial_hex FROM device_certs d"
                 " JOIN certs c ON c.serial_hex = d.serial_hex"
                 " LEFT JOIN revocations r ON r.serial_hex = d.serial_hex"
                 " WHERE d.device_id = ?1 AND r.serial_hex IS NULL"
                 " ORDER BY d.serial_hex LIMIT 1",
                 p, MS_SV_COUNT(p), live_cert_row, a, err)) != 0)
            return rc;
        if (!a->found)
            return 0;
        if ((rc = ms_store_sql_cert_revoke(s, a->issuer, a->serial,
                                           REASON_CESSATION, now, err)) != 0)
            return rc;
        a->certs++;
    }
}

static int
revoke_tx(ms_store *s, void *arg, ms_error *err)
{
    revoke_arg *a = arg;
    int64_t now = ms_store_sql_now(s);
    ms_store_val p[] = {MS_SV_TEXT(a->device_id), MS_SV_TEXT(a->email),
                        MS_SV_INT(now)};
    char detail[MS_STORE_DETAIL_MAX];
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s,
                                "UPDATE devices SET revoked_at = ?3"
                                " WHERE id = ?1 AND email = ?2"
                                " AND revoked_at IS NULL RETURNING id",
                                p, MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    if (rows == 0) {
        if ((rc = ms_store_sql_rows(s,
                                    "SELECT 1 FROM devices"
                                    " WHERE id = ?1 AND email = ?2",
                                    p, 2, &rows, err)) != 0)
            return rc;
        return rows == 0
                   ? ms_error_set(err, MS_ENOTFOUND, "no device %s of %s",
                                  a->device_id, a->email)
                   : ms_error_set(err, MS_EPOLICY, "device %s already revoked",
                                  a->device_id);
    }
    if ((rc = revoke_device_certs(s, a, now, err)) != 0)
        return rc;
    (void)snprintf(detail, sizeof(detail), "device=%s email=%s certs=%zu",
                   a->device_id, a->email, a->certs);
    return ms_store_sql_audit(s, "device.revoke", detail, err);
}

int
ms_store_device_revoke(ms_store *s, const char *email, const char *device_id,
                       size_t *certs_out, ms_error *err)
{
    revoke_arg a;
    int rc;

    MS_ASSERT(s != NULL && email != NULL && device_id != NULL);
    if (!email_ok(email) || !ms_store_sql_id_ok(device_id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad mailbox or device id");
    memset(&a, 0, sizeof(a));
    a.email = email;
    a.device_id = device_id;
    if ((rc = ms_store_sql_tx(s, MS_STORE_TX_AUDIT, revoke_tx, &a, err)) != 0)
        return rc;
    if (certs_out != NULL)
        *certs_out = a.certs;
    return 0;
}

typedef struct cert_add_arg {
    const char *device_id;
    const ms_store_cert *cert;
    char email[MS_STORE_EMAIL_MAX + 1];
    bool revoked;
    bool found;
} cert_add_arg;

static int
owner_row(const ms_store_row *r, void *arg, ms_error *err)
{
    cert_add_arg *a = arg;
    int rc;

    if ((rc = ms_store_col_copy(a->email, sizeof(a->email), r, 0, err)) != 0)
        return rc;
    a->revoked = !ms_store_col_null(r, 1);
    a->found = true;
    return 0;
}

static int
cert_add_tx(ms_store *s, void *arg, ms_error *err)
{
    cert_add_arg *a = arg;
    ms_store_val p[] = {MS_SV_TEXT(a->device_id),
                        MS_SV_TEXT(a->cert->serial_hex)};
    int rc;

    if ((rc = ms_store_sql_exec(s,
                                "SELECT email, revoked_at FROM devices"
                                " WHERE id = ?1",
                                p, 1, owner_row, a, err)) != 0)
        return rc;
    if (!a->found)
        return ms_error_set(err, MS_ENOTFOUND, "no device %s", a->device_id);
    if (a->revoked || strcmp(a->email, a->cert->subject_email) != 0)
        return ms_error_set(err, MS_EPOLICY,
                            "device %s is revoked or of another mailbox",
                            a->device_id);
    if ((rc = ms_store_sql_cert_insert(s, a->cert, err)) != 0)
        return rc;
    return ms_store_sql_exec(s,
                             "INSERT INTO device_certs (device_id, serial_hex)"
                             " VALUES (?1, ?2)",
                             p, MS_SV_COUNT(p), NULL, NULL, err);
}

int
ms_store_device_cert_add(ms_store *s, const char *device_id,
                         const ms_store_cert *c, ms_error *err)
{
    cert_add_arg a;

    MS_ASSERT(s != NULL && device_id != NULL && c != NULL);
    if (!ms_store_sql_id_ok(device_id, MS_STORE_ID_MAX) ||
        c->serial_hex == NULL || c->subject_email == NULL)
        return ms_error_set(err, MS_EINVAL, "bad device id or certificate");
    memset(&a, 0, sizeof(a));
    a.device_id = device_id;
    a.cert = c;
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, cert_add_tx, &a, err);
}

typedef struct serial_arg {
    ms_store_serial_fn fn;
    void *arg;
} serial_arg;

static int
serial_row(const ms_store_row *r, void *arg, ms_error *err)
{
    serial_arg *a = arg;
    const char *serial;
    int rc;

    if ((rc = ms_store_col_text(r, 0, &serial, err)) != 0)
        return rc;
    if ((rc = a->fn(serial, a->arg)) != 0)
        return ms_error_set(err, rc, "certificate listing stopped");
    return 0;
}

int
ms_store_device_cert_list(ms_store *s, const char *device_id,
                          ms_store_serial_fn fn, void *arg, ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(device_id)};
    serial_arg a = {fn, arg};

    MS_ASSERT(s != NULL && device_id != NULL && fn != NULL);
    if (!ms_store_sql_id_ok(device_id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad device id");
    return ms_store_sql_exec(s,
                             "SELECT serial_hex FROM device_certs"
                             " WHERE device_id = ?1 ORDER BY serial_hex",
                             p, MS_SV_COUNT(p), serial_row, &a, err);
}
