/*
 * fuzz/mime_parse.c - ms_mime_parse() with the default limits, then what
 * the verifier does with the result: header look-ups, the From address,
 * body decoding and the outer/entity split.
 */
#include <openssl/err.h>

#include "fuzz.h"
#include "mime/addr.h"
#include "mime/body.h"
#include "mime/build.h"
#include "mime/mime.h"
#include "util/alloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_ctx *ctx = ms_fuzz_ctx();
    ms_mime m;
    ms_error err;
    ms_buf a, b;
    char *from = NULL;
    const char *why = NULL;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    if (ms_mime_parse(&m, ctx, data, size, &err) != 0) {
        ERR_clear_error();
        return 0;
    }
    ms_buf_init(&a, 0);
    ms_buf_init(&b, 0);
    for (size_t i = 0; i < m.nparts; i++) {
        const ms_mime_part *p = &m.parts[i];

        ms_buf_reset(&a);
        (void)ms_mime_header(&a, &m, p, "Content-Type");
        (void)ms_mime_header_count(&m, p, "Content-Transfer-Encoding");
        (void)ms_mime_is_pkcs7_mime(p);
        (void)ms_mime_is_pkcs7_signature(p->type);
        ms_buf_reset(&a);
        (void)ms_mime_body_decoded(&a, &m, p, NULL);
    }
    if (ms_mime_from(&from, &m, &why) == 0)
        ms_free(from);
    ms_buf_reset(&a);
    (void)ms_build_split(&a, &b, &m, true);
    ms_buf_cleanup(&a);
    ms_buf_cleanup(&b);
    ms_mime_cleanup(&m);
    ERR_clear_error();
    return 0;
}
