/* services/validate/limit.c - fixed-window counters (see limit.h). */
#include "limit.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "util/alloc.h"

#define WINDOW  3600
#define NSLOTS  4096u
#define PROBE   16u
#define KEY_MAX 300

typedef struct slot {
    char key[KEY_MAX + 1];
    time_t start; /* 0: free */
    long long count;
} slot;

struct vl_limiter {
    pthread_mutex_t lock;
    slot slots[NSLOTS];
};

vl_limiter *
vl_limiter_new(void)
{
    vl_limiter *l = ms_calloc(1, sizeof(*l));

    if (l != NULL && pthread_mutex_init(&l->lock, NULL) != 0) {
        ms_free(l);
        l = NULL;
    }
    return l;
}

void
vl_limiter_free(vl_limiter *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    ms_free(l);
}

/* FNV-1a of the key. */
static uint32_t
hash_of(const char *k)
{
    uint32_t h = 2166136261u;

    for (; *k != '\0'; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

static bool
is_free(const slot *s, time_t now)
{
    return s->start == 0 || s->start + WINDOW <= now;
}

/* The slot of key (found, free, expired, or the oldest probed). */
static slot *
find(vl_limiter *l, const char *key, time_t now)
{
    uint32_t h = hash_of(key);
    slot *victim = NULL, *s;

    for (unsigned i = 0; i < PROBE; i++) {
        s = &l->slots[(h + i) % NSLOTS];
        if (s->start != 0 && strcmp(s->key, key) == 0)
            return s;
        if (victim != NULL && is_free(victim, now))
            continue; /* keep the first free slot */
        if (victim == NULL || is_free(s, now) || s->start < victim->start)
            victim = s;
    }
    victim->start = 0;
    (void)strncpy(victim->key, key, KEY_MAX);
    victim->key[KEY_MAX] = '\0';
    return victim;
}

bool
vl_limit_hit(vl_limiter *l, const char *key, long long limit, time_t now,
             long long *retry_after)
{
    char k[KEY_MAX + 1];
    bool ok;
    slot *s;

    (void)strncpy(k, key, KEY_MAX);
    k[KEY_MAX] = '\0';
    pthread_mutex_lock(&l->lock);
    s = find(l, k, now);
    if (s->start == 0 || s->start + WINDOW <= now) {
        s->start = now;
        s->count = 0;
    }
    ok = s->count < limit;
    if (ok)
        s->count++;
    else
        *retry_after =
            s->start + WINDOW - now > 0 ? s->start + WINDOW - now : 1;
    pthread_mutex_unlock(&l->lock);
    return ok;
}
