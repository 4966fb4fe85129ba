/*
 * enroll/enroll.c - ms_enroll_run(): validation, credential, signing
 * certificate, escrowed encryption keys, then one install (enroll.h).
 * The certificate and key checks are in certs.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "enroll/enroll_int.h"
#include "kms/keygen.h"
#include "mime/addr.h"
#include "util/error.h"
#include "x509/info.h"

#define START "starting the mailbox validation"
#define CONFIRM "confirming the code"
#define POLL "collecting the credential"

/* Checks the options and p's address; fills e->addr. */
static int
check_inputs(ms_enroll_state *e, const ms_profile *p,
             const ms_enroll_options *o, ms_error *err)
{
    const char *have = ms_profile_get0_conf(p)->address;
    size_t n = o->device != NULL ? strlen(o->device) : 0;
    ms_error why;

    if (o->version != 1)
        return ms_error_set(err, MS_EINVAL, "unknown options version");
    if (ms_addr_normalise(e->addr, sizeof(e->addr), o->address, &why) != 0)
        return ms_error_set(err, MS_EINVAL, "not a mail address: %s",
                            why.msg);
    if (n == 0 || n > MS_ENROLL_DEVICE_MAX)
        return ms_error_set(err, MS_EINVAL,
                            "the device name must be 1 to %d characters",
                            MS_ENROLL_DEVICE_MAX);
    for (size_t i = 0; i < n; i++) {
        if (o->device[i] < 0x20 || o->device[i] > 0x7e)
            return ms_error_set(err, MS_EINVAL,
                                "the device name must be printable ASCII");
    }
    if (have != NULL && have[0] != '\0' && !ms_addr_equal(have, e->addr))
        return ms_error_set(err, MS_EPOLICY,
                            "this profile belongs to %s; use another "
                            "profile (--profile NAME) for %s",
                            have, e->addr);
    return 0;
}

/* Takes the string member key of o into the secret buffer out, then
 * wipes jansson's copy (ours: the object is dropped right after). */
static int
take_secret(ms_buf *out, json_t *o, const char *key, const char *what,
            ms_error *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t n = s != NULL ? strlen(s) : 0;
    int rc = 0;

    ms_buf_reset(out);
    if (n == 0 || n > MS_ENROLL_TOKEN_MAX || ms_buf_append(out, s, n) != 0)
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: the answer has no usable \"%s\"", what, key);
    /* jansson keeps its own heap copy of the string, in an object only we
     * hold and drop right after: wipe it (the const is jansson's API). */
    if (s != NULL)
        OPENSSL_cleanse((void *)(uintptr_t)s, n);
    return rc;
}

/* True when s is made of [A-Za-z0-9_-] only (safe in a URL and JSON). */
static bool
plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/* Drops a reply's body wiped (it held a secret). */
static void
reply_wipe(ms_http_reply *r)
{
    if (r->body.data != NULL)
        ms_wipe(r->body.data, r->body.len);
    ms_http_reply_cleanup(r);
}

/* POST /v1/mailbox-validations: e->vid and e->poll. */
static int
start(ms_enroll_state *e, const char *device, ms_error *err)
{
    ms_enroll_req q = {"POST", "/v1/mailbox-validations", "application/json",
                       NULL, 0, false, 202, START, 0};
    json_t *o = NULL, *req;
    char *body = NULL;
    ms_http_reply r;
    int rc;

    ms_http_reply_init(&r);
    req = json_pack("{s:s, s:s}", "email", e->addr, "device", device);
    body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    q.body = body;
    q.len = strlen(body);
    if ((rc = ms_enroll_api_call(&r, &e->api, &q, err)) != 0 ||
        (rc = ms_enroll_api_json(&o, &r, START, err)) != 0 ||
        (rc = ms_enroll_json_str(e->vid, sizeof(e->vid), o, "id", START,
                                 err)) != 0 ||
        (rc = take_secret(&e->poll, o, "poll_token", START, err)) != 0)
        goto out;
    if (!plain(e->vid, strlen(e->vid)) ||
        !plain((const char *)e->poll.data, e->poll.len))
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: the answer has unexpected characters", START);
out:
    json_decref(o);
    free(body);
    reply_wipe(&r);
    return rc;
}

