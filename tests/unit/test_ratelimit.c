/*
 * tests/unit/test_ratelimit.c - lib/util/ratelimit.c: GCRA limits with an
 * injected clock, key independence, LRU eviction in a fixed table, threads
 * hammering one limiter, allocation failure, and its SipHash against
 * OpenSSL's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <mailseal/mailseal.h>

#include "ms_test.h"
#include "util/alloc.h"
#include "util/ratelimit.h"

#define T0 MS_TEST_NOW

static ms_ratelimit *
new_rl(size_t max_keys)
{
    ms_ratelimit *rl = NULL;
    ms_error err;

    if (ms_ratelimit_new(&rl, max_keys, &err) != 0)
        fail_msg("ms_ratelimit_new: %s", err.msg);
    assert_int_equal(ERR_peek_error(), 0);
    return rl;
}

/* Expects a hit to be allowed. */
static void
allow(ms_ratelimit *rl, const char *key, unsigned limit, unsigned window,
      time_t now)
{
    unsigned retry = 99;

    assert_int_equal(ms_ratelimit_hit(rl, key, limit, window, now, &retry), 0);
    assert_int_equal(retry, 0);
}

/* Expects a hit to be refused, with retry_after want. */
static void
deny(ms_ratelimit *rl, const char *key, unsigned limit, unsigned window,
     time_t now, unsigned want)
{
    unsigned retry = 0;

    assert_int_equal(ms_ratelimit_hit(rl, key, limit, window, now, &retry),
                     MS_ELIMIT);
    assert_int_equal(retry, want);
}

static void
test_ratelimit__burst_then_steady(void **state)
{
    ms_ratelimit *rl = new_rl(100);

    (void)state;
    /* 5 per hour: 5 at once, then one every 12 minutes. */
    for (int i = 0; i < 5; i++)
        allow(rl, "mbox:alice@example.org", 5, 3600, T0);
    deny(rl, "mbox:alice@example.org", 5, 3600, T0, 720);
    deny(rl, "mbox:alice@example.org", 5, 3600, T0 + 1, 719);
    deny(rl, "mbox:alice@example.org", 5, 3600, T0 + 719, 1);
    allow(rl, "mbox:alice@example.org", 5, 3600, T0 + 720);
    deny(rl, "mbox:alice@example.org", 5, 3600, T0 + 720, 720);
    /* Refused hits cost nothing: the next one is still due at +1440. */
    for (int i = 0; i < 100; i++)
        deny(rl, "mbox:alice@example.org", 5, 3600, T0 + 1000, 440);
    allow(rl, "mbox:alice@example.org", 5, 3600, T0 + 1440);
    /* After a quiet hour the bucket is full again, and no fuller. */
    for (int i = 0; i < 5; i++)
        allow(rl, "mbox:alice@example.org", 5, 3600, T0 + 10000);
    deny(rl, "mbox:alice@example.org", 5, 3600, T0 + 10000, 720);
    /* A retry_after of NULL is fine. */
    assert_int_equal(ms_ratelimit_hit(rl, "mbox:alice@example.org", 5, 3600,
                                      T0 + 10000, NULL),
                     MS_ELIMIT);
    ms_ratelimit_free(rl);
}

static void
test_ratelimit__uneven_rates(void **state)
{
    ms_ratelimit *rl = new_rl(100);

    (void)state;
    /* 30 per hour: one every 2 minutes after the burst. */
    for (int i = 0; i < 30; i++)
        allow(rl, "ip:192.0.2.1", 30, 3600, T0);
    deny(rl, "ip:192.0.2.1", 30, 3600, T0, 120);
    /* 3 per 10 s: one every 3.33 s, retry_after rounds up. */
    for (int i = 0; i < 3; i++)
        allow(rl, "k3", 3, 10, T0);
    deny(rl, "k3", 3, 10, T0, 4);
    deny(rl, "k3", 3, 10, T0 + 3, 1);
    allow(rl, "k3", 3, 10, T0 + 4);
    /* Over a long run the rate is exactly limit per window. */
    {
        unsigned ok = 0;

        for (time_t t = T0 + 100; t < T0 + 100 + 3000; t++)
            ok += ms_ratelimit_hit(rl, "k3b", 3, 10, t, NULL) == 0;
        assert_int_equal(ok, 3 + 900 - 1);
    }
    /* One per window, and the largest limit. */
    allow(rl, "k1", 1, MS_RATELIMIT_WINDOW_MAX, T0);
    deny(rl, "k1", 1, MS_RATELIMIT_WINDOW_MAX, T0, MS_RATELIMIT_WINDOW_MAX);
    for (unsigned i = 0; i < 1000; i++)
        allow(rl, "kmax", MS_RATELIMIT_LIMIT_MAX, 1, T0);
    ms_ratelimit_free(rl);
}

