/*
 * store/store_id_dir.c - directory publications, current-certificate
 * lookups, harvested certificates, invitations, opt-outs and one-time link
 * tokens (store_id.h), written once over store_sql.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/store_id.h"
#include "store/store_sql.h"
#include "util/error.h"

/* Certificates of one harvested message. */
#define HARVEST_MAX 16

static const char *const action_names[] = {"unpublish", "opt-out"};

static bool
email_ok(const char *e)
{
    return ms_store_sql_text_ok(e, MS_STORE_EMAIL_MAX) &&
           strchr(e, '@') != NULL;
}

/* Casts away const only for the void * argument of a transaction body. */
static void *
unconst(const void *p)
{
    return (void *)(uintptr_t)p;
}

static int
publish_tx(ms_store *s, void *arg, ms_error *err)
{
    const char *email = arg;
    ms_store_val p[] = {MS_SV_TEXT(email), MS_SV_INT(ms_store_sql_now(s))};
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    /* A mailbox published already keeps its first date. */
    if ((rc = ms_store_sql_exec(
             s,
             "INSERT INTO publications (email, published_at, unpublished_at)"
             " VALUES (?1, ?2, NULL) ON CONFLICT (email) DO UPDATE"
             " SET published_at = CASE WHEN publications.unpublished_at"
             " IS NULL THEN publications.published_at"
             " ELSE excluded.published_at END,"
             " unpublished_at = NULL",
             p, MS_SV_COUNT(p), NULL, NULL, err)) != 0)
        return rc;
    (void)snprintf(detail, sizeof(detail), "email=%s", email);
    return ms_store_sql_audit(s, "directory.publish", detail, err);
}

int
ms_store_directory_publish(ms_store *s, const char *email, ms_error *err)
{
    MS_ASSERT(s != NULL && email != NULL);
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, publish_tx, unconst(email),
                           err);
}

/* Unpublishes email inside the caller's audit transaction; *done says
 * whether it was published. */
static int
unpublish(ms_store *s, const char *email, const char *via, bool *done,
          ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email), MS_SV_INT(ms_store_sql_now(s))};
    char detail[MS_STORE_DETAIL_MAX];
    uint64_t rows = 0;
    int rc;

    *done = false;
    if ((rc = ms_store_sql_rows(s,
                                "UPDATE publications SET unpublished_at = ?2"
                                " WHERE email = ?1 AND unpublished_at IS NULL"
                                " RETURNING email",
                                p, MS_SV_COUNT(p), &rows, err)) != 0 ||
        rows == 0)
        return rc;
    *done = true;
    (void)snprintf(detail, sizeof(detail), "email=%s via=%s", email, via);
    return ms_store_sql_audit(s, "directory.unpublish", detail, err);
}

static int
unpublish_tx(ms_store *s, void *arg, ms_error *err)
{
    const char *email = arg;
    bool done = false;
    int rc;

    if ((rc = unpublish(s, email, "request", &done, err)) != 0)
        return rc;
    if (!done)
        return ms_error_set(err, MS_ENOTFOUND, "%s is not published", email);
    return 0;
}

int
ms_store_directory_unpublish(ms_store *s, const char *email, ms_error *err)
{
    MS_ASSERT(s != NULL && email != NULL);
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    return ms_store_sql_tx(s, MS_STORE_TX_AUDIT, unpublish_tx, unconst(email),
                           err);
}

int
ms_store_directory_published(ms_store *s, const char *email, bool *out,
                             ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email)};
    uint64_t rows = 0;
    int rc;

    MS_ASSERT(s != NULL && email != NULL && out != NULL);
    *out = false;
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    if ((rc = ms_store_sql_rows(s,
                                "SELECT 1 FROM publications"
                                " WHERE email = ?1 AND unpublished_at IS NULL",
                                p, MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    *out = rows > 0;
    return 0;
}

typedef struct lookup_arg {
    ms_store_dir_fn fn;
    void *arg;
    size_t n;
} lookup_arg;

static int
lookup_row(const ms_store_row *r, void *arg, ms_error *err)
{
    lookup_arg *a = arg;
    ms_store_dir_cert c;
    int64_t harvested, level, nb, na;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = ms_store_col_int(r, 0, &harvested, err)) != 0 ||
        (!ms_store_col_null(r, 1) &&
         (rc = ms_store_col_text(r, 1, &c.issuer, err)) != 0) ||
        (!ms_store_col_null(r, 2) &&
         (rc = ms_store_col_text(r, 2, &c.serial_hex, err)) != 0) ||
        (rc = ms_store_col_int(r, 3, &level, err)) != 0 ||
        (rc = ms_store_col_text(r, 4, &c.use, err)) != 0 ||
        (rc = ms_store_col_int(r, 5, &nb, err)) != 0 ||
        (rc = ms_store_col_int(r, 6, &na, err)) != 0 ||
        (rc = ms_store_col_blob(r, 7, &c.der, &c.der_len, err)) != 0)
        return rc;
    if (level < 1 || level > 4)
        return ms_error_set(err, MS_EIO, "certificate of level %lld",
                            (long long)level);
    c.harvested = harvested != 0;
    c.level = (int)level;
    c.not_before = (time_t)nb;
    c.not_after = (time_t)na;
    if ((rc = a->fn(&c, a->arg)) != 0)
        return ms_error_set(err, rc, "directory lookup stopped");
    a->n++;
    return 0;
}

