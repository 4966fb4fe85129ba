/* util/base64.c - base64 for MIME bodies. */
#include <pthread.h>

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

/* Decoding classes beyond the 64 digit values. */
enum { B64_SPACE = 64, B64_PAD, B64_BAD };

/* The class of every byte: its value, B64_SPACE, B64_PAD or B64_BAD. */
static unsigned char decode_table[256];

static void
init_decode_table(void)
{
    for (unsigned i = 0; i < 256; i++)
        decode_table[i] = B64_BAD;
    for (unsigned i = 0; i < 64; i++)
        decode_table[(unsigned char)alphabet[i]] = (unsigned char)i;
    decode_table[' '] = decode_table['\t'] = B64_SPACE;
    decode_table['\r'] = decode_table['\n'] = B64_SPACE;
    decode_table['='] = B64_PAD;
}

int
ms_base64_decode(ms_buf *out, const void *text, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    const unsigned char *p = text;
    unsigned char *o;
    unsigned v = 0;
    int n = 0, pad = 0, rc;

    if ((rc = ms_buf_reserve(out, len / 4 * 3 + 3)) != 0)
        return rc;
    (void)pthread_once(&once, init_decode_table);
    o = out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned d = decode_table[p[i]];

        if (d < 64 && pad == 0) {
            v = (v << 6) | d;
            if (++n < 4)
                continue;
            *o++ = (unsigned char)(v >> 16);
            *o++ = (unsigned char)(v >> 8);
            *o++ = (unsigned char)v;
            n = 0;
            v = 0;
            continue;
        }
        if (d == B64_SPACE)
            continue;
        if (d != B64_PAD || n < 2)
            goto bad;
        pad++;
        v <<= 6;
        if (++n < 4)
            continue;
        *o++ = (unsigned char)(v >> 16);
        if (pad < 2)
            *o++ = (unsigned char)(v >> 8);
        n = 0;
        /* Only whitespace may follow the padding. */
        for (size_t j = i + 1; j < len; j++) {
            if (decode_table[p[j]] != B64_SPACE)
                goto bad;
        }
        break;
    }
    if (n != 0)
        goto bad;
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
    return 0;
bad:
    /* A failed append leaves the old contents intact. */
    out->data[out->len] = '\0';
    return MS_EMALFORMED;
}
