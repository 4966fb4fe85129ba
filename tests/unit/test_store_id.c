/*
 * tests/unit/test_store_id.c - lib/store/store_id.h (the issue-4 store)
 * and the generic statement layer under it, on SQLite and, when
 * MS_STORE_TEST_URL_FILE names a file holding a PostgreSQL URL (ctest
 * fixture "pg", tests/support/pg-cluster.sh), on PostgreSQL.
 *
 * Every case gets an empty store: a new SQLite file in a temporary
 * directory, or the schema ms_store_id_test of the PostgreSQL database
 * dropped and created again (its own schema, so it may run beside
 * test_store). The clock is fixed (ms_store_set_clock) and moved by hand.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <mailseal/error.h>

#include "ms_test.h"
#include "store/store.h"
#include "store/store_id.h"
#include "util/alloc.h"

#define ISSUER "mailseal V1 Mailbox CA"
#define DAY    86400

static bool use_pg;
static char pg_url[1024];
static time_t now = MS_TEST_NOW;

static const unsigned char der_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x00};

typedef struct fixture {
    char dir[64];
    char db[96];
    char url[1100];
} fixture;

static void
pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void
pg_raw_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_url);
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect: %s", PQerrorMessage(c));
    (void)PQsetNoticeProcessor(c, pg_quiet, NULL); /* returns the old one */
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    now = MS_TEST_NOW;
    if (use_pg) {
        pg_raw_exec("DROP SCHEMA IF EXISTS ms_store_id_test CASCADE;"
                    " CREATE SCHEMA ms_store_id_test");
        (void)snprintf(f->url, sizeof(f->url), "%s", pg_url);
    } else {
        memcpy(f->dir, "/tmp/ms-store-id-XXXXXX",
               sizeof("/tmp/ms-store-id-XXXXXX"));
        if (mkdtemp(f->dir) == NULL) {
            free(f);
            return -1;
        }
        (void)snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir);
        (void)snprintf(f->url, sizeof(f->url), "sqlite:%s", f->db);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    const char *const suffix[] = {"", "-wal", "-shm"};
    char p[128];

    for (size_t i = 0; !use_pg && i < 3; i++) {
        if (snprintf(p, sizeof(p), "%s%s", f->db, suffix[i]) < (int)sizeof(p))
            (void)unlink(p); /* may not exist */
    }
    if (!use_pg)
        (void)rmdir(f->dir); /* best effort: only our files were in it */
    free(f);
    return 0;
}

static ms_store *
open_store(void **state)
{
    fixture *f = *state;
    ms_store *s = NULL;
    ms_error err;

    if (ms_store_open(&s, f->url, &err) != 0)
        fail_msg("open %s: %s", f->url, err.msg);
    ms_store_set_clock(s, ms_test_clock, &now);
    return s;
}

/* Rows of the audit chain, which must verify. */
static uint64_t
audit_rows(ms_store *s)
{
    uint64_t rows = 0;
    ms_error err;

    if (ms_store_audit_verify(s, &rows, &err) != 0)
        fail_msg("audit: %s", err.msg);
    return rows;
}

static void
hash_of(unsigned char out[MS_STORE_SHA256], const char *secret)
{
    unsigned int n = 0;

    assert_true(
        EVP_Digest(secret, strlen(secret), out, &n, EVP_sha256(), NULL));
    assert_int_equal(n, MS_STORE_SHA256);
}

static void
make_validation(ms_store_validation *v, const char *id, const char *email,
                const char *secret)
{
    char poll[64];

    memset(v, 0, sizeof(*v));
    (void)snprintf(v->id, sizeof(v->id), "%s", id);
    (void)snprintf(v->email, sizeof(v->email), "%s", email);
    (void)snprintf(v->device, sizeof(v->device), "laptop of %s", id);
    hash_of(v->code_hash, secret);
    (void)snprintf(poll, sizeof(poll), "poll-%s", id);
    hash_of(v->poll_hash, poll);
    v->expires = now + DAY;
}

static void
create_validation(ms_store *s, const char *id, const char *email)
{
    ms_store_validation v;
    ms_error err;

    make_validation(&v, id, email, "code");
    if (ms_store_validation_create(s, &v, &err) != 0)
        fail_msg("validation: %s", err.msg);
}

/* A validated device dev_id of email (token "tok-<dev_id>"). */
static void
make_device(ms_store *s, const char *dev_id, const char *email,
            ms_store_device *d)
{
    unsigned char tok[MS_STORE_SHA256];
    char vid[80], secret[80];
    ms_error err;

    (void)snprintf(vid, sizeof(vid), "v-%s", dev_id);
    (void)snprintf(secret, sizeof(secret), "tok-%s", dev_id);
    create_validation(s, vid, email);
    hash_of(tok, secret);
    if (ms_store_validation_redeem(s, vid, dev_id, tok, false, d, &err) != 0)
        fail_msg("redeem: %s", err.msg);
}

