/* net/http.c - one HTTP request with libcurl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "ctx.h"
#include "net/http.h"
#include "util/error.h"
#include "util/str.h"

typedef struct sink {
    ms_buf *b;
    bool over;
} sink;

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;

    if (ms_buf_append(s->b, p, len) != 0) {
        s->over = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    return len;
}

bool
ms_http_type_is(const char *got, const char *want)
{
    size_t n = strlen(want);

    if (got == NULL)
        return false;
    return ms_ascii_casebytes(got, strlen(got) < n ? strlen(got) : n, want,
                              n) &&
           (got[n] == '\0' || got[n] == ';' || got[n] == ' ');
}

void
ms_http_reply_init(ms_http_reply *r)
{
    memset(r, 0, sizeof(*r));
    ms_buf_init(&r->body, 0);
}

void
ms_http_reply_cleanup(ms_http_reply *r)
{
    ms_buf_cleanup(&r->body);
    ms_http_reply_init(r);
}

/* Adds "name: value" to *hdrs; false when it does not fit or no memory. */
static bool
add_header(struct curl_slist **hdrs, const char *name, const char *value)
{
    char line[1024];
    struct curl_slist *n;
    int w;

    if (value == NULL)
        return true;
    if (strpbrk(value, "\r\n") != NULL)
        return false;
    w = snprintf(line, sizeof(line), "%s: %s", name, value);
    if (w < 0 || (size_t)w >= sizeof(line) ||
        (n = curl_slist_append(*hdrs, line)) == NULL) {
        OPENSSL_cleanse(line, sizeof(line));
        return false;
    }
    OPENSSL_cleanse(line, sizeof(line)); /* may hold a bearer token */
    *hdrs = n;
    return true;
}

static int
setup(CURL *c, const ms_ctx *ctx, const ms_http_call *call,
      struct curl_slist *hdrs, sink *s, char *ebuf)
{
    bool post = call->body != NULL;

    if (curl_easy_setopt(c, CURLOPT_URL, call->url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                         call->timeout_ms != 0 ? (long)call->timeout_ms
                                               : (long)ctx->net_timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ctx->net_timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)call->max) != CURLE_OK ||
        (hdrs != NULL &&
         curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK) ||
        (post && (curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body) !=
                      CURLE_OK ||
                  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                                   (curl_off_t)call->len) != CURLE_OK)) ||
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method) != CURLE_OK)
        return MS_ERR;
    return 0;
}

/* Reads status, content type and Retry-After of the finished transfer. */
static void
read_reply(ms_http_reply *out, CURL *c)
{
    struct curl_header *h = NULL;
    char *type = NULL;

    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status) !=
        CURLE_OK)
        out->status = 0;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK &&
        type != NULL)
        (void)snprintf(out->content_type, sizeof(out->content_type), "%s",
                       type); /* a longer type is cut: it matches nothing */
    if (curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &h) ==
            CURLHE_OK &&
        h->value != NULL) {
        unsigned long v = strtoul(h->value, NULL, 10);

        out->retry_after = v > 86400 ? 86400u : (unsigned)v;
    }
}

int
ms_http_perform(ms_http_reply *out, const ms_ctx *ctx,
                const ms_http_call *call, ms_error *err)
{
    struct curl_slist *hdrs = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    sink s = {&out->body, false};
    CURL *c;
    CURLcode cc;
    int rc = 0;

    ms_http_reply_cleanup(out);
    out->body.max = call->max;
    if (call->method == NULL || call->url == NULL ||
        (strncmp(call->url, "http://", 7) != 0 &&
         strncmp(call->url, "https://", 8) != 0))
        return ms_error_set(err, MS_EINVAL, "not an http(s) URL");
    if ((c = curl_easy_init()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot create an HTTP handle");
    if (!add_header(&hdrs, "Content-Type", call->content_type) ||
        !add_header(&hdrs, "Accept", call->accept) ||
        !add_header(&hdrs, "Authorization", call->authorization) ||
        setup(c, ctx, call, hdrs, &s, ebuf) != 0) {
        rc = ms_error_set(err, MS_EINVAL, "cannot build the request");
        goto out;
    }
    if ((cc = curl_easy_perform(c)) != CURLE_OK) {
        if (s.over || cc == CURLE_FILESIZE_EXCEEDED)
            rc = ms_error_set(err, MS_ETOOBIG, "%s: answer over %zu bytes",
                              call->url, call->max);
        else
            rc = ms_error_set(err, MS_ETEMP, "%s: %s", call->url,
                              ebuf[0] != '\0' ? ebuf
                                              : curl_easy_strerror(cc));
        goto out;
    }
    read_reply(out, c);
out:
    if (rc != 0)
        ms_http_reply_cleanup(out);
    if (hdrs != NULL) {
        for (struct curl_slist *h = hdrs; h != NULL; h = h->next)
            OPENSSL_cleanse(h->data, strlen(h->data));
        curl_slist_free_all(hdrs);
    }
    curl_easy_cleanup(c);
    return rc;
}

int
ms_http_fetch(ms_buf *resp, const ms_ctx *ctx, const char *url,
                const char *content_type, const void *body, size_t len,
                const char *want_type, size_t max, ms_error *err)
{
    ms_http_call call = {body != NULL ? "POST" : "GET", url, content_type,
                         body, len, NULL, NULL, max, 0};
    ms_http_reply r;
    int rc;

    ms_buf_reset(resp);
    ms_http_reply_init(&r);
    if ((rc = ms_http_perform(&r, ctx, &call, err)) != 0)
        goto out;
    if (r.status != 200) {
        rc = ms_error_set(err, r.status >= 500 ? MS_ETEMP : MS_EMALFORMED,
                          "%s: HTTP status %ld", url, r.status);
        goto out;
    }
    if (want_type != NULL && !ms_http_type_is(r.content_type, want_type)) {
        rc = ms_error_set(err, MS_EMALFORMED, "%s: answer is %s, not %s", url,
                          r.content_type[0] != '\0' ? r.content_type
                                                    : "untyped",
                          want_type);
        goto out;
    }
    rc = ms_buf_append(resp, r.body.data, r.body.len) != 0
             ? ms_error_set(err, MS_ETOOBIG, "%s: answer over %zu bytes", url,
                            max)
             : 0;
out:
    ms_http_reply_cleanup(&r);
    return rc;
}
