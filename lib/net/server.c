/* net/server.c - the libmicrohttpd wrapper (see server.h). */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_* */
#include "net/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util/alloc.h"
#include "util/error.h"

#define MAX_ROUTES 64
#define MAX_LISTENERS 64 /* per-CPU listeners (cpu_affinity) */

typedef struct route {
    unsigned methods;
    char *path;
    size_t len;
    bool prefix;
    ms_http_handler handler;
    void *arg;
} route;

/*
 * One libmicrohttpd daemon: the only one (a thread pool on one listening
 * socket), or with cpu_affinity one per worker thread, each on its own
 * SO_REUSEPORT socket, its thread pinned to cpu.
 */
typedef struct listener {
    ms_http_server *s;
    struct MHD_Daemon *d;
    int cpu; /* -1: not pinned */
} listener;

struct ms_http_server {
    ms_http_server_options o;
    char host[48];
    route routes[MAX_ROUTES];
    size_t nroutes;
    listener l[MAX_LISTENERS];
    size_t nl; /* 0 until started */
    unsigned port;
    uint32_t nonce; /* random per server: IDs differ per boot */
    atomic_uint_fast32_t next_id;
    atomic_uint inflight; /* requests begun and not completed */
    atomic_bool draining;
};

/* Per-request state, from the first call of on_access to on_completed. */
typedef struct req_state {
    ms_http_server *s;
    ms_http_request req;
    ms_http_response resp;
    ms_buf body;
    const route *route;
    const char *method;
    const char *path;
    struct timespec start;
    int status; /* sent status, 0 until queued */
    size_t bytes;
    bool queued;
    char id[MS_HTTP_ID_LEN + 1];
    char peer[INET6_ADDRSTRLEN];
} req_state;

static const struct {
    const char *name;
    unsigned bit;
} method_names[] = {
    {"GET", MS_HTTP_GET}, {"HEAD", MS_HTTP_HEAD},     {"POST", MS_HTTP_POST},
    {"PUT", MS_HTTP_PUT}, {"DELETE", MS_HTTP_DELETE}, {"PATCH", MS_HTTP_PATCH},
};

static unsigned
method_bit(const char *name)
{
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]);
         i++) {
        if (strcmp(method_names[i].name, name) == 0)
            return method_names[i].bit;
    }
    return 0;
}