/*
 * The directory read: one statement over indexed columns only
 * (publications by primary key, certs by certs_subject, revocations and
 * escrow_keys by key, harvested by harvested_email).
 */
static const char lookup_sql[] =
    "SELECT 0, c.issuer, c.serial_hex, c.level, c.cert_use, c.not_before,"
    " c.not_after, c.der"
    " FROM publications p JOIN certs c ON c.subject_email = p.email"
    " WHERE p.email = ?1 AND p.unpublished_at IS NULL"
    " AND c.not_before <= ?2 AND c.not_after > ?2"
    " AND NOT EXISTS (SELECT 1 FROM revocations r"
    " WHERE r.serial_hex = c.serial_hex)"
    " AND NOT EXISTS (SELECT 1 FROM escrow_keys k"
    " WHERE k.cert_serial = c.serial_hex AND k.retired_at IS NOT NULL)"
    " UNION ALL"
    " SELECT 1, NULL, NULL, h.level, h.cert_use, h.not_before, h.not_after,"
    " h.der"
    " FROM publications p JOIN harvested h ON h.email = p.email"
    " WHERE p.email = ?1 AND p.unpublished_at IS NULL"
    " AND h.not_before <= ?2 AND h.not_after > ?2"
    " ORDER BY 1, 7 DESC";

int
ms_store_directory_lookup(ms_store *s, const char *email, ms_store_dir_fn fn,
                          void *arg, ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email), MS_SV_INT(ms_store_sql_now(s))};
    lookup_arg a = {fn, arg, 0};
    int rc;

    MS_ASSERT(s != NULL && email != NULL && fn != NULL);
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    if ((rc = ms_store_sql_exec(s, lookup_sql, p, MS_SV_COUNT(p), lookup_row,
                                &a, err)) != 0)
        return rc;
    if (a.n == 0)
        return ms_error_set(err, MS_ENOTFOUND, "no current certificate");
    return 0;
}

int
ms_store_sql_publish_first(ms_store *s, const char *email, int64_t now,
                           ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email), MS_SV_INT(now)};
    char detail[MS_STORE_DETAIL_MAX];
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s,
                                "INSERT INTO publications (email, published_at)"
                                " VALUES (?1, ?2) ON CONFLICT (email)"
                                " DO NOTHING RETURNING email",
                                p, MS_SV_COUNT(p), &rows, err)) != 0 ||
        rows == 0)
        return rc;
    (void)snprintf(detail, sizeof(detail), "email=%s first=yes", email);
    return ms_store_sql_audit(s, "directory.publish", detail, err);
}

static int
harvest_check(const ms_store_harvest *h, ms_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!email_ok(h->email) || h->level < 1 || h->level > 4 ||
        (strcmp(h->use, "signing") != 0 && strcmp(h->use, "encryption") != 0) ||
        h->not_after < h->not_before || h->der == NULL || h->der_len == 0 ||
        h->der_len > MS_STORE_DER_MAX)
        return ms_error_set(err, MS_EINVAL, "bad harvested certificate");
    if (!EVP_Digest(h->der, h->der_len, md, &mdlen, EVP_sha256(), NULL))
        return ms_error_set_ossl(err, MS_ERR, "SHA-256 failed");
    if (mdlen != MS_STORE_SHA256 || memcmp(md, h->sha256, mdlen) != 0)
        return ms_error_set(err, MS_EINVAL, "fingerprint is not the DER's");
    return 0;
}

typedef struct harvest_arg {
    const ms_store_harvest *h;
    size_t n;
    bool publish;
    size_t stored;
} harvest_arg;

