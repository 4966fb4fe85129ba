/*
 * mailseal/buf.h - length-tracked, capped, NUL-terminated byte buffers.
 *
 * ms_buf is caller storage: ms_buf_init() before use, ms_buf_cleanup()
 * after. Fields are read-only for callers. data is always NUL-terminated
 * (when non-NULL) so text can be used as a C string. A failed append leaves
 * the old contents intact. Not thread safe: one owner at a time.
 */
#ifndef MAILSEAL_BUF_H
#define MAILSEAL_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/export.h>

typedef struct ms_buf {
    unsigned char *data; /* NULL until the first append */
    size_t len;          /* bytes used, excluding the NUL */
    size_t cap;          /* bytes allocated */
    size_t max;          /* appends past max fail with MS_ETOOBIG */
    bool secret;         /* wiped with ms_wipe() when freed or grown */
} ms_buf;

/* Empty buffer holding at most max bytes (0 means SIZE_MAX - 1). */
MS_EXPORT void ms_buf_init(ms_buf *b, size_t max);
/* As ms_buf_init(), and the contents are wiped before release. */
MS_EXPORT void ms_buf_init_secret(ms_buf *b, size_t max);
/* Releases the storage; b may be used again after ms_buf_init(). */
MS_EXPORT void ms_buf_cleanup(ms_buf *b);
/* Sets len to 0 and keeps the storage (wiped when secret). */
MS_EXPORT void ms_buf_reset(ms_buf *b);
/* Ensures room for extra more bytes. Returns 0, MS_ETOOBIG or MS_ENOMEM. */
MS_EXPORT int ms_buf_reserve(ms_buf *b, size_t extra);
/* Appends n bytes. Returns 0, MS_ETOOBIG or MS_ENOMEM. */
MS_EXPORT int ms_buf_append(ms_buf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
MS_EXPORT int ms_buf_puts(ms_buf *b, const char *s);
/* Appends formatted text. Returns 0, MS_ETOOBIG, MS_ENOMEM or MS_EINVAL. */
MS_EXPORT int ms_buf_printf(ms_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Moves src's contents into dst (dst is cleaned up first); src is left empty. */
MS_EXPORT void ms_buf_move(ms_buf *dst, ms_buf *src);

/* Overwrites n bytes at p with zeros in a way the compiler keeps. */
MS_EXPORT void ms_wipe(void *p, size_t n);

#endif