/* Takes the credential from a 201 of confirm or credential. */
static int
take_credential(ms_enroll_state *e, ms_http_reply *r, const char *what,
                ms_error *err)
{
    char email[MS_PROFILE_ADDR_MAX + 1];
    json_t *o = NULL;
    int rc;

    if ((rc = ms_enroll_api_json(&o, r, what, err)) != 0 ||
        (rc = ms_enroll_json_str(e->device_id, sizeof(e->device_id), o,
                                 "device_id", what, err)) != 0 ||
        (rc = ms_enroll_json_str(email, sizeof(email), o, "email", what,
                                 err)) != 0 ||
        (rc = take_secret(&e->token, o, "token", what, err)) != 0)
        goto out;
    if (!ms_addr_equal(email, e->addr)) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "%s: the credential is for another mailbox", what);
        goto out;
    }
    if (e->token.len < 5 || memcmp(e->token.data, "ms1_", 4) != 0 ||
        !plain((const char *)e->token.data, e->token.len) ||
        !plain(e->device_id, strlen(e->device_id))) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s: the answer's credential is malformed", what);
        goto out;
    }
    rc = ms_enroll_api_set_token(&e->api, (const char *)e->token.data, err);
out:
    json_decref(o);
    return rc;
}

/* Checks a code as typed: letters, digits, '-' and blanks. */
static int
check_code(const ms_buf *code, ms_error *err)
{
    for (size_t i = 0; i < code->len; i++) {
        unsigned char c = code->data[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '-' || c == ' '))
            return ms_error_set(err, MS_EINVAL,
                                "the code holds characters no code has "
                                "(letters, digits and '-' only)");
    }
    return 0;
}

/* POST .../confirm with code: the credential. */
static int
confirm(ms_enroll_state *e, const ms_buf *code, ms_error *err)
{
    char path[MS_ENROLL_ID_MAX + 64];
    ms_enroll_req q = {"POST", path, "application/json", NULL, 0, false, 201,
                       CONFIRM, 0};
    ms_http_reply r;
    ms_buf body;
    int rc;

    ms_http_reply_init(&r);
    ms_buf_init_secret(&body, 2 * MS_ENROLL_TOKEN_MAX);
    (void)snprintf(path, sizeof(path), "/v1/mailbox-validations/%s/confirm",
                   e->vid); /* fits: vid is at most MS_ENROLL_ID_MAX */
    if ((rc = check_code(code, err)) != 0)
        goto out;
    if (ms_buf_printf(&body, "{\"code\":\"%s\",\"poll_token\":\"%s\"}",
                      (const char *)code->data,
                      (const char *)e->poll.data) != 0) {
        rc = ms_error_set(err, MS_EINVAL, "the code is too long");
        goto out;
    }
    q.body = body.data;
    q.len = body.len;
    if ((rc = ms_enroll_api_call(&r, &e->api, &q, err)) == 0)
        rc = take_credential(e, &r, CONFIRM, err);
out:
    ms_buf_cleanup(&body);
    reply_wipe(&r);
    return rc;
}