static int
harvest_tx(ms_store *s, void *arg, ms_error *err)
{
    harvest_arg *a = arg;
    int64_t now = ms_store_sql_now(s);
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    for (size_t i = 0; i < a->n; i++) {
        const ms_store_harvest *h = &a->h[i];
        ms_store_val p[] = {MS_SV_BLOB(h->sha256, MS_STORE_SHA256),
                            MS_SV_TEXT(h->email),
                            MS_SV_BLOB(h->der, h->der_len),
                            MS_SV_INT(h->level),
                            MS_SV_TEXT(h->use),
                            MS_SV_INT(h->not_before),
                            MS_SV_INT(h->not_after),
                            MS_SV_INT(now)};
        uint64_t rows = 0;

        if ((rc = ms_store_sql_rows(
                 s,
                 "INSERT INTO harvested (fingerprint, email, der, level,"
                 " cert_use, not_before, not_after, added_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                 " ON CONFLICT (fingerprint) DO NOTHING RETURNING email",
                 p, MS_SV_COUNT(p), &rows, err)) != 0)
            return rc;
        a->stored += (size_t)rows;
        if (a->publish && (rc = ms_store_sql_publish_first(
                               s, h->email, ms_store_sql_now(s), err)) != 0)
            return rc;
    }
    if (a->stored == 0)
        return 0;
    (void)snprintf(detail, sizeof(detail), "email=%s stored=%zu of=%zu",
                   a->h[0].email, a->stored, a->n);
    return ms_store_sql_audit(s, "directory.harvest", detail, err);
}

int
ms_store_harvest_add(ms_store *s, const ms_store_harvest *h, size_t n,
                     bool publish, size_t *stored_out, ms_error *err)
{
    harvest_arg a = {h, n, publish, 0};
    int rc;

    MS_ASSERT(s != NULL && h != NULL && stored_out != NULL);
    *stored_out = 0;
    if (n < 1 || n > HARVEST_MAX)
        return ms_error_set(err, MS_EINVAL, "%zu harvested certificates", n);
    for (size_t i = 0; i < n; i++) {
        if ((rc = harvest_check(&h[i], err)) != 0)
            return rc;
    }
    if ((rc = ms_store_sql_tx(s, MS_STORE_TX_AUDIT, harvest_tx, &a, err)) != 0)
        return rc;
    *stored_out = a.stored;
    return 0;
}

typedef struct invite_arg {
    const char *email;
    int64_t interval;
    ms_store_invite verdict;
} invite_arg;