static void error_log(const ms_http_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
error_log(const ms_http_server *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (s->o.error_log == NULL)
        return;
    va_start(ap, fmt);
    /* A message cut at the buffer's end is acceptable. */
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->o.error_log(msg, s->o.log_arg);
}

static void on_mhd_log(void *cls, const char *fm, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fm, va_list ap)
{
    const ms_http_server *s = cls;
    char msg[512];
    size_t n;

    /* A message cut at the buffer's end is acceptable. */
    (void)vsnprintf(msg, sizeof(msg), fm, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (s->o.error_log != NULL)
        s->o.error_log(msg, s->o.log_arg);
}

static uint64_t
usec_since(const struct timespec *t0)
{
    struct timespec now;

    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
    return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000000u +
           (uint64_t)((now.tv_nsec - t0->tv_nsec) / 1000);
}

/* ------------------------------------------------------------------ */
/* Routes                                                              */

static unsigned
route_methods(const route *r)
{
    return (r->methods & MS_HTTP_GET) ? r->methods | MS_HTTP_HEAD : r->methods;
}

/*
 * The route for path and method (NULL if none); *allow receives the methods
 * served on the path (0: unknown path). Exact routes hide prefix routes,
 * the longest matching prefix hides shorter ones.
 */
static const route *
route_find(const ms_http_server *s, const char *path, unsigned method,
           unsigned *allow)
{
    const route *best = NULL;
    size_t longest = 0;
    bool exact = false;

    for (size_t i = 0; i < s->nroutes; i++) {
        const route *r = &s->routes[i];

        if (!r->prefix && strcmp(path, r->path) == 0)
            exact = true;
        else if (r->prefix && strncmp(path, r->path, r->len) == 0 &&
                 r->len > longest)
            longest = r->len;
    }
    *allow = 0;
    for (size_t i = 0; i < s->nroutes; i++) {
        const route *r = &s->routes[i];

        if (exact ? r->prefix || strcmp(path, r->path) != 0
                  : !r->prefix || r->len != longest ||
                        strncmp(path, r->path, r->len) != 0)
            continue;
        *allow |= route_methods(r);
        if ((route_methods(r) & method) != 0 && best == NULL)
            best = r;
    }
    return best;
}

int
ms_http_server_route(ms_http_server *s, unsigned methods, const char *path,
                     bool prefix, ms_http_handler handler, void *arg,
                     ms_error *err)
{
    route *r;

    if (s->nl != 0)
        return ms_error_set(err, MS_EINVAL, "routes are fixed once started");
    if (path == NULL || path[0] != '/' || handler == NULL || methods == 0)
        return ms_error_set(err, MS_EINVAL, "bad route");
    for (size_t i = 0; i < s->nroutes; i++) {
        if (strcmp(s->routes[i].path, path) == 0 &&
            s->routes[i].prefix == prefix &&
            (s->routes[i].methods & methods) != 0)
            return ms_error_set(err, MS_EINVAL, "route %s registered twice",
                                path);
    }
    if (s->nroutes >= MAX_ROUTES)
        return ms_error_set(err, MS_ETOOBIG, "more than %d routes", MAX_ROUTES);
    r = &s->routes[s->nroutes];
    if ((r->path = ms_strdup(path)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    r->len = strlen(path);
    r->methods = methods;
    r->prefix = prefix;
    r->handler = handler;
    r->arg = arg;
    s->nroutes++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */

static void
release_borrowed(ms_http_response *resp)
{
    if (resp->release != NULL)
        resp->release(resp->release_arg);
    resp->release = NULL;
    resp->release_arg = NULL;
    resp->borrowed = NULL;
    resp->borrowed_len = 0;
}

void
ms_http_response_set_borrowed(ms_http_response *resp, const void *data,
                              size_t len, void (*release)(void *arg), void *arg)
{
    release_borrowed(resp);
    ms_buf_reset(&resp->body);
    resp->borrowed = data != NULL ? data : "";
    resp->borrowed_len = len;
    resp->release = release;
    resp->release_arg = arg;
}

int
ms_http_response_add_header(ms_http_response *resp, const char *name,
                            const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);

    if (strpbrk(name, "\r\n: ") != NULL || strpbrk(value, "\r\n") != NULL ||
        nl == 0 || vl == 0)
        return MS_EINVAL;
    if (resp->nheaders >= MS_HTTP_MAX_HEADERS ||
        nl >= sizeof(resp->headers[0].name) ||
        vl >= sizeof(resp->headers[0].value))
        return MS_ETOOBIG;
    memcpy(resp->headers[resp->nheaders].name, name, nl + 1);
    memcpy(resp->headers[resp->nheaders].value, value, vl + 1);
    resp->nheaders++;
    return 0;
}

static int
dump_cb(const char *buffer, size_t size, void *data)
{
    return ms_buf_append(data, buffer, size) == 0 ? 0 : -1;
}

int
ms_http_response_json(ms_http_response *resp, int status,
                      const struct json_t *obj)
{
    release_borrowed(resp);
    ms_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    if (json_dump_callback(obj, dump_cb, &resp->body, JSON_COMPACT) != 0 ||
        ms_buf_puts(&resp->body, "\n") != 0) {
        ms_buf_reset(&resp->body);
        return MS_ENOMEM;
    }
    return 0;
}

int
ms_http_response_error(ms_http_response *resp, int status, const char *msg)
{
    json_t *o;
    int rc;

    o = json_pack("{s:s, s:s}", "error", msg, "request_id",
                  resp->request_id != NULL ? resp->request_id : "");
    if (o == NULL) {
        resp->status = status;
        return MS_ENOMEM;
    }
    rc = ms_http_response_json(resp, status, o);
    json_decref(o);
    return rc;
}

static void
free_body(void *p)
{
    ms_free(p);
}

/* The MHD response for resp; resp's body or borrowed bytes move into it. */
static struct MHD_Response *
make_mhd_response(ms_http_response *resp)
{
    struct MHD_Response *m;

    if (resp->borrowed != NULL) {
        /* MHD never writes the buffer; its API just lacks the const. */
        m = MHD_create_response_from_buffer_with_free_callback_cls(
            resp->borrowed_len, (void *)(uintptr_t)resp->borrowed,
            resp->release, resp->release_arg);
        if (m != NULL) {
            resp->release = NULL; /* MHD calls it now */
            resp->borrowed = NULL;
        }
        return m;
    }
    m = MHD_create_response_from_buffer_with_free_callback_cls(
        resp->body.len, resp->body.data, free_body, resp->body.data);
    if (m != NULL) {
        resp->body.data = NULL; /* MHD frees it now */
        resp->body.len = 0;
        resp->body.cap = 0;
    }
    return m;
}

static bool
add_headers(struct MHD_Response *m, const req_state *r)
{
    const ms_http_response *resp = &r->resp;

    if (MHD_add_response_header(m, "X-Request-Id", r->id) != MHD_YES)
        return false;
    if (resp->content_type != NULL &&
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type) != MHD_YES)
        return false;
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (MHD_add_response_header(m, resp->headers[i].name,
                                    resp->headers[i].value) != MHD_YES)
            return false;
    }
    if (atomic_load(&r->s->draining) &&
        MHD_add_response_header(m, MHD_HTTP_HEADER_CONNECTION, "close") !=
            MHD_YES)
        return false;
    return true;
}

/* Sends r->resp. */
static enum MHD_Result
send_response(req_state *r)
{
    struct MHD_Connection *c = r->req.conn;
    struct MHD_Response *m;
    enum MHD_Result ok = MHD_NO;
    size_t bytes;

    bytes = r->resp.borrowed != NULL ? r->resp.borrowed_len : r->resp.body.len;
    if ((m = make_mhd_response(&r->resp)) == NULL) {
        release_borrowed(&r->resp);
        return MHD_NO;
    }
    if (add_headers(m, r))
        ok = MHD_queue_response(c, (unsigned)r->resp.status, m);
    else
        error_log(r->s, "%s: cannot add the response headers", r->id);
    MHD_destroy_response(m);
    if (ok == MHD_YES) {
        r->queued = true;
        r->status = r->resp.status;
        r->bytes = bytes;
    }
    return ok;
}

static enum MHD_Result
send_error(req_state *r, int status, const char *msg)
{
    release_borrowed(&r->resp);
    r->resp.nheaders = 0;
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE &&
        ms_http_response_add_header(&r->resp, "Retry-After", "5") != 0)
        return MHD_NO;
    if (ms_http_response_error(&r->resp, status, msg) != 0)
        return MHD_NO;
    return send_response(r);
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

const char *
ms_http_request_header(const ms_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
ms_http_request_query(const ms_http_request *req, const char *name)
{
    const char *v =
        MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);

    if (v == NULL &&
        MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name,
                                      strlen(name), NULL, NULL) == MHD_YES)
        return ""; /* present without a value */
    return v;
}

static void
peer_name(char *out, size_t outsz, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr *sa;

    out[0] = '\0';
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || (sa = ci->client_addr) == NULL)
        return;
    if (sa->sa_family == AF_INET)
        (void)inet_ntop(
            AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
            out, (socklen_t)outsz);
    else if (sa->sa_family == AF_INET6)
        (void)inet_ntop(
            AF_INET6,
            &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
            (socklen_t)outsz);
}

