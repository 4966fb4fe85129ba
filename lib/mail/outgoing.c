/*
 * mail/outgoing.c - reading a message as sendmail(8) does, its envelope
 * recipients and the header fixes made before signing.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mail/outgoing.h"
#include "mime/addr.h"
#include "mime/mime.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

#define VALUE_MAX ((size_t)64 * 1024) /* bytes of one unfolded field */

/* Offset of the lone-dot line in [0, len) starting at or after from, or
 * len when there is none. A lone dot is ".\n" or ".\r\n" at a line start. */
static size_t
find_dot(const unsigned char *p, size_t len, size_t from)
{
    for (size_t i = from; i < len; i++) {
        if (p[i] != '.' || (i > 0 && p[i - 1] != '\n'))
            continue;
        if (i + 1 < len && p[i + 1] == '\n')
            return i;
        if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i;
    }
    return len;
}

int
ms_outgoing_read(ms_buf *out, int fd, bool dot_ends, ms_error *err)
{
    unsigned char chunk[65536];
    size_t scanned = 0, dot;
    ssize_t n;
    int rc;

    for (;;) {
        if ((n = read(fd, chunk, sizeof(chunk))) < 0) {
            if (errno == EINTR)
                continue;
            return ms_error_set(err, MS_EIO, "cannot read the message: %s",
                                strerror(errno));
        }
        if (n == 0)
            break;
        if ((rc = ms_buf_append(out, chunk, (size_t)n)) != 0)
            return ms_error_set(err, rc, rc == MS_ETOOBIG
                                             ? "the message is over %zu bytes"
                                             : "out of memory (%zu)",
                                out->max);
        if (!dot_ends)
            continue;
        /* A lone dot may straddle two reads: look again from the last
         * line start scanned. */
        if ((dot = find_dot(out->data, out->len, scanned)) < out->len) {
            out->len = dot;
            out->data[dot] = '\0';
            return 0;
        }
        scanned = out->len > 3 ? out->len - 3 : 0;
    }
    /* At the end of input a final "." without a line end ends it too. */
    if (dot_ends && out->len > 0 && out->data[out->len - 1] == '.' &&
        (out->len == 1 || out->data[out->len - 2] == '\n')) {
        out->len--;
        out->data[out->len] = '\0';
    }
    return 0;
}

void
ms_rcpt_list_init(ms_rcpt_list *l)
{
    memset(l, 0, sizeof(*l));
}

void
ms_rcpt_list_cleanup(ms_rcpt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        ms_free(l->addr[i]);
    ms_free(l->addr);
    memset(l, 0, sizeof(*l));
}

/* ms_addr_list_fn: appends addr to the list unless present. */
static int
rcpt_push(const char *addr, void *arg)
{
    ms_rcpt_list *l = arg;
    char **na;

    for (size_t i = 0; i < l->n; i++) {
        if (ms_ascii_caseeq(l->addr[i], addr))
            return 0;
    }
    if (l->n >= MS_OUTGOING_MAX_RCPT)
        return MS_ETOOBIG;
    if (l->n == l->cap) {
        size_t ncap = l->cap == 0 ? 8 : l->cap * 2;

        if ((na = ms_realloc(l->addr, ncap * sizeof(*na))) == NULL)
            return MS_ENOMEM;
        l->addr = na;
        l->cap = ncap;
    }
    if ((l->addr[l->n] = ms_strdup(addr)) == NULL)
        return MS_ENOMEM;
    l->n++;
    return 0;
}

int
ms_rcpt_list_add(ms_rcpt_list *l, const char *value, const char *what,
                 ms_error *err)
{
    const char *why = NULL;
    int rc;

    if ((rc = ms_addr_parse_list(value, rcpt_push, l, &why)) == 0)
        return 0;
    if (rc == MS_ETOOBIG)
        return ms_error_set(err, rc, "more than %u recipients",
                            MS_OUTGOING_MAX_RCPT);
    if (rc == MS_ENOMEM)
        return ms_error_set(err, rc, "out of memory");
    return ms_error_set(err, MS_EMALFORMED, "%s: %s", what,
                        why != NULL ? why : "cannot be parsed");
}

/* What the header block holds, and where it and the body lie. */
typedef struct head {
    size_t end;   /* end of the last field */
    size_t body;  /* first byte after the blank line (== end: none) */
    const char *eol;
    size_t nfrom, ndate, nmsgid;
} head;

/* True when [p, p+n) starts with a field name and a colon. */
static bool
is_field(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] > 32 && p[i] < 127 && p[i] != ':')
        i++;
    if (i == 0)
        return false;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i < n && p[i] == ':';
}