static void
make_cert(ms_store_cert *c, char *serial, char *email, char *use)
{
    static char issuer[] = ISSUER;

    ms_store_cert_init(c);
    c->serial_hex = serial;
    c->issuer = issuer;
    c->subject_email = email;
    c->level = 1;
    c->use = use;
    c->not_before = now - DAY;
    c->not_after = now + 365 * DAY;
    assert_int_equal(ms_buf_append(&c->der, der_bytes, sizeof(der_bytes)), 0);
}

static void
test_store_id__validation_create_get(void **state)
{
    ms_store *s = open_store(state);
    ms_store_validation v, got;
    ms_error err;

    make_validation(&v, "val1", "a@example.org", "code");
    assert_int_equal(ms_store_validation_create(s, &v, &err), 0);
    assert_int_equal(ms_store_validation_get(s, "val1", &got, &err), 0);
    assert_string_equal(got.email, "a@example.org");
    assert_string_equal(got.device, "laptop of val1");
    assert_memory_equal(got.code_hash, v.code_hash, MS_STORE_SHA256);
    assert_memory_equal(got.poll_hash, v.poll_hash, MS_STORE_SHA256);
    assert_true(got.created == now && got.expires == now + DAY);
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.state, MS_STORE_VPENDING);
    /* Same id; same poll hash under another id: nothing written. */
    assert_int_equal(ms_store_validation_create(s, &v, &err), MS_EPOLICY);
    memcpy(v.id, "val2", 5);
    assert_int_equal(ms_store_validation_create(s, &v, &err), MS_EPOLICY);
    assert_int_equal(ms_store_validation_get(s, "val2", &got, &err),
                     MS_ENOTFOUND);
    /* Bad arguments. */
    memcpy(v.id, "val/3", 6);
    assert_int_equal(ms_store_validation_create(s, &v, &err), MS_EINVAL);
    make_validation(&v, "val4", "no-at-sign", "code");
    assert_int_equal(ms_store_validation_create(s, &v, &err), MS_EINVAL);
    make_validation(&v, "val5", "a@example.org", "c");
    v.expires = now;
    assert_int_equal(ms_store_validation_create(s, &v, &err), MS_EINVAL);
    assert_int_equal(ms_store_validation_get(s, "x y", &got, &err), MS_EINVAL);
    /* Confirm: once, not when unknown or expired. */
    assert_int_equal(ms_store_validation_confirm(s, "val1", &err), 0);
    assert_int_equal(ms_store_validation_get(s, "val1", &got, &err), 0);
    assert_int_equal(got.state, MS_STORE_VCONFIRMED);
    assert_int_equal(ms_store_validation_confirm(s, "val1", &err), MS_EPOLICY);
    assert_int_equal(ms_store_validation_confirm(s, "nope", &err),
                     MS_ENOTFOUND);
    create_validation(s, "val6", "b@example.org");
    now += DAY;
    assert_int_equal(ms_store_validation_confirm(s, "val6", &err), MS_EPOLICY);
    assert_true(audit_rows(s) == 0);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_store_id__validation_attempts(void **state)
{
    ms_store *s = open_store(state);
    ms_store_device d;
    unsigned char tok[MS_STORE_SHA256];
    bool dead = true;
    int attempts = 0;
    ms_error err;

    create_validation(s, "val1", "a@example.org");
    for (int i = 1; i < MS_STORE_ATTEMPTS_MAX; i++) {
        assert_int_equal(
            ms_store_validation_fail(s, "val1", &attempts, &dead, &err), 0);
        assert_int_equal(attempts, i);
        assert_false(dead);
    }
    assert_int_equal(
        ms_store_validation_fail(s, "val1", &attempts, &dead, &err), 0);
    assert_int_equal(attempts, MS_STORE_ATTEMPTS_MAX);
    assert_true(dead);
    /* Dead is final: no more counting, no credential. */
    assert_int_equal(
        ms_store_validation_fail(s, "val1", &attempts, &dead, &err),
        MS_EPOLICY);
    hash_of(tok, "t");
    assert_int_equal(
        ms_store_validation_redeem(s, "val1", "dev1", tok, false, &d, &err),
        MS_EPOLICY);
    assert_int_equal(
        ms_store_validation_fail(s, "nope", &attempts, &dead, &err),
        MS_ENOTFOUND);
    ms_store_close(s);
}

/* Two handles count wrong codes at once: each count is seen once. */
#define FAILERS 2
#define TRIES   200

typedef struct failer {
    const char *url;
    pthread_barrier_t *start;
    int seen[MS_STORE_ATTEMPTS_MAX + 1];
    int rc;
} failer;

static void *
fail_worker(void *arg)
{
    failer *w = arg;
    ms_store *s = NULL;
    ms_error err;
    bool dead = false;
    int attempts, rc;

    if ((w->rc = ms_store_open(&s, w->url, &err)) != 0)
        return NULL;
    (void)pthread_barrier_wait(w->start); /* 0 or SERIAL_THREAD: both go */
    for (int i = 0; i < TRIES; i++) {
        rc = ms_store_validation_fail(s, "val1", &attempts, &dead, &err);
        if (rc == MS_ETEMP)
            continue;
        if (rc == MS_EPOLICY)
            break; /* dead */
        if (rc != 0 || attempts < 1 || attempts > MS_STORE_ATTEMPTS_MAX) {
            w->rc = rc != 0 ? rc : MS_ERR;
            break;
        }
        w->seen[attempts]++;
    }
    ms_store_close(s);
    return NULL;
}

