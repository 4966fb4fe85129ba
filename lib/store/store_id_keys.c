/*
 * store/store_id_keys.c - escrowed keys and API keys (store_id.h), written
 * once over store_sql.h.
 */
#include <stdio.h>
#include <string.h>

#include "store/store_id.h"
#include "store/store_sql.h"
#include "util/error.h"

static bool
email_ok(const char *e)
{
    return ms_store_sql_text_ok(e, MS_STORE_EMAIL_MAX) &&
           strchr(e, '@') != NULL;
}

/* MS_ENOTFOUND when no row of sql (parameters p, n) exists, else
 * MS_EPOLICY with why. */
static int
refused(ms_store *s, const char *sql, const ms_store_val *p, size_t n,
        const char *why, ms_error *err)
{
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s, sql, p, n, &rows, err)) != 0)
        return rc;
    return ms_error_set(err, rows == 0 ? MS_ENOTFOUND : MS_EPOLICY, "%s",
                        rows == 0 ? "not found" : why);
}

static int
key_check(const ms_store_escrow_key *k, const ms_store_cert *cert,
          ms_error *err)
{
    if (!ms_store_sql_id_ok(k->key_id, MS_STORE_ID_MAX) ||
        !email_ok(k->email) || !ms_store_sql_id_ok(k->alg, MS_STORE_ID_MAX) ||
        !ms_store_sql_id_ok(k->master_key_id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL,
                            "bad key id, mailbox, algorithm"
                            " or master key id");
    if (k->wrapped == NULL || k->wrapped_len == 0 ||
        k->wrapped_len > MS_STORE_WRAPPED_MAX)
        return ms_error_set(err, MS_EINVAL, "wrapped key of %zu bytes",
                            k->wrapped_len);
    if (cert == NULL && k->cert_serial[0] != '\0')
        return ms_error_set(err, MS_EINVAL, "cert_serial without certificate");
    if (cert != NULL &&
        (cert->serial_hex == NULL || cert->subject_email == NULL ||
         strcmp(cert->serial_hex, k->cert_serial) != 0 ||
         strcmp(cert->subject_email, k->email) != 0))
        return ms_error_set(err, MS_EINVAL, "certificate is not the key's");
    return 0;
}

typedef struct key_add_arg {
    const ms_store_escrow_key *k;
    const ms_store_cert *cert;
    bool rollover;
    char retired[MS_STORE_ID_MAX + 1];
} key_add_arg;

static int
retired_row(const ms_store_row *r, void *arg, ms_error *err)
{
    key_add_arg *a = arg;

    return ms_store_col_copy(a->retired, sizeof(a->retired), r, 0, err);
}

static int
key_add_tx(ms_store *s, void *arg, ms_error *err)
{
    key_add_arg *a = arg;
    const ms_store_escrow_key *k = a->k;
    int64_t now = ms_store_sql_now(s);
    ms_store_val pr[] = {MS_SV_TEXT(k->email), MS_SV_INT(now)};
    ms_store_val p[] = {MS_SV_TEXT(k->key_id),
                        MS_SV_TEXT(k->email),
                        MS_SV_TEXT(k->alg),
                        MS_SV_BLOB(k->wrapped, k->wrapped_len),
                        MS_SV_TEXT(k->master_key_id),
                        MS_SV_NULL,
                        MS_SV_INT(now)};
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    if (a->rollover &&
        (rc = ms_store_sql_exec(s,
                                "UPDATE escrow_keys SET retired_at = ?2"
                                " WHERE email = ?1 AND retired_at IS NULL"
                                " RETURNING key_id",
                                pr, MS_SV_COUNT(pr), retired_row, a, err)) != 0)
        return rc;
    if (a->cert != NULL) {
        ms_store_val ps = MS_SV_TEXT(k->cert_serial);

        p[5] = ps;
        if ((rc = ms_store_sql_cert_insert(s, a->cert, err)) != 0)
            return rc;
    }
    if ((rc = ms_store_sql_exec(s,
                                "INSERT INTO escrow_keys (key_id, email, alg,"
                                " wrapped, master_key_id, cert_serial,"
                                " created, retired_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
                                p, MS_SV_COUNT(p), NULL, NULL, err)) != 0)
        return rc == MS_EPOLICY
                   ? ms_error_set(err, rc,
                                  "key %s exists or %s has a current key",
                                  k->key_id, k->email)
                   : rc;
    (void)snprintf(detail, sizeof(detail),
                   "key=%s email=%s alg=%s master=%s cert=%s retired=%s",
                   k->key_id, k->email, k->alg, k->master_key_id,
                   a->cert != NULL ? k->cert_serial : "-",
                   a->retired[0] != '\0' ? a->retired : "-");
    return ms_store_sql_audit(s, "key.create", detail, err);
}

int
ms_store_escrow_key_add(ms_store *s, const ms_store_escrow_key *k,
                        const ms_store_cert *cert, bool rollover, ms_error *err)
{
    key_add_arg a;
    int rc;

    MS_ASSERT(s != NULL && k != NULL);
    if ((rc = key_check(k, cert, err)) != 0)
        return rc;
    memset(&a, 0, sizeof(a));
    a.k = k;
    a.cert = cert;
    a.rollover = rollover;
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, key_add_tx, &a, err);
}

