/* ctx.c - the library context, the clock and RFC 3339 times. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <curl/curl.h>
#include <gmime/gmime.h>

#include <mailseal/mailseal.h>

#include "cms/cms.h"
#include "ctx.h"
#include "util/alloc.h"
#include "util/error.h"

const char *
ms_version(void)
{
    return "0.1.0";
}

int
ms_library_init(ms_error *err)
{
    if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1)
        return ms_error_set_ossl(err, MS_ERR, "cannot initialise OpenSSL");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ms_error_set(err, MS_ERR, "cannot initialise libcurl");
    g_mime_init();
    return 0;
}

void
ms_library_cleanup(void)
{
    g_mime_shutdown();
    curl_global_cleanup();
}

static time_t
system_clock(void *arg)
{
    (void)arg;
    return time(NULL);
}

int
ms_ctx_new(ms_ctx **out, ms_error *err)
{
    ms_ctx *ctx;
    const ms_limits def = MS_LIMITS_INIT;

    if ((ctx = ms_calloc(1, sizeof(*ctx))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (pthread_mutex_init(&ctx->ocsp_lock, NULL) != 0) {
        ms_free(ctx);
        return ms_error_set(err, MS_ERR, "cannot create a lock");
    }
    if (pthread_mutex_init(&ctx->cert_lock, NULL) != 0) {
        (void)pthread_mutex_destroy(&ctx->ocsp_lock); /* never locked */
        ms_free(ctx);
        return ms_error_set(err, MS_ERR, "cannot create a lock");
    }
    if ((ctx->buf_sink = ms_cms_buf_sink_method()) == NULL) {
        (void)pthread_mutex_destroy(&ctx->ocsp_lock); /* never locked */
        (void)pthread_mutex_destroy(&ctx->cert_lock); /* never locked */
        ms_free(ctx);
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    }
    ctx->clock = system_clock;
    ctx->limits = def;
    ctx->net_timeout_ms = 5000;
    *out = ctx;
    return 0;
}

void
ms_ctx_free(ms_ctx *ctx)
{
    if (ctx == NULL)
        return;
    (void)pthread_mutex_destroy(&ctx->ocsp_lock); /* nothing holds it now */
    (void)pthread_mutex_destroy(&ctx->cert_lock); /* nothing holds it now */
    for (size_t i = 0; i < MS_CERT_CACHE_SIZE; i++)
        X509_free(ctx->cert_cache[i].cert);
    BIO_meth_free(ctx->buf_sink);
    ms_free(ctx);
}

void
ms_ctx_set_clock(ms_ctx *ctx, ms_clock_fn fn, void *arg)
{
    ctx->clock = fn != NULL ? fn : system_clock;
    ctx->clock_arg = fn != NULL ? arg : NULL;
}

time_t
ms_ctx_now(const ms_ctx *ctx)
{
    return ctx->clock(ctx->clock_arg);
}

int
ms_ctx_set_limits(ms_ctx *ctx, const ms_limits *limits, ms_error *err)
{
    if (limits->version != MS_LIMITS_VERSION)
        return ms_error_set(err, MS_EINVAL, "limits version %u unknown",
                            limits->version);
    if (limits->max_message == 0 || limits->max_depth == 0 ||
        limits->max_headers == 0 || limits->max_header_line == 0 ||
        limits->max_signers == 0 || limits->max_recipients == 0)
        return ms_error_set(err, MS_EINVAL, "a limit of zero");
    ctx->limits = *limits;
    return 0;
}

const ms_limits *
ms_ctx_get0_limits(const ms_ctx *ctx)
{
    return &ctx->limits;
}

void
ms_ctx_set_net_timeout(ms_ctx *ctx, long ms)
{
    ctx->net_timeout_ms = ms > 0 ? ms : 5000;
}

int
ms_time_format(char *out, size_t outlen, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL)
        return MS_EINVAL;
    if (strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return MS_ETOOBIG;
    return 0;
}

static int
digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

static int
expect(const char **p, const char *set)
{
    if (**p == '\0' || strchr(set, **p) == NULL)
        return -1;
    (*p)++;
    return 0;
}

/* Days in month mo (1..12) of year y (proleptic Gregorian). */
static int
month_days(int y, int mo)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return mo == 2 && leap ? 29 : days[mo - 1];
}

/* Days from 1970-01-01 to the given UTC civil date (proleptic Gregorian). */
static time_t
civil_to_epoch(const struct tm *tm)
{
    long long y = (long long)tm->tm_year + 1900;
    long long m = tm->tm_mon + 1;
    long long era, yoe, doy, doe, days;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + tm->tm_mday - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
    return (time_t)(days * 86400 + tm->tm_hour * 3600 + tm->tm_min * 60 +
                    tm->tm_sec);
}

int
ms_time_parse(time_t *out, const char *s, ms_error *err)
{
    struct tm tm;
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (digits(&p, 4, &y) || expect(&p, "-") || digits(&p, 2, &mo) ||
        expect(&p, "-") || digits(&p, 2, &d) || expect(&p, "Tt ") ||
        digits(&p, 2, &h) || expect(&p, ":") || digits(&p, 2, &mi) ||
        expect(&p, ":") || digits(&p, 2, &sec))
        goto bad;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            goto bad;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &oh) || expect(&p, ":") || digits(&p, 2, &om))
            goto bad;
    } else {
        goto bad;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) ||
        h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
        goto bad;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec == 60 ? 59 : sec;
    t = civil_to_epoch(&tm);
    *out = t - (time_t)sign * (oh * 3600 + om * 60);
    return 0;
bad:
    return ms_error_set(err, MS_EINVAL,
                        "bad time (want RFC 3339, e.g. 2026-11-23T10:00:00Z)");
}
