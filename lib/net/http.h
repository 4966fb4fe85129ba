/*
 * net/http.h - one HTTP request with libcurl: bounded time and size.
 */
#ifndef MS_NET_HTTP_H
#define MS_NET_HTTP_H

#include <stdbool.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

/*
 * POSTs body (or GETs when body is NULL) to url (http or https only),
 * expecting a 200 answer of content type want_type (NULL: any), at most max
 * bytes, within the context's network timeout. Errors: MS_ETEMP for network
 * failures and 5xx, MS_EMALFORMED for a wrong answer, MS_ETOOBIG.
 */
int ms_http_fetch(ms_buf *resp, const ms_ctx *ctx, const char *url,
                    const char *content_type, const void *body, size_t len,
                    const char *want_type, size_t max, ms_error *err);

/* One request of an API client: any method, headers, every status. */
typedef struct ms_http_call {
    const char *method;        /* "GET", "POST", "DELETE" ... */
    const char *url;           /* http:// or https:// */
    const char *content_type;  /* of body; NULL when there is none */
    const void *body;          /* NULL: no body */
    size_t len;                /* bytes of body */
    const char *accept;        /* Accept header, NULL: none */
    const char *authorization; /* whole header value, NULL: none; never
                                  logged or put in an error message */
    size_t max;                /* largest answer accepted, bytes */
    unsigned timeout_ms;       /* whole request; 0: the context's network
                                  timeout (a server doing slow work, such
                                  as making a key, needs longer) */
} ms_http_call;

/* The answer: status and body (up to call->max bytes), whatever status. */
typedef struct ms_http_reply {
    long status;
    char content_type[128]; /* "" when the server sent none */
    unsigned retry_after;   /* seconds, from Retry-After; 0 when absent */
    ms_buf body;
} ms_http_reply;

void ms_http_reply_init(ms_http_reply *r);
void ms_http_reply_cleanup(ms_http_reply *r);

/*
 * Performs call within the context's network timeout; any HTTP status is
 * a success (the caller judges it). Errors: MS_EINVAL (bad call),
 * MS_ETEMP (no answer: connection, timeout), MS_ETOOBIG (over max),
 * MS_ENOMEM.
 */
int ms_http_perform(ms_http_reply *out, const ms_ctx *ctx,
                    const ms_http_call *call, ms_error *err);

/* True when the content type got is want, parameters aside. */
bool ms_http_type_is(const char *got, const char *want);

#endif
