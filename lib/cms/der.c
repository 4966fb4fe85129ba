/* cms/der.c - a minimal definite-length DER reader. */
#include "cms/der.h"

bool
ms_der_next(ms_der *in, unsigned char *tag, ms_der *content)
{
    size_t n, i = 2;

    if (in->len < 2 || (in->p[0] & 0x1f) == 0x1f)
        return false; /* high tag numbers are not used here */
    *tag = in->p[0];
    n = in->p[1];
    if (n & 0x80) {
        size_t k = n & 0x7f;

        if (k == 0 || k > sizeof(size_t) || in->len < 2 + k)
            return false; /* indefinite lengths are not DER */
        n = 0;
        for (size_t j = 0; j < k; j++)
            n = (n << 8) | in->p[2 + j];
        i += k;
    }
    if (n > in->len - i)
        return false;
    content->p = in->p + i;
    content->len = n;
    in->p += i + n;
    in->len -= i + n;
    return true;
}

bool
ms_der_cms_cipher_oid(const unsigned char *der, size_t len, ms_der *oid)
{
    ms_der in = {der, len}, ci, wrap, env, x, eci, alg;
    unsigned char tag;

    /* ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content } */
    if (!ms_der_next(&in, &tag, &ci) || tag != 0x30 ||
        !ms_der_next(&ci, &tag, &x) || tag != 0x06 ||
        !ms_der_next(&ci, &tag, &wrap) || tag != 0xa0 ||
        !ms_der_next(&wrap, &tag, &env) || tag != 0x30)
        return false;
    /* version, [0] originatorInfo OPTIONAL, recipientInfos SET */
    if (!ms_der_next(&env, &tag, &x) || tag != 0x02 ||
        !ms_der_next(&env, &tag, &x))
        return false;
    if (tag == 0xa0 && !ms_der_next(&env, &tag, &x))
        return false;
    if (tag != 0x31)
        return false;
    /* (Auth)EncryptedContentInfo ::= SEQUENCE { contentType, algorithm } */
    if (!ms_der_next(&env, &tag, &eci) || tag != 0x30 ||
        !ms_der_next(&eci, &tag, &x) || tag != 0x06 ||
        !ms_der_next(&eci, &tag, &alg) || tag != 0x30 ||
        !ms_der_next(&alg, &tag, oid) || tag != 0x06)
        return false;
    return true;
}
