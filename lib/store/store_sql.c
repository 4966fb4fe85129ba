/*
 * store/store_sql.c - the backend-independent helpers of the generic
 * statement layer: transactions around a body, the audit chain written
 * once over exec, typed column access.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/store_sql.h"
#include "util/error.h"

int
ms_store_sql_tx(ms_store *s, int mode, ms_store_tx_fn fn, void *arg,
                ms_error *err)
{
    int rc;

    if ((rc = s->ops->begin(s, mode, err)) != 0)
        return rc;
    if ((rc = fn(s, arg, err)) != 0) {
        s->ops->rollback(s);
        return rc;
    }
    return s->ops->commit(s, err);
}

int
ms_store_sql_exec(ms_store *s, const char *sql, const ms_store_val *p, size_t n,
                  ms_store_row_fn fn, void *arg, ms_error *err)
{
    MS_ASSERT(n <= MS_STORE_PARAMS_MAX);
    return s->ops->exec(s, sql, p, n, fn, arg, err);
}

static int
count_row(const ms_store_row *row, void *arg, ms_error *err)
{
    (void)row;
    (void)err;
    (*(uint64_t *)arg)++;
    return 0;
}

int
ms_store_sql_rows(ms_store *s, const char *sql, const ms_store_val *p, size_t n,
                  uint64_t *rows_out, ms_error *err)
{
    *rows_out = 0;
    return ms_store_sql_exec(s, sql, p, n, count_row, rows_out, err);
}

typedef struct int_arg {
    int64_t v;
    bool found;
} int_arg;

static int
int_row(const ms_store_row *row, void *arg, ms_error *err)
{
    int_arg *a = arg;
    int rc;

    if (a->found)
        return 0; /* the first row counts */
    if ((rc = ms_store_col_int(row, 0, &a->v, err)) != 0)
        return rc;
    a->found = true;
    return 0;
}

int
ms_store_sql_int(ms_store *s, const char *sql, const ms_store_val *p, size_t n,
                 int64_t *out, bool *found, ms_error *err)
{
    int_arg a = {0, false};
    int rc;

    if ((rc = ms_store_sql_exec(s, sql, p, n, int_row, &a, err)) != 0)
        return rc;
    *found = a.found;
    if (a.found)
        *out = a.v;
    return 0;
}

int64_t
ms_store_sql_now(ms_store *s)
{
    return (int64_t)(s->clock != NULL ? s->clock(s->clock_arg) : time(NULL));
}

typedef struct last_arg {
    int64_t id;
    char hash[MS_STORE_HASH_HEX];
} last_arg;

static int
last_row(const ms_store_row *row, void *arg, ms_error *err)
{
    last_arg *a = arg;
    const char *h;
    int rc;

    if ((rc = ms_store_col_int(row, 0, &a->id, err)) != 0 ||
        (rc = ms_store_col_text(row, 1, &h, err)) != 0)
        return rc;
    if (strlen(h) != MS_STORE_HASH_HEX - 1)
        return ms_error_set(err, MS_EBADSIG, "last audit row has a bad hash");
    memcpy(a->hash, h, MS_STORE_HASH_HEX);
    return 0;
}

