/*
 * enroll/api.c - the mailseald API client of enroll: one request, its
 * status turned into a message a user can act on, JSON answers, and the
 * profile's credential file.
 */
#include <stdio.h>
#include <string.h>

#include "enroll/enroll_int.h"
#include "util/error.h"

#define CRED_MAX 1024 /* bytes of the credential file */

int
ms_enroll_api_init(ms_enroll_api *a, const ms_ctx *ctx, const char *server_url,
                   ms_error *err)
{
    size_t n;

    memset(a, 0, sizeof(*a));
    a->ctx = ctx;
    ms_buf_init_secret(&a->auth, MS_ENROLL_TOKEN_MAX + 16);
    if (server_url == NULL || (strncmp(server_url, "http://", 7) != 0 &&
                               strncmp(server_url, "https://", 8) != 0))
        return ms_error_set(err, MS_EINVAL,
                            "the server URL must start with http:// or "
                            "https://");
    n = strlen(server_url);
    while (n > 0 && server_url[n - 1] == '/')
        n--;
    if (n >= sizeof(a->base) - 256)
        return ms_error_set(err, MS_EINVAL, "the server URL is too long");
    memcpy(a->base, server_url, n);
    a->base[n] = '\0';
    return 0;
}

int
ms_enroll_api_set_token(ms_enroll_api *a, const char *token, ms_error *err)
{
    ms_buf_reset(&a->auth);
    if (ms_buf_printf(&a->auth, "Bearer %s", token) != 0)
        return ms_error_set(err, MS_EMALFORMED, "the credential is too long");
    return 0;
}

void
ms_enroll_api_cleanup(ms_enroll_api *a)
{
    ms_buf_cleanup(&a->auth);
}

/* The server's "error" text, printable ASCII only, cut at n - 1 bytes. */
static void
server_text(char *out, size_t n, const ms_http_reply *r)
{
    json_t *o = NULL;
    const char *s = NULL;
    size_t j = 0;

    out[0] = '\0';
    if (ms_http_type_is(r->content_type, "application/json") &&
        r->body.len > 0 &&
        (o = json_loadb((const char *)r->body.data, r->body.len, 0, NULL)) !=
            NULL)
        s = json_string_value(json_object_get(o, "error"));
    for (; s != NULL && *s != '\0' && j + 1 < n; s++)
        out[j++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[j] = '\0';
    json_decref(o);
}

/* The message for an unexpected status of q. */
static int
status_error(const ms_http_reply *r, const ms_enroll_req *q, ms_error *err)
{
    char why[160];

    server_text(why, sizeof(why), r);
    switch (r->status) {
    case 429:
        return ms_error_set(err, MS_ETEMP,
                            "%s: too many attempts; try again in %u s",
                            q->what, r->retry_after > 0 ? r->retry_after : 60);
    case 401:
        return ms_error_set(err, MS_EPOLICY,
                            "%s: the server does not accept this device's "
                            "credential (revoked?); enroll it again: "
                            "mailseal enroll",
                            q->what);
    case 403:
        if (strcmp(why, "revalidate") == 0)
            return ms_error_set(err, MS_EPOLICY,
                                "%s: the mailbox was last proven over 30 "
                                "days ago; prove it again: mailseal enroll",
                                q->what);
        if (strcmp(why, "wrong code") == 0)
            return ms_error_set(err, MS_EPOLICY,
                                "%s: wrong code (check the mail; after 5 "
                                "wrong codes the validation ends)",
                                q->what);
        return ms_error_set(err, MS_EPOLICY, "%s: refused: %s", q->what,
                            why[0] != '\0' ? why : "forbidden");
    case 410:
        return ms_error_set(err, MS_EPOLICY,
                            "%s: this validation has expired or is used up "
                            "(too many wrong codes); run mailseal enroll "
                            "again for a new code",
                            q->what);
    default:
        break;
    }
    if (r->status >= 500)
        return ms_error_set(err, MS_ETEMP,
                            "%s: the server failed (HTTP %ld%s%s); try "
                            "again later",
                            q->what, r->status, why[0] != '\0' ? ": " : "",
                            why);
    if (r->status == 404)
        return ms_error_set(err, MS_ENOTFOUND, "%s: not found (HTTP 404%s%s)",
                            q->what, why[0] != '\0' ? ": " : "", why);
    return ms_error_set(err, MS_EPOLICY, "%s: HTTP %ld%s%s", q->what,
                        r->status, why[0] != '\0' ? ": " : "", why);
}

int
ms_enroll_api_call(ms_http_reply *r, ms_enroll_api *a, const ms_enroll_req *q,
                   ms_error *err)
{
    char url[MS_ENROLL_URL_MAX];
    ms_http_call call = {q->method, url,  q->ctype,
                         q->body,   q->len, NULL,
                         NULL,      MS_ENROLL_ANSWER_MAX, q->timeout_ms};
    ms_error why;
    int n, rc;

    n = snprintf(url, sizeof(url), "%s%s", a->base, q->path);
    if (n < 0 || (size_t)n >= sizeof(url))
        return ms_error_set(err, MS_EINVAL, "%s: URL too long", q->what);
    if (q->auth) {
        if (a->auth.len == 0)
            return ms_error_set(err, MS_ENOTFOUND,
                                "%s: the profile has no device credential",
                                q->what);
        call.authorization = (const char *)a->auth.data;
    }
    if ((rc = ms_http_perform(r, a->ctx, &call, &why)) != 0) {
        if (rc == MS_ETEMP)
            return ms_error_set(err, MS_ETEMP,
                                "%s: cannot reach the server at %s: %s",
                                q->what, a->base, why.msg);
        return ms_error_set(err, rc, "%s: %s", q->what, why.msg);
    }
    if (r->status != q->want)
        return status_error(r, q, err);
    return 0;
}

int
ms_enroll_api_json(json_t **out, const ms_http_reply *r, const char *what,
                   ms_error *err)
{
    json_error_t je;

    *out = NULL;
    if (!ms_http_type_is(r->content_type, "application/json"))
        return ms_error_set(err, MS_EMALFORMED,
                            "%s: the answer is not JSON (%s)", what,
                            r->content_type[0] != '\0' ? r->content_type
                                                       : "untyped");
    *out = json_loadb((const char *)r->body.data, r->body.len,
                      JSON_REJECT_DUPLICATES, &je);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return ms_error_set(err, MS_EMALFORMED,
                            "%s: the answer is not a JSON object", what);
    }
    return 0;
}

