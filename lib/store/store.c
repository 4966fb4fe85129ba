/*
 * store/store.c - the backend-independent half of the store: URL dispatch
 * (sqlite: to store_sqlite.c, postgresql:// and postgres:// to store_pg.c),
 * argument checks, the audit hash chain and its verification.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/store.h"
#include "store/store_backend.h"
#include "util/alloc.h"
#include "util/error.h"

const char ms_store_audit_genesis[MS_STORE_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

static const char sqlite_scheme[] = "sqlite:";
/* libpq takes the whole URI; both spellings are libpq's own. */
static const char *const pg_schemes[] = {"postgresql://", "postgres://"};

void
ms_store_cert_init(ms_store_cert *c)
{
    memset(c, 0, sizeof(*c));
    ms_buf_init(&c->der, MS_STORE_DER_MAX);
}

void
ms_store_cert_cleanup(ms_store_cert *c)
{
    if (c == NULL)
        return;
    ms_free(c->serial_hex);
    ms_free(c->issuer);
    ms_free(c->subject_email);
    ms_free(c->use);
    ms_buf_cleanup(&c->der);
    ms_store_cert_init(c);
}

int
ms_store_open(ms_store **out, const char *url, ms_error *err)
{
    size_t n = sizeof(sqlite_scheme) - 1;

    MS_ASSERT(out != NULL && url != NULL);
    *out = NULL;
    if (strncmp(url, sqlite_scheme, n) == 0) {
        if (url[n] == '\0')
            return ms_error_set(err, MS_EINVAL, "empty SQLite path");
        return ms_store_sqlite_open(out, url + n, err);
    }
    for (size_t i = 0; i < sizeof(pg_schemes) / sizeof(pg_schemes[0]); i++) {
        if (strncmp(url, pg_schemes[i], strlen(pg_schemes[i])) == 0)
            return ms_store_pg_open(out, url, err);
    }
    return ms_error_set(err, MS_EINVAL, "unknown database URL scheme");
}

void
ms_store_close(ms_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

void
ms_store_set_clock(ms_store *s, ms_clock_fn fn, void *arg)
{
    MS_ASSERT(s != NULL);
    s->clock = fn;
    s->clock_arg = arg;
}

/* A name: 1..MS_STORE_NAME_MAX bytes, printable ASCII. */
static bool
name_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (n >= MS_STORE_NAME_MAX || s[n] < 0x20 || s[n] > 0x7e)
            return false;
    }
    return n > 0;
}

/* Lower-case hex, 1..MS_STORE_SERIAL_HEX_MAX digits. */
static bool
serial_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (n >= MS_STORE_SERIAL_HEX_MAX)
            return false;
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    }
    return n > 0;
}

int
ms_store_next_serial(ms_store *s, const char *sequence_name, uint64_t *out,
                     ms_error *err)
{
    MS_ASSERT(s != NULL && sequence_name != NULL && out != NULL);
    if (!name_ok(sequence_name))
        return ms_error_set(err, MS_EINVAL, "bad sequence name");
    return s->ops->next_serial(s, sequence_name, 1, out, err);
}

int
ms_store_reserve_serials(ms_store *s, const char *sequence_name,
                         uint64_t count, uint64_t *first, ms_error *err)
{
    MS_ASSERT(s != NULL && sequence_name != NULL && first != NULL);
    if (!name_ok(sequence_name))
        return ms_error_set(err, MS_EINVAL, "bad sequence name");
    if (count < 1 || count > MS_STORE_RESERVE_MAX)
        return ms_error_set(err, MS_EINVAL, "cannot reserve %" PRIu64
                            " serials", count);
    return s->ops->next_serial(s, sequence_name, count, first, err);
}

static int64_t
store_now(ms_store *s)
{
    return (int64_t)(s->clock != NULL ? s->clock(s->clock_arg) : time(NULL));
}

