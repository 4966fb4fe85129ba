/*
 * util/ratelimit.c - the in-memory rate limiter (GCRA per key, sharded
 * fixed-size hash tables with LRU eviction). Rules and trade-offs:
 * util/ratelimit.h.
 *
 * A shard is an array of entries, a bucket array of chain heads (at least
 * as many buckets as entries) and a doubly linked LRU list, all linked by
 * 32-bit indices (NIL ends a list). Entries are handed out in order until
 * the shard is full; from then on a new key reuses the LRU tail's entry.
 * The shard index comes from one half of a key's hash, the bucket from the
 * other, and the whole 128 bits identify the key.
 */
#include "util/ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "util/alloc.h"
#include "util/error.h"

#define NIL            UINT32_MAX
#define SHARDS_MAX     64        /* a power of two */
#define SHARD_MIN_KEYS 64        /* fewer shards than this many keys each */
#define US             1000000LL /* microseconds per second */

typedef struct entry {
    uint64_t tag[2]; /* SipHash-128 of the key */
    int64_t tat;     /* GCRA theoretical arrival time, microseconds */
    uint32_t chain;  /* next entry of the same bucket */
    uint32_t prev;   /* LRU list: towards the most recently used */
    uint32_t next;   /* LRU list: towards the least recently used */
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    entry *entries;    /* cap entries, used of them handed out */
    uint32_t *buckets; /* mask + 1 chain heads */
    uint32_t cap;
    uint32_t used;
    uint32_t mask;
    uint32_t head; /* most recently used */
    uint32_t tail; /* least recently used */
    uint64_t evicted_idle;
    uint64_t evicted_active;
} shard;

struct ms_ratelimit {
    uint8_t seed[16];
    uint32_t nshards; /* a power of two */
    uint32_t ninit;   /* shards whose mutex is initialised */
    shard *shards;
};

/* ---- SipHash-2-4, 128-bit output ---- */

static uint64_t
rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t
load_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void
store_le64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void
sip_rounds(uint64_t v[4], unsigned n)
{
    while (n-- > 0) {
        v[0] += v[1];
        v[1] = rotl(v[1], 13) ^ v[0];
        v[0] = rotl(v[0], 32);
        v[2] += v[3];
        v[3] = rotl(v[3], 16) ^ v[2];
        v[0] += v[3];
        v[3] = rotl(v[3], 21) ^ v[0];
        v[2] += v[1];
        v[1] = rotl(v[1], 17) ^ v[2];
        v[2] = rotl(v[2], 32);
    }
}

void
ms_ratelimit_siphash(uint8_t out[16], const uint8_t key[16], const void *in,
                     size_t len)
{
    const uint8_t *p = in;
    uint64_t k0 = load_le64(key);
    uint64_t k1 = load_le64(key + 8);
    uint64_t v[4];
    uint64_t m;
    size_t left = len;

    v[0] = k0 ^ 0x736f6d6570736575ULL;
    v[1] = k1 ^ 0x646f72616e646f6dULL ^ 0xee; /* 0xee: 128-bit output */
    v[2] = k0 ^ 0x6c7967656e657261ULL;
    v[3] = k1 ^ 0x7465646279746573ULL;
    for (; left >= 8; left -= 8, p += 8) {
        m = load_le64(p);
        v[3] ^= m;
        sip_rounds(v, 2);
        v[0] ^= m;
    }
    m = (uint64_t)len << 56;
    for (size_t i = 0; i < left; i++)
        m |= (uint64_t)p[i] << (8 * i);
    v[3] ^= m;
    sip_rounds(v, 2);
    v[0] ^= m;
    v[2] ^= 0xee;
    sip_rounds(v, 4);
    store_le64(out, v[0] ^ v[1] ^ v[2] ^ v[3]);
    v[1] ^= 0xdd;
    sip_rounds(v, 4);
    store_le64(out + 8, v[0] ^ v[1] ^ v[2] ^ v[3]);
}

/* ---- making and freeing ---- */