int
ms_enroll_json_str(char *out, size_t n, json_t *o, const char *key,
                   const char *what, ms_error *err)
{
    const char *s = json_string_value(json_object_get(o, key));
    size_t len = s != NULL ? strlen(s) : 0;

    if (s == NULL || len == 0 || len >= n)
        return ms_error_set(err, MS_EMALFORMED,
                            "%s: the answer has no usable \"%s\"", what, key);
    memcpy(out, s, len + 1);
    return 0;
}

/* ---- the credential file ---- */

/* True when s (n bytes) is a token or id: base64url, '_' and '-'. */
static bool
token_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

int
ms_enroll_cred_store(ms_profile *p, const char *device_id, const ms_buf *token,
                     ms_error *err)
{
    ms_buf f;
    int rc;

    ms_buf_init_secret(&f, CRED_MAX);
    if (!token_chars(device_id, strlen(device_id)) ||
        !token_chars((const char *)token->data, token->len)) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "the server's device id or credential has "
                          "unexpected characters");
        goto out;
    }
    if (ms_buf_printf(&f, "device_id = %s\ntoken = %s\n", device_id,
                      (const char *)token->data) != 0) {
        rc = ms_error_set(err, MS_ETOOBIG, "the credential is too long");
        goto out;
    }
    rc = ms_profile_file_write(p, MS_ENROLL_CRED_FILE, f.data, f.len, err);
out:
    ms_buf_cleanup(&f);
    return rc;
}

/* The value of "key = value" at the start of line s (ends at '\n'). */
static const char *
cred_value(const char *s, const char *key, size_t *len)
{
    size_t k = strlen(key);

    if (strncmp(s, key, k) != 0 || strncmp(s + k, " = ", 3) != 0)
        return NULL;
    s += k + 3;
    *len = strcspn(s, "\n");
    return s;
}

int
ms_enroll_cred_load(ms_buf *token, char *id, size_t idlen,
                    const ms_profile *p, ms_error *err)
{
    const char *line, *v;
    ms_buf f;
    size_t n;
    int rc, found = 0;

    ms_buf_init_secret(&f, CRED_MAX);
    if ((rc = ms_profile_file_read(&f, p, MS_ENROLL_CRED_FILE, err)) != 0) {
        if (rc == MS_ENOTFOUND)
            rc = ms_error_set(err, MS_ENOTFOUND,
                              "this profile is not enrolled (no device "
                              "credential): mailseal enroll");
        goto out;
    }
    for (line = (const char *)f.data; line != NULL && *line != '\0';
         line = strchr(line, '\n') != NULL ? strchr(line, '\n') + 1 : NULL) {
        if ((v = cred_value(line, "device_id", &n)) != NULL && n < idlen &&
            token_chars(v, n)) {
            memcpy(id, v, n);
            id[n] = '\0';
            found |= 1;
        } else if ((v = cred_value(line, "token", &n)) != NULL &&
                   token_chars(v, n) && ms_buf_append(token, v, n) == 0)
            found |= 2;
    }
    if (found != 3)
        rc = ms_error_set(err, MS_EMALFORMED,
                          "the profile's credential file is damaged; "
                          "enroll again: mailseal enroll");
out:
    ms_buf_cleanup(&f);
    return rc;
}