static void
test_store_id__attempts_atomic(void **state)
{
    fixture *f = *state;
    ms_store *s = open_store(state);
    pthread_barrier_t start;
    pthread_t th[FAILERS];
    failer w[FAILERS];
    ms_store_validation v;
    ms_error err;

    create_validation(s, "val1", "a@example.org");
    assert_int_equal(pthread_barrier_init(&start, NULL, FAILERS), 0);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < FAILERS; i++) {
        w[i].url = f->url;
        w[i].start = &start;
        assert_int_equal(pthread_create(&th[i], NULL, fail_worker, &w[i]), 0);
    }
    for (int i = 0; i < FAILERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].rc, 0);
    }
    assert_int_equal(pthread_barrier_destroy(&start), 0);
    for (int n = 1; n <= MS_STORE_ATTEMPTS_MAX; n++)
        assert_int_equal(w[0].seen[n] + w[1].seen[n], 1);
    assert_int_equal(ms_store_validation_get(s, "val1", &v, &err), 0);
    assert_int_equal(v.attempts, MS_STORE_ATTEMPTS_MAX);
    assert_int_equal(v.state, MS_STORE_VDEAD);
    ms_store_close(s);
}

static void
test_store_id__redeem(void **state)
{
    ms_store *s = open_store(state);
    unsigned char tok[MS_STORE_SHA256];
    ms_store_validation v;
    ms_store_device d, got;
    time_t proven = 0;
    bool published = false;
    ms_error err;

    create_validation(s, "val1", "a@example.org");
    hash_of(tok, "token-1");
    /* The credential call needs the link to have been followed. */
    assert_int_equal(
        ms_store_validation_redeem(s, "val1", "dev1", tok, true, &d, &err),
        MS_EPOLICY);
    assert_int_equal(ms_store_validation_confirm(s, "val1", &err), 0);
    assert_int_equal(
        ms_store_validation_redeem(s, "val1", "dev1", tok, true, &d, &err), 0);
    assert_string_equal(d.id, "dev1");
    assert_string_equal(d.email, "a@example.org");
    assert_string_equal(d.name, "laptop of val1");
    assert_true(d.created == now && d.proven_at == now && d.revoked_at == 0);
    /* device.create and, on first proof, directory.publish. */
    assert_true(audit_rows(s) == 2);
    assert_int_equal(ms_store_validation_get(s, "val1", &v, &err), 0);
    assert_int_equal(v.state, MS_STORE_VUSED);
    assert_int_equal(
        ms_store_mailbox_proven_at(s, "a@example.org", &proven, &err), 0);
    assert_true(proven == now);
    assert_int_equal(
        ms_store_directory_published(s, "a@example.org", &published, &err), 0);
    assert_true(published);
    /* Single use. */
    assert_int_equal(
        ms_store_validation_redeem(s, "val1", "dev2", tok, false, &d, &err),
        MS_EPOLICY);
    assert_int_equal(
        ms_store_validation_redeem(s, "nope", "dev2", tok, false, &d, &err),
        MS_ENOTFOUND);
    /* Lookups by token hash are exact. */
    assert_int_equal(ms_store_device_by_token(s, tok, &got, &err), 0);
    assert_string_equal(got.id, "dev1");
    assert_string_equal(got.email, "a@example.org");
    tok[0] ^= 1;
    assert_int_equal(ms_store_device_by_token(s, tok, &got, &err),
                     MS_ENOTFOUND);
    /* A second proof keeps the publication (no second publish row). */
    now += 100;
    make_device(s, "dev3", "a@example.org", &d);
    assert_true(audit_rows(s) == 3);
    assert_int_equal(
        ms_store_mailbox_proven_at(s, "a@example.org", &proven, &err), 0);
    assert_true(proven == now);
    assert_int_equal(
        ms_store_mailbox_proven_at(s, "b@example.org", &proven, &err),
        MS_ENOTFOUND);
    /* Expired. */
    create_validation(s, "val9", "c@example.org");
    now += DAY;
    hash_of(tok, "token-9");
    assert_int_equal(
        ms_store_validation_redeem(s, "val9", "dev9", tok, false, &d, &err),
        MS_EPOLICY);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A failure late in the transaction undoes its earlier statements and
 * writes no audit row. */
static void
test_store_id__redeem_rolls_back(void **state)
{
    ms_store *s = open_store(state);
    unsigned char tok[MS_STORE_SHA256];
    ms_store_validation v;
    ms_store_device d;
    bool published = true;
    time_t proven;
    uint64_t rows;
    ms_error err;

    make_device(s, "dev1", "a@example.org", &d);
    rows = audit_rows(s);
    create_validation(s, "val2", "b@example.org");
    /* Duplicate token hash: the device insert fails after the validation
     * was marked used and the mailbox proven. */
    hash_of(tok, "tok-dev1");
    assert_int_equal(
        ms_store_validation_redeem(s, "val2", "dev2", tok, false, &d, &err),
        MS_EPOLICY);
    assert_string_equal(d.id, "");
    /* Duplicate device id. */
    hash_of(tok, "tok-new");
    assert_int_equal(
        ms_store_validation_redeem(s, "val2", "dev1", tok, false, &d, &err),
        MS_EPOLICY);
    assert_true(audit_rows(s) == rows);
    assert_int_equal(ms_store_validation_get(s, "val2", &v, &err), 0);
    assert_int_equal(v.state, MS_STORE_VPENDING);
    assert_int_equal(
        ms_store_mailbox_proven_at(s, "b@example.org", &proven, &err),
        MS_ENOTFOUND);
    assert_int_equal(
        ms_store_directory_published(s, "b@example.org", &published, &err), 0);
    assert_false(published);
    /* And it still works afterwards. */
    assert_int_equal(
        ms_store_validation_redeem(s, "val2", "dev2", tok, false, &d, &err), 0);
    ms_store_close(s);
}

static int
count_device(const ms_store_device *d, void *arg)
{
    (void)d;
    (*(int *)arg)++;
    return 0;
}

static int
save_serial(const char *serial, void *arg)
{
    (void)snprintf(arg, 64, "%s", serial);
    return 0;
}

static void
test_store_id__device_certs_revoke(void **state)
{
    ms_store *s = open_store(state);
    char serial[] = "0a01", serial2[] = "0a02", email[] = "a@example.org";
    char other[] = "b@example.org", use[] = "signing", got_serial[64] = "";
    ms_store_device d;
    ms_store_cert c, got;
    uint64_t rows, epoch = 9;
    size_t revoked = 0;
    int n = 0;
    ms_error err;

    make_device(s, "dev1", "a@example.org", &d);
    make_device(s, "dev2", "a@example.org", &d);
    rows = audit_rows(s);
    make_cert(&c, serial, email, use);
    assert_int_equal(ms_store_device_cert_add(s, "dev1", &c, &err), 0);
    assert_true(audit_rows(s) == rows + 1); /* cert.issue */
    assert_int_equal(ms_store_device_cert_add(s, "dev1", &c, &err), MS_EPOLICY);
    assert_int_equal(ms_store_device_cert_add(s, "nope", &c, &err),
                     MS_ENOTFOUND);
    c.serial_hex = serial2;
    c.subject_email = other;
    assert_int_equal(ms_store_device_cert_add(s, "dev1", &c, &err), MS_EPOLICY);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "0a02", &got, &err),
                     MS_ENOTFOUND);
    assert_true(audit_rows(s) == rows + 1);
    assert_int_equal(
        ms_store_device_cert_list(s, "dev1", save_serial, got_serial, &err), 0);
    assert_string_equal(got_serial, "0a01");
    assert_int_equal(
        ms_store_device_list(s, "a@example.org", count_device, &n, &err), 0);
    assert_int_equal(n, 2);
    /* Another mailbox cannot revoke it. */
    assert_int_equal(
        ms_store_device_revoke(s, "b@example.org", "dev1", &revoked, &err),
        MS_ENOTFOUND);
    assert_int_equal(
        ms_store_device_revoke(s, "a@example.org", "dev1", &revoked, &err), 0);
    assert_true(revoked == 1);
    assert_true(audit_rows(s) == rows + 3); /* cert.revoke, device.revoke */
    assert_int_equal(ms_store_cert_get(s, ISSUER, "0a01", &got, &err), 0);
    assert_true(got.revoked && got.reason == 5 && got.revoked_at == now);
    ms_store_cert_cleanup(&got);
    assert_int_equal(ms_store_revocation_epoch(s, &epoch, &err), 0);
    assert_true(epoch == 1);
    assert_int_equal(
        ms_store_device_revoke(s, "a@example.org", "dev1", NULL, &err),
        MS_EPOLICY);
    /* A revoked device gets no certificate. */
    c.subject_email = email;
    assert_int_equal(ms_store_device_cert_add(s, "dev1", &c, &err), MS_EPOLICY);
    ms_buf_cleanup(&c.der);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
