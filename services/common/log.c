/* services/common/log.c - one write(2) per log line (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048 /* longer lines are cut */
#define QUOTE_MAX      200  /* input bytes of untrusted text kept */

static const char *prog_name = "mailseal";
static long prog_pid;
static atomic_int cur_level = MS_LOGLEVEL_INFO;
static atomic_bool access_on = true;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void
ms_log_init(const char *prog)
{
    prog_name = prog;
    prog_pid = (long)getpid();
}

void
ms_log_set_level(int level)
{
    atomic_store(&cur_level, level);
}

int
ms_log_get_level(void)
{
    return atomic_load(&cur_level);
}

bool
ms_log_enabled(int level)
{
    return level <= atomic_load(&cur_level);
}

static void
write_line(char *line, size_t n, size_t cap)
{
    size_t off = 0;

    if (n >= cap)
        n = cap - 1; /* cut: keep room for the newline */
    line[n++] = '\n';
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, line + off, n - off);

        if (w <= 0)
            return; /* nowhere else to report a failing stderr */
        off += (size_t)w;
    }
}

static void vlog(int level, const char *id, const char *func, const char *fmt,
                 va_list ap) __attribute__((format(printf, 4, 0)));

static void
vlog(int level, const char *id, const char *func, const char *fmt, va_list ap)
{
    char line[LINE_MAX_BYTES];
    int n, m;

    if (level < 0 || level > MS_LOGLEVEL_DEBUG || !ms_log_enabled(level))
        return;
    n = snprintf(line, sizeof(line), "%s[%ld]: %s: %s%s%s%s", prog_name,
                 prog_pid, level_names[level], id != NULL ? id : "",
                 id != NULL ? ": " : "", func != NULL ? func : "",
                 func != NULL ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    write_line(line, (size_t)n + (size_t)m, sizeof(line));
}

void
ms_log(int level, const char *id, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, id, NULL, fmt, ap);
    va_end(ap);
}

void
ms_log_fn(int level, const char *func, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, NULL, func, fmt, ap);
    va_end(ap);
}

static char *
quote(char *out, size_t outsz, const char *s, bool keep_space)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    for (i = 0; s[i] != '\0' && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c > 0x20 || (keep_space && c == ' ')) && c < 0x7f &&
                     c != '"' && c != '\\' && (c != '=' || keep_space);

        if (o + (plain ? 1 : 4) >= outsz)
            break;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (s[i] != '\0' && o + 3 < outsz) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

char *
ms_log_quote(char *out, size_t outsz, const char *s)
{
    return quote(out, outsz, s, false);
}

void
ms_log_set_access(bool on)
{
    atomic_store(&access_on, on);
}

/*
 * Paths whose last segment is a secret (a one-time link token): the access
 * log shows the prefix only.
 */
static const char *const secret_prefixes[] = {
    "/v1/directory/unpublish/",
    "/v1/invitations/opt-out/",
};

/* a->path, or its prefix + "[redacted]" when it carries a secret. */
static const char *
access_path(char *buf, size_t bufsz, const char *path)
{
    for (size_t i = 0; i < sizeof(secret_prefixes) / sizeof(*secret_prefixes);
         i++) {
        size_t n = strlen(secret_prefixes[i]);

        if (strncmp(path, secret_prefixes[i], n) == 0 && path[n] != '\0') {
            (void)snprintf(buf, bufsz, "%s[redacted]", secret_prefixes[i]);
            return buf;
        }
    }
    return path;
}

void
ms_log_access(const ms_http_access *a, void *arg)
{
    char path[4 * QUOTE_MAX + 4], method[40], when[32], plain[64];
    struct timespec now = {0, 0};
    struct tm tm;

    (void)arg;
    if (!atomic_load(&access_on) || !ms_log_enabled(MS_LOGLEVEL_INFO))
        return;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 ||
        gmtime_r(&now.tv_sec, &tm) == NULL ||
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        when[0] = '\0';
    ms_log(MS_LOGLEVEL_INFO, a->request_id,
           "request time=%s.%03ldZ peer=%s method=%s path=%s status=%d "
           "bytes=%zu us=%llu",
           when, now.tv_nsec / 1000000, a->peer[0] ? a->peer : "-",
           ms_log_quote(method, sizeof(method), a->method),
           ms_log_quote(path, sizeof(path),
                        access_path(plain, sizeof(plain), a->path)),
           a->status, a->bytes, (unsigned long long)a->usec);
}

void
ms_log_server_error(const char *msg, void *arg)
{
    char q[4 * QUOTE_MAX + 4];

    (void)arg;
    /* libmicrohttpd's messages may quote request bytes. */
    ms_log(MS_LOGLEVEL_WARNING, NULL, "http: %s",
           quote(q, sizeof(q), msg, true));
}