static req_state *
req_new(ms_http_server *s, struct MHD_Connection *c, const char *url,
        const char *method)
{
    req_state *r;
    uint32_t n;

    if ((r = ms_calloc(1, sizeof(*r))) == NULL)
        return NULL;
    (void)clock_gettime(CLOCK_MONOTONIC, &r->start); /* cannot fail */
    r->s = s;
    r->method = method;
    r->path = url;
    n = (uint32_t)atomic_fetch_add(&s->next_id, 1);
    (void)snprintf(r->id, sizeof(r->id), "%08x%08x", (unsigned)s->nonce,
                   (unsigned)n); /* exactly 16 digits */
    peer_name(r->peer, sizeof(r->peer), c);
    ms_buf_init(&r->body, s->o.max_body);
    ms_buf_init(&r->resp.body, MS_HTTP_MAX_RESPONSE);
    r->resp.status = 200;
    r->resp.request_id = r->id;
    r->req.conn = c;
    r->req.method = method_bit(method);
    r->req.method_name = method;
    r->req.path = url;
    r->req.subpath = "";
    r->req.request_id = r->id;
    r->req.peer = r->peer;
    atomic_fetch_add(&s->inflight, 1);
    return r;
}

static enum MHD_Result
send_not_allowed(req_state *r, unsigned allow)
{
    char text[64] = "";
    size_t n = 0;

    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]);
         i++) {
        if ((allow & method_names[i].bit) == 0)
            continue;
        /* Fits: every name together is under 64 bytes. */
        (void)snprintf(text + n, sizeof(text) - n, "%s%s", n > 0 ? ", " : "",
                       method_names[i].name);
        n = strlen(text);
    }
    if (ms_http_response_add_header(&r->resp, "Allow", text) != 0 ||
        ms_http_response_error(&r->resp, MHD_HTTP_METHOD_NOT_ALLOWED,
                               "method not allowed") != 0)
        return MHD_NO;
    return send_response(r);
}