make_key(ms_store_escrow_key *k, const char *id, const char *email,
         const char *serial)
{
    static const unsigned char wrapped[] = "wrapped-key-bytes";

    memset(k, 0, sizeof(*k));
    (void)snprintf(k->key_id, sizeof(k->key_id), "%s", id);
    (void)snprintf(k->email, sizeof(k->email), "%s", email);
    (void)snprintf(k->alg, sizeof(k->alg), "X25519");
    k->wrapped = wrapped;
    k->wrapped_len = sizeof(wrapped);
    (void)snprintf(k->master_key_id, sizeof(k->master_key_id), "mk1");
    (void)snprintf(k->cert_serial, sizeof(k->cert_serial), "%s", serial);
}

typedef struct keys_seen {
    char ids[4][MS_STORE_ID_MAX + 1];
    time_t retired[4];
    int n;
    int fail;
} keys_seen;

static int
see_key(const ms_store_escrow_key *k, void *arg)
{
    keys_seen *a = arg;

    if (a->fail != 0)
        return a->fail;
    assert_true(a->n < 4);
    assert_memory_equal(k->wrapped, "wrapped-key-bytes", k->wrapped_len);
    memcpy(a->ids[a->n], k->key_id, sizeof(k->key_id));
    a->retired[a->n] = k->retired_at;
    a->n++;
    return 0;
}

