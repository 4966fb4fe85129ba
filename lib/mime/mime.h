/*
 * mime/mime.h - a bounded walk over the raw bytes of a MIME message.
 *
 * ms_mime_parse() records, for every entity, where its header block and
 * body lie in the caller's buffer, so signed parts can be handed on
 * byte-exact. It enforces the context's limits (depth, header count, header
 * line length) before anything else looks at the data; Content-Type values
 * are parsed by GMime. The ms_mime borrows the data buffer: keep it alive.
 */
#ifndef MS_MIME_MIME_H
#define MS_MIME_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

#define MS_MIME_MAX_PARTS 10000

typedef struct ms_mime_part {
    size_t start;    /* first byte of the entity's header block */
    size_t hdr_end;  /* end of the header fields (the blank line follows) */
    size_t body;     /* first byte of the body */
    size_t end;      /* one past the last byte of the body */
    int parent;      /* index, -1 for the top */
    int first_child; /* index or -1 */
    int next;        /* next sibling or -1 */
    unsigned depth;
    bool in_rfc822;  /* inside a message/rfc822 (forwarded) part */
    bool attachment; /* Content-Disposition: attachment */
    char type[128];  /* "text/plain", lower case; default text/plain */
    char *boundary;
    char *protocol;   /* lower case */
    char *smime_type; /* lower case */
} ms_mime_part;

typedef struct ms_mime {
    const unsigned char *data;
    size_t len;
    ms_mime_part *parts; /* parts[0] is the message itself */
    size_t nparts;
    size_t cap;
} ms_mime;

/* Parses data. MS_ETOOBIG over a limit, MS_EMALFORMED ambiguous MIME. */
int ms_mime_parse(ms_mime *out, const ms_ctx *ctx, const void *data,
                  size_t len, ms_error *err);
void ms_mime_cleanup(ms_mime *m);

/* Header iteration over [start, end) of a header block. */
typedef struct ms_hdr_iter {
    const char *p;
    const char *end;
} ms_hdr_iter;

void ms_hdr_iter_init(ms_hdr_iter *it, const void *start, size_t len);
/*
 * Next field: name (not terminated) and the raw value after the colon, with
 * folding and the final line end included. The whole field spans
 * [*field, *field + *field_len). Returns false at the end.
 */
bool ms_hdr_next(ms_hdr_iter *it, const char **name, size_t *nlen,
                 const char **val, size_t *vlen, const char **field,
                 size_t *field_len);
/* Unfolds a raw value into out (CR and LF removed, ends trimmed). */
int ms_hdr_unfold(ms_buf *out, const char *val, size_t vlen);
/*
 * The unfolded value of the only field called name in the part's header
 * block: MS_ENOTFOUND when absent, MS_EMALFORMED when repeated.
 */
int ms_mime_header(ms_buf *out, const ms_mime *m, const ms_mime_part *p,
                   const char *name);
/* Number of fields called name in the part's header block. */
size_t ms_mime_header_count(const ms_mime *m, const ms_mime_part *p,
                            const char *name);

/* Does data hold an LF without a CR before it? */
bool ms_mime_has_bare_lf(const void *data, size_t len);
/* Appends data with every bare LF turned into CRLF. */
int ms_mime_canon_crlf(ms_buf *out, const void *data, size_t len);
/* True for header names starting "Content-" (case-insensitive). */
bool ms_hdr_is_content(const char *name, size_t nlen);

#endif