static uint32_t
pow2_at_least(uint32_t n)
{
    uint32_t p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

static int
shard_init(shard *s, uint32_t cap, ms_error *err)
{
    uint32_t nbuckets = pow2_at_least(cap);

    s->cap = cap;
    s->mask = nbuckets - 1;
    s->head = NIL;
    s->tail = NIL;
    if ((s->entries = ms_calloc(cap, sizeof(*s->entries))) == NULL ||
        (s->buckets = ms_calloc(nbuckets, sizeof(*s->buckets))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < nbuckets; i++)
        s->buckets[i] = NIL;
    return 0;
}

int
ms_ratelimit_new(ms_ratelimit **out, size_t max_keys, ms_error *err)
{
    ms_ratelimit *rl = NULL;
    uint32_t n = 1;
    int rc = 0;

    *out = NULL;
    if (max_keys == 0 || max_keys > MS_RATELIMIT_KEYS_MAX)
        return ms_error_set(err, MS_EINVAL, "max_keys must be 1..%zu",
                            MS_RATELIMIT_KEYS_MAX);
    while (n < SHARDS_MAX && (size_t)n * 2 * SHARD_MIN_KEYS <= max_keys)
        n *= 2;
    if ((rl = ms_calloc(1, sizeof(*rl))) == NULL ||
        (rl->shards = ms_calloc(n, sizeof(*rl->shards))) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    rl->nshards = n;
    if (RAND_bytes(rl->seed, (int)sizeof(rl->seed)) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "no randomness for the hash key");
        goto out;
    }
    for (; rl->ninit < n; rl->ninit++) {
        shard *s = &rl->shards[rl->ninit];

        if ((rc = shard_init(s, (uint32_t)(max_keys / n), err)) != 0)
            goto out;
        if (pthread_mutex_init(&s->lock, NULL) != 0) {
            rc = ms_error_set(err, MS_ERR, "cannot make a mutex");
            goto out;
        }
    }
    *out = rl;
    rl = NULL;
out:
    if (rl != NULL && rl->shards != NULL && rl->ninit < n) {
        /* The shard that failed has no mutex yet: free its arrays here. */
        ms_free(rl->shards[rl->ninit].entries);
        ms_free(rl->shards[rl->ninit].buckets);
    }
    ms_ratelimit_free(rl);
    return rc;
}

void
ms_ratelimit_free(ms_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (uint32_t i = 0; rl->shards != NULL && i < rl->ninit; i++) {
        shard *s = &rl->shards[i];
        int rc = pthread_mutex_destroy(&s->lock);

        MS_ASSERT(rc == 0); /* fails only on a locked mutex: misuse */
        ms_free(s->entries);
        ms_free(s->buckets);
    }
    ms_free(rl->shards);
    OPENSSL_cleanse(rl->seed, sizeof(rl->seed));
    ms_free(rl);
}

/* ---- one shard (its lock held) ---- */

/* Locking fails only on a contract violation (a freed limiter). */
static void
shard_lock(shard *s)
{
    int rc = pthread_mutex_lock(&s->lock);

    MS_ASSERT(rc == 0);
}

static void
shard_unlock(shard *s)
{
    int rc = pthread_mutex_unlock(&s->lock);

    MS_ASSERT(rc == 0);
}

static void
lru_unlink(shard *s, uint32_t i)
{
    entry *e = &s->entries[i];

    if (e->prev != NIL)
        s->entries[e->prev].next = e->next;
    else
        s->head = e->next;
    if (e->next != NIL)
        s->entries[e->next].prev = e->prev;
    else
        s->tail = e->prev;
}

static void
lru_push_front(shard *s, uint32_t i)
{
    entry *e = &s->entries[i];

    e->prev = NIL;
    e->next = s->head;
    if (s->head != NIL)
        s->entries[s->head].prev = i;
    s->head = i;
    if (s->tail == NIL)
        s->tail = i;
}

/* The entry of tag, or NIL. */
static uint32_t
find(const shard *s, const uint64_t tag[2])
{
    uint32_t i = s->buckets[tag[0] & s->mask];

    while (i != NIL &&
           (s->entries[i].tag[0] != tag[0] || s->entries[i].tag[1] != tag[1]))
        i = s->entries[i].chain;
    return i;
}

/* Takes entry i out of its bucket's chain. */
static void
chain_unlink(shard *s, uint32_t i)
{
    uint32_t *link = &s->buckets[s->entries[i].tag[0] & s->mask];

    while (*link != i) {
        MS_ASSERT(*link != NIL);
        link = &s->entries[*link].chain;
    }
    *link = s->entries[i].chain;
}

/*
 * A fresh entry for tag, whose count starts at now_us: a never used one,
 * else the LRU tail's (evicted).
 */
static uint32_t
insert(shard *s, const uint64_t tag[2], int64_t now_us)
{
    uint32_t i;
    entry *e;

    if (s->used < s->cap) {
        i = s->used++;
    } else {
        i = s->tail;
        if (s->entries[i].tat <= now_us)
            s->evicted_idle++;
        else
            s->evicted_active++;
        lru_unlink(s, i);
        chain_unlink(s, i);
    }
    e = &s->entries[i];
    e->tag[0] = tag[0];
    e->tag[1] = tag[1];
    e->tat = now_us;
    e->chain = s->buckets[tag[0] & s->mask];
    s->buckets[tag[0] & s->mask] = i;
    lru_push_front(s, i);
    return i;
}

/*
 * GCRA on entry e: allowed when at most limit - 1 emission intervals are
 * already booked ahead of now. Returns 0 or MS_ELIMIT with *wait_us. A
 * clock stepping back would leave more than a window booked ahead: that
 * is cut to one window (an empty bucket), so nobody waits longer.
 */
static int
gcra(entry *e, unsigned limit, unsigned window, int64_t now_us,
     int64_t *wait_us)
{
    int64_t span = (int64_t)window * US;
    int64_t interval = span / (int64_t)limit; /* >= 1: limit <= 1e6 */
    int64_t tolerance = span - interval;
    int64_t tat;

    if (e->tat - now_us > span)
        e->tat = now_us + span; /* the clock stepped back */
    tat = e->tat > now_us ? e->tat : now_us;
    if (tat - now_us > tolerance) {
        *wait_us = tat - now_us - tolerance;
        return MS_ELIMIT;
    }
    e->tat = tat + interval;
    *wait_us = 0;
    return 0;
}

/* ---- the interface ---- */

int
ms_ratelimit_hit(ms_ratelimit *rl, const char *key, unsigned limit,
                 unsigned window, time_t now, unsigned *retry_after)
{
    uint8_t h[16];
    uint64_t tag[2];
    int64_t now_us;
    int64_t wait_us = 0;
    size_t len;
    shard *s;
    uint32_t i;
    int rc;

    MS_ASSERT(rl != NULL);
    if (retry_after != NULL)
        *retry_after = 0;
    if (key == NULL || (len = strnlen(key, MS_RATELIMIT_KEY_MAX + 1)) == 0 ||
        len > MS_RATELIMIT_KEY_MAX || limit == 0 ||
        limit > MS_RATELIMIT_LIMIT_MAX || window == 0 ||
        window > MS_RATELIMIT_WINDOW_MAX || now < 0 ||
        now > MS_RATELIMIT_NOW_MAX)
        return MS_EINVAL;
    now_us = (int64_t)now * US;
    ms_ratelimit_siphash(h, rl->seed, key, len);
    tag[0] = load_le64(h);
    tag[1] = load_le64(h + 8);
    s = &rl->shards[tag[1] & (rl->nshards - 1)];
    shard_lock(s);
    if ((i = find(s, tag)) == NIL) {
        i = insert(s, tag, now_us);
    } else {
        lru_unlink(s, i);
        lru_push_front(s, i);
    }
    rc = gcra(&s->entries[i], limit, window, now_us, &wait_us);
    shard_unlock(s);
    if (rc != 0 && retry_after != NULL)
        *retry_after = (unsigned)((wait_us + US - 1) / US);
    return rc;
}

void
ms_ratelimit_stats_get(ms_ratelimit_stats *out, ms_ratelimit *rl)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < rl->nshards; i++) {
        shard *s = &rl->shards[i];

        shard_lock(s);
        out->keys += s->used;
        out->capacity += s->cap;
        out->evicted_idle += s->evicted_idle;
        out->evicted_active += s->evicted_active;
        shard_unlock(s);
    }
}