static void
test_ratelimit__keys_and_limiters_independent(void **state)
{
    ms_ratelimit *a = new_rl(100);
    ms_ratelimit *b = new_rl(100);

    (void)state;
    allow(a, "x", 1, 60, T0);
    deny(a, "x", 1, 60, T0, 60);
    allow(a, "y", 1, 60, T0);
    allow(a, "X", 1, 60, T0); /* keys are bytes: callers normalise */
    allow(a, "x ", 1, 60, T0);
    allow(b, "x", 1, 60, T0);
    deny(b, "x", 1, 60, T0, 60);
    ms_ratelimit_free(a);
    ms_ratelimit_free(b);
    ms_ratelimit_free(NULL);
}

static void
test_ratelimit__clock_stepping_back(void **state)
{
    ms_ratelimit *rl = new_rl(10);

    (void)state;
    allow(rl, "k", 2, 60, T0);
    allow(rl, "k", 2, 60, T0);
    /* A day back: the bucket counts as empty, not as a day in debt. */
    deny(rl, "k", 2, 60, T0 - 86400, 30);
    deny(rl, "k", 2, 60, T0 - 86400 + 29, 1);
    allow(rl, "k", 2, 60, T0 - 86400 + 30);
    deny(rl, "k", 2, 60, T0 - 86400 + 30, 30);
    allow(rl, "fresh", 2, 60, 0);
    ms_ratelimit_free(rl);
}

static void
test_ratelimit__bad_arguments(void **state)
{
    char key[MS_RATELIMIT_KEY_MAX + 2];
    ms_ratelimit *rl = new_rl(10);
    ms_ratelimit *none = NULL;
    unsigned retry = 7;
    ms_error err;

    (void)state;
    memset(key, 'k', sizeof(key));
    key[MS_RATELIMIT_KEY_MAX] = '\0';
    allow(rl, key, 1, 1, T0);
    key[MS_RATELIMIT_KEY_MAX] = 'k';
    key[MS_RATELIMIT_KEY_MAX + 1] = '\0';
    assert_int_equal(ms_ratelimit_hit(rl, key, 1, 1, T0, &retry), MS_EINVAL);
    assert_int_equal(retry, 0);
    assert_int_equal(ms_ratelimit_hit(rl, NULL, 1, 1, T0, &retry), MS_EINVAL);
    assert_int_equal(ms_ratelimit_hit(rl, "", 1, 1, T0, &retry), MS_EINVAL);
    assert_int_equal(ms_ratelimit_hit(rl, "k", 0, 1, T0, &retry), MS_EINVAL);
    assert_int_equal(
        ms_ratelimit_hit(rl, "k", MS_RATELIMIT_LIMIT_MAX + 1, 1, T0, &retry),
        MS_EINVAL);
    assert_int_equal(ms_ratelimit_hit(rl, "k", 1, 0, T0, &retry), MS_EINVAL);
    assert_int_equal(
        ms_ratelimit_hit(rl, "k", 1, MS_RATELIMIT_WINDOW_MAX + 1, T0, &retry),
        MS_EINVAL);
    assert_int_equal(ms_ratelimit_hit(rl, "k", 1, 1, -1, &retry), MS_EINVAL);
    assert_int_equal(
        ms_ratelimit_hit(rl, "k", 1, 1, MS_RATELIMIT_NOW_MAX + 1, &retry),
        MS_EINVAL);
    allow(rl, "k", 1, 1, MS_RATELIMIT_NOW_MAX);
    assert_int_equal(ms_ratelimit_new(&none, 0, &err), MS_EINVAL);
    assert_null(none);
    assert_int_equal(ms_ratelimit_new(&none, MS_RATELIMIT_KEYS_MAX + 1, &err),
                     MS_EINVAL);
    assert_null(none);
    ms_ratelimit_free(rl);
}

