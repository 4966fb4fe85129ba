/* net/http.c - one HTTP request with libcurl. */
#include <string.h>

#include <curl/curl.h>

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

static bool
type_matches(const char *got, const char *want)
{
    size_t n = strlen(want);

    if (got == NULL)
        return false;
    return ms_ascii_casebytes(got, strlen(got) < n ? strlen(got) : n, want,
                              n) &&
           (got[n] == '\0' || got[n] == ';' || got[n] == ' ');
}

int
ms_http_request(ms_buf *resp, const ms_ctx *ctx, const char *url,
                const char *content_type, const void *body, size_t len,
                const char *want_type, size_t max, ms_error *err)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    char hline[160];
    sink s = {resp, false};
    long status = 0;
    char *got = NULL;
    CURLcode cc;
    int rc = 0;

    ms_buf_reset(resp);
    resp->max = max;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return ms_error_set(err, MS_EINVAL, "not an http(s) URL");
    if ((c = curl_easy_init()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot create an HTTP handle");
    if (content_type != NULL) {
        int n = snprintf(hline, sizeof(hline), "Content-Type: %s",
                         content_type);

        if (n < 0 || (size_t)n >= sizeof(hline) ||
            (hdrs = curl_slist_append(NULL, hline)) == NULL) {
            rc = ms_error_set(err, MS_ENOMEM, "cannot build the request");
            goto out;
        }
    }
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ctx->net_timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ctx->net_timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s) != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) !=
            CURLE_OK ||
        (hdrs != NULL &&
         curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK) ||
        (body != NULL &&
         (curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
          curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                           (curl_off_t)len) != CURLE_OK))) {
        rc = ms_error_set(err, MS_ERR, "cannot configure the HTTP request");
        goto out;
    }
    if ((cc = curl_easy_perform(c)) != CURLE_OK) {
        if (s.over || cc == CURLE_FILESIZE_EXCEEDED)
            rc = ms_error_set(err, MS_ETOOBIG, "%s: answer over %zu bytes",
                              url, max);
        else
            rc = ms_error_set(err, MS_ETEMP, "%s: %s", url,
                              ebuf[0] != '\0' ? ebuf
                                              : curl_easy_strerror(cc));
        goto out;
    }
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &got) != CURLE_OK) {
        rc = ms_error_set(err, MS_ERR, "%s: no status", url);
        goto out;
    }
    if (status != 200) {
        rc = ms_error_set(err, status >= 500 ? MS_ETEMP : MS_EMALFORMED,
                          "%s: HTTP status %ld", url, status);
        goto out;
    }
    if (want_type != NULL && !type_matches(got, want_type)) {
        rc = ms_error_set(err, MS_EMALFORMED, "%s: answer is %s, not %s", url,
                          got != NULL ? got : "untyped", want_type);
        goto out;
    }
out:
    if (rc != 0)
        ms_buf_reset(resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}
