/*
 * services/crl/routes.c - the crl module: GET /crl/v1.crl .. /crl/v4.crl
 * (application/pkix-crl, DER) signed by lib/ca/crl.c.
 *
 * Each level keeps its last CRL (a reference-counted blob served without a
 * copy) with the store's revocation epoch read before it was built. A
 * request serves it while the epoch is unchanged (no process revoked
 * anything since) and it is younger than crl_interval; otherwise it is
 * rebuilt first. While one thread rebuilds, others keep serving the
 * previous CRL if it has not expired (so a burst of requests costs one
 * CRL number, not one per request). A timer thread rebuilds every level
 * every crl_interval, so a CRL nobody asks for is still renewed long
 * before its nextUpdate (crl_validity, which must exceed crl_interval).
 *
 * Threads: the lock of a level is held only to look at or swap its blob,
 * never while signing or reading the store. crl_validity and crl_interval
 * are atomics (reloadable); a reload wakes the timer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ca/crl.h"
#include "common/log.h"
#include "common/module.h"
#include "common/service.h"
#include "util/alloc.h"
#include "util/error.h"

#define CRL_TYPE    "application/pkix-crl"
#define CRL_DER_MAX ((size_t)32 << 20)

typedef struct blob {
    atomic_uint refs;
    ms_buf der;
    time_t built;   /* thisUpdate */
    time_t expires; /* nextUpdate */
    uint64_t epoch; /* revocation epoch read before building */
} blob;

struct crl_module;

typedef struct level {
    struct crl_module *m;
    int n; /* 1..4 */
    pthread_mutex_t lock;
    blob *cur; /* NULL until the first build */
    bool building;
} level;

typedef struct crl_module {
    const ms_ca *ca;
    bool store;
    int nlocks; /* levels whose lock is initialised */
    level lv[4];
    atomic_llong validity;
    atomic_llong interval;
    /* the timer */
    bool timer_started;
    bool stopping;
    pthread_t timer;
    pthread_mutex_t tlock;
    pthread_cond_t tcond;
} crl_module;

static const char *const paths[4] = {"/crl/v1.crl", "/crl/v2.crl",
                                     "/crl/v3.crl", "/crl/v4.crl"};

static void
blob_put(void *arg)
{
    blob *b = arg;

    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
        ms_buf_cleanup(&b->der);
        ms_free(b);
    }
}

static blob *
blob_ref(blob *b)
{
    atomic_fetch_add(&b->refs, 1);
    return b;
}

