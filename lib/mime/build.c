/* mime/build.c - outer header, entity, and S/MIME messages. */
#include <string.h>

#include <openssl/rand.h>

#include "mime/build.h"
#include "util/base64.h"
#include "util/str.h"

#define APPEND(b, s) ms_buf_append((b), (s), sizeof(s) - 1)

static bool
is_mime_version(const char *n, size_t nl)
{
    return ms_ascii_casebytes(n, nl, "MIME-Version", 12);
}

/* Needs the body a transfer encoding to be signed safely? */
static bool
needs_encoding(const unsigned char *p, size_t len)
{
    size_t col = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] >= 0x80 || p[i] == 0)
            return true;
        if (p[i] == '\n') {
            col = 0;
        } else if (++col > 998) {
            return true;
        }
    }
    return false;
}

/* *enc: is the top-level body base64 or quoted-printable? */
static int
already_encoded(const ms_mime *m, bool *enc)
{
    ms_buf v;
    int rc;

    *enc = false;
    ms_buf_init(&v, 4096);
    rc = ms_mime_header(&v, m, &m->parts[0], "Content-Transfer-Encoding");
    if (rc == 0)
        *enc = ms_ascii_caseeq((const char *)v.data, "base64") ||
               ms_ascii_caseeq((const char *)v.data, "quoted-printable");
    ms_buf_cleanup(&v);
    return rc == MS_ENOMEM ? rc : 0;
}

int
ms_build_split(ms_buf *outer, ms_buf *entity, const ms_mime *m,
               bool for_signing)
{
    const ms_mime_part *top = &m->parts[0];
    const unsigned char *body = m->data + top->body;
    size_t blen = top->end - top->body;
    ms_hdr_iter it;
    const char *n, *v, *f;
    size_t nl, vl, fl;
    bool has_ct = false, reencode = false, encoded = false;
    int rc = 0;

    if (for_signing && (rc = already_encoded(m, &encoded)) != 0)
        return rc;
    reencode = for_signing && strncmp(top->type, "multipart/", 10) != 0 &&
               strcmp(top->type, "message/rfc822") != 0 && !encoded &&
               needs_encoding(body, blen);
    ms_hdr_iter_init(&it, m->data + top->start, top->hdr_end - top->start);
    while (rc == 0 && ms_hdr_next(&it, &n, &nl, &v, &vl, &f, &fl)) {
        ms_buf *dst;

        if (ms_hdr_is_content(n, nl)) {
            if (ms_ascii_casebytes(n, nl, "Content-Type", 12))
                has_ct = true;
            if (entity == NULL ||
                (reencode &&
                 ms_ascii_casebytes(n, nl, "Content-Transfer-Encoding", 25)))
                continue;
            dst = entity;
        } else if (!is_mime_version(n, nl)) {
            dst = outer;
        } else {
            continue; /* replaced by our own MIME-Version below */
        }
        rc = ms_mime_canon_crlf(dst, f, fl);
        if (rc == 0 && fl > 0 && f[fl - 1] != '\n')
            rc = APPEND(dst, "\r\n");
    }
    if (rc == 0)
        rc = APPEND(outer, "MIME-Version: 1.0\r\n");
    if (entity == NULL)
        return rc;
    if (rc == 0 && !has_ct)
        rc = APPEND(entity, "Content-Type: text/plain; charset=us-ascii\r\n");
    if (rc == 0 && reencode)
        rc = APPEND(entity, "Content-Transfer-Encoding: base64\r\n");
    if (rc == 0)
        rc = APPEND(entity, "\r\n");
    if (rc == 0 && reencode && strncmp(top->type, "text/", 5) == 0) {
        /* Text is canonical with CRLF line ends before it is encoded. */
        ms_buf canon;

        ms_buf_init(&canon, 0);
        if ((rc = ms_mime_canon_crlf(&canon, body, blen)) == 0)
            rc = ms_base64_encode_lines(entity, canon.data, canon.len);
        ms_buf_cleanup(&canon);
    } else if (rc == 0) {
        rc = reencode ? ms_base64_encode_lines(entity, body, blen)
                      : ms_mime_canon_crlf(entity, body, blen);
    }
    return rc;
}

static int
make_boundary(char *out, size_t outlen, const ms_buf *entity)
{
    unsigned char rnd[12];
    static const char hex[] = "0123456789abcdef";

    for (int tries = 0; tries < 8; tries++) {
        size_t o = 0;

        if (RAND_bytes(rnd, sizeof(rnd)) != 1)
            return MS_ERR;
        memcpy(out, "----=_mailseal_", 15);
        o = 15;
        for (size_t i = 0; i < sizeof(rnd) && o + 2 < outlen; i++) {
            out[o++] = hex[rnd[i] >> 4];
            out[o++] = hex[rnd[i] & 15];
        }
        out[o] = '\0';
        if (ms_memmem(entity->data, entity->len, out, o) == NULL)
            return 0;
    }
    return MS_ERR;
}

int
ms_build_signed(ms_buf *out, const ms_buf *outer, const ms_buf *entity,
                const unsigned char *sig, size_t siglen)
{
    char b[48];
    int rc;

    if ((rc = make_boundary(b, sizeof(b), entity)) != 0)
        return rc;
    if ((rc = ms_buf_reserve(out, outer->len + entity->len + siglen * 2 +
                                      512)) != 0 ||
        (rc = ms_buf_append(out, outer->data, outer->len)) != 0 ||
        (rc = ms_buf_printf(out,
                            "Content-Type: multipart/signed; "
                            "protocol=\"application/pkcs7-signature\";\r\n"
                            "\tmicalg=sha-256; boundary=\"%s\"\r\n\r\n"
                            "This is a cryptographically signed message in "
                            "MIME format.\r\n\r\n--%s\r\n",
                            b, b)) != 0 ||
        (rc = ms_buf_append(out, entity->data, entity->len)) != 0 ||
        (rc = ms_buf_printf(
             out,
             "\r\n--%s\r\n"
             "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
             "Content-Description: S/MIME Cryptographic Signature\r\n\r\n",
             b)) != 0 ||
        (rc = ms_base64_encode_lines(out, sig, siglen)) != 0 ||
        (rc = ms_buf_printf(out, "\r\n--%s--\r\n", b)) != 0)
        return rc;
    return 0;
}

int
ms_build_pkcs7(ms_buf *out, const ms_buf *outer, const char *smime_type,
               const unsigned char *der, size_t len)
{
    int rc;

    if ((rc = ms_buf_reserve(out, outer->len + len / 3 * 4 + len / 38 + 512)) !=
            0 ||
        (rc = ms_buf_append(out, outer->data, outer->len)) != 0 ||
        (rc = ms_buf_printf(
             out,
             "Content-Type: application/pkcs7-mime; smime-type=%s;\r\n"
             "\tname=\"smime.p7m\"\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n"
             "Content-Description: S/MIME Cryptographic Message\r\n\r\n",
             smime_type)) != 0)
        return rc;
    return ms_base64_encode_lines(out, der, len);
}

int
ms_build_join(ms_buf *out, const ms_buf *outer, const void *entity,
              size_t len)
{
    int rc;

    if ((rc = ms_buf_reserve(out, outer->len + len + len / 16 + 16)) != 0 ||
        (rc = ms_buf_append(out, outer->data, outer->len)) != 0)
        return rc;
    return ms_mime_canon_crlf(out, entity, len);
}