/*
 * Headers are in: a declared body over the cap is refused first (nothing
 * here would take it), then the request is routed.
 */
static enum MHD_Result
on_headers(req_state *r)
{
    const char *cl;
    unsigned allow;

    cl = MHD_lookup_connection_value(r->req.conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL &&
        (strlen(cl) > 19 ||
         strtoull(cl, NULL, 10) > (unsigned long long)r->s->o.max_body))
        return send_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
                          "request body too large");
    r->route = route_find(r->s, r->path, r->req.method, &allow);
    if (allow == 0)
        return send_error(r, MHD_HTTP_NOT_FOUND, "no such resource");
    if (r->route == NULL)
        return send_not_allowed(r, allow);
    return MHD_YES;
}

static enum MHD_Result
on_body(req_state *r, const char *data, size_t *size)
{
    size_t n = *size;

    *size = 0;
    if (ms_buf_append(&r->body, data, n) == 0)
        return MHD_YES;
    /*
     * Over max_body without a Content-Length saying so (chunked): MHD
     * 0.9.75 cannot queue a response in the middle of an upload, so the
     * connection is closed rather than the rest read.
     */
    error_log(r->s, "%s: chunked body over %zu bytes: connection closed", r->id,
              r->s->o.max_body);
    return MHD_NO;
}

static enum MHD_Result
dispatch(req_state *r)
{
    const route *rt = r->route;
    const char *msg = "internal error";
    int rc, status = MHD_HTTP_INTERNAL_SERVER_ERROR;

    r->req.body =
        r->body.data != NULL ? r->body.data : (const unsigned char *)"";
    r->req.body_len = r->body.len;
    r->req.content_type = MHD_lookup_connection_value(
        r->req.conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->req.subpath = rt->prefix ? r->path + rt->len : "";
    if ((rc = rt->handler(&r->req, &r->resp, rt->arg)) == 0)
        return send_response(r);
    if (r->s->o.error_map != NULL)
        status = r->s->o.error_map(rc, &msg);
    if (status >= 500)
        error_log(r->s, "%s: %s %s: handler failed: %s", r->id, r->method,
                  rt->path, ms_status_name(rc));
    if (send_error(r, status, msg) != MHD_YES)
        return MHD_NO;
    return MHD_YES;
}

/*
 * Pins the calling worker thread to l->cpu, once per thread: the worker
 * and its connections' state stay on one CPU. A failure only costs speed
 * (logged once).
 */
static void
pin_thread(const listener *l)
{
    static _Thread_local bool pinned;
    cpu_set_t set;

    if (pinned)
        return;
    pinned = true;
    CPU_ZERO(&set);
    CPU_SET(l->cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        error_log(l->s, "cannot pin a worker thread to CPU %d", l->cpu);
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *c, const char *url,
          const char *method, const char *version, const char *upload,
          size_t *upload_size, void **con_cls)
{
    req_state *r = *con_cls;
    listener *l = cls;

    (void)version;
    if (r == NULL) {
        if (l->cpu >= 0)
            pin_thread(l);
        if ((r = req_new(l->s, c, url, method)) == NULL)
            return MHD_NO;
        *con_cls = r;
        return on_headers(r);
    }
    if (r->queued) {
        *upload_size = 0; /* answered already: discard the rest */
        return MHD_YES;
    }
    if (*upload_size > 0)
        return on_body(r, upload, upload_size);
    return dispatch(r);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    ms_http_server *s = cls;
    req_state *r = *con_cls;
    ms_http_access a;

    (void)c;
    (void)toe;
    if (r == NULL)
        return;
    *con_cls = NULL;
    if (s->o.access_log != NULL) {
        a.request_id = r->id;
        a.peer = r->peer;
        a.method = r->method != NULL ? r->method : "-";
        a.path = r->path != NULL ? r->path : "-";
        a.status = r->status;
        a.bytes = r->bytes;
        a.usec = usec_since(&r->start);
        s->o.access_log(&a, s->o.log_arg);
    }
    release_borrowed(&r->resp);
    ms_buf_cleanup(&r->resp.body);
    ms_buf_cleanup(&r->body);
    ms_free(r);
    atomic_fetch_sub(&s->inflight, 1);
}

/* ------------------------------------------------------------------ */
/* Server                                                              */

int
ms_http_server_new(ms_http_server **out, const ms_http_server_options *o,
                   ms_error *err)
{
    ms_http_server *s;
    struct in6_addr a6;
    struct in_addr a4;
    bool loopback;

    if (o == NULL || o->version != MS_HTTP_SERVER_OPTIONS_VERSION ||
        o->host == NULL || o->port > 65535 || o->threads == 0 ||
        o->threads > 1024 || o->max_connections == 0 || o->max_body == 0 ||
        o->connection_memory < 4096)
        return ms_error_set(err, MS_EINVAL, "bad server options");
    if (inet_pton(AF_INET, o->host, &a4) == 1)
        loopback = (ntohl(a4.s_addr) >> 24) == 127;
    else if (inet_pton(AF_INET6, o->host, &a6) == 1)
        loopback = IN6_IS_ADDR_LOOPBACK(&a6);
    else
        return ms_error_set(err, MS_EINVAL, "'%.64s' is not a numeric address",
                            o->host);
    if (!loopback && !o->allow_public)
        return ms_error_set(err, MS_EPOLICY,
                            "refusing to listen on %.64s: not loopback, and "
                            "not configured explicitly",
                            o->host);
    if ((s = ms_calloc(1, sizeof(*s))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    s->o = *o;
    (void)snprintf(s->host, sizeof(s->host), "%s", o->host); /* checked */
    s->o.host = s->host;
    if (RAND_bytes((unsigned char *)&s->nonce, sizeof(s->nonce)) != 1) {
        ms_free(s);
        return ms_error_set_ossl(err, MS_ERR, "no random bytes");
    }
    atomic_init(&s->next_id, 0);
    atomic_init(&s->inflight, 0);
    atomic_init(&s->draining, false);
    *out = s;
    return 0;
}

/* The address to listen on, from s->host and port. */
static socklen_t
listen_addr(struct sockaddr_storage *ss, const ms_http_server *s,
            unsigned port)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(s->host, ':') != NULL) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)(void *)ss;

        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons((uint16_t)port);
        (void)inet_pton(AF_INET6, s->host, &sa->sin6_addr); /* checked */
        return sizeof(*sa);
    }
    struct sockaddr_in *sa = (struct sockaddr_in *)(void *)ss;

    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    (void)inet_pton(AF_INET, s->host, &sa->sin_addr); /* checked */
    return sizeof(*sa);
}