static void
test_store_id__escrow_keys(void **state)
{
    ms_store *s = open_store(state);
    char s1[] = "e001", s2[] = "e002", email[] = "a@example.org";
    char use[] = "encryption";
    ms_store_escrow_key k;
    ms_store_cert c1, c2, got;
    keys_seen seen;
    uint64_t rows;
    ms_error err;

    make_cert(&c1, s1, email, use);
    make_cert(&c2, s2, email, use);
    make_key(&k, "key1", "a@example.org", "e001");
    assert_int_equal(ms_store_escrow_key_add(s, &k, &c1, false, &err), 0);
    assert_true(audit_rows(s) == 2); /* cert.issue, key.create */
    /* A second current key: refused, its certificate not written. */
    make_key(&k, "key2", "a@example.org", "e002");
    assert_int_equal(ms_store_escrow_key_add(s, &k, &c2, false, &err),
                     MS_EPOLICY);
    ms_store_cert_init(&got);
    assert_int_equal(ms_store_cert_get(s, ISSUER, "e002", &got, &err),
                     MS_ENOTFOUND);
    assert_true(audit_rows(s) == 2);
    /* The key id exists. */
    make_key(&k, "key1", "b@example.org", "");
    assert_int_equal(ms_store_escrow_key_add(s, &k, NULL, false, &err),
                     MS_EPOLICY);
    /* Certificate not the key's. */
    make_key(&k, "key2", "a@example.org", "e001");
    assert_int_equal(ms_store_escrow_key_add(s, &k, &c2, true, &err),
                     MS_EINVAL);
    /* Rollover. */
    now += 10;
    make_key(&k, "key2", "a@example.org", "e002");
    assert_int_equal(ms_store_escrow_key_add(s, &k, &c2, true, &err), 0);
    rows = audit_rows(s);
    assert_true(rows == 4);
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ms_store_escrow_key_release(s, "a@example.org",
                                                 "device:dev1", see_key, &seen,
                                                 &err),
                     0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.ids[0], "key2");
    assert_true(seen.retired[0] == 0);
    assert_string_equal(seen.ids[1], "key1");
    assert_true(seen.retired[1] == now);
    assert_true(audit_rows(s) == rows + 1); /* key.release */
    /* No key: nothing released, nothing audited; a failing callback
     * leaves no audit row either. */
    assert_int_equal(ms_store_escrow_key_release(s, "z@example.org",
                                                 "device:dev1", see_key, &seen,
                                                 &err),
                     MS_ENOTFOUND);
    seen.fail = MS_EIO;
    assert_int_equal(ms_store_escrow_key_release(
                         s, "a@example.org", "apikey:k1", see_key, &seen, &err),
                     MS_EIO);
    assert_true(audit_rows(s) == rows + 1);
    ms_buf_cleanup(&c1.der);
    ms_buf_cleanup(&c2.der);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

typedef struct dir_seen {
    int issued;
    int harvested;
    char serial[64];
} dir_seen;

static int
see_cert(const ms_store_dir_cert *c, void *arg)
{
    dir_seen *a = arg;

    if (c->harvested) {
        assert_null(c->issuer);
        a->harvested++;
    } else {
        assert_string_equal(c->issuer, ISSUER);
        (void)snprintf(a->serial, sizeof(a->serial), "%s", c->serial_hex);
        a->issued++;
    }
    assert_int_equal(c->der_len, sizeof(der_bytes));
    return 0;
}

static void
make_harvest(ms_store_harvest *h, const char *email, unsigned char tag)
{
    static unsigned char ders[4][5];
    unsigned int n = 0;

    memset(h, 0, sizeof(*h));
    memcpy(ders[tag & 3], der_bytes, sizeof(der_bytes));
    ders[tag & 3][4] = tag;
    (void)snprintf(h->email, sizeof(h->email), "%s", email);
    h->der = ders[tag & 3];
    h->der_len = sizeof(der_bytes);
    assert_true(
        EVP_Digest(h->der, h->der_len, h->sha256, &n, EVP_sha256(), NULL));
    h->level = 2;
    (void)snprintf(h->use, sizeof(h->use), "signing");
    h->not_before = now - DAY;
    h->not_after = now + 10 * DAY;
}

static dir_seen
lookup(ms_store *s, const char *email, int want)
{
    dir_seen seen;
    ms_error err;

    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ms_store_directory_lookup(s, email, see_cert, &seen, &err),
                     want);
    return seen;
}

