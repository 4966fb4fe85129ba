/* mime/body.c - a part's body with its transfer encoding undone. */
#include <string.h>

#include "mime/body.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/str.h"

int
ms_mime_body_decoded(ms_buf *out, const ms_mime *m, const ms_mime_part *p,
                     ms_error *err)
{
    const unsigned char *body = m->data + p->body;
    size_t len = p->end - p->body;
    ms_buf cte;
    int rc;

    ms_buf_init(&cte, 1024);
    rc = ms_mime_header(&cte, m, p, "Content-Transfer-Encoding");
    if (rc == MS_ENOTFOUND || (rc == 0 &&
                               (ms_ascii_caseeq((char *)cte.data, "7bit") ||
                                ms_ascii_caseeq((char *)cte.data, "8bit") ||
                                ms_ascii_caseeq((char *)cte.data, "binary")))) {
        rc = ms_buf_append(out, body, len);
        if (rc != 0)
            rc = ms_error_set(err, rc, "body too large");
    } else if (rc == 0 && ms_ascii_caseeq((char *)cte.data, "base64")) {
        if ((rc = ms_base64_decode(out, body, len)) != 0)
            rc = ms_error_set(err, rc == MS_EMALFORMED ? rc : MS_ENOMEM,
                              "bad base64 body");
    } else {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "unsupported or repeated Content-Transfer-Encoding");
    }
    ms_buf_cleanup(&cte);
    return rc;
}

bool
ms_mime_is_pkcs7_mime(const ms_mime_part *p)
{
    return strcmp(p->type, "application/pkcs7-mime") == 0 ||
           strcmp(p->type, "application/x-pkcs7-mime") == 0;
}

bool
ms_mime_is_pkcs7_signature(const char *type)
{
    return type != NULL && (strcmp(type, "application/pkcs7-signature") == 0 ||
                            strcmp(type, "application/x-pkcs7-signature") == 0);
}
