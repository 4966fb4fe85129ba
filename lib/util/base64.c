/* util/base64.c - base64 for MIME bodies. */
#include <mailseal/error.h>

#include "util/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
ms_base64_encode_lines(ms_buf *out, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t groups = (len + 2) / 3, lines = (groups * 4 + 75) / 76;
    size_t col = 0;
    unsigned char *o;
    int rc;

    if ((rc = ms_buf_reserve(out, groups * 4 + lines * 2)) != 0)
        return rc;
    o = out->data + out->len;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;

        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        *o++ = (unsigned char)alphabet[(v >> 18) & 63];
        *o++ = (unsigned char)alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? (unsigned char)alphabet[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? (unsigned char)alphabet[v & 63] : '=';
        col += 4;
        if (col == 76 || i + 3 >= len) {
            *o++ = '\r';
            *o++ = '\n';
            col = 0;
        }
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
}

static int
value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
ms_base64_decode(ms_buf *out, const void *text, size_t len)
{
    const unsigned char *p = text;
    size_t start = out->len;
    unsigned v = 0;
    int n = 0, pad = 0, rc, d;

    if ((rc = ms_buf_reserve(out, len / 4 * 3 + 3)) != 0)
        return rc;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (n < 2)
                goto bad;
            pad++;
            n++;
            v <<= 6;
        } else {
            if (pad > 0 || (d = value(c)) < 0)
                goto bad;
            v = (v << 6) | (unsigned)d;
            n++;
        }
        if (n == 4) {
            out->data[out->len++] = (unsigned char)(v >> 16);
            if (pad < 2)
                out->data[out->len++] = (unsigned char)(v >> 8);
            if (pad < 1)
                out->data[out->len++] = (unsigned char)v;
            n = 0;
            v = 0;
            if (pad > 0) {
                /* Only whitespace may follow the padding. */
                for (size_t j = i + 1; j < len; j++) {
                    if (p[j] != ' ' && p[j] != '\t' && p[j] != '\r' &&
                        p[j] != '\n')
                        goto bad;
                }
                break;
            }
        }
    }
    if (n != 0)
        goto bad;
    out->data[out->len] = '\0';
    return 0;
bad:
    /* A failed append leaves the old contents intact. */
    out->len = start;
    out->data[out->len] = '\0';
    return MS_EMALFORMED;
}
