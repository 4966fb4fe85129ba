/*
 * services/common/module.h - the interface between mailseald and its
 * modules (ca, tsa, ocsp, crl, ... and the built-in health).
 *
 * mailseald keeps a static table of ms_module (services/mailseald/main.c).
 * At start it calls start() of every module named in `modules =` (and of
 * those marked always), in table order, before the server listens: start
 * registers the module's routes with ms_http_server_route() and returns
 * its state. On SIGHUP it calls reload() with the new snapshot. At exit,
 * once the server has stopped (no request in flight), it calls stop() in
 * reverse order.
 *
 * Ownership: the module owns its state. The config passed to start() and
 * reload() is borrowed for the call: take ms_daemon_config_up_ref() to keep
 * it (and drop the previous one in reload()). The server pointer is valid
 * until stop() returns but accepts routes only during start().
 *
 * Threads: start, reload and stop run on the main thread, one at a time;
 * the handlers run on the server's worker threads at the same time as each
 * other and as reload(): whatever reload() changes must be swapped
 * atomically (or under a lock the handlers take briefly), never around a
 * private-key operation.
 */
#ifndef MS_SERVICES_MODULE_H
#define MS_SERVICES_MODULE_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/error.h>

#include "config/daemon.h"
#include "net/server.h"

/* What start() gets. Everything is borrowed. */
typedef struct ms_module_ctx {
    const ms_daemon_config *config; /* the snapshot in force */
    ms_http_server *server;         /* register routes here */
    const char *const *modules;     /* names of the modules started */
    size_t nmodules;
} ms_module_ctx;

typedef struct ms_module {
    const char *name; /* as written in `modules =` */
    bool always;      /* started whatever `modules =` says (health) */
    /*
     * Sets the module up and adds its routes; *state receives the module's
     * state (may stay NULL). Return 0 or a negative ms_status with err
     * filled: the daemon then exits 1 with the message.
     */
    int (*start)(void **state, const ms_module_ctx *ctx, ms_error *err);
    /*
     * Applies a new snapshot (NULL: nothing is reloadable). Settings
     * without MS_CONFIG_F_RELOAD keep their old values in it. On error the
     * module keeps its old settings; the daemon logs err.
     */
    int (*reload)(void *state, const ms_daemon_config *config, ms_error *err);
    /* Releases the state; no request is in flight. NULL: nothing to do. */
    void (*stop)(void *state);
} ms_module;

/* The built-in health module: GET /healthz. */
extern const ms_module ms_module_health;
/* The modules of services/<name>/routes.c. */
extern const ms_module ms_module_ca;
extern const ms_module ms_module_tsa;
extern const ms_module ms_module_ocsp;
extern const ms_module ms_module_crl;
extern const ms_module ms_module_validate;
extern const ms_module ms_module_kms;
/* services/directory/routes.c */
extern const ms_module ms_module_directory;

#endif
