/*
 * net/http.h - one HTTP request with libcurl: bounded time and size.
 */
#ifndef MS_NET_HTTP_H
#define MS_NET_HTTP_H

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

/*
 * POSTs body (or GETs when body is NULL) to url (http or https only),
 * expecting a 200 answer of content type want_type (NULL: any), at most max
 * bytes, within the context's network timeout. Errors: MS_ETEMP for network
 * failures and 5xx, MS_EMALFORMED for a wrong answer, MS_ETOOBIG.
 */
int ms_http_request(ms_buf *resp, const ms_ctx *ctx, const char *url,
                    const char *content_type, const void *body, size_t len,
                    const char *want_type, size_t max, ms_error *err);

#endif
