/* services/common/daemon.c - config, modules, server, signals (see .h). */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mailseal/mailseal.h>

#include "http_error.h"
#include "log.h"
#include "util/error.h"

#define MAX_MODULES  32
#define MAX_DRAIN_MS 10000u /* longest wait for requests at stop */

typedef struct daemon_state {
    const ms_daemon_options *o;
    const ms_module *const *table;
    size_t ntable;
    ms_daemon_config *cfg; /* the snapshot in force */
    ms_http_server *server;
    const ms_module *mods[MAX_MODULES]; /* started, in order */
    void *states[MAX_MODULES];
    const char *names[MAX_MODULES];
    size_t nmods;
} daemon_state;

static bool
wanted(const ms_module *m, const ms_daemon_config *cfg)
{
    return m->always || ms_config_words_has(&cfg->modules, m->name);
}

/* Every module named in the config must be in the table. */
static int
check_modules(const daemon_state *d, const ms_daemon_config *cfg, ms_error *err)
{
    for (size_t i = 0; i < cfg->modules.n; i++) {
        bool found = false;

        for (size_t j = 0; j < d->ntable && !found; j++)
            found = strcmp(d->table[j]->name, cfg->modules.v[i]) == 0;
        if (!found)
            return ms_error_set(err, MS_EINVAL,
                                "%s: modules: '%s' is not built into this "
                                "mailseald",
                                cfg->source, cfg->modules.v[i]);
    }
    return 0;
}

