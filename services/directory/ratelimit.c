/*
 * services/directory/ratelimit.c - the directory's per-minute limits
 * (dir.h) on the shared limiter, lib/util/ratelimit.h.
 */
#include "dir.h" /* relative: fuzz/dir_addr.c builds this directory too */
#include "util/alloc.h"
#include "util/error.h"
#include "util/ratelimit.h"

struct ms_dir_rate {
    ms_ratelimit *rl;
};

int
ms_dir_rate_new(ms_dir_rate **out, size_t slots, ms_error *err)
{
    ms_dir_rate *r;
    int rc;

    if ((r = ms_calloc(1, sizeof(*r))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_ratelimit_new(&r->rl, slots, err)) != 0) {
        ms_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void
ms_dir_rate_free(ms_dir_rate *r)
{
    if (r == NULL)
        return;
    ms_ratelimit_free(r->rl);
    ms_free(r);
}

bool
ms_dir_rate_take(ms_dir_rate *r, const char *key, long per_min, time_t now,
                 long *retry_after)
{
    unsigned wait = 0;
    int rc;

    if (per_min < 1) { /* nothing allowed */
        *retry_after = 60;
        return false;
    }
    rc = ms_ratelimit_hit(r->rl, key,
                          per_min > 1000000 ? 1000000u : (unsigned)per_min, 60,
                          now, &wait);
    *retry_after = rc == MS_EINVAL ? 60 : (long)wait;
    return rc == 0;
}
