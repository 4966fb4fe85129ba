/*
 * net/server.h - a thin HTTP server over libmicrohttpd: bounded requests,
 * a fixed route table, JSON errors, request IDs and one access-log record
 * per request.
 *
 * Life cycle: ms_http_server_new() -> ms_http_server_route() for every
 * route -> ms_http_server_start() -> ... -> ms_http_server_stop() (drains)
 * -> ms_http_server_free(). Routes are fixed once the server starts, so
 * requests find them without a lock.
 *
 * Requests: the body is read into memory up to max_body bytes; a larger
 * Content-Length is answered 413 at once (before routing), a chunked body
 * growing past the cap makes the server close the connection at once
 * (libmicrohttpd cannot answer in the middle of an upload). Unknown paths get
 * 404, known paths with another method 405 with Allow; both, and handler
 * failures, carry {"error": "...", "request_id": "..."} (application/json).
 * Every response carries X-Request-Id (16 hex digits, unique per process).
 *
 * Handlers run on the server's worker threads, several at once: anything a
 * handler's arg points to must be safe to use concurrently. The request and
 * response objects belong to the server and are valid during the call only.
 *
 * lib/ never prints: the access record and libmicrohttpd's own messages go
 * to the callbacks in the options.
 */
#ifndef MS_NET_SERVER_H
#define MS_NET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

struct json_t; /* jansson */

typedef struct ms_http_server ms_http_server;

/* Method bits for routes (HEAD is accepted wherever GET is). */
#define MS_HTTP_GET    0x01u
#define MS_HTTP_HEAD   0x02u
#define MS_HTTP_POST   0x04u
#define MS_HTTP_PUT    0x08u
#define MS_HTTP_DELETE 0x10u
#define MS_HTTP_PATCH  0x20u

#define MS_HTTP_ID_LEN       16u         /* hex digits of a request ID */
#define MS_HTTP_MAX_HEADERS  8u          /* extra headers per response */
#define MS_HTTP_MAX_RESPONSE (64u << 20) /* bytes in an owned body */

/* One request, read-only for handlers. */
typedef struct ms_http_request {
    unsigned method;           /* one MS_HTTP_* bit (0: other) */
    const char *method_name;   /* "GET" */
    const char *path;          /* percent-decoded, without the query */
    const char *subpath;       /* after a prefix route's prefix, else "" */
    const char *content_type;  /* NULL when absent */
    const unsigned char *body; /* body_len bytes (NUL-terminated) */
    size_t body_len;
    const char *request_id; /* MS_HTTP_ID_LEN hex digits */
    const char *peer;       /* numeric client address */
    void *conn;             /* private */
} ms_http_request;

/* The response a handler fills (status 200 and no body to start with). */
typedef struct ms_http_response {
    int status;               /* HTTP status */
    const char *content_type; /* a string that outlives the request */
    ms_buf body;              /* owned body (ignored once borrowed) */
    /* private: set with the functions below */
    const void *borrowed;
    size_t borrowed_len;
    void (*release)(void *arg);
    void *release_arg;
    size_t nheaders;
    struct {
        char name[32];
        char value[224];
    } headers[MS_HTTP_MAX_HEADERS];
    const char *request_id;
} ms_http_response;

/*
 * A route handler. Return 0 when resp is filled (possibly with an error
 * set by ms_http_response_error()), or a negative ms_status: the server
 * then answers with the error_map status (500 when none) and a generic
 * message, discarding resp.
 */
typedef int (*ms_http_handler)(const ms_http_request *req,
                               ms_http_response *resp, void *arg);

/* What the access log gets once per request, when it is finished. */
typedef struct ms_http_access {
    const char *request_id;
    const char *peer;
    const char *method;
    const char *path; /* untrusted: quote before printing */
    int status;       /* 0 when no response was sent */
    size_t bytes;     /* response body bytes */
    uint64_t usec;    /* from the first byte of the request */
} ms_http_access;

/* Maps a handler's ms_status to an HTTP status and a public message. */
typedef int (*ms_http_error_map)(int code, const char **public_msg);

