/* mime/mime.c - bounded walk over the raw bytes of a MIME message. */
#include <string.h>

#include <gmime/gmime.h>

#include "ctx.h"
#include "mime/mime.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

typedef struct walk {
    ms_mime *m;
    const ms_limits *lim;
    ms_error *err;
} walk;

void
ms_hdr_iter_init(ms_hdr_iter *it, const void *start, size_t len)
{
    it->p = start;
    it->end = it->p + len;
}

/* End of the line starting at p (one past its LF, or end). */
static const char *
line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    return nl == NULL ? end : nl + 1;
}

bool
ms_hdr_next(ms_hdr_iter *it, const char **name, size_t *nlen,
            const char **val, size_t *vlen, const char **field,
            size_t *field_len)
{
    const char *p = it->p, *colon, *e;

    if (p >= it->end)
        return false;
    e = line_end(p, it->end);
    while (e < it->end && (*e == ' ' || *e == '\t'))
        e = line_end(e, it->end);
    colon = memchr(p, ':', (size_t)(e - p));
    *field = p;
    *field_len = (size_t)(e - p);
    if (colon == NULL) {
        *name = p;
        *nlen = 0;
        *val = p;
        *vlen = (size_t)(e - p);
    } else {
        *name = p;
        *nlen = (size_t)(colon - p);
        while (*nlen > 0 && (p[*nlen - 1] == ' ' || p[*nlen - 1] == '\t'))
            (*nlen)--;
        *val = colon + 1;
        *vlen = (size_t)(e - colon - 1);
    }
    it->p = e;
    return true;
}

int
ms_hdr_unfold(ms_buf *out, const char *val, size_t vlen)
{
    size_t i = 0, j;
    int rc;

    ms_buf_reset(out);
    while (i < vlen && (val[i] == ' ' || val[i] == '\t'))
        i++;
    j = vlen;
    while (j > i && (val[j - 1] == '\r' || val[j - 1] == '\n' ||
                     val[j - 1] == ' ' || val[j - 1] == '\t'))
        j--;
    if ((rc = ms_buf_reserve(out, j - i)) != 0)
        return rc;
    for (; i < j; i++) {
        if (val[i] == '\r' || val[i] == '\n')
            continue;
        if (val[i] == '\0')
            return MS_EMALFORMED;
        out->data[out->len++] = (unsigned char)val[i];
    }
    out->data[out->len] = '\0';
    return 0;
}

bool
ms_hdr_is_content(const char *name, size_t nlen)
{
    return nlen >= 8 && ms_ascii_casebytes(name, 8, "content-", 8);
}

size_t
ms_mime_header_count(const ms_mime *m, const ms_mime_part *p,
                     const char *name)
{
    ms_hdr_iter it;
    const char *n, *v, *f;
    size_t nl, vl, fl, count = 0;

    ms_hdr_iter_init(&it, m->data + p->start, p->hdr_end - p->start);
    while (ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        if (ms_ascii_casebytes(n, nl, name, strlen(name)))
            count++;
    }
    return count;
}

int
ms_mime_header(ms_buf *out, const ms_mime *m, const ms_mime_part *p,
               const char *name)
{
    ms_hdr_iter it;
    const char *n, *v, *f, *found = NULL;
    size_t nl, vl, fl, flen = 0;

    ms_hdr_iter_init(&it, m->data + p->start, p->hdr_end - p->start);
    while (ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        if (!ms_ascii_casebytes(n, nl, name, strlen(name)))
            continue;
        if (found != NULL)
            return MS_EMALFORMED;
        found = v;
        flen = vl;
    }
    if (found == NULL)
        return MS_ENOTFOUND;
    return ms_hdr_unfold(out, found, flen);
}