typedef struct release_arg {
    const char *email;
    const char *by;
    ms_store_key_fn fn;
    void *arg;
    size_t keys;
    char ids[1024]; /* for the audit row; "..." when cut */
} release_arg;

static int
key_fill(ms_store_escrow_key *k, const ms_store_row *r, ms_error *err)
{
    int64_t created, retired;
    int rc;

    memset(k, 0, sizeof(*k));
    if ((rc = ms_store_col_copy(k->key_id, sizeof(k->key_id), r, 0, err)) !=
            0 ||
        (rc = ms_store_col_copy(k->email, sizeof(k->email), r, 1, err)) != 0 ||
        (rc = ms_store_col_copy(k->alg, sizeof(k->alg), r, 2, err)) != 0 ||
        (rc = ms_store_col_blob(r, 3, &k->wrapped, &k->wrapped_len, err)) !=
            0 ||
        (rc = ms_store_col_copy(k->master_key_id, sizeof(k->master_key_id), r,
                                4, err)) != 0 ||
        (rc = ms_store_col_copy(k->cert_serial, sizeof(k->cert_serial), r, 5,
                                err)) != 0 ||
        (rc = ms_store_col_int(r, 6, &created, err)) != 0 ||
        (rc = ms_store_col_int0(r, 7, &retired, err)) != 0)
        return rc;
    k->created = (time_t)created;
    k->retired_at = (time_t)retired;
    return 0;
}

static int
release_row(const ms_store_row *r, void *arg, ms_error *err)
{
    release_arg *a = arg;
    ms_store_escrow_key k;
    size_t used = strlen(a->ids);
    int rc;

    if ((rc = key_fill(&k, r, err)) != 0)
        return rc;
    if ((rc = a->fn(&k, a->arg)) != 0)
        return ms_error_set(err, rc, "key release stopped");
    if (used + strlen(k.key_id) + 5 < sizeof(a->ids))
        (void)snprintf(a->ids + used, sizeof(a->ids) - used, "%s%s",
                       a->keys > 0 ? "," : "", k.key_id);
    else if (used + 4 < sizeof(a->ids) && strstr(a->ids, "...") == NULL)
        memcpy(a->ids + used, "...", 4);
    a->keys++;
    return 0;
}