static int
build(blob **out, level *lv, ms_store *st, uint64_t epoch, ms_error *err)
{
    const ms_ca *ca = lv->m->ca;
    long validity = (long)atomic_load(&lv->m->validity);
    blob *b;
    int rc;

    if ((b = ms_calloc(1, sizeof(*b))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    atomic_init(&b->refs, 1);
    ms_buf_init(&b->der, CRL_DER_MAX);
    b->built = time(NULL);
    b->expires = b->built + validity;
    b->epoch = epoch;
    rc = ms_crl_build(ms_ca_get0_issuer_cert(ca, lv->n),
                      ms_ca_get0_issuer_key(ca, lv->n), ms_ca_name(lv->n), st,
                      b->built, validity, &b->der, err);
    if (rc != 0) {
        blob_put(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Installs b (one reference stays with the level) after a build. */
static void
install(level *lv, blob *b)
{
    blob *old;

    (void)pthread_mutex_lock(&lv->lock);
    old = lv->cur;
    lv->cur = b != NULL ? blob_ref(b) : old;
    lv->building = false;
    (void)pthread_mutex_unlock(&lv->lock);
    if (b != NULL)
        blob_put(old);
}

/*
 * *out = a reference on the CRL to serve: the current one while fresh
 * (force false), else a new one. On a failed build the previous CRL is
 * served while it has not expired.
 */
static int
current(blob **out, level *lv, ms_store *st, bool force, ms_error *err)
{
    time_t now = time(NULL);
    uint64_t epoch = 0;
    blob *b = NULL, *nb = NULL;
    bool fresh, valid;
    int rc, erc;

    erc = ms_store_revocation_epoch(st, &epoch, err);
    (void)pthread_mutex_lock(&lv->lock);
    if ((b = lv->cur) != NULL)
        b = blob_ref(b);
    valid = b != NULL && now < b->expires;
    fresh = valid && !force && b->epoch == epoch &&
            now - b->built < (time_t)atomic_load(&lv->m->interval);
    if (erc == 0 && !fresh && !(valid && lv->building && !force))
        lv->building = true;
    else
        fresh = fresh || valid;
    (void)pthread_mutex_unlock(&lv->lock);
    if (fresh || (erc != 0 && valid)) {
        *out = b;
        return 0;
    }
    if (erc != 0) {
        blob_put(b);
        return erc;
    }
    rc = build(&nb, lv, st, epoch, err);
    install(lv, nb);
    if (rc == 0) {
        blob_put(b);
        *out = nb;
        return 0;
    }
    if (valid) { /* keep serving the last one */
        ms_log_warn("crl: V%d: rebuild failed, serving the previous CRL: %s",
                    lv->n, err->msg);
        *out = b;
        return 0;
    }
    blob_put(b);
    return rc;
}

static int
http_date(char *out, size_t n, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        return MS_EINVAL;
    return 0;
}

static int
get_crl(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    level *lv = arg;
    char cc[64], last[64], expires[64];
    long long age;
    ms_store *st;
    ms_error err;
    blob *b = NULL;
    int rc;

    if ((rc = ms_service_store_get(&st, &err)) != 0 ||
        (rc = current(&b, lv, st, false, &err)) != 0) {
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "crl: V%d: %s", lv->n,
               err.msg);
        return rc;
    }
    age = (long long)atomic_load(&lv->m->interval) -
          (long long)(time(NULL) - b->built);
    (void)snprintf(cc, sizeof(cc), "public, max-age=%lld, no-transform",
                   age > 0 ? age : 0LL); /* fits */
    if ((rc = http_date(last, sizeof(last), b->built)) != 0 ||
        (rc = http_date(expires, sizeof(expires), b->expires)) != 0 ||
        (rc = ms_http_response_add_header(resp, "Cache-Control", cc)) != 0 ||
        (rc = ms_http_response_add_header(resp, "Last-Modified", last)) != 0 ||
        (rc = ms_http_response_add_header(resp, "Expires", expires)) != 0) {
        blob_put(b);
        return rc;
    }
    resp->content_type = CRL_TYPE;
    /* The blob's reference goes with the body; the server releases it. */
    ms_http_response_set_borrowed(resp, b->der.data, b->der.len, blob_put, b);
    return 0;
}

/* ---- the timer ---- */

static void
rebuild_all(crl_module *m)
{
    ms_store *st;
    ms_error err;
    blob *b;

    if (ms_service_store_get(&st, &err) != 0) {
        ms_log_err("crl: timer: %s", err.msg);
        return;
    }
    for (int i = 0; i < 4; i++) {
        if (current(&b, &m->lv[i], st, true, &err) != 0) {
            ms_log_err("crl: V%d: scheduled rebuild failed: %s", i + 1,
                       err.msg);
            continue;
        }
        ms_log_debug("crl: V%d: rebuilt (%zu bytes)", i + 1, b->der.len);
        blob_put(b);
    }
}

static void *
timer_main(void *arg)
{
    crl_module *m = arg;
    struct timespec deadline;
    bool stop;
    int w;

    for (;;) {
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += (time_t)atomic_load(&m->interval);
        (void)pthread_mutex_lock(&m->tlock);
        w = 0;
        if (!m->stopping)
            w = pthread_cond_timedwait(&m->tcond, &m->tlock, &deadline);
        stop = m->stopping;
        (void)pthread_mutex_unlock(&m->tlock);
        if (stop)
            break;
        if (w == ETIMEDOUT) /* else woken by a reload: wait anew */
            rebuild_all(m);
    }
    return NULL;
}

static int
timer_start(crl_module *m, ms_error *err)
{
    pthread_condattr_t ca;
    int rc = 0;

    if (pthread_condattr_init(&ca) != 0)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&m->tcond, &ca) != 0)
        rc = ms_error_set(err, MS_ERR, "cannot create a condition variable");
    (void)pthread_condattr_destroy(&ca);
    if (rc != 0)
        return rc;
    if (pthread_mutex_init(&m->tlock, NULL) != 0) {
        (void)pthread_cond_destroy(&m->tcond);
        return ms_error_set(err, MS_ERR, "cannot create a mutex");
    }
    if (pthread_create(&m->timer, NULL, timer_main, m) != 0) {
        (void)pthread_mutex_destroy(&m->tlock);
        (void)pthread_cond_destroy(&m->tcond);
        return ms_error_set(err, MS_ERR, "cannot start the CRL timer");
    }
    m->timer_started = true;
    return 0;
}

static void
timer_wake(crl_module *m, bool stop)
{
    (void)pthread_mutex_lock(&m->tlock);
    m->stopping = m->stopping || stop;
    (void)pthread_cond_signal(&m->tcond);
    (void)pthread_mutex_unlock(&m->tlock);
}

/* ---- the module ---- */

static int
set_times(crl_module *m, const ms_daemon_config *cfg, ms_error *err)
{
    if (cfg->crl_interval >= cfg->crl_validity)
        return ms_error_set(err, MS_EINVAL,
                            "crl_interval (%llds) must be shorter than "
                            "crl_validity (%llds)",
                            cfg->crl_interval, cfg->crl_validity);
    atomic_store(&m->validity, cfg->crl_validity);
    atomic_store(&m->interval, cfg->crl_interval);
    return 0;
}

static void
crl_stop(void *state)
{
    crl_module *m = state;

    if (m == NULL)
        return;
    if (m->timer_started) {
        timer_wake(m, true);
        (void)pthread_join(m->timer, NULL); /* cannot fail: joinable */
        (void)pthread_mutex_destroy(&m->tlock);
        (void)pthread_cond_destroy(&m->tcond);
    }
    for (int i = 0; i < m->nlocks; i++) {
        blob_put(m->lv[i].cur);
        (void)pthread_mutex_destroy(&m->lv[i].lock);
    }
    if (m->store)
        ms_service_store_release();
    if (m->ca != NULL)
        ms_service_ca_release();
    ms_free(m);
}

static int
crl_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    crl_module *m;
    int rc;

    if ((m = ms_calloc(1, sizeof(*m))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = set_times(m, ctx->config, err)) != 0)
        goto out;
    if ((rc = ms_service_ca_acquire(&m->ca, ctx->config, err)) != 0) {
        m->ca = NULL;
        goto out;
    }
    if ((rc = ms_service_store_acquire(ctx->config, err)) != 0)
        goto out;
    m->store = true;
    for (int i = 0; i < 4; i++, m->nlocks++) {
        m->lv[i].m = m;
        m->lv[i].n = i + 1;
        if (pthread_mutex_init(&m->lv[i].lock, NULL) != 0) {
            rc = ms_error_set(err, MS_ERR, "cannot create a mutex");
            goto out;
        }
    }
    for (int i = 0; i < 4; i++) {
        if ((rc = ms_http_server_route(ctx->server, MS_HTTP_GET, paths[i],
                                       false, get_crl, &m->lv[i], err)) != 0)
            goto out;
    }
    rc = timer_start(m, err);
out:
    if (rc != 0) {
        crl_stop(m);
        return rc;
    }
    *state = m;
    return 0;
}

static int
crl_reload(void *state, const ms_daemon_config *config, ms_error *err)
{
    crl_module *m = state;
    int rc;

    if ((rc = set_times(m, config, err)) != 0)
        return rc;
    timer_wake(m, false); /* waits the new interval from now */
    return 0;
}

const ms_module ms_module_crl = {"crl", false, crl_start, crl_reload, crl_stop};