int
ms_store_sql_audit(ms_store *s, const char *event, const char *detail,
                   ms_error *err)
{
    char hash[MS_STORE_HASH_HEX];
    int64_t now = ms_store_sql_now(s);
    last_arg a = {0, {0}};
    int rc;

    MS_ASSERT(ms_store_sql_text_ok(event, MS_STORE_NAME_MAX));
    MS_ASSERT(strlen(detail) <= MS_STORE_DETAIL_MAX);
    memcpy(a.hash, ms_store_audit_genesis, MS_STORE_HASH_HEX);
    if ((rc = ms_store_sql_exec(
             s, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", NULL, 0,
             last_row, &a, err)) != 0)
        return rc;
    if (a.id < 0 || a.id == INT64_MAX)
        return ms_error_set(err, MS_ETOOBIG, "audit log full");
    if ((rc = ms_store_audit_hash(hash, a.hash, (uint64_t)a.id + 1, now, event,
                                  detail, err)) != 0)
        return rc;
    {
        ms_store_val p[] = {MS_SV_INT(a.id + 1), MS_SV_INT(now),
                            MS_SV_TEXT(event),   MS_SV_TEXT(detail),
                            MS_SV_TEXT(a.hash),  MS_SV_TEXT(hash)};

        return ms_store_sql_exec(s,
                                 "INSERT INTO audit (id, time, event, detail,"
                                 " prev_hash, hash)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                 p, MS_SV_COUNT(p), NULL, NULL, err);
    }
}

bool
ms_store_col_null(const ms_store_row *r, size_t i)
{
    return i >= r->n || r->col[i].type == MS_STORE_VNULL;
}

static int
col_of(const ms_store_row *r, size_t i, ms_store_vtype t,
       const ms_store_val **out, ms_error *err)
{
    if (i >= r->n || r->col[i].type != t)
        return ms_error_set(err, MS_EIO, "column %zu: unexpected type", i);
    *out = &r->col[i];
    return 0;
}

int
ms_store_col_int(const ms_store_row *r, size_t i, int64_t *out, ms_error *err)
{
    const ms_store_val *v = NULL;
    int rc;

    if ((rc = col_of(r, i, MS_STORE_VINT, &v, err)) != 0)
        return rc;
    *out = v->i;
    return 0;
}

int
ms_store_col_int0(const ms_store_row *r, size_t i, int64_t *out, ms_error *err)
{
    if (i < r->n && r->col[i].type == MS_STORE_VNULL) {
        *out = 0;
        return 0;
    }
    return ms_store_col_int(r, i, out, err);
}

int
ms_store_col_text(const ms_store_row *r, size_t i, const char **out,
                  ms_error *err)
{
    const ms_store_val *v = NULL;
    int rc;

    if ((rc = col_of(r, i, MS_STORE_VTEXT, &v, err)) != 0)
        return rc;
    *out = v->p != NULL ? v->p : "";
    return 0;
}

int
ms_store_col_blob(const ms_store_row *r, size_t i, const unsigned char **out,
                  size_t *len, ms_error *err)
{
    const ms_store_val *v = NULL;
    int rc;

    if ((rc = col_of(r, i, MS_STORE_VBLOB, &v, err)) != 0)
        return rc;
    *out = v->p != NULL ? v->p : (const unsigned char *)"";
    *len = v->len;
    return 0;
}

int
ms_store_col_copy(char *dst, size_t cap, const ms_store_row *r, size_t i,
                  ms_error *err)
{
    const char *t = "";
    int rc;

    if (!ms_store_col_null(r, i) &&
        (rc = ms_store_col_text(r, i, &t, err)) != 0)
        return rc;
    if (strlen(t) >= cap)
        return ms_error_set(err, MS_EIO, "column %zu: text too long", i);
    memcpy(dst, t, strlen(t) + 1);
    return 0;
}

int
ms_store_col_fixed(unsigned char *dst, size_t len, const ms_store_row *r,
                   size_t i, ms_error *err)
{
    const unsigned char *b;
    size_t n;
    int rc;

    if ((rc = ms_store_col_blob(r, i, &b, &n, err)) != 0)
        return rc;
    if (n != len)
        return ms_error_set(err, MS_EIO, "column %zu: %zu bytes, not %zu", i, n,
                            len);
    memcpy(dst, b, len);
    return 0;
}

bool
ms_store_sql_text_ok(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (n >= max || s[n] < 0x20 || s[n] > 0x7e)
            return false;
    }
    return n > 0;
}

bool
ms_store_sql_id_ok(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];

        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

int
ms_store_sql_cert_insert(ms_store *s, const ms_store_cert *c, ms_error *err)
{
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    if ((rc = ms_store_cert_check(c, detail, sizeof(detail), err)) != 0)
        return rc;
    {
        ms_store_val p[] = {
            MS_SV_TEXT(c->serial_hex),    MS_SV_TEXT(c->issuer),
            MS_SV_TEXT(c->subject_email), MS_SV_INT(c->level),
            MS_SV_TEXT(c->use),           MS_SV_INT(c->not_before),
            MS_SV_INT(c->not_after),      MS_SV_BLOB(c->der.data, c->der.len)};

        rc = ms_store_sql_exec(s,
                               "INSERT INTO certs (serial_hex, issuer,"
                               " subject_email, level, cert_use, not_before,"
                               " not_after, der)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                               p, MS_SV_COUNT(p), NULL, NULL, err);
    }
    if (rc == MS_EPOLICY)
        return ms_error_set(err, rc, "serial %s already issued", c->serial_hex);
    if (rc != 0)
        return rc;
    return ms_store_sql_audit(s, "cert.issue", detail, err);
}

int
ms_store_sql_cert_revoke(ms_store *s, const char *issuer,
                         const char *serial_hex, int reason, int64_t at,
                         ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(serial_hex), MS_SV_INT(at),
                        MS_SV_INT(reason)};
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    if ((rc = ms_store_sql_exec(s,
                                "INSERT INTO revocations (serial_hex,"
                                " revoked_at, reason) VALUES (?1, ?2, ?3)",
                                p, MS_SV_COUNT(p), NULL, NULL, err)) != 0)
        return rc;
    if ((rc = ms_store_sql_exec(s,
                                "INSERT INTO sequences (name, value)"
                                " VALUES ('revocations', 1) ON CONFLICT (name)"
                                " DO UPDATE SET value = sequences.value + 1",
                                NULL, 0, NULL, NULL, err)) != 0)
        return rc;
    (void)snprintf(detail, sizeof(detail),
                   "serial=%s issuer=\"%s\" reason=%d revoked_at=%" PRId64,
                   serial_hex, issuer, reason, at);
    return ms_store_sql_audit(s, "cert.revoke", detail, err);
}
