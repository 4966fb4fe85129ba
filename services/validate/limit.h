/*
 * services/validate/limit.h - a minimal in-memory rate limiter: fixed
 * one-hour windows per key ("a:alice@example.com", "c:127.0.0.1"), counted
 * per process (a restart forgets them, as api4.md allows). The one
 * function to swap for lib/util/ratelimit.h once that exists.
 *
 * Ownership: the caller owns the limiter (vl_limiter_new / _free).
 * Thread safety: vl_limit_hit() may be called from any thread (a mutex
 * held for the table lookup only).
 */
#ifndef MS_SERVICES_VALIDATE_LIMIT_H
#define MS_SERVICES_VALIDATE_LIMIT_H

#include <stdbool.h>
#include <time.h>

typedef struct vl_limiter vl_limiter;

/* NULL when out of memory. */
vl_limiter *vl_limiter_new(void);
void vl_limiter_free(vl_limiter *l);

/*
 * Counts one event for key at now; true when it is within limit per hour.
 * Otherwise false and *retry_after = seconds until the window ends (>= 1).
 * Keys longer than 300 bytes are cut (still exact for any address).
 */
bool vl_limit_hit(vl_limiter *l, const char *key, long long limit, time_t now,
                  long long *retry_after);

#endif