static void
find_head(head *h, const unsigned char *p, size_t len)
{
    const unsigned char *nl;
    size_t pos = 0, e;

    memset(h, 0, sizeof(*h));
    nl = memchr(p, '\n', len);
    h->eol = nl != NULL && nl > p && nl[-1] == '\r' ? "\r\n" : "\n";
    while (pos < len) {
        nl = memchr(p + pos, '\n', len - pos);
        e = nl != NULL ? (size_t)(nl - p) + 1 : len;
        if (p[pos] == '\n' || (p[pos] == '\r' && pos + 1 < len &&
                               p[pos + 1] == '\n')) {
            h->end = pos;
            h->body = e;
            return;
        }
        if (!((pos > 0 && (p[pos] == ' ' || p[pos] == '\t')) ||
              is_field(p + pos, e - pos)))
            break; /* a body line with no blank line before it */
        pos = e;
    }
    h->end = pos;
    h->body = pos;
}

static int
add_rcpts(ms_rcpt_list *l, ms_buf *v, const char *name, size_t nlen,
          const char *val, size_t vlen, ms_error *err)
{
    char what[16]; /* name is the message's own bytes: no NUL after it */
    int rc;

    (void)snprintf(what, sizeof(what), "%.*s",
                   (int)(nlen < sizeof(what) ? nlen : sizeof(what) - 1),
                   name);
    if ((rc = ms_hdr_unfold(v, val, vlen)) != 0)
        return ms_error_set(err, rc, "%s field too long", what);
    return ms_rcpt_list_add(l, (const char *)v->data, what, err);
}

/* Copies the fields but Bcc, counting the ones we may add. */
static int
copy_fields(ms_buf *out, head *h, ms_rcpt_list *rcpts, const void *msg,
            const ms_outgoing_options *o, ms_error *err)
{
    ms_hdr_iter it;
    const char *n, *v, *f;
    size_t nl, vl, fl;
    ms_buf val;
    bool bcc, to;
    int rc = 0;

    ms_buf_init(&val, VALUE_MAX);
    ms_hdr_iter_init(&it, msg, h->end);
    while (rc == 0 && ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        bcc = ms_ascii_casebytes(n, nl, "Bcc", 3);
        to = ms_ascii_casebytes(n, nl, "To", 2) ||
             ms_ascii_casebytes(n, nl, "Cc", 2);
        h->nfrom += ms_ascii_casebytes(n, nl, "From", 4);
        h->ndate += ms_ascii_casebytes(n, nl, "Date", 4);
        h->nmsgid += ms_ascii_casebytes(n, nl, "Message-ID", 10);
        if (o->rcpt_from_headers && (bcc || to))
            rc = add_rcpts(rcpts, &val, n, bcc ? 3 : nl, v, vl, err);
        if (rc == 0 && !bcc && (rc = ms_buf_append(out, f, fl)) != 0)
            rc = ms_error_set(err, rc, "message too large");
    }
    ms_buf_cleanup(&val);
    return rc;
}

/* Appends `"name" <addr>` (name quoted, or RFC 2047 when not ASCII). */
static int
put_from(ms_buf *out, const ms_outgoing_options *o)
{
    unsigned char b64[((MS_OUTGOING_MAX_NAME + 2) / 3) * 4 + 1];
    const unsigned char *s = (const unsigned char *)o->from_name;
    size_t n = s != NULL ? strlen(o->from_name) : 0;
    bool ascii = true;
    int rc;

    if (n == 0)
        return ms_buf_printf(out, "From: %s", o->from_addr);
    for (size_t i = 0; i < n; i++)
        ascii &= s[i] >= 0x20 && s[i] < 0x7f;
    if (!ascii) {
        (void)EVP_EncodeBlock(b64, s, (int)n); /* n <= NAME_MAX: fits */
        return ms_buf_printf(out, "From: =?UTF-8?B?%s?= <%s>", b64,
                             o->from_addr);
    }
    if ((rc = ms_buf_puts(out, "From: \"")) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            rc = ms_buf_append(out, "\\", 1);
        if (rc == 0)
            rc = ms_buf_append(out, s + i, 1);
    }
    return rc != 0 ? rc : ms_buf_printf(out, "\" <%s>", o->from_addr);
}