static void
test_ratelimit__lru_eviction(void **state)
{
    ms_ratelimit *rl = new_rl(4); /* one shard of four */
    ms_ratelimit_stats st;

    (void)state;
    allow(rl, "a", 1, 3600, T0);
    allow(rl, "b", 1, 3600, T0 + 1);
    allow(rl, "c", 1, 3600, T0 + 2);
    allow(rl, "d", 1, 3600, T0 + 3);
    deny(rl, "a", 1, 3600, T0 + 4, 3596); /* touches a: b is now LRU */
    allow(rl, "e", 1, 3600, T0 + 5);      /* evicts b */
    deny(rl, "a", 1, 3600, T0 + 6, 3594);
    deny(rl, "d", 1, 3600, T0 + 6, 3597);
    deny(rl, "e", 1, 3600, T0 + 6, 3599);
    ms_ratelimit_stats_get(&st, rl);
    assert_int_equal(st.keys, 4);
    assert_int_equal(st.capacity, 4);
    assert_int_equal(st.evicted_active, 1);
    assert_int_equal(st.evicted_idle, 0);
    allow(rl, "b", 1, 3600, T0 + 7); /* b was forgotten; evicts c */
    allow(rl, "c", 1, 3600, T0 + 8); /* and c; evicts a */
    deny(rl, "b", 1, 3600, T0 + 9, 3598);
    /* An hour later every bucket is full again: evicting loses nothing. */
    allow(rl, "f", 1, 3600, T0 + 7200);
    allow(rl, "g", 1, 3600, T0 + 7200);
    ms_ratelimit_stats_get(&st, rl);
    assert_int_equal(st.keys, 4);
    assert_int_equal(st.evicted_active, 3);
    assert_int_equal(st.evicted_idle, 2);
    ms_ratelimit_free(rl);
}

/* However many keys arrive, the table never holds more than max_keys. */
static void
test_ratelimit__fixed_memory(void **state)
{
    static const size_t sizes[] = {1, 2, 63, 127, 128, 1000, 8191, 100000};
    char key[32];

    (void)state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        ms_ratelimit *rl = new_rl(sizes[s]);
        ms_ratelimit_stats st;
        size_t n = sizes[s] * 3 + 10;

        for (size_t i = 0; i < n; i++) {
            (void)snprintf(key, sizeof(key), "ip:10.%zu", i);
            allow(rl, key, 1, 60, T0);
        }
        ms_ratelimit_stats_get(&st, rl);
        assert_true(st.capacity <= sizes[s]);
        assert_true(st.capacity > sizes[s] / 2);
        assert_true(st.keys <= st.capacity);
        assert_int_equal(st.keys + st.evicted_active, n);
        ms_ratelimit_free(rl);
    }
}

/* ---- threads ---- */

#define THREADS      4
#define SHARED_HITS  2000 /* per thread, on one key of limit SHARED_LIMIT */
#define SHARED_LIMIT 3000
#define OWN_KEYS     300 /* per thread, hit 5 times each with limit 3 */

typedef struct worker {
    pthread_t tid;
    ms_ratelimit *rl;
    unsigned id;
    unsigned shared_ok;
    unsigned own_ok;
    unsigned errors;
} worker;

static void *
hammer(void *arg)
{
    worker *w = arg;
    char key[32];

    for (unsigned i = 0; i < SHARED_HITS; i++) {
        int rc =
            ms_ratelimit_hit(w->rl, "shared", SHARED_LIMIT, 3600, T0, NULL);

        w->shared_ok += rc == 0;
        w->errors += rc != 0 && rc != MS_ELIMIT;
        (void)snprintf(key, sizeof(key), "t%u-%u", w->id, i % OWN_KEYS);
        if (i < OWN_KEYS * 5) {
            rc = ms_ratelimit_hit(w->rl, key, 3, 3600, T0, NULL);
            w->own_ok += rc == 0;
            w->errors += rc != 0 && rc != MS_ELIMIT;
        }
    }
    return NULL;
}

static void
run_workers(ms_ratelimit *rl, worker *w)
{
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].rl = rl;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].tid, NULL, hammer, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
}