/*
 * A listening socket of an SO_REUSEPORT group on port (0: any; *port
 * receives the one bound): the kernel spreads new connections over the
 * group by a hash of their addresses. (Not SO_INCOMING_CPU: a client
 * whose connections all come from one CPU would get one worker.) -1 with
 * errno on failure.
 */
static int
reuseport_socket(const ms_http_server *s, unsigned *port)
{
    struct sockaddr_storage ss;
    socklen_t len = listen_addr(&ss, s, *port);
    int fd, one = 1, e;

    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 4096) != 0)
        goto fail;
    len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        goto fail;
    *port = ntohs(ss.ss_family == AF_INET6
                      ? ((struct sockaddr_in6 *)(void *)&ss)->sin6_port
                      : ((struct sockaddr_in *)(void *)&ss)->sin_port);
    return fd;
fail:
    e = errno;
    (void)close(fd);
    errno = e;
    return -1;
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/*
 * Percent-decodes val in place as MHD does, but leaves "%00" as it is: a
 * decoded NUL would silently cut the path (or argument) short, so a handler
 * would see "/a" for "/a%00b". Handlers get "%00" and refuse it.
 */
static size_t
on_unescape(void *cls, struct MHD_Connection *c, char *val)
{
    char *w = val;
    const char *r = val;

    (void)cls;
    (void)c;
    while (*r != '\0') {
        int hi = r[0] == '%' ? hexval(r[1]) : -1;
        int lo = hi >= 0 ? hexval(r[2]) : -1;

        if (lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - val);
}

/* Starts l->d on the listening socket fd (-1: MHD binds ss itself). */
static int
start_listener(listener *l, const struct sockaddr_storage *ss, int fd,
               unsigned threads, unsigned max_conn)
{
    const ms_http_server *s = l->s;
    struct MHD_OptionItem extra[3] = {{MHD_OPTION_END, 0, NULL},
                                      {MHD_OPTION_END, 0, NULL},
                                      {MHD_OPTION_END, 0, NULL}};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    size_t n = 0;

    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (fd >= 0)
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd,
                                             NULL};
    else
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0,
                                             (void *)(uintptr_t)ss};
    if (threads > 1)
        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                             (intptr_t)threads, NULL};
    l->d = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_access, l,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l->s, /* first, as MHD wants */
        MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->o.timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        s->o.connection_memory, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l->s,
        MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL, MHD_OPTION_ARRAY,
        extra, MHD_OPTION_END);
    return l->d != NULL ? 0 : -1;
}

