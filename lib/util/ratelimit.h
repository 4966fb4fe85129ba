/*
 * util/ratelimit.h - an in-memory rate limiter for mailseald: at most
 * `limit` events per `window` seconds for each key (a client address, a
 * mailbox, an API key), in a fixed amount of memory.
 *
 * Algorithm: GCRA (the generic cell rate algorithm, a token bucket kept as
 * one timestamp per key). A key may spend `limit` events at once, then
 * earns one back every window / limit seconds; a refused event costs
 * nothing. So a steady client gets exactly limit per window, and any span
 * of window seconds holds at most 2 * limit - 1 accepted events (a full
 * bucket spent at its start, refilled by its end). Times are kept in
 * microseconds, so uneven rates (30 per 3600 s) are exact enough.
 *
 * Memory: ms_ratelimit_new() allocates everything: about 48 bytes per key
 * for max_keys keys, never more, and ms_ratelimit_hit() allocates
 * nothing. Keys are not stored: each is known by its 128-bit SipHash-2-4
 * under 16 random bytes drawn per limiter (RAND_bytes), so an attacker
 * who does not know them can neither aim keys at one hash bucket or shard
 * nor make two keys share a counter (a chance collision has probability
 * about 2^-128 per pair).
 *
 * Eviction, and its trade-off: the keys are spread over up to 64 shards of
 * max_keys / shards entries each; a new key arriving at a full shard takes
 * the place of that shard's least recently used key. That key is usually
 * idle (its bucket has refilled: forgetting it loses nothing; counted as
 * evicted_idle); if not, its counter is lost (evicted_active): the key
 * starts afresh when it comes back. We chose this over refusing new keys
 * while the table is full, which would let anyone who fills the table with
 * live keys (many client addresses, or many mailboxes) lock every new
 * client out for up to a window: a denial of service for all in exchange
 * for protecting some counters. What flushing costs the attacker: a key
 * is evicted only after about max_keys other keys were used since it was
 * last touched (the shard of a key is secret, so fresh keys cannot be aimed
 * at one shard), and each of those uses is a request that the other
 * limits (per client address) also count. A client being limited keeps
 * touching its key, which keeps it away from eviction. Size max_keys well
 * above the keys active in one window (100 000 keys take about 5 MB) and
 * watch evicted_active: when it grows, the table is too small or under
 * attack.
 *
 * Ownership: ms_ratelimit_new() makes a limiter, ms_ratelimit_free()
 * releases it. Keys are borrowed for the call only.
 *
 * Thread safety: any number of threads may call ms_ratelimit_hit() and
 * ms_ratelimit_stats() on one limiter at once; each shard has its own
 * mutex, held for a hash lookup and a few stores, so threads working on
 * different keys rarely wait for each other. ms_ratelimit_free() must not
 * run concurrently with anything else on the same limiter.
 */
#ifndef MS_UTIL_RATELIMIT_H
#define MS_UTIL_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mailseal/error.h>

/* Longest key in bytes (an address with a prefix such as "mbox:"). */
#define MS_RATELIMIT_KEY_MAX 320
/* Largest max_keys (about 200 MB of table). */
#define MS_RATELIMIT_KEYS_MAX ((size_t)1 << 22)
/* Largest limit per window, and the longest window (31 days). */
#define MS_RATELIMIT_LIMIT_MAX  1000000u
#define MS_RATELIMIT_WINDOW_MAX (31u * 24 * 3600)
/* Latest time accepted (year 33658): times in microseconds fit int64. */
#define MS_RATELIMIT_NOW_MAX ((time_t)1000000000000)

typedef struct ms_ratelimit ms_ratelimit;

typedef struct ms_ratelimit_stats {
    size_t keys;             /* keys held now */
    size_t capacity;         /* keys it can hold (<= max_keys) */
    uint64_t evicted_idle;   /* keys forgotten with a full bucket */
    uint64_t evicted_active; /* keys forgotten while still counting */
} ms_ratelimit_stats;

/*
 * *out = a limiter holding at most max_keys (1..MS_RATELIMIT_KEYS_MAX)
 * keys, with a fresh random hash key. Returns 0, MS_EINVAL (max_keys out
 * of range), MS_ENOMEM, MS_ERR (no randomness, no mutex).
 */
int ms_ratelimit_new(ms_ratelimit **out, size_t max_keys, ms_error *err);

/* Releases rl (NULL is a no-op). */
void ms_ratelimit_free(ms_ratelimit *rl);

/*
 * Counts one event for key (a NUL-terminated string of
 * 1..MS_RATELIMIT_KEY_MAX bytes) at time now (seconds, as from ms_clock:
 * 0..MS_RATELIMIT_NOW_MAX), allowing limit (1..MS_RATELIMIT_LIMIT_MAX)
 * events per window seconds (1..MS_RATELIMIT_WINDOW_MAX). Pass the same
 * limit and window for a key every time (a changed rate applies from the
 * key's next refill on). Returns 0 when the event is allowed (and counted)
 * and MS_ELIMIT when it is over the limit (not counted); *retry_after (may
 * be NULL) is then the whole seconds, at least 1, until an event for key
 * would be allowed, else 0. Returns MS_EINVAL for an argument out of
 * range (*retry_after is then 0). A clock stepping back is safe: the key
 * waits longer, at most one window.
 */
int ms_ratelimit_hit(ms_ratelimit *rl, const char *key, unsigned limit,
                     unsigned window, time_t now, unsigned *retry_after);

/* A snapshot of rl's counters (each shard is read under its lock). */
void ms_ratelimit_stats_get(ms_ratelimit_stats *out, ms_ratelimit *rl);

/*
 * SipHash-2-4 with a 128-bit output (the reference algorithm, as OpenSSL's
 * EVP_MAC "SIPHASH" with size 16) of len bytes at in under key. Exposed
 * for its test.
 */
void ms_ratelimit_siphash(uint8_t out[16], const uint8_t key[16],
                          const void *in, size_t len);

#endif