static int
put_date_msgid(ms_buf *out, const head *h, const ms_ctx *ctx,
               const char *domain)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    unsigned char rnd[16];
    time_t now = ms_ctx_now(ctx);
    struct tm tm;
    int rc = 0;

    if (h->ndate == 0) {
        if (gmtime_r(&now, &tm) == NULL)
            return MS_EINVAL;
        rc = ms_buf_printf(out, "Date: %s, %02d %s %d %02d:%02d:%02d +0000%s",
                           days[tm.tm_wday % 7], tm.tm_mday,
                           months[tm.tm_mon % 12], tm.tm_year + 1900,
                           tm.tm_hour, tm.tm_min, tm.tm_sec, h->eol);
    }
    if (rc != 0 || h->nmsgid != 0)
        return rc;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return MS_ERR;
    if ((rc = ms_buf_puts(out, "Message-ID: <")) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < sizeof(rnd); i++)
        rc = ms_buf_printf(out, "%02x", rnd[i]);
    return rc != 0 ? rc : ms_buf_printf(out, "@%s>%s", domain, h->eol);
}

static int
check_options(const ms_outgoing_options *o, ms_error *err)
{
    const char *at;

    if (o == NULL || o->from_addr == NULL ||
        (at = strrchr(o->from_addr, '@')) == NULL || at[1] == '\0' ||
        strpbrk(o->from_addr, "\r\n<> \t") != NULL)
        return ms_error_set(err, MS_EINVAL, "no valid sender address");
    if (o->from_name != NULL &&
        (strlen(o->from_name) > MS_OUTGOING_MAX_NAME ||
         strpbrk(o->from_name, "\r\n") != NULL))
        return ms_error_set(err, MS_EINVAL,
                            "the full name (-F) is over %u bytes or holds "
                            "a line break",
                            MS_OUTGOING_MAX_NAME);
    return 0;
}

/* The header additions, after the copied fields. */
static int
add_fields(ms_buf *out, const head *h,
           const ms_ctx *ctx, const ms_outgoing_options *o)
{
    int rc = 0;

    /* A last copied field without line end (what the input ended its
     * header with may have been a Bcc field, removed). */
    if (out->len > 0 && out->data[out->len - 1] != '\n')
        rc = ms_buf_puts(out, h->eol);
    if (rc == 0 && h->nfrom == 0 && (rc = put_from(out, o)) == 0)
        rc = ms_buf_puts(out, h->eol);
    if (rc == 0)
        rc = put_date_msgid(out, h, ctx, strrchr(o->from_addr, '@') + 1);
    return rc;
}

/* *out = the From addr-spec of msg when it has one field with one mailbox
 * (else NULL). Returns 0 or MS_ENOMEM. */
static int
result_from(char **out, const ms_buf *msg)
{
    ms_hdr_iter it;
    const char *n, *v, *f, *why;
    size_t nl, vl, fl, count = 0;
    ms_buf hv;
    head h;
    int rc = 0;

    ms_buf_init(&hv, VALUE_MAX);
    find_head(&h, msg->data, msg->len);
    ms_hdr_iter_init(&it, msg->data, h.end);
    while (ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        if (ms_ascii_casebytes(n, nl, "From", 4) && count++ == 0 &&
            ms_hdr_unfold(&hv, v, vl) != 0)
            count = 2;
    }
    if (count == 1 &&
        ms_addr_parse_from(out, (const char *)hv.data, &why) == MS_ENOMEM)
        rc = MS_ENOMEM;
    ms_buf_cleanup(&hv);
    return rc;
}

int
ms_outgoing_prepare(ms_buf *out, ms_rcpt_list *rcpts, char **from_out,
                    const ms_ctx *ctx, const void *msg, size_t len,
                    const ms_outgoing_options *o, ms_error *err)
{
    const unsigned char *p = msg;
    head h;
    int rc;

    if (from_out != NULL)
        *from_out = NULL;
    ms_buf_reset(out);
    if ((rc = check_options(o, err)) != 0)
        return rc;
    find_head(&h, p, len);
    if ((rc = copy_fields(out, &h, rcpts, msg, o, err)) != 0)
        goto out;
    if ((rc = add_fields(out, &h, ctx, o)) != 0 ||
        (h.body == h.end && (rc = ms_buf_puts(out, h.eol)) != 0) ||
        (rc = ms_buf_append(out, p + h.end, len - h.end)) != 0) {
        rc = ms_error_set(err, rc, "cannot build the message");
        goto out;
    }
    if (from_out != NULL && (rc = result_from(from_out, out)) != 0)
        rc = ms_error_set(err, rc, "out of memory");
out:
    if (rc != 0)
        ms_buf_reset(out);
    return rc;
}