bool
ms_mime_has_bare_lf(const void *data, size_t len)
{
    const unsigned char *p = data, *end = p + len;

    for (const unsigned char *q = p;
         (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
        if (q == p || q[-1] != '\r')
            return true;
    }
    return false;
}

int
ms_mime_canon_crlf(ms_buf *out, const void *data, size_t len)
{
    const unsigned char *p = data, *end = p + len, *nl;
    size_t extra = 0;
    int rc;

    for (const unsigned char *q = p;
         (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++) {
        if (q == p || q[-1] != '\r')
            extra++;
    }
    if ((rc = ms_buf_reserve(out, len + extra)) != 0)
        return rc;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            memcpy(out->data + out->len, p, (size_t)(end - p));
            out->len += (size_t)(end - p);
            break;
        }
        memcpy(out->data + out->len, p, (size_t)(nl - p));
        out->len += (size_t)(nl - p);
        if (nl == (const unsigned char *)data || nl[-1] != '\r')
            out->data[out->len++] = '\r';
        out->data[out->len++] = '\n';
        p = nl + 1;
    }
    out->data[out->len] = '\0';
    return 0;
}

static void
parse_warning(gint64 offset, GMimeParserWarning errcode, const gchar *item,
              gpointer user_data)
{
    bool *crit = user_data;

    (void)offset;
    (void)item;
    if (errcode >= GMIME_CRIT_INVALID_HEADER_NAME &&
        errcode != GMIME_WARN_PART_WITHOUT_CONTENT)
        *crit = true;
}

static char *
lower_dup(const char *s)
{
    char *d;

    if (s == NULL || (d = ms_strdup(s)) == NULL)
        return NULL;
    for (char *q = d; *q != '\0'; q++) {
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q + ('a' - 'A'));
    }
    return d;
}

/* Fills type, boundary, protocol and smime_type from Content-Type. */
static int
parse_content_type(walk *w, ms_mime_part *p)
{
    ms_buf v;
    GMimeParserOptions *opts = NULL;
    GMimeContentType *ct = NULL;
    const char *s;
    bool crit = false;
    int rc;

    ms_buf_init(&v, w->lim->max_header_line);
    rc = ms_mime_header(&v, w->m, p, "Content-Type");
    if (rc == MS_ENOTFOUND) {
        const char *def = p->parent >= 0 &&
                                  strcmp(w->m->parts[p->parent].type,
                                         "multipart/digest") == 0
                              ? "message/rfc822"
                              : "text/plain";

        memcpy(p->type, def, strlen(def) + 1);
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        rc = ms_error_set(w->err, rc == MS_EMALFORMED ? rc : MS_ENOMEM,
                          "%s", rc == MS_EMALFORMED
                                    ? "two Content-Type fields in one part"
                                    : "out of memory");
        goto out;
    }
    opts = g_mime_parser_options_new();
    g_mime_parser_options_set_warning_callback(opts, parse_warning, &crit);
    ct = g_mime_content_type_parse(opts, (const char *)v.data);
    if (ct == NULL || crit) {
        rc = ms_error_set(w->err, MS_EMALFORMED, "ambiguous Content-Type");
        goto out;
    }
    {
        char *mt = g_mime_content_type_get_mime_type(ct);
        char *low = lower_dup(mt);

        g_free(mt);
        if (low == NULL) {
            rc = ms_error_set(w->err, MS_ENOMEM, "out of memory");
            goto out;
        }
        if (strlen(low) >= sizeof(p->type)) {
            ms_free(low);
            rc = ms_error_set(w->err, MS_EMALFORMED, "bad Content-Type");
            goto out;
        }
        memcpy(p->type, low, strlen(low) + 1);
        ms_free(low);
    }
    if ((s = g_mime_content_type_get_parameter(ct, "boundary")) != NULL &&
        (p->boundary = ms_strdup(s)) == NULL)
        rc = ms_error_set(w->err, MS_ENOMEM, "out of memory");
    if ((s = g_mime_content_type_get_parameter(ct, "protocol")) != NULL &&
        (p->protocol = lower_dup(s)) == NULL)
        rc = ms_error_set(w->err, MS_ENOMEM, "out of memory");
    if ((s = g_mime_content_type_get_parameter(ct, "smime-type")) != NULL &&
        (p->smime_type = lower_dup(s)) == NULL)
        rc = ms_error_set(w->err, MS_ENOMEM, "out of memory");
out:
    if (ct != NULL)
        g_object_unref(ct);
    if (opts != NULL)
        g_mime_parser_options_free(opts);
    ms_buf_cleanup(&v);
    return rc;
}