static int
release_tx(ms_store *s, void *arg, ms_error *err)
{
    release_arg *a = arg;
    ms_store_val p[] = {MS_SV_TEXT(a->email)};
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    if ((rc = ms_store_sql_exec(
             s,
             "SELECT key_id, email, alg, wrapped, master_key_id, cert_serial,"
             " created, retired_at FROM escrow_keys WHERE email = ?1"
             " ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END,"
             " created DESC, key_id",
             p, MS_SV_COUNT(p), release_row, a, err)) != 0)
        return rc;
    if (a->keys == 0)
        return ms_error_set(err, MS_ENOTFOUND, "no key for %s", a->email);
    (void)snprintf(detail, sizeof(detail), "email=%s by=%s keys=%zu ids=%s",
                   a->email, a->by, a->keys, a->ids);
    return ms_store_sql_audit(s, "key.release", detail, err);
}

int
ms_store_escrow_key_release(ms_store *s, const char *email, const char *by,
                            ms_store_key_fn fn, void *arg, ms_error *err)
{
    release_arg a;

    MS_ASSERT(s != NULL && email != NULL && by != NULL && fn != NULL);
    if (!email_ok(email) || !ms_store_sql_text_ok(by, MS_STORE_NAME_MAX))
        return ms_error_set(err, MS_EINVAL, "bad mailbox or requester");
    memset(&a, 0, sizeof(a));
    a.email = email;
    a.by = by;
    a.fn = fn;
    a.arg = arg;
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, release_tx, &a, err);
}

/* ---- API keys ---- */

