/*
 * services/directory/ratelimit.c - the per-process token buckets of the
 * directory (dir.h): an open-addressed table of fixed slots; a full probe
 * window evicts its least recently used slot, so memory stays bounded
 * whatever the number of clients.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "directory/dir.h"
#include "util/alloc.h"
#include "util/error.h"

#define KEY_MAX 63
#define PROBE   8

typedef struct bucket {
    char key[KEY_MAX + 1]; /* "" = free */
    double tokens;
    double last; /* time of the last refill */
} bucket;

struct ms_dir_rate {
    pthread_mutex_t lock;
    bucket *slots;
    size_t n;
};

int
ms_dir_rate_new(ms_dir_rate **out, size_t slots, ms_error *err)
{
    ms_dir_rate *r;

    if (slots < PROBE)
        slots = PROBE;
    if ((r = ms_calloc(1, sizeof(*r))) == NULL ||
        (r->slots = ms_calloc(slots, sizeof(bucket))) == NULL) {
        ms_free(r);
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    }
    r->n = slots;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        ms_free(r->slots);
        ms_free(r);
        return ms_error_set(err, MS_ERR, "pthread_mutex_init failed");
    }
    *out = r;
    return 0;
}

void
ms_dir_rate_free(ms_dir_rate *r)
{
    if (r == NULL)
        return;
    (void)pthread_mutex_destroy(&r->lock);
    ms_free(r->slots);
    ms_free(r);
}

/* FNV-1a: the table index of key. */
static size_t
key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return (size_t)h;
}

/* The slot of key (found, free, or the stalest of the window, reset). */
static bucket *
slot_for(ms_dir_rate *r, const char *key, double burst, double now)
{
    size_t h = key_hash(key);
    bucket *victim = NULL;

    for (size_t i = 0; i < PROBE; i++) {
        bucket *b = &r->slots[(h + i) % r->n];

        if (strcmp(b->key, key) == 0)
            return b;
        if (victim == NULL || b->key[0] == '\0' ||
            (victim->key[0] != '\0' && b->last < victim->last))
            victim = b;
        if (b->key[0] == '\0')
            break;
    }
    (void)snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->tokens = burst;
    victim->last = now;
    return victim;
}

bool
ms_dir_rate_take(ms_dir_rate *r, const char *key, long per_min, time_t now,
                 long *retry_after)
{
    char k[KEY_MAX + 1];
    double rate = (double)per_min / 60.0, t = (double)now;
    bucket *b;
    bool ok;

    if (per_min <= 0) {
        *retry_after = 60;
        return false;
    }
    (void)snprintf(k, sizeof(k), "%s", key);
    (void)pthread_mutex_lock(&r->lock);
    b = slot_for(r, k, (double)per_min, t);
    if (t > b->last) {
        b->tokens += (t - b->last) * rate;
        if (b->tokens > (double)per_min)
            b->tokens = (double)per_min;
        b->last = t;
    }
    ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    else
        *retry_after = (long)((1.0 - b->tokens) / rate) + 1;
    (void)pthread_mutex_unlock(&r->lock);
    return ok;
}