/* Finds the header block end and checks the header limits. */
static int
scan_headers(walk *w, ms_mime_part *p)
{
    const char *base = (const char *)w->m->data;
    const char *s = base + p->start, *end = base + p->end, *e;
    ms_hdr_iter it;
    const char *n, *v, *f;
    size_t nl, vl, fl, count = 0;

    /* The header block ends at the first empty line. */
    e = s;
    while (e < end && *e != '\n' && !(*e == '\r' && e + 1 < end &&
                                       e[1] == '\n')) {
        e = line_end(e, end);
    }
    p->hdr_end = (size_t)(e - base);
    if (e < end)
        e = line_end(e, end);
    p->body = (size_t)(e - base);
    ms_hdr_iter_init(&it, s, p->hdr_end - p->start);
    while (ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        if (++count > w->lim->max_headers)
            return ms_error_set(w->err, MS_ETOOBIG,
                                "more than %u header fields in one part",
                                w->lim->max_headers);
        if (fl > w->lim->max_header_line)
            return ms_error_set(w->err, MS_ETOOBIG,
                                "header field over %zu bytes",
                                w->lim->max_header_line);
        if (nl == 0 || memchr(n, ' ', nl) != NULL ||
            memchr(n, '\t', nl) != NULL)
            return ms_error_set(w->err, MS_EMALFORMED,
                                "malformed header line");
    }
    return 0;
}

static int
add_part(walk *w, int parent, size_t start, size_t end, int *idx)
{
    ms_mime *m = w->m;
    ms_mime_part *np, *p;
    size_t ncap;

    if (m->nparts >= MS_MIME_MAX_PARTS)
        return ms_error_set(w->err, MS_ETOOBIG, "more than %d MIME parts",
                            MS_MIME_MAX_PARTS);
    if (m->nparts == m->cap) {
        ncap = m->cap == 0 ? 8 : m->cap * 2;
        if ((np = ms_realloc(m->parts, ncap * sizeof(*np))) == NULL)
            return ms_error_set(w->err, MS_ENOMEM, "out of memory");
        m->parts = np;
        m->cap = ncap;
    }
    p = &m->parts[m->nparts];
    memset(p, 0, sizeof(*p));
    p->start = start;
    p->end = end;
    p->parent = parent;
    p->first_child = -1;
    p->next = -1;
    if (parent >= 0) {
        ms_mime_part *pp = &m->parts[parent];

        p->depth = pp->depth + 1;
        p->in_rfc822 = pp->in_rfc822 || strcmp(pp->type, "message/rfc822") == 0;
    }
    *idx = (int)m->nparts++;
    return 0;
}

static void
link_child(ms_mime *m, int parent, int child)
{
    int c = m->parts[parent].first_child;

    if (c < 0) {
        m->parts[parent].first_child = child;
        return;
    }
    while (m->parts[c].next >= 0)
        c = m->parts[c].next;
    m->parts[c].next = child;
}

static int walk_entity(walk *w, int idx);

/* Is the line at p a delimiter for boundary? Sets *close for "--b--". */
static bool
is_delimiter(const char *p, const char *end, const char *b, size_t blen,
             bool *close)
{
    const char *q;

    if ((size_t)(end - p) < blen + 2 || p[0] != '-' || p[1] != '-' ||
        memcmp(p + 2, b, blen) != 0)
        return false;
    q = p + 2 + blen;
    *close = false;
    if (end - q >= 2 && q[0] == '-' && q[1] == '-') {
        *close = true;
        q += 2;
    }
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    return q == end || *q == '\n' || (*q == '\r' && q + 1 < end &&
                                       q[1] == '\n');
}