static int
apikey_create_tx(ms_store *s, void *arg, ms_error *err)
{
    const ms_store_apikey *k = arg;
    ms_store_val p[] = {MS_SV_TEXT(k->id),
                        MS_SV_TEXT(k->name),
                        MS_SV_BLOB(k->key_hash, MS_STORE_SHA256),
                        MS_SV_NULL,
                        MS_SV_INT(k->rate_per_min),
                        MS_SV_INT(ms_store_sql_now(s))};
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    if (k->domain[0] != '\0') {
        ms_store_val d = MS_SV_TEXT(k->domain);

        p[3] = d;
    }
    if ((rc = ms_store_sql_exec(s,
                                "INSERT INTO api_keys (id, name, key_hash,"
                                " domain, rate_per_min, created, revoked_at)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                                p, MS_SV_COUNT(p), NULL, NULL, err)) != 0)
        return rc == MS_EPOLICY
                   ? ms_error_set(err, rc, "API key %s or its hash exists",
                                  k->id)
                   : rc;
    (void)snprintf(detail, sizeof(detail),
                   "id=%s name=\"%s\" domain=%s rate=%d", k->id, k->name,
                   k->domain[0] != '\0' ? k->domain : "*", k->rate_per_min);
    return ms_store_sql_audit(s, "apikey.create", detail, err);
}

int
ms_store_apikey_create(ms_store *s, const ms_store_apikey *k, ms_error *err)
{
    MS_ASSERT(s != NULL && k != NULL);
    if (!ms_store_sql_id_ok(k->id, MS_STORE_ID_MAX) ||
        !ms_store_sql_text_ok(k->name, MS_STORE_NAME_MAX) ||
        (k->domain[0] != '\0' &&
         !ms_store_sql_text_ok(k->domain, MS_STORE_EMAIL_MAX)) ||
        k->rate_per_min <= 0)
        return ms_error_set(err, MS_EINVAL,
                            "bad API key id, name, domain or"
                            " rate");
    /* The cast drops const only for the void * of the body. */
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, apikey_create_tx,
                           (void *)(uintptr_t)k, err);
}

#define APIKEY_COLS                                                            \
    "id, name, key_hash, domain, rate_per_min, created, revoked_at"

static int
apikey_fill(ms_store_apikey *k, const ms_store_row *r, ms_error *err)
{
    int64_t rate, created, revoked;
    int rc;

    memset(k, 0, sizeof(*k));
    if ((rc = ms_store_col_copy(k->id, sizeof(k->id), r, 0, err)) != 0 ||
        (rc = ms_store_col_copy(k->name, sizeof(k->name), r, 1, err)) != 0 ||
        (rc = ms_store_col_fixed(k->key_hash, MS_STORE_SHA256, r, 2, err)) !=
            0 ||
        (rc = ms_store_col_copy(k->domain, sizeof(k->domain), r, 3, err)) !=
            0 ||
        (rc = ms_store_col_int(r, 4, &rate, err)) != 0 ||
        (rc = ms_store_col_int(r, 5, &created, err)) != 0 ||
        (rc = ms_store_col_int0(r, 6, &revoked, err)) != 0)
        return rc;
    if (rate <= 0 || rate > INT32_MAX)
        return ms_error_set(err, MS_EIO, "API key %s has rate %lld", k->id,
                            (long long)rate);
    k->rate_per_min = (int)rate;
    k->created = (time_t)created;
    k->revoked_at = (time_t)revoked;
    return 0;
}

typedef struct apikey_arg {
    ms_store_apikey *one; /* by hash: the record */
    bool found;
    ms_store_apikey_fn fn; /* list */
    void *arg;
} apikey_arg;

static int
apikey_row(const ms_store_row *r, void *arg, ms_error *err)
{
    apikey_arg *a = arg;
    ms_store_apikey k;
    int rc;

    if ((rc = apikey_fill(a->one != NULL ? a->one : &k, r, err)) != 0)
        return rc;
    a->found = true;
    if (a->fn != NULL && (rc = a->fn(&k, a->arg)) != 0)
        return ms_error_set(err, rc, "API key listing stopped");
    return 0;
}

int
ms_store_apikey_by_hash(ms_store *s,
                        const unsigned char key_hash[MS_STORE_SHA256],
                        ms_store_apikey *out, ms_error *err)
{
    ms_store_val p[] = {MS_SV_BLOB(key_hash, MS_STORE_SHA256)};
    apikey_arg a = {out, false, NULL, NULL};
    int rc;

    MS_ASSERT(s != NULL && key_hash != NULL && out != NULL);
    rc = ms_store_sql_exec(
        s, "SELECT " APIKEY_COLS " FROM api_keys WHERE key_hash = ?1", p,
        MS_SV_COUNT(p), apikey_row, &a, err);
    if (rc == 0 && !a.found)
        rc = ms_error_set(err, MS_ENOTFOUND, "no API key with this hash");
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

static int
apikey_revoke_tx(ms_store *s, void *arg, ms_error *err)
{
    const char *id = arg;
    ms_store_val p[] = {MS_SV_TEXT(id), MS_SV_INT(ms_store_sql_now(s))};
    char detail[MS_STORE_DETAIL_MAX];
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s,
                                "UPDATE api_keys SET revoked_at = ?2"
                                " WHERE id = ?1 AND revoked_at IS NULL"
                                " RETURNING id",
                                p, MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    if (rows == 0)
        return refused(s, "SELECT 1 FROM api_keys WHERE id = ?1", p, 1,
                       "API key already revoked", err);
    (void)snprintf(detail, sizeof(detail), "id=%s", id);
    return ms_store_sql_audit(s, "apikey.revoke", detail, err);
}

int
ms_store_apikey_revoke(ms_store *s, const char *id, ms_error *err)
{
    MS_ASSERT(s != NULL && id != NULL);
    if (!ms_store_sql_id_ok(id, MS_STORE_ID_MAX))
        return ms_error_set(err, MS_EINVAL, "bad API key id");
    /* The cast drops const only for the void * of the body. */
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, apikey_revoke_tx,
                           (void *)(uintptr_t)id, err);
}

int
ms_store_apikey_list(ms_store *s, ms_store_apikey_fn fn, void *arg,
                     ms_error *err)
{
    apikey_arg a = {NULL, false, fn, arg};

    MS_ASSERT(s != NULL && fn != NULL);
    return ms_store_sql_exec(
        s, "SELECT " APIKEY_COLS " FROM api_keys ORDER BY created, id", NULL, 0,
        apikey_row, &a, err);
}
