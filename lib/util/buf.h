/*
 * util/buf.h - ms_buf helpers for lib/ only (the rest is <mailseal/buf.h>).
 * Same rules as there: one owner per buffer, not thread safe.
 */
#ifndef MS_UTIL_BUF_H
#define MS_UTIL_BUF_H

#include <mailseal/buf.h>

/*
 * Hands src's storage to dst without copying. dst keeps its own max and
 * secret flag; its old storage is released (wiped when secret); src is
 * left empty. MS_ETOOBIG when src holds more than dst->max bytes: then
 * neither buffer changes.
 */
int ms_buf_take(ms_buf *dst, ms_buf *src);

#endif