typedef struct ms_http_server_options {
    unsigned version;  /* MS_HTTP_SERVER_OPTIONS_VERSION */
    const char *host;  /* numeric IPv4/IPv6 address */
    unsigned port;     /* 0: any free port */
    bool allow_public; /* allow a non-loopback host */
    unsigned threads;  /* worker threads, >= 1 */
    unsigned max_connections;
    unsigned timeout;            /* idle connection timeout, seconds */
    size_t max_body;             /* request body cap, bytes */
    size_t connection_memory;    /* per-connection header memory, bytes */
    ms_http_error_map error_map; /* NULL: every failure is 500 */
    void (*access_log)(const ms_http_access *a, void *arg);
    void (*error_log)(const char *msg, void *arg);
    void *log_arg;
    /*
     * One single-thread listener per worker thread instead of a pool on
     * one socket: each on its own SO_REUSEPORT socket (the kernel spreads
     * connections over them by address hash), its thread pinned to a CPU.
     * For a machine dedicated to the daemon; SO_REUSEPORT lets any process
     * of the same user join the port.
     */
    bool cpu_affinity;
} ms_http_server_options;

#define MS_HTTP_SERVER_OPTIONS_VERSION 1u
#define MS_HTTP_SERVER_OPTIONS_INIT                                            \
    {                                                                          \
        MS_HTTP_SERVER_OPTIONS_VERSION, "127.0.0.1", 0, false, 1, 1024, 30,    \
            65536, 32768, NULL, NULL, NULL, NULL, false                        \
    }

/*
 * A server (not yet listening) with a copy of opts. MS_EINVAL for a bad
 * option or host, MS_EPOLICY for a non-loopback host without
 * allow_public, MS_ENOMEM.
 */
int ms_http_server_new(ms_http_server **out, const ms_http_server_options *opts,
                       ms_error *err);

/*
 * Adds a route before start: methods (MS_HTTP_* bits) on path, exactly or
 * (prefix) every path starting with it. Exact routes win over prefixes, a
 * longer prefix over a shorter one. path must start with '/' and is
 * copied. MS_EINVAL (bad path, started, same path and method twice),
 * MS_ETOOBIG (table full), MS_ENOMEM.
 */
int ms_http_server_route(ms_http_server *s, unsigned methods, const char *path,
                         bool prefix, ms_http_handler handler, void *arg,
                         ms_error *err);

/* Starts listening. MS_EIO (cannot bind), MS_ENOMEM. */
int ms_http_server_start(ms_http_server *s, ms_error *err);

/* The bound port (after start), e.g. the one picked for port 0. */
unsigned ms_http_server_port(const ms_http_server *s);

/*
 * Graceful stop: closes the listening socket, lets requests in flight
 * finish (responses then say Connection: close) for up to drain_ms
 * milliseconds, then closes every connection and joins the threads.
 * Returns the number of requests still unfinished at the deadline.
 * Safe to call once; ms_http_server_free() calls it with 0 if needed.
 */
unsigned ms_http_server_stop(ms_http_server *s, unsigned drain_ms);

/* Stops (no drain) and frees. NULL is a no-op. */
void ms_http_server_free(ms_http_server *s);

/* Request header (case-insensitive name) or NULL. */
const char *ms_http_request_header(const ms_http_request *req,
                                   const char *name);
/* Decoded query argument or NULL ("" for a bare ?name). */
const char *ms_http_request_query(const ms_http_request *req, const char *name);

/*
 * Serves len bytes at data without copying. release(arg) is called once
 * libmicrohttpd is done with them (after the last byte is sent, or on
 * error); with release NULL the bytes must outlive the server (static
 * data). Replaces any body set before.
 */
void ms_http_response_set_borrowed(ms_http_response *resp, const void *data,
                                   size_t len, void (*release)(void *arg),
                                   void *arg);

/*
 * Adds a header (name 1..31 bytes without blanks or ':', value 1..223
 * bytes without CR or LF). MS_ETOOBIG (too long, or MS_HTTP_MAX_HEADERS
 * already), MS_EINVAL.
 */
int ms_http_response_add_header(ms_http_response *resp, const char *name,
                                const char *value);

/* Sets status and the JSON body of obj (not stolen). MS_ENOMEM, MS_ETOOBIG. */
int ms_http_response_json(ms_http_response *resp, int status,
                          const struct json_t *obj);

/*
 * Sets status and {"error": msg, "request_id": ...}. msg is public: no
 * internals or secrets. MS_ENOMEM.
 */
int ms_http_response_error(ms_http_response *resp, int status, const char *msg);

#endif