static int
invite_tx(ms_store *s, void *arg, ms_error *err)
{
    invite_arg *a = arg;
    int64_t now = ms_store_sql_now(s);
    ms_store_val p[] = {MS_SV_TEXT(a->email), MS_SV_INT(now),
                        MS_SV_INT(now - a->interval)};
    uint64_t rows = 0;
    int rc;

    if ((rc = ms_store_sql_rows(s, "SELECT 1 FROM opt_outs WHERE email = ?1", p,
                                1, &rows, err)) != 0)
        return rc;
    if (rows > 0) {
        a->verdict = MS_STORE_INVITE_OPTED_OUT;
        return 0;
    }
    if ((rc = ms_store_sql_rows(
             s,
             "SELECT 1 FROM certs c WHERE c.subject_email = ?1"
             " AND c.not_before <= ?2 AND c.not_after > ?2"
             " AND NOT EXISTS (SELECT 1 FROM revocations r"
             " WHERE r.serial_hex = c.serial_hex)"
             " UNION ALL SELECT 1 FROM harvested h WHERE h.email = ?1"
             " AND h.not_before <= ?2 AND h.not_after > ?2",
             p, 2, &rows, err)) != 0)
        return rc;
    if (rows > 0) {
        a->verdict = MS_STORE_INVITE_HAS_CERT;
        return 0;
    }
    if ((rc = ms_store_sql_rows(s,
                                "INSERT INTO invitations (email, last_sent)"
                                " VALUES (?1, ?2) ON CONFLICT (email)"
                                " DO UPDATE SET last_sent = excluded.last_sent"
                                " WHERE invitations.last_sent <= ?3"
                                " RETURNING email",
                                p, MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    a->verdict = rows > 0 ? MS_STORE_INVITE_SEND : MS_STORE_INVITE_RECENT;
    return 0;
}

int
ms_store_invitation_claim(ms_store *s, const char *email, time_t interval,
                          ms_store_invite *out, ms_error *err)
{
    invite_arg a = {email, (int64_t)interval, MS_STORE_INVITE_RECENT};
    int rc;

    MS_ASSERT(s != NULL && email != NULL && out != NULL);
    if (!email_ok(email) || interval < 0)
        return ms_error_set(err, MS_EINVAL, "bad mailbox or interval");
    if ((rc = ms_store_sql_tx(s, MS_STORE_TX_WRITE, invite_tx, &a, err)) != 0)
        return rc;
    *out = a.verdict;
    return 0;
}

int
ms_store_optout_add(ms_store *s, const char *email, ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email), MS_SV_INT(ms_store_sql_now(s))};

    MS_ASSERT(s != NULL && email != NULL);
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    return ms_store_sql_exec(s,
                             "INSERT INTO opt_outs (email, opted_at)"
                             " VALUES (?1, ?2) ON CONFLICT (email) DO NOTHING",
                             p, MS_SV_COUNT(p), NULL, NULL, err);
}

int
ms_store_optout_check(ms_store *s, const char *email, bool *out, ms_error *err)
{
    ms_store_val p[] = {MS_SV_TEXT(email)};
    uint64_t rows = 0;
    int rc;

    MS_ASSERT(s != NULL && email != NULL && out != NULL);
    *out = false;
    if (!email_ok(email))
        return ms_error_set(err, MS_EINVAL, "bad mailbox");
    if ((rc = ms_store_sql_rows(s, "SELECT 1 FROM opt_outs WHERE email = ?1", p,
                                MS_SV_COUNT(p), &rows, err)) != 0)
        return rc;
    *out = rows > 0;
    return 0;
}

int
ms_store_action_token_add(ms_store *s,
                          const unsigned char token_hash[MS_STORE_SHA256],
                          const char *email, ms_store_action action,
                          time_t expires, ms_error *err)
{
    MS_ASSERT(s != NULL && token_hash != NULL && email != NULL);
    if (!email_ok(email) || (action != MS_STORE_ACTION_UNPUBLISH &&
                             action != MS_STORE_ACTION_OPT_OUT))
        return ms_error_set(err, MS_EINVAL, "bad mailbox or action");
    if ((int64_t)expires <= ms_store_sql_now(s))
        return ms_error_set(err, MS_EINVAL, "token expires in the past");
    {
        ms_store_val p[] = {MS_SV_BLOB(token_hash, MS_STORE_SHA256),
                            MS_SV_TEXT(email), MS_SV_TEXT(action_names[action]),
                            MS_SV_INT(expires)};

        return ms_store_sql_exec(s,
                                 "INSERT INTO action_tokens (token_hash, email,"
                                 " action, expires, used)"
                                 " VALUES (?1, ?2, ?3, ?4, 0)",
                                 p, MS_SV_COUNT(p), NULL, NULL, err);
    }
}

typedef struct use_arg {
    const unsigned char *hash;
    ms_store_action action;
    char email[MS_STORE_EMAIL_MAX + 1];
    bool found;
} use_arg;

static int
use_row(const ms_store_row *r, void *arg, ms_error *err)
{
    use_arg *a = arg;

    a->found = true;
    return ms_store_col_copy(a->email, sizeof(a->email), r, 0, err);
}

static int
use_tx(ms_store *s, void *arg, ms_error *err)
{
    use_arg *a = arg;
    int64_t now = ms_store_sql_now(s);
    ms_store_val p[] = {MS_SV_BLOB(a->hash, MS_STORE_SHA256),
                        MS_SV_TEXT(action_names[a->action]), MS_SV_INT(now)};
    uint64_t rows = 0;
    bool done = false;
    int rc;

    if ((rc = ms_store_sql_exec(s,
                                "UPDATE action_tokens SET used = 1"
                                " WHERE token_hash = ?1 AND action = ?2"
                                " AND used = 0 AND expires > ?3"
                                " RETURNING email",
                                p, MS_SV_COUNT(p), use_row, a, err)) != 0)
        return rc;
    if (!a->found) {
        if ((rc = ms_store_sql_rows(s,
                                    "SELECT 1 FROM action_tokens"
                                    " WHERE token_hash = ?1 AND action = ?2",
                                    p, 2, &rows, err)) != 0)
            return rc;
        return rows == 0
                   ? ms_error_set(err, MS_ENOTFOUND, "unknown link token")
                   : ms_error_set(err, MS_EPOLICY, "link used or expired");
    }
    if (a->action == MS_STORE_ACTION_UNPUBLISH)
        return unpublish(s, a->email, "link", &done, err);
    {
        ms_store_val po[] = {MS_SV_TEXT(a->email), MS_SV_INT(now)};

        return ms_store_sql_exec(s,
                                 "INSERT INTO opt_outs (email, opted_at)"
                                 " VALUES (?1, ?2) ON CONFLICT (email)"
                                 " DO NOTHING",
                                 po, MS_SV_COUNT(po), NULL, NULL, err);
    }
}

int
ms_store_action_token_use(ms_store *s,
                          const unsigned char token_hash[MS_STORE_SHA256],
                          ms_store_action action,
                          char email_out[MS_STORE_EMAIL_MAX + 1], ms_error *err)
{
    use_arg a;
    int rc;

    MS_ASSERT(s != NULL && token_hash != NULL);
    if (action != MS_STORE_ACTION_UNPUBLISH &&
        action != MS_STORE_ACTION_OPT_OUT)
        return ms_error_set(err, MS_EINVAL, "bad action");
    memset(&a, 0, sizeof(a));
    a.hash = token_hash;
    a.action = action;
    if ((rc = ms_store_sql_tx(s, MS_STORE_TX_AUDIT, use_tx, &a, err)) != 0)
        return rc;
    if (email_out != NULL)
        memcpy(email_out, a.email, sizeof(a.email));
    return 0;
}
