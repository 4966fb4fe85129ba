/*
 * services/common/log.h - the programs' log: one event per line on stderr,
 * `<prog>[pid]: <level>: [<id>: ]text key=value`, where id is the request
 * ID. Each line is formatted on the stack and written with one write(2),
 * so threads never take a lock and lines never interleave (they are
 * shorter than PIPE_BUF).
 *
 * Thread safety: every function may be called from any thread; the level
 * is an atomic. ms_log_init() is called once, before any thread starts.
 */
#ifndef MS_SERVICES_LOG_H
#define MS_SERVICES_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "config/daemon.h" /* MS_LOGLEVEL_* */
#include "net/server.h"

/* prog (static storage) names the program in every line. */
void ms_log_init(const char *prog);
/* Whether ms_log_access() writes its line (default yes). */
void ms_log_set_access(bool on);
/* Lines above level (MS_LOGLEVEL_*) are dropped from now on. */
void ms_log_set_level(int level);
int ms_log_get_level(void);
bool ms_log_enabled(int level);

/* Logs one line at level; id may be NULL. */
void ms_log(int level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As ms_log() without an id, the text prefixed with "func: ". */
void ms_log_fn(int level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ms_log_err(...)   ms_log(MS_LOGLEVEL_ERROR, NULL, __VA_ARGS__)
#define ms_log_warn(...)  ms_log(MS_LOGLEVEL_WARNING, NULL, __VA_ARGS__)
#define ms_log_info(...)  ms_log(MS_LOGLEVEL_INFO, NULL, __VA_ARGS__)
#define ms_log_debug(...) ms_log_fn(MS_LOGLEVEL_DEBUG, __func__, __VA_ARGS__)

/*
 * Copies untrusted text s into out (outsz > 0, always NUL-terminated) with
 * bytes outside printable ASCII, blanks, '"', '\\' and '=' as \xHH, cut at
 * 200 input bytes ("..." appended). Returns out.
 */
char *ms_log_quote(char *out, size_t outsz, const char *s);

/*
 * The access-log callback of ms_http_server (arg unused): one info line
 * `request time=... peer=... method=... path=... status=... bytes=...
 * us=...`.
 */
void ms_log_access(const ms_http_access *a, void *arg);
/* The error-log callback of ms_http_server (arg unused). */
void ms_log_server_error(const char *msg, void *arg);

#endif