int
ms_store_cert_check(const ms_store_cert *c, char *detail, size_t cap,
                    ms_error *err)
{
    if (c->serial_hex == NULL || !serial_ok(c->serial_hex))
        return ms_error_set(err, MS_EINVAL, "serial is not lower-case hex");
    if (c->issuer == NULL || !name_ok(c->issuer))
        return ms_error_set(err, MS_EINVAL, "bad issuer name");
    if (c->subject_email == NULL || !name_ok(c->subject_email))
        return ms_error_set(err, MS_EINVAL, "bad subject mailbox");
    if (c->level < 1 || c->level > 4)
        return ms_error_set(err, MS_EINVAL, "level %d not in 1..4", c->level);
    if (c->use == NULL ||
        (strcmp(c->use, "signing") != 0 && strcmp(c->use, "encryption") != 0))
        return ms_error_set(err, MS_EINVAL, "use is not signing/encryption");
    if (c->not_after < c->not_before)
        return ms_error_set(err, MS_EINVAL, "not_after before not_before");
    if (c->der.len == 0 || c->der.len > MS_STORE_DER_MAX)
        return ms_error_set(err, MS_EINVAL, "certificate size %zu", c->der.len);
    /* Every field is capped far below the detail size. */
    (void)snprintf(detail, cap,
                   "serial=%s issuer=\"%s\" subject=%s level=V%d use=%s"
                   " not_after=%" PRId64,
                   c->serial_hex, c->issuer, c->subject_email, c->level,
                   c->use, (int64_t)c->not_after);
    return 0;
}

int
ms_store_cert_insert(ms_store *s, const ms_store_cert *c, ms_error *err)
{
    char detail[MS_STORE_DETAIL_MAX];
    int rc;

    MS_ASSERT(s != NULL && c != NULL);
    if ((rc = ms_store_cert_check(c, detail, sizeof(detail), err)) != 0)
        return rc;
    return s->ops->cert_insert(s, c, store_now(s), detail, err);
}

int
ms_store_cert_get(ms_store *s, const char *issuer, const char *serial_hex,
                  ms_store_cert *out, ms_error *err)
{
    MS_ASSERT(s != NULL && issuer != NULL && serial_hex != NULL);
    MS_ASSERT(out != NULL);
    ms_store_cert_cleanup(out);
    if (!name_ok(issuer) || !serial_ok(serial_hex))
        return ms_error_set(err, MS_EINVAL, "bad issuer or serial");
    return s->ops->cert_get(s, issuer, serial_hex, out, err);
}

int
ms_store_cert_revoke(ms_store *s, const char *issuer, const char *serial_hex,
                     int reason, time_t at, ms_error *err)
{
    char detail[MS_STORE_DETAIL_MAX];

    MS_ASSERT(s != NULL && issuer != NULL && serial_hex != NULL);
    if (!name_ok(issuer) || !serial_ok(serial_hex))
        return ms_error_set(err, MS_EINVAL, "bad issuer or serial");
    /* CRLReason: 7 is unassigned, 10 (aACompromise) is the last. */
    if (reason < 0 || reason > 10 || reason == 7)
        return ms_error_set(err, MS_EINVAL, "bad revocation reason %d",
                            reason);
    (void)snprintf(detail, sizeof(detail),
                   "serial=%s issuer=\"%s\" reason=%d revoked_at=%" PRId64,
                   serial_hex, issuer, reason, (int64_t)at);
    return s->ops->cert_revoke(s, issuer, serial_hex, reason, at, store_now(s),
                               detail, err);
}

int
ms_store_revocation_epoch(ms_store *s, uint64_t *out, ms_error *err)
{
    MS_ASSERT(s != NULL && out != NULL);
    *out = 0;
    return s->ops->revocation_epoch(s, out, err);
}

int
ms_store_revoked_list(ms_store *s, const char *issuer, ms_store_revoked_fn fn,
                      void *arg, ms_error *err)
{
    MS_ASSERT(s != NULL && issuer != NULL && fn != NULL);
    if (!name_ok(issuer))
        return ms_error_set(err, MS_EINVAL, "bad issuer name");
    return s->ops->revoked_list(s, issuer, fn, arg, err);
}