static void
test_store_id__directory(void **state)
{
    ms_store *s = open_store(state);
    char s1[] = "0b01", s2[] = "0b02", s3[] = "0b03", email[] = "a@example.org";
    char sign[] = "signing", enc[] = "encryption";
    ms_store_harvest h[2];
    ms_store_escrow_key k;
    ms_store_device d;
    ms_store_cert c;
    dir_seen seen;
    size_t stored = 9;
    uint64_t rows;
    ms_error err;

    (void)lookup(s, "a@example.org", MS_ENOTFOUND);
    make_device(s, "dev1", "a@example.org", &d);    /* publishes */
    (void)lookup(s, "a@example.org", MS_ENOTFOUND); /* no cert yet */
    make_cert(&c, s1, email, sign);
    assert_int_equal(ms_store_device_cert_add(s, "dev1", &c, &err), 0);
    seen = lookup(s, "a@example.org", 0);
    assert_int_equal(seen.issued, 1);
    assert_string_equal(seen.serial, "0b01");
    /* Harvested: stored once, listed after the issued ones. */
    make_harvest(&h[0], "a@example.org", 1);
    make_harvest(&h[1], "a@example.org", 2);
    rows = audit_rows(s);
    assert_int_equal(ms_store_harvest_add(s, h, 2, false, &stored, &err), 0);
    assert_true(stored == 2);
    assert_int_equal(ms_store_harvest_add(s, h, 2, false, &stored, &err), 0);
    assert_true(stored == 0);
    assert_true(audit_rows(s) == rows + 1); /* one directory.harvest */
    h[1].sha256[0] ^= 1;
    assert_int_equal(ms_store_harvest_add(s, h, 2, false, &stored, &err),
                     MS_EINVAL);
    seen = lookup(s, "a@example.org", 0);
    assert_int_equal(seen.issued, 1);
    assert_int_equal(seen.harvested, 2);
    /* Revoked issued and retired escrow certificates are not current. */
    assert_int_equal(ms_store_cert_revoke(s, ISSUER, "0b01", 1, now, &err), 0);
    ms_buf_cleanup(&c.der);
    make_cert(&c, s2, email, enc);
    make_key(&k, "key1", "a@example.org", "0b02");
    assert_int_equal(ms_store_escrow_key_add(s, &k, &c, false, &err), 0);
    seen = lookup(s, "a@example.org", 0);
    assert_int_equal(seen.issued, 1);
    assert_string_equal(seen.serial, "0b02");
    c.serial_hex = s3;
    make_key(&k, "key2", "a@example.org", "0b03");
    assert_int_equal(ms_store_escrow_key_add(s, &k, &c, true, &err), 0);
    seen = lookup(s, "a@example.org", 0);
    assert_int_equal(seen.issued, 1);
    assert_string_equal(seen.serial, "0b03");
    /* Unpublished: nothing; published again: back. */
    rows = audit_rows(s);
    assert_int_equal(ms_store_directory_unpublish(s, "a@example.org", &err), 0);
    assert_int_equal(ms_store_directory_unpublish(s, "a@example.org", &err),
                     MS_ENOTFOUND);
    (void)lookup(s, "a@example.org", MS_ENOTFOUND);
    /* Harvest never republishes over an unpublication. */
    make_harvest(&h[0], "a@example.org", 3);
    assert_int_equal(ms_store_harvest_add(s, h, 1, true, &stored, &err), 0);
    (void)lookup(s, "a@example.org", MS_ENOTFOUND);
    assert_int_equal(ms_store_directory_publish(s, "a@example.org", &err), 0);
    seen = lookup(s, "a@example.org", 0);
    assert_int_equal(seen.harvested, 3);
    assert_true(audit_rows(s) == rows + 3);
    /* A harvest of an unknown address may publish it. */
    make_harvest(&h[0], "b@example.org", 0);
    assert_int_equal(ms_store_harvest_add(s, h, 1, true, &stored, &err), 0);
    seen = lookup(s, "b@example.org", 0);
    assert_int_equal(seen.harvested, 1);
    /* Expired certificates are not current. */
    now += 400 * DAY;
    (void)lookup(s, "a@example.org", MS_ENOTFOUND);
    ms_buf_cleanup(&c.der);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

static int
count_apikey(const ms_store_apikey *k, void *arg)
{
    (void)k;
    (*(int *)arg)++;
    return 0;
}

static void
test_store_id__apikeys(void **state)
{
    ms_store *s = open_store(state);
    ms_store_apikey k, got;
    int n = 0;
    ms_error err;

    memset(&k, 0, sizeof(k));
    memcpy(k.id, "ak1", 4);
    memcpy(k.name, "gateway one", 12);
    hash_of(k.key_hash, "secret-1");
    memcpy(k.domain, "example.org", 12);
    k.rate_per_min = 600;
    assert_int_equal(ms_store_apikey_create(s, &k, &err), 0);
    assert_true(audit_rows(s) == 1);
    assert_int_equal(ms_store_apikey_create(s, &k, &err), MS_EPOLICY);
    memcpy(k.id, "ak2", 4); /* same hash */
    assert_int_equal(ms_store_apikey_create(s, &k, &err), MS_EPOLICY);
    hash_of(k.key_hash, "secret-2");
    k.domain[0] = '\0';
    k.rate_per_min = 0;
    assert_int_equal(ms_store_apikey_create(s, &k, &err), MS_EINVAL);
    k.rate_per_min = 5;
    assert_int_equal(ms_store_apikey_create(s, &k, &err), 0);
    assert_true(audit_rows(s) == 2);
    hash_of(k.key_hash, "secret-1");
    assert_int_equal(ms_store_apikey_by_hash(s, k.key_hash, &got, &err), 0);
    assert_string_equal(got.id, "ak1");
    assert_string_equal(got.domain, "example.org");
    assert_int_equal(got.rate_per_min, 600);
    assert_true(got.created == now && got.revoked_at == 0);
    hash_of(k.key_hash, "secret-2");
    assert_int_equal(ms_store_apikey_by_hash(s, k.key_hash, &got, &err), 0);
    assert_string_equal(got.domain, "");
    hash_of(k.key_hash, "secret-3");
    assert_int_equal(ms_store_apikey_by_hash(s, k.key_hash, &got, &err),
                     MS_ENOTFOUND);
    assert_int_equal(ms_store_apikey_list(s, count_apikey, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ms_store_apikey_revoke(s, "ak1", &err), 0);
    assert_int_equal(ms_store_apikey_revoke(s, "ak1", &err), MS_EPOLICY);
    assert_int_equal(ms_store_apikey_revoke(s, "ak9", &err), MS_ENOTFOUND);
    assert_true(audit_rows(s) == 3);
    hash_of(k.key_hash, "secret-1");
    assert_int_equal(ms_store_apikey_by_hash(s, k.key_hash, &got, &err), 0);
    assert_true(got.revoked_at == now);
    ms_store_close(s);
}

static void
test_store_id__invitations(void **state)
{
    ms_store *s = open_store(state);
    char serial[] = "0c01", email[] = "c@example.org", use[] = "signing";
    ms_store_invite v = MS_STORE_INVITE_SEND;
    ms_store_cert c;
    bool out = true;
    ms_error err;

    assert_int_equal(
        ms_store_invitation_claim(s, "a@example.org", 30 * DAY, &v, &err), 0);
    assert_int_equal(v, MS_STORE_INVITE_SEND);
    assert_int_equal(
        ms_store_invitation_claim(s, "a@example.org", 30 * DAY, &v, &err), 0);
    assert_int_equal(v, MS_STORE_INVITE_RECENT);
    now += 30 * DAY;
    assert_int_equal(
        ms_store_invitation_claim(s, "a@example.org", 30 * DAY, &v, &err), 0);
    assert_int_equal(v, MS_STORE_INVITE_SEND);
    assert_int_equal(ms_store_optout_check(s, "a@example.org", &out, &err), 0);
    assert_false(out);
    assert_int_equal(ms_store_optout_add(s, "a@example.org", &err), 0);
    assert_int_equal(ms_store_optout_add(s, "a@example.org", &err), 0);
    assert_int_equal(ms_store_optout_check(s, "a@example.org", &out, &err), 0);
    assert_true(out);
    now += 365 * DAY;
    assert_int_equal(
        ms_store_invitation_claim(s, "a@example.org", 30 * DAY, &v, &err), 0);
    assert_int_equal(v, MS_STORE_INVITE_OPTED_OUT);
    make_cert(&c, serial, email, use);
    assert_int_equal(ms_store_cert_insert(s, &c, &err), 0);
    assert_int_equal(
        ms_store_invitation_claim(s, "c@example.org", 30 * DAY, &v, &err), 0);
    assert_int_equal(v, MS_STORE_INVITE_HAS_CERT);
    assert_int_equal(ms_store_invitation_claim(s, "bad", 30 * DAY, &v, &err),
                     MS_EINVAL);
    ms_buf_cleanup(&c.der);
    ms_store_close(s);
}

static void
test_store_id__action_tokens(void **state)
{
    ms_store *s = open_store(state);
    unsigned char t1[MS_STORE_SHA256], t2[MS_STORE_SHA256], t3[MS_STORE_SHA256];
    char email[MS_STORE_EMAIL_MAX + 1];
    ms_store_device d;
    bool published = true, out = false;
    uint64_t rows;
    ms_error err;

    make_device(s, "dev1", "a@example.org", &d); /* publishes */
    hash_of(t1, "link-1");
    hash_of(t2, "link-2");
    hash_of(t3, "link-3");
    assert_int_equal(ms_store_action_token_add(s, t1, "a@example.org",
                                               MS_STORE_ACTION_UNPUBLISH,
                                               now + DAY, &err),
                     0);
    assert_int_equal(ms_store_action_token_add(s, t1, "a@example.org",
                                               MS_STORE_ACTION_OPT_OUT,
                                               now + DAY, &err),
                     MS_EPOLICY);
    assert_int_equal(ms_store_action_token_add(s, t2, "b@example.org",
                                               MS_STORE_ACTION_OPT_OUT,
                                               now + DAY, &err),
                     0);
    assert_int_equal(ms_store_action_token_add(s, t3, "b@example.org",
                                               MS_STORE_ACTION_OPT_OUT, now,
                                               &err),
                     MS_EINVAL);
    rows = audit_rows(s);
    /* Another action's token is unknown for this one. */
    assert_int_equal(
        ms_store_action_token_use(s, t1, MS_STORE_ACTION_OPT_OUT, email, &err),
        MS_ENOTFOUND);
    assert_int_equal(ms_store_action_token_use(s, t1, MS_STORE_ACTION_UNPUBLISH,
                                               email, &err),
                     0);
    assert_string_equal(email, "a@example.org");
    assert_int_equal(
        ms_store_directory_published(s, "a@example.org", &published, &err), 0);
    assert_false(published);
    assert_true(audit_rows(s) == rows + 1); /* directory.unpublish */
    assert_int_equal(ms_store_action_token_use(s, t1, MS_STORE_ACTION_UNPUBLISH,
                                               email, &err),
                     MS_EPOLICY);
    assert_int_equal(
        ms_store_action_token_use(s, t3, MS_STORE_ACTION_UNPUBLISH, NULL, &err),
        MS_ENOTFOUND);
    now += DAY; /* t2 expired */
    assert_int_equal(
        ms_store_action_token_use(s, t2, MS_STORE_ACTION_OPT_OUT, NULL, &err),
        MS_EPOLICY);
    now -= 1;
    assert_int_equal(
        ms_store_action_token_use(s, t2, MS_STORE_ACTION_OPT_OUT, NULL, &err),
        0);
    assert_int_equal(ms_store_optout_check(s, "b@example.org", &out, &err), 0);
    assert_true(out);
    ms_store_close(s);
    assert_int_equal(ERR_peek_error(), 0);
}

/* Every allocation of a lookup fails in turn: MS_ENOMEM or a result
 * (the statement cache falls back to a one-off statement), no leak. */
static void
test_store_id__alloc_failure_loop(void **state)
{
    ms_store *s = open_store(state);
    unsigned char tok[MS_STORE_SHA256];
    ms_store_device d;
    dir_seen seen;
    size_t total;
    ms_error err;

    make_device(s, "dev1", "a@example.org", &d);
    ms_store_close(s);
    s = open_store(state);
    hash_of(tok, "tok-dev1");
    (void)ms_alloc_fail_at(0);
    assert_int_equal(ms_store_device_by_token(s, tok, &d, &err), 0);
    memset(&seen, 0, sizeof(seen));
    (void)ms_store_directory_lookup(s, "a@example.org", see_cert, &seen, &err);
    total = ms_alloc_fail_at(0);
    ms_store_close(s);
    for (size_t n = 1; n <= total + 1; n++) {
        int rc;

        s = open_store(state);
        (void)ms_alloc_fail_at(n);
        rc = ms_store_device_by_token(s, tok, &d, &err);
        (void)ms_alloc_fail_at(0);
        if (rc != 0 && rc != MS_ENOMEM)
            fail_msg("allocation %zu: %s", n, ms_status_name(rc));
        ms_store_close(s);
    }
}

static int
pg_setup(void)
{
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): before any thread starts */
    const char *file = getenv("MS_STORE_TEST_URL_FILE");
    char base[768];
    FILE *fp;
    int n;

    if (file == NULL)
        return 0;
    if ((fp = fopen(file, "r")) == NULL) {
        printf("FAIL: no PostgreSQL URL in %s\n", file);
        return 1;
    }
    if (fgets(base, sizeof(base), fp) == NULL)
        base[0] = '\0';
    (void)fclose(fp); /* read-only: nothing to flush */
    base[strcspn(base, "\r\n")] = '\0';
    if (base[0] == '\0') {
        printf("FAIL: %s is empty\n", file);
        return 1;
    }
    n = snprintf(pg_url, sizeof(pg_url),
                 "%s%coptions=-csearch_path%%3Dms_store_id_test", base,
                 strchr(base, '?') != NULL ? '&' : '?');
    if (n < 0 || n >= (int)sizeof(pg_url)) {
        printf("FAIL: URL in %s too long\n", file);
        return 1;
    }
    use_pg = true;
    return 0;
}

#define TF(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TF(test_store_id__validation_create_get),
        TF(test_store_id__validation_attempts),
        TF(test_store_id__attempts_atomic),
        TF(test_store_id__redeem),
        TF(test_store_id__redeem_rolls_back),
        TF(test_store_id__device_certs_revoke),
        TF(test_store_id__escrow_keys),
        TF(test_store_id__directory),
        TF(test_store_id__apikeys),
        TF(test_store_id__invitations),
        TF(test_store_id__action_tokens),
        TF(test_store_id__alloc_failure_loop),
    };
    int rc;

    if ((rc = pg_setup()) != 0)
        return rc;
    return cmocka_run_group_tests_name(use_pg ? "store_id-pg" : "store_id",
                                       tests, NULL, NULL);
}
