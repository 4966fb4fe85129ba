/*
 * mailseal/ctx.h - the library context: clock, limits and caches.
 *
 * One ms_ctx per program (or per thread pool). It owns the OpenSSL library
 * context used by every call, the injectable clock, the input limits and the
 * OCSP response cache. Configure it before first use; afterwards it may be
 * shared by threads only for reading (the OCSP cache takes its own lock).
 */
#ifndef MAILSEAL_CTX_H
#define MAILSEAL_CTX_H

#include <stddef.h>
#include <time.h>

#include <mailseal/error.h>
#include <mailseal/export.h>

typedef struct ms_ctx ms_ctx;

/* Returns the current time in seconds since the epoch. */
typedef time_t (*ms_clock_fn)(void *arg);

typedef struct ms_limits {
    unsigned version;        /* MS_LIMITS_VERSION */
    size_t max_message;      /* bytes of one input message */
    unsigned max_depth;      /* MIME nesting depth */
    unsigned max_headers;    /* header fields per entity */
    size_t max_header_line;  /* bytes of one (unfolded) header field */
    unsigned max_signers;    /* SignerInfos per signature */
    unsigned max_recipients; /* RecipientInfos examined when decrypting */
} ms_limits;

#define MS_LIMITS_VERSION 1
#define MS_LIMITS_INIT                                                         \
    {                                                                          \
        MS_LIMITS_VERSION, 64u * 1024 * 1024, 32, 10000, 1024u * 1024, 64,     \
            10000                                                              \
    }

/* Creates a context with the system clock and MS_LIMITS_INIT. */
MS_EXPORT int ms_ctx_new(ms_ctx **out, ms_error *err);
MS_EXPORT void ms_ctx_free(ms_ctx *ctx);

/* Replaces the clock (NULL restores time(2)). */
MS_EXPORT void ms_ctx_set_clock(ms_ctx *ctx, ms_clock_fn fn, void *arg);
/* The context's current time. */
MS_EXPORT time_t ms_ctx_now(const ms_ctx *ctx);

/* Copies the limits in; returns MS_EINVAL on a version mismatch or zero. */
MS_EXPORT int ms_ctx_set_limits(ms_ctx *ctx, const ms_limits *limits,
                                ms_error *err);
MS_EXPORT const ms_limits *ms_ctx_get0_limits(const ms_ctx *ctx);

/* Timeout for network look-ups (OCSP, TSA), in milliseconds (default 5000). */
MS_EXPORT void ms_ctx_set_net_timeout(ms_ctx *ctx, long ms);

/* Formats t as RFC 3339 UTC ("2026-11-23T10:00:00Z") into out[21+]. */
MS_EXPORT int ms_time_format(char *out, size_t outlen, time_t t);
/* Parses RFC 3339 (Z or +hh:mm offsets, optional fraction). */
MS_EXPORT int ms_time_parse(time_t *out, const char *s, ms_error *err);

#endif