int
ms_store_audit_append(ms_store *s, const char *event, const char *detail,
                      ms_error *err)
{
    MS_ASSERT(s != NULL && event != NULL && detail != NULL);
    if (!name_ok(event))
        return ms_error_set(err, MS_EINVAL, "bad audit event name");
    if (strlen(detail) > MS_STORE_DETAIL_MAX)
        return ms_error_set(err, MS_EINVAL, "audit detail over %d bytes",
                            MS_STORE_DETAIL_MAX);
    return s->ops->audit_append(s, store_now(s), event, detail, err);
}

static void
put_u64(unsigned char b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* Feeds an 8-byte big-endian length, then the text. */
static int
digest_text(EVP_MD_CTX *md, const char *s)
{
    unsigned char len[8];
    size_t n = strlen(s);

    put_u64(len, n);
    if (!EVP_DigestUpdate(md, len, sizeof(len)) ||
        !EVP_DigestUpdate(md, s, n))
        return 0;
    return 1;
}

int
ms_store_audit_hash(char out[MS_STORE_HASH_HEX], const char *prev_hash,
                    uint64_t id, int64_t time, const char *event,
                    const char *detail, ms_error *err)
{
    static const char hex[] = "0123456789abcdef";
    EVP_MD_CTX *md = NULL;
    unsigned char num[8], digest[32];
    unsigned int dlen = 0;
    int rc = 0;

    if ((md = EVP_MD_CTX_new()) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot allocate digest");
        goto out;
    }
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !digest_text(md, prev_hash))
        goto fail;
    put_u64(num, id);
    if (!EVP_DigestUpdate(md, num, sizeof(num)))
        goto fail;
    put_u64(num, (uint64_t)time);
    if (!EVP_DigestUpdate(md, num, sizeof(num)) || !digest_text(md, event) ||
        !digest_text(md, detail) || !EVP_DigestFinal_ex(md, digest, &dlen) ||
        dlen != sizeof(digest))
        goto fail;
    for (size_t i = 0; i < sizeof(digest); i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    out[2 * sizeof(digest)] = '\0';
    goto out;
fail:
    rc = ms_error_set_ossl(err, MS_ERR, "SHA-256 failed");
out:
    EVP_MD_CTX_free(md);
    return rc;
}

typedef struct verify_state {
    uint64_t rows;
    char prev[MS_STORE_HASH_HEX];
    ms_error *err;
} verify_state;

static int
verify_row(const ms_store_audit_row *row, void *arg)
{
    verify_state *v = arg;
    char want[MS_STORE_HASH_HEX];
    int rc;

    if (row->id != v->rows + 1)
        return ms_error_set(v->err, MS_EBADSIG,
                            "audit row %" PRIu64 ": expected id %" PRIu64,
                            row->id, v->rows + 1);
    if (strcmp(row->prev_hash, v->prev) != 0)
        return ms_error_set(v->err, MS_EBADSIG,
                            "audit row %" PRIu64 ": prev_hash breaks the chain",
                            row->id);
    if ((rc = ms_store_audit_hash(want, row->prev_hash, row->id, row->time,
                                  row->event, row->detail, v->err)) != 0)
        return rc;
    if (strcmp(want, row->hash) != 0)
        return ms_error_set(v->err, MS_EBADSIG,
                            "audit row %" PRIu64 ": hash does not match",
                            row->id);
    memcpy(v->prev, want, sizeof(v->prev));
    v->rows++;
    return 0;
}

int
ms_store_audit_verify(ms_store *s, uint64_t *rows_out, ms_error *err)
{
    verify_state v;
    int rc;

    MS_ASSERT(s != NULL && rows_out != NULL);
    v.rows = 0;
    memcpy(v.prev, ms_store_audit_genesis, sizeof(v.prev));
    v.err = err;
    rc = s->ops->audit_scan(s, verify_row, &v, err);
    *rows_out = v.rows;
    return rc;
}