static void
test_ratelimit__threads_count_exactly(void **state)
{
    ms_ratelimit *rl = new_rl(8192);
    worker w[THREADS];
    ms_ratelimit_stats st;
    unsigned shared = 0;

    (void)state;
    memset(w, 0, sizeof(w));
    run_workers(rl, w);
    for (unsigned i = 0; i < THREADS; i++) {
        shared += w[i].shared_ok;
        assert_int_equal(w[i].own_ok, OWN_KEYS * 3);
        assert_int_equal(w[i].errors, 0);
    }
    assert_int_equal(shared, SHARED_LIMIT);
    ms_ratelimit_stats_get(&st, rl);
    assert_int_equal(st.keys, THREADS * OWN_KEYS + 1);
    assert_int_equal(st.evicted_active, 0);
    ms_ratelimit_free(rl);
}

/* A table far too small: constant eviction under contention stays sound. */
static void
test_ratelimit__threads_evicting(void **state)
{
    ms_ratelimit *rl = new_rl(64);
    worker w[THREADS];
    ms_ratelimit_stats st;

    (void)state;
    memset(w, 0, sizeof(w));
    run_workers(rl, w);
    for (unsigned i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].errors, 0);
        assert_true(w[i].own_ok >= OWN_KEYS * 3);
    }
    ms_ratelimit_stats_get(&st, rl);
    assert_true(st.keys <= 64);
    assert_true(st.evicted_active > 0);
    ms_ratelimit_free(rl);
}

/* ---- allocation failure, hashing ---- */

static void
test_ratelimit__alloc_failure(void **state)
{
    size_t total;

    (void)state;
    (void)ms_alloc_fail_at(0);
    ms_ratelimit_free(new_rl(5000));
    total = ms_alloc_fail_at(0);
    assert_true(total >= 3);
    for (size_t n = 1; n <= total; n++) {
        ms_ratelimit *rl = NULL;
        ms_error err;

        (void)ms_alloc_fail_at(n);
        assert_int_equal(ms_ratelimit_new(&rl, 5000, &err), MS_ENOMEM);
        (void)ms_alloc_fail_at(0);
        assert_null(rl);
        assert_int_equal(err.code, MS_ENOMEM);
    }
}

static void
openssl_siphash(uint8_t out[16], const uint8_t key[16], const uint8_t *in,
                size_t len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx;
    size_t size = 16, outl = 0;
    OSSL_PARAM params[2];

    assert_non_null(mac);
    assert_non_null(ctx = EVP_MAC_CTX_new(mac));
    params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
    params[1] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_MAC_init(ctx, key, 16, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, in, len), 1);
    assert_int_equal(EVP_MAC_final(ctx, out, &outl, 16), 1);
    assert_int_equal(outl, 16);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

static void
test_ratelimit__siphash(void **state)
{
    /* The reference implementation's first 128-bit vector. */
    static const uint8_t want0[16] = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25,
                                      0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14,
                                      0xc7, 0x55, 0x02, 0x93};
    uint8_t key[16], in[80], got[16], want[16];

    (void)state;
    for (unsigned i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    ms_ratelimit_siphash(got, key, "", 0);
    assert_memory_equal(got, want0, 16);
    for (unsigned round = 0; round < 4; round++) {
        assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
        assert_int_equal(RAND_bytes(in, sizeof(in)), 1);
        for (size_t len = 0; len <= sizeof(in); len++) {
            ms_ratelimit_siphash(got, key, in, len);
            openssl_siphash(want, key, in, len);
            assert_memory_equal(got, want, 16);
        }
    }
    assert_int_equal(ERR_peek_error(), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__burst_then_steady),
        cmocka_unit_test(test_ratelimit__uneven_rates),
        cmocka_unit_test(test_ratelimit__keys_and_limiters_independent),
        cmocka_unit_test(test_ratelimit__clock_stepping_back),
        cmocka_unit_test(test_ratelimit__bad_arguments),
        cmocka_unit_test(test_ratelimit__lru_eviction),
        cmocka_unit_test(test_ratelimit__fixed_memory),
        cmocka_unit_test(test_ratelimit__threads_count_exactly),
        cmocka_unit_test(test_ratelimit__threads_evicting),
        cmocka_unit_test(test_ratelimit__alloc_failure),
        cmocka_unit_test(test_ratelimit__siphash),
    };

    return cmocka_run_group_tests(tests, ms_test_library_setup,
                                  ms_test_library_teardown);
}
