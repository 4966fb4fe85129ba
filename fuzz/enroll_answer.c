/*
 * fuzz/enroll_answer.c - the server answers lib/enroll reads, on arbitrary
 * input: the first byte picks the answer, the rest is its JSON body.
 *   0  the credential (POST .../confirm, .../credential): take_credential
 *   1  the device list (GET /v1/devices): every entry through one_device
 *   2  the signing certificate (POST /v1/certificates): one_cert, take_chain
 * Whatever is accepted must be what the checks promise (a credential
 * starting ms1_ of [A-Za-z0-9_-], for our mailbox).
 */
#include <string.h>

#include "../lib/enroll/certs.c"
#include "../lib/enroll/devices.c"
#include "../lib/enroll/enroll.c"
#include "fuzz.h"

static int
count_fn(const ms_enroll_device *d, void *arg)
{
    (void)d;
    ++*(size_t *)arg;
    return 0;
}

static void
credential_answer(ms_enroll_state *e, ms_http_reply *r)
{
    ms_error err;

    if (take_credential(e, r, "fuzz", &err) == 0 &&
        (e->token.len < 5 || memcmp(e->token.data, "ms1_", 4) != 0 ||
         !plain((const char *)e->token.data, e->token.len)))
        ms_fuzz_die("accepted a malformed credential", NULL);
}

static void
devices_answer(ms_http_reply *r)
{
    json_t *o = NULL, *list;
    size_t n = 0;
    ms_error err;

    if (ms_enroll_api_json(&o, r, "fuzz", &err) != 0)
        return;
    list = json_object_get(o, "devices");
    for (size_t i = 0; i < json_array_size(list); i++) {
        if (one_device(json_array_get(list, i), "self", count_fn, &n,
                       &err) != 0)
            break;
    }
    json_decref(o);
}

static void
cert_answer(ms_enroll_state *e, ms_http_reply *r)
{
    json_t *o = NULL;
    ms_error err;

    if (ms_enroll_api_json(&o, r, "fuzz", &err) == 0 &&
        one_cert(&e->cert, json_string_value(json_object_get(o, "certificate")),
                 "fuzz", &err) == 0)
        (void)take_chain(e, json_object_get(o, "chain"), &err);
    json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_enroll_state e;
    ms_http_reply r;
    ms_error err;

    if (size < 1 || size > MS_FUZZ_MAX_INPUT)
        return 0;
    (void)ms_fuzz_ctx();
    memset(&e, 0, sizeof(e));
    ms_buf_init_secret(&e.poll, MS_ENROLL_TOKEN_MAX);
    ms_buf_init_secret(&e.token, MS_ENROLL_TOKEN_MAX);
    ms_buf_init(&e.csr, 16);
    ms_buf_init(&e.cadata, 16);
    (void)ms_enroll_api_init(&e.api, NULL, "http://127.0.0.1", &err);
    memcpy(e.addr, "alice@example.com", sizeof("alice@example.com"));
    ms_http_reply_init(&r);
    r.status = 201;
    memcpy(r.content_type, "application/json", sizeof("application/json"));
    if (ms_buf_append(&r.body, data + 1, size - 1) == 0) {
        if (data[0] % 3 == 0)
            credential_answer(&e, &r);
        else if (data[0] % 3 == 1)
            devices_answer(&r);
        else
            cert_answer(&e, &r);
    }
    ms_http_reply_cleanup(&r);
    state_cleanup(&e);
    return 0;
}