/*
 * The CPUs this process may run on, in order, at most max; 0 when unknown.
 */
static size_t
usable_cpus(int *cpus, size_t max)
{
    cpu_set_t set;
    size_t n = 0;

    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    }
    return n;
}

/* With cpu_affinity: one pinned single-thread daemon per worker. */
static int
start_per_cpu(ms_http_server *s, ms_error *err)
{
    int cpus[MAX_LISTENERS];
    size_t ncpu = usable_cpus(cpus, MAX_LISTENERS);
    unsigned n = s->o.threads, port = s->o.port;
    struct sockaddr_storage ss;

    if (ncpu == 0)
        return ms_error_set(err, MS_EIO, "cannot read the CPU affinity");
    if (n > MAX_LISTENERS)
        n = MAX_LISTENERS;
    (void)listen_addr(&ss, s, port);
    for (unsigned i = 0; i < n; i++) {
        listener *l = &s->l[i];
        int fd;

        l->s = s;
        l->cpu = cpus[i % ncpu];
        if ((fd = reuseport_socket(s, &port)) < 0)
            return ms_error_set(err, MS_EIO, "cannot listen on %s port %u: %s",
                                s->host, port, strerror(errno));
        if (start_listener(l, &ss, fd, 1,
                           (s->o.max_connections + n - 1) / n) != 0) {
            (void)close(fd);
            return ms_error_set(err, MS_EIO, "cannot start worker %u", i);
        }
        s->nl = i + 1;
    }
    s->port = port;
    return 0;
}

int
ms_http_server_start(ms_http_server *s, ms_error *err)
{
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    int rc;

    if (s->nl != 0)
        return ms_error_set(err, MS_EINVAL, "server started twice");
    if (s->o.cpu_affinity) {
        if ((rc = start_per_cpu(s, err)) != 0)
            (void)ms_http_server_stop(s, 0);
        return rc;
    }
    (void)listen_addr(&ss, s, s->o.port);
    s->l[0].s = s;
    s->l[0].cpu = -1;
    if (start_listener(&s->l[0], &ss, -1, s->o.threads,
                       s->o.max_connections) != 0)
        return ms_error_set(err, MS_EIO, "cannot listen on %s port %u", s->host,
                            s->o.port);
    s->nl = 1;
    info = MHD_get_daemon_info(s->l[0].d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : s->o.port;
    return 0;
}

unsigned
ms_http_server_port(const ms_http_server *s)
{
    return s->port;
}

unsigned
ms_http_server_stop(ms_http_server *s, unsigned drain_ms)
{
    const struct timespec tick = {0, 5000000L};
    struct timespec t0;
    MHD_socket fd;
    unsigned left;

    if (s == NULL || s->nl == 0)
        return 0;
    atomic_store(&s->draining, true);
    (void)clock_gettime(CLOCK_MONOTONIC, &t0); /* cannot fail */
    for (size_t i = 0; i < s->nl; i++) {
        if ((fd = MHD_quiesce_daemon(s->l[i].d)) != MHD_INVALID_SOCKET &&
            close(fd) != 0)
            error_log(s, "closing the listening socket: %s", strerror(errno));
    }
    /* Bounded wait for requests in flight (polling; stop is rare). */
    while (atomic_load(&s->inflight) > 0 &&
           usec_since(&t0) < (uint64_t)drain_ms * 1000u)
        (void)nanosleep(&tick, NULL); /* EINTR only shortens one tick */
    left = atomic_load(&s->inflight);
    for (size_t i = 0; i < s->nl; i++) {
        MHD_stop_daemon(s->l[i].d);
        s->l[i].d = NULL;
    }
    s->nl = 0;
    return left;
}

void
ms_http_server_free(ms_http_server *s)
{
    if (s == NULL)
        return;
    (void)ms_http_server_stop(s, 0); /* a no-op when stopped already */
    for (size_t i = 0; i < s->nroutes; i++)
        ms_free(s->routes[i].path);
    ms_free(s);
}
