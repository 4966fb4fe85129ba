/*
 * fuzz/send_headers.c - what mailseal send does to a message from stdin:
 * ms_outgoing_prepare() with -t (address lists of To, Cc and Bcc, Bcc
 * removal, From/Date/Message-ID added), then the result again, which must
 * keep its recipients and gain no field (the fixes are idempotent).
 */
#include <string.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "mail/outgoing.h"
#include "util/alloc.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_outgoing_options o = {true, "alice@example.net", "Alice"};
    ms_rcpt_list l1, l2;
    ms_buf out1, out2;
    char *from = NULL;
    ms_error err;
    ms_ctx *ctx = ms_fuzz_ctx();

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    ms_rcpt_list_init(&l1);
    ms_rcpt_list_init(&l2);
    ms_buf_init(&out1, 0);
    ms_buf_init(&out2, 0);
    if (ms_outgoing_prepare(&out1, &l1, &from, ctx, data, size, &o, &err) ==
        0) {
        if (ms_outgoing_prepare(&out2, &l2, NULL, ctx, out1.data, out1.len,
                                &o, &err) != 0)
            ms_fuzz_die("a prepared message does not prepare again", &err);
        if (out2.len != out1.len || l2.n > l1.n)
            ms_fuzz_die("preparing twice changed the message", NULL);
    }
    ms_free(from);
    ms_rcpt_list_cleanup(&l1);
    ms_rcpt_list_cleanup(&l2);
    ms_buf_cleanup(&out1);
    ms_buf_cleanup(&out2);
    ERR_clear_error();
    return 0;
}