static int
walk_multipart(walk *w, int idx)
{
    const char *base = (const char *)w->m->data;
    const char *p, *end, *b, *part_start = NULL, *le;
    size_t blen;
    bool close = false;
    int child, rc, n = 0;

    b = w->m->parts[idx].boundary;
    if (b == NULL || (blen = strlen(b)) == 0 || blen > 200)
        return ms_error_set(w->err, MS_EMALFORMED,
                            "multipart without a valid boundary");
    p = base + w->m->parts[idx].body;
    end = base + w->m->parts[idx].end;
    while (p < end) {
        le = line_end(p, end);
        if (is_delimiter(p, le, b, blen, &close)) {
            if (part_start != NULL) {
                /* The line end before the delimiter belongs to it. */
                const char *pe = p;

                if (pe > part_start && pe[-1] == '\n')
                    pe--;
                if (pe > part_start && pe[-1] == '\r')
                    pe--;
                if (pe < part_start)
                    pe = part_start;
                if ((rc = add_part(w, idx, (size_t)(part_start - base),
                                   (size_t)(pe - base), &child)) != 0)
                    return rc;
                link_child(w->m, idx, child);
                if ((rc = walk_entity(w, child)) != 0)
                    return rc;
                n++;
            }
            if (close)
                break;
            part_start = le;
        }
        p = le;
    }
    if (!close && part_start != NULL && part_start < end) {
        /* No closing delimiter: the last part runs to the end. */
        if ((rc = add_part(w, idx, (size_t)(part_start - base),
                           (size_t)(end - base), &child)) != 0)
            return rc;
        link_child(w->m, idx, child);
        if ((rc = walk_entity(w, child)) != 0)
            return rc;
        n++;
    }
    if (n == 0)
        return ms_error_set(w->err, MS_EMALFORMED, "multipart without parts");
    return 0;
}

static int
walk_entity(walk *w, int idx)
{
    ms_mime_part *p = &w->m->parts[idx];
    ms_buf v;
    int rc, child;

    if (p->depth > w->lim->max_depth)
        return ms_error_set(w->err, MS_ETOOBIG, "MIME nesting deeper than %u",
                            w->lim->max_depth);
    if ((rc = scan_headers(w, p)) != 0 || (rc = parse_content_type(w, p)) != 0)
        return rc;
    ms_buf_init(&v, w->lim->max_header_line);
    rc = ms_mime_header(&v, w->m, p, "Content-Disposition");
    if (rc == 0 && v.len >= 10 &&
        ms_ascii_casebytes((const char *)v.data, 10, "attachment", 10))
        p->attachment = true;
    ms_buf_cleanup(&v);
    if (rc == MS_ENOMEM)
        return ms_error_set(w->err, rc, "out of memory");
    if (strncmp(p->type, "multipart/", 10) == 0)
        return walk_multipart(w, idx);
    if (strcmp(p->type, "message/rfc822") == 0) {
        if ((rc = add_part(w, idx, p->body, p->end, &child)) != 0)
            return rc;
        link_child(w->m, idx, child);
        return walk_entity(w, child);
    }
    return 0;
}

int
ms_mime_parse(ms_mime *out, const ms_ctx *ctx, const void *data, size_t len,
              ms_error *err)
{
    walk w = {out, &ctx->limits, err};
    const char *d = data;
    size_t start = 0;
    int idx, rc;

    memset(out, 0, sizeof(*out));
    out->data = data;
    out->len = len;
    if (len > ctx->limits.max_message)
        return ms_error_set(err, MS_ETOOBIG, "message over %zu bytes",
                            ctx->limits.max_message);
    /* An mbox "From " envelope line (procmail, maildrop) is not a header. */
    if (len >= 5 && memcmp(d, "From ", 5) == 0)
        start = (size_t)(line_end(d, d + len) - d);
    if ((rc = add_part(&w, -1, start, len, &idx)) != 0)
        goto fail;
    if ((rc = walk_entity(&w, idx)) != 0)
        goto fail;
    return 0;
fail:
    ms_mime_cleanup(out);
    return rc;
}

void
ms_mime_cleanup(ms_mime *m)
{
    for (size_t i = 0; i < m->nparts; i++) {
        ms_free(m->parts[i].boundary);
        ms_free(m->parts[i].protocol);
        ms_free(m->parts[i].smime_type);
    }
    ms_free(m->parts);
    m->parts = NULL;
    m->nparts = 0;
    m->cap = 0;
}