/* Sleeps s seconds (signals aside). */
static void
pause_s(unsigned s)
{
    struct timespec ts = {(time_t)s, 0};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* POST .../credential until the link was followed (409 until then). */
static int
poll_credential(ms_enroll_state *e, const ms_enroll_options *o, ms_error *err)
{
    char path[MS_ENROLL_ID_MAX + 64];
    ms_enroll_req q = {"POST", path, "application/json", NULL, 0, false, 201,
                       POLL, 0};
    ms_http_reply r;
    ms_buf body;
    int rc = 0;

    ms_http_reply_init(&r);
    ms_buf_init_secret(&body, 2 * MS_ENROLL_TOKEN_MAX);
    (void)snprintf(path, sizeof(path),
                   "/v1/mailbox-validations/%s/credential", e->vid); /* fits */
    if (ms_buf_printf(&body, "{\"poll_token\":\"%s\"}",
                      (const char *)e->poll.data) != 0) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    q.body = body.data;
    q.len = body.len;
    for (unsigned i = 0; i < o->poll_tries; i++) {
        if (i > 0)
            pause_s(o->poll_interval);
        rc = ms_enroll_api_call(&r, &e->api, &q, err);
        if (rc == 0 || r.status != 409)
            break;
    }
    if (rc == 0)
        rc = take_credential(e, &r, POLL, err);
    else if (r.status == 409)
        rc = ms_error_set(err, MS_ETEMP,
                          "the link in the mail sent to %s was not followed "
                          "in time; run mailseal enroll again",
                          e->addr);
out:
    ms_buf_cleanup(&body);
    reply_wipe(&r);
    return rc;
}

/* The code (given, asked, or the link: polled) and the credential. */
static int
credential(ms_enroll_state *e, const ms_enroll_options *o, ms_error *err)
{
    ms_buf code;
    int rc = 0;

    ms_buf_init_secret(&code, MS_ENROLL_CODE_MAX);
    if (o->code != NULL) {
        if (ms_buf_puts(&code, o->code) != 0)
            rc = ms_error_set(err, MS_EINVAL, "the code is too long");
    } else if (o->code_fn != NULL) {
        rc = o->code_fn(&code, e->addr, o->code_arg, err);
    }
    if (rc == 0 && code.len > 0)
        rc = confirm(e, &code, err);
    else if (rc == 0)
        rc = poll_credential(e, o, err);
    ms_buf_cleanup(&code);
    return rc;
}

/* Writes everything to the profile: only after every check passed. */
static int
install(ms_enroll_state *e, ms_profile *p, const ms_enroll_options *o,
        ms_error *err)
{
    int rc;

    if ((rc = ms_profile_set_anchors(p, e->cadata.data, e->cadata.len,
                                     err)) != 0 ||
        (rc = ms_profile_add_pair(p, MS_PROFILE_SIGN, e->sign_key, e->cert,
                                  e->chain, err)) != 0)
        return rc;
    for (size_t i = 0; i < e->nenc; i++) {
        if ((rc = ms_profile_add_pair(p, MS_PROFILE_ENC, e->enc_key[i],
                                      e->enc_cert[i], e->chain, err)) != 0)
            return rc;
    }
    if ((rc = ms_enroll_cred_store(p, e->device_id, &e->token, err)) != 0 ||
        (rc = ms_profile_set(p, "address", e->addr, err)) != 0 ||
        (rc = ms_profile_set(p, "server_url", e->api.base, err)) != 0 ||
        (rc = ms_profile_set(p, "device", o->device, err)) != 0)
        return rc;
    return 0;
}

static void
state_cleanup(ms_enroll_state *e)
{
    EVP_PKEY_free(e->sign_key);
    ms_buf_cleanup(&e->csr);
    ms_buf_cleanup(&e->poll);
    ms_buf_cleanup(&e->token);
    ms_buf_cleanup(&e->cadata);
    sk_X509_pop_free(e->cas, X509_free);
    sk_X509_free(e->roots); /* references into cas */
    X509_free(e->cert);
    sk_X509_pop_free(e->chain, X509_free);
    for (size_t i = 0; i < e->nenc; i++) {
        EVP_PKEY_free(e->enc_key[i]);
        X509_free(e->enc_cert[i]);
    }
    ms_enroll_api_cleanup(&e->api);
}

static void
fill_result(ms_enroll_result *out, const ms_enroll_state *e)
{
    memset(out, 0, sizeof(*out));
    (void)snprintf(out->address, sizeof(out->address), "%s", e->addr);
    (void)snprintf(out->device_id, sizeof(out->device_id), "%s",
                   e->device_id); /* both fit: same sizes */
    out->level = ms_x509_level(e->cert);
    if (!ms_asn1_time_epoch(X509_get0_notAfter(e->cert),
                            &out->sign_not_after))
        out->sign_not_after = 0;
    out->nenc = e->nenc;
}

int
ms_enroll_run(ms_enroll_result *out, const ms_ctx *ctx, ms_profile *p,
              const ms_enroll_options *o, ms_error *err)
{
    ms_enroll_state e;
    int rc;

    memset(&e, 0, sizeof(e));
    ms_buf_init(&e.csr, 16384);
    ms_buf_init_secret(&e.poll, MS_ENROLL_TOKEN_MAX);
    ms_buf_init_secret(&e.token, MS_ENROLL_TOKEN_MAX);
    ms_buf_init(&e.cadata, MS_ENROLL_ANSWER_MAX);
    if ((rc = ms_enroll_api_init(&e.api, ctx, o->server_url, err)) != 0 ||
        (rc = check_inputs(&e, p, o, err)) != 0)
        goto out;
    if ((rc = ms_kms_keygen(&e.sign_key, "p-256", err)) != 0 ||
        (rc = ms_kms_csr_make(&e.csr, e.sign_key, e.addr, err)) != 0)
        goto out;
    if ((rc = start(&e, o->device, err)) != 0 ||
        (rc = credential(&e, o, err)) != 0 ||
        (rc = ms_enroll_fetch_cas(&e, err)) != 0 ||
        (rc = ms_enroll_get_cert(&e, err)) != 0 ||
        (rc = ms_enroll_get_keys(&e, err)) != 0 ||
        (rc = install(&e, p, o, err)) != 0)
        goto out;
    fill_result(out, &e);
out:
    state_cleanup(&e);
    return rc;
}
