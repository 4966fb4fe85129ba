/*
 * util/error.h - recording errors into ms_error.
 *
 * ms_error_set() returns the code it records, so callers write
 * `return ms_error_set(err, MS_EINVAL, "...")`. Both setters drain the
 * OpenSSL error queue (the first entry is kept in err->ossl).
 */
#ifndef MS_UTIL_ERROR_H
#define MS_UTIL_ERROR_H

#include <stdio.h>
#include <stdlib.h>

#include <mailseal/error.h>

int ms_error_set_at(ms_error *err, int code, const char *func, int line,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define ms_error_set(err, code, ...)                                           \
    ms_error_set_at((err), (code), __func__, __LINE__, __VA_ARGS__)
/* Same; kept as a separate name to mark calls after an OpenSSL failure. */
#define ms_error_set_ossl(err, code, ...)                                      \
    ms_error_set_at((err), (code), __func__, __LINE__, __VA_ARGS__)

#define MS_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            (void)fprintf(stderr, "mailseal: assertion failed: %s (%s:%d)\n",  \
                          #cond, __FILE__, __LINE__);                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
