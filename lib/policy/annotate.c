/* policy/annotate.c - X-Mailseal-* fields for delivery filters. */
#include <string.h>

#include "mime/mime.h"
#include "policy/result.h"
#include "util/error.h"
#include "util/str.h"

/* Appends s with control characters replaced by spaces. */
static int
put_clean(ms_buf *out, const char *s)
{
    int rc = 0;

    for (; rc == 0 && *s != '\0'; s++) {
        char c = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;

        rc = ms_buf_append(out, &c, 1);
    }
    return rc;
}

/* Length of the header block of msg (up to, not including, the blank line). */
static size_t
header_end(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        const char *nl;

        if (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n'))
            return i;
        nl = memchr(p + i, '\n', len - i);
        i = nl == NULL ? len : (size_t)(nl - p) + 1;
    }
    return len;
}

int
ms_result_annotate(ms_buf *out, const ms_result *r, const void *msg,
                   size_t len, ms_error *err)
{
    const char *p = msg;
    size_t start = 0, hend;
    ms_hdr_iter it;
    const char *n, *v, *f;
    size_t nl, vl, fl;
    int rc;

    if (p == NULL) { /* an empty ms_buf has no storage */
        if (len != 0)
            return ms_error_set(err, MS_EINVAL, "no message");
        p = "";
    }
    if (len >= 5 && memcmp(p, "From ", 5) == 0) {
        const char *nlp = memchr(p, '\n', len);

        start = nlp == NULL ? len : (size_t)(nlp - p) + 1;
    }
    hend = start + header_end(p + start, len - start);
    if ((rc = ms_buf_reserve(out, len + 512)) != 0 ||
        (rc = ms_buf_append(out, p, start)) != 0 ||
        (rc = ms_buf_printf(out, "X-Mailseal-Verdict: %s\r\n",
                            ms_verdict_name(r->verdict))) != 0 ||
        (rc = ms_buf_puts(out, "X-Mailseal-Identity: ")) != 0 ||
        (rc = put_clean(out, ms_result_display(r))) != 0 ||
        (rc = ms_buf_puts(out, "\r\n")) != 0)
        goto out;
    ms_hdr_iter_init(&it, p + start, hend - start);
    while (ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        if (nl >= 11 && ms_ascii_casebytes(n, 11, "X-Mailseal-", 11))
            continue;
        if ((rc = ms_buf_append(out, f, fl)) != 0)
            goto out;
    }
    rc = ms_buf_append(out, p + hend, len - hend);
out:
    if (rc != 0)
        return ms_error_set(err, rc, "cannot annotate the message");
    return 0;
}
