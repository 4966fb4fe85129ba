/*
 * services/common/daemon.h - the daemon's life: load and check the
 * config, start the modules and the HTTP server, wait for signals
 * (SIGHUP reloads, SIGTERM/SIGINT stop gracefully), stop.
 *
 * Signals are blocked in every thread and taken with sigwait(2) on the
 * main thread: no work ever happens in a signal handler. Not thread safe:
 * ms_daemon_run() is called once, from main().
 */
#ifndef MS_SERVICES_DAEMON_H
#define MS_SERVICES_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "module.h"

typedef struct ms_daemon_options {
    const char *config_path; /* the config file */
    const char *port_file;   /* write the bound port here (NULL: no) */
    bool check_only;         /* -n: check the config and exit */
    bool print_config;       /* -T: print the effective config and exit */
    bool verbose;            /* -v: log_level debug whatever the config */
} ms_daemon_options;

/*
 * Runs the daemon with the modules of table (in order; at most 32) and
 * returns the exit status: 0 after a clean stop or a good check, 1 on a
 * bad config or a failure to start. Errors go to the log (stderr).
 */
int ms_daemon_run(const ms_daemon_options *o, const ms_module *const *table,
                  size_t ntable);

#endif