static int
load(ms_daemon_config **out, const daemon_state *d, ms_error *err)
{
    ms_daemon_config *c = NULL;
    int rc;

    if ((rc = ms_daemon_config_load(&c, d->o->config_path, err)) != 0)
        return rc;
    if ((rc = check_modules(d, c, err)) != 0) {
        ms_daemon_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int
print_config(const ms_daemon_config *c)
{
    ms_buf out;
    int rc;

    ms_buf_init(&out, 0);
    rc = ms_buf_printf(&out, "# mailseald effective configuration (%s)\n",
                       c->source);
    if (rc == 0)
        rc = ms_daemon_config_format(&out, c);
    if (rc == 0 && (fwrite(out.data, 1, out.len, stdout) != out.len ||
                    fflush(stdout) != 0))
        rc = MS_EIO;
    ms_buf_cleanup(&out);
    return rc;
}

static void
apply_level(const daemon_state *d, const ms_daemon_config *c)
{
    ms_log_set_level(d->o->verbose ? MS_LOGLEVEL_DEBUG : c->log_level);
    ms_log_set_access(c->access_log || d->o->verbose);
}

/* ------------------------------------------------------------------ */

static int
start_modules(daemon_state *d, ms_error *err)
{
    ms_module_ctx ctx;
    int rc;

    for (size_t i = 0; i < d->ntable && d->nmods < MAX_MODULES; i++) {
        if (wanted(d->table[i], d->cfg))
            d->names[d->nmods++] = d->table[i]->name;
    }
    ctx.config = d->cfg;
    ctx.server = d->server;
    ctx.modules = d->names;
    ctx.nmodules = d->nmods;
    d->nmods = 0;
    for (size_t i = 0; i < d->ntable; i++) {
        const ms_module *m = d->table[i];

        if (!wanted(m, d->cfg))
            continue;
        d->states[d->nmods] = NULL;
        if ((rc = m->start(&d->states[d->nmods], &ctx, err)) != 0)
            return ms_error_set(err, rc, "module %s: %s", m->name,
                                err != NULL ? err->msg : "cannot start");
        d->mods[d->nmods++] = m;
        ms_log_debug("module %s started", m->name);
    }
    return 0;
}

static void
stop_modules(daemon_state *d)
{
    while (d->nmods > 0) {
        d->nmods--;
        if (d->mods[d->nmods]->stop != NULL)
            d->mods[d->nmods]->stop(d->states[d->nmods]);
    }
}

static unsigned
thread_count(const ms_daemon_config *c)
{
    long n = c->threads;

    if (n == 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

static int
make_server(daemon_state *d, ms_error *err)
{
    ms_http_server_options so = MS_HTTP_SERVER_OPTIONS_INIT;
    const ms_daemon_config *c = d->cfg;

    so.host = c->listen.host;
    so.port = c->listen.port;
    /* Only the config can name a public address, never a default. */
    so.allow_public = true;
    so.threads = thread_count(c);
    so.cpu_affinity = c->cpu_affinity;
    so.max_connections = (unsigned)c->max_connections;
    so.timeout = (unsigned)c->connection_timeout;
    so.max_body = (size_t)c->max_body;
    so.error_map = ms_http_error_status;
    so.access_log = ms_log_access;
    so.error_log = ms_log_server_error;
    if (!c->listen.loopback)
        ms_log_warn("listening on %s, not a loopback address: put a TLS "
                    "proxy in front",
                    c->listen.host);
    return ms_http_server_new(&d->server, &so, err);
}

/* Writes the port to path atomically (a temp file, then rename). */
static int
write_port_file(const char *path, unsigned port, ms_error *err)
{
    char tmp[4096];
    FILE *fp;
    int n;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return ms_error_set(err, MS_EINVAL, "port file name too long");
    if ((fp = fopen(tmp, "w")) == NULL)
        return ms_error_set(err, MS_EIO, "%s: %s", tmp, strerror(errno));
    if (fprintf(fp, "%u\n", port) < 0 || fclose(fp) != 0) {
        (void)unlink(tmp); /* best effort: the error is reported below */
        return ms_error_set(err, MS_EIO, "%s: write error", tmp);
    }
    if (rename(tmp, path) != 0)
        return ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

static void
announce(const daemon_state *d)
{
    char mods[512] = "";
    size_t n = 0;
    const ms_config_listen *l = &d->cfg->listen;

    for (size_t i = 0; i < d->nmods; i++) {
        int w = snprintf(mods + n, sizeof(mods) - n, "%s%s", i ? " " : "",
                         d->names[i]);

        if (w < 0 || (size_t)w >= sizeof(mods) - n)
            break;
        n += (size_t)w;
    }
    ms_log_info("listening on http://%s%s%s:%u (modules: %s)",
                l->ipv6 ? "[" : "", l->host, l->ipv6 ? "]" : "",
                ms_http_server_port(d->server), mods);
}

/* ------------------------------------------------------------------ */
/* SIGHUP                                                              */

/*
 * Logs each changed key of next; settings that need a restart get their
 * running value back, so next describes what is really in force.
 */
static int
merge_changes(ms_daemon_config *next, const ms_daemon_config *cur,
              ms_error *err)
{
    const ms_config_key *keys;
    size_t n;
    int rc;

    keys = ms_daemon_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        if (ms_config_equal(cur, next, &keys[i]))
            continue;
        if (keys[i].flags & MS_CONFIG_F_RELOAD) {
            ms_log_info("reload: %s changed", keys[i].name);
            continue;
        }
        ms_log_warn("reload: %s changed: needs a restart, keeping the "
                    "running value",
                    keys[i].name);
        if ((rc = ms_config_copy(next, cur, &keys[i])) != 0)
            return ms_error_set(err, rc, "out of memory");
    }
    return 0;
}

static void
reload(daemon_state *d)
{
    ms_daemon_config *next = NULL;
    ms_error err;
    int old_level = ms_log_get_level();

    if (load(&next, d, &err) != 0 || merge_changes(next, d->cfg, &err) != 0) {
        ms_log_err("reload failed, keeping the old config: %s", err.msg);
        ms_daemon_config_free(next);
        return;
    }
    for (size_t i = 0; i < d->nmods; i++) {
        if (d->mods[i]->reload != NULL &&
            d->mods[i]->reload(d->states[i], next, &err) != 0)
            ms_log_err("reload: module %s kept its old settings: %s",
                       d->mods[i]->name, err.msg);
    }
    /* Say it under the more verbose of the two levels. */
    apply_level(d, next);
    if (ms_log_get_level() < old_level)
        ms_log_set_level(old_level);
    ms_log_info("reload: config reloaded from %s", next->source);
    apply_level(d, next);
    ms_daemon_config_free(d->cfg);
    d->cfg = next;
}

/* Waits for signals until SIGTERM or SIGINT; SIGHUP reloads. */
static void
signal_loop(daemon_state *d, const sigset_t *set)
{
    int sig;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue; /* only EINVAL, impossible with our set */
        if (sig == SIGHUP) {
            ms_log_info("SIGHUP: reloading %s", d->o->config_path);
            reload(d);
            continue;
        }
        ms_log_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
}

/* ------------------------------------------------------------------ */

static int
serve(daemon_state *d, const sigset_t *set, ms_error *err)
{
    unsigned left, drain;
    int rc;

    if ((rc = make_server(d, err)) != 0)
        return rc;
    if ((rc = start_modules(d, err)) != 0)
        return rc;
    if ((rc = ms_http_server_start(d->server, err)) != 0)
        return rc;
    if (d->o->port_file != NULL &&
        (rc = write_port_file(d->o->port_file, ms_http_server_port(d->server),
                              err)) != 0)
        return rc;
    announce(d);
    signal_loop(d, set);
    drain = (unsigned)d->cfg->connection_timeout * 1000u;
    left = ms_http_server_stop(d->server,
                               drain < MAX_DRAIN_MS ? drain : MAX_DRAIN_MS);
    if (left > 0)
        ms_log_warn("stopped with %u requests unfinished", left);
    return 0;
}

int
ms_daemon_run(const ms_daemon_options *o, const ms_module *const *table,
              size_t ntable)
{
    daemon_state d;
    sigset_t set;
    ms_error err;
    int rc;

    memset(&d, 0, sizeof(d));
    d.o = o;
    d.table = table;
    d.ntable = ntable < MAX_MODULES ? ntable : MAX_MODULES;
    if (load(&d.cfg, &d, &err) != 0) {
        ms_log_err("%s", err.msg);
        return 1;
    }
    if (o->check_only || o->print_config) {
        if (o->print_config)
            rc = print_config(d.cfg);
        else
            rc = printf("%s: ok\n", d.cfg->source) < 0 ? MS_EIO : 0;
        ms_daemon_config_free(d.cfg);
        return rc == 0 ? 0 : 1;
    }
    apply_level(&d, d.cfg);
    /* Blocked before any thread starts, so every thread inherits it. */
    (void)sigemptyset(&set);
    (void)sigaddset(&set, SIGHUP);
    (void)sigaddset(&set, SIGTERM);
    (void)sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        ms_log_err("cannot set up signals");
        ms_daemon_config_free(d.cfg);
        return 1;
    }
    if ((rc = ms_library_init(&err)) == 0) {
        rc = serve(&d, &set, &err);
        ms_http_server_free(d.server); /* stops it if serve() failed early */
        stop_modules(&d);
        ms_library_cleanup();
    }
    if (rc != 0)
        ms_log_err("%s", err.msg);
    else
        ms_log_info("stopped");
    ms_daemon_config_free(d.cfg);
    return rc == 0 ? 0 : 1;
}
