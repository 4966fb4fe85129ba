/*
 * services/mailseald/main.c - mailseald: option parsing, the subcommand
 * table and the module table. Everything else lives in services/common/
 * (the daemon's life) and lib/ (the modules' logic).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <mailseal/mailseal.h>

#include "commands.h"
#include "common/daemon.h"
#include "common/log.h"

/*
 * The modules built in, in start order. `modules =` switches them on
 * (health is always on). Add a module: write its ms_module (module.h),
 * list it here and its name in lib/config/daemon.c's module_names.
 */
static const ms_module *const modules[] = {
    &ms_module_health,
    &ms_module_ca,
    &ms_module_tsa,
    &ms_module_ocsp,
    &ms_module_crl,
    &ms_module_validate,
    &ms_module_kms,
    &ms_module_directory,
};

/* A subcommand: `mailseald NAME ARGS...` (argv[0] is NAME). */
typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

/*
 * The subcommands; argv[1] is looked up here first, so an entry may also
 * be spelled as an option ("--init").
 */
static const subcommand subcommands[] = {
    {"--init", cmd_init, "DIR: create a data directory (CA, config, store)"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "print this help"},
};

/* The commands on a data directory: `mailseald -d DIR NAME ARGS...`. */
typedef struct dir_command {
    const char *name;
    int (*run)(const char *config_path, int argc, char **argv);
    const char *summary;
} dir_command;

static const dir_command dir_commands[] = {
    {"issue", cmd_issue, "issue a certificate from a CSR"},
    {"revoke", cmd_revoke, "revoke a certificate"},
    {"audit-verify", cmd_audit_verify, "check the audit log's hash chain"},
    {"rotate", cmd_rotate, "new keys: ocsp | tsa | ca --level N"},
    {"apikey", cmd_apikey, "directory API keys: create | list | revoke"},
};

static void
usage(FILE *fp)
{
    (void)fprintf(fp,
                  "usage: mailseald [-f] [-v] [-n | -T] [-c FILE | -d DIR] "
                  "[--port-file FILE]\n"
                  "       mailseald COMMAND [ARGS]\n"
                  "  -c FILE   config file (default %s)\n"
                  "  -d DIR    data directory: config DIR/%s\n"
                  "  -n        check the config and exit (0 good, 1 bad)\n"
                  "  -T        print the effective config (redacted) and "
                  "exit\n"
                  "  -f        run in the foreground (always the case)\n"
                  "  -v        log at debug level\n"
                  "  --port-file FILE  write the bound port to FILE once "
                  "listening\n"
                  "commands:\n",
                  MS_DAEMON_CONFIG_FILE, MS_DAEMON_CONFIG_NAME);
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        (void)fprintf(fp, "  %-12s %s\n", subcommands[i].name,
                      subcommands[i].summary);
    (void)fprintf(fp, "commands on a data directory (mailseald -d DIR "
                      "COMMAND ...):\n");
    for (size_t i = 0; i < sizeof(dir_commands) / sizeof(dir_commands[0]); i++)
        (void)fprintf(fp, "  %-12s %s\n", dir_commands[i].name,
                      dir_commands[i].summary);
}

static int
cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return printf("mailseald %s\n", ms_version()) < 0 ? 1 : 0;
}

static int
cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

enum { OPT_PORT_FILE = 256 };

static int
parse_args(ms_daemon_options *o, char *path, size_t pathsz, int argc,
           char **argv)
{
    static const struct option longopts[] = {
        {"port-file", required_argument, NULL, OPT_PORT_FILE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int c, n;

    /* '+': stop at the first word, a data-directory command. */
    while ((c = getopt_long(argc, argv, "+c:d:fnTvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'f':
            break; /* always in the foreground */
        case 'n':
            o->check_only = true;
            break;
        case 'T':
            o->print_config = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case OPT_PORT_FILE:
            o->port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o->config_path != NULL && dir != NULL) {
        usage(stderr);
        return 2;
    }
    if (dir != NULL) {
        n = snprintf(path, pathsz, "%s/%s", dir, MS_DAEMON_CONFIG_NAME);
        if (n < 0 || (size_t)n >= pathsz) {
            ms_log_err("-d: directory name too long");
            return 2;
        }
        o->config_path = path;
    }
    if (o->config_path == NULL)
        o->config_path = MS_DAEMON_CONFIG_FILE;
    if (optind == argc)
        return -1; /* go on: run the daemon */
    for (size_t i = 0; i < sizeof(dir_commands) / sizeof(dir_commands[0]);
         i++) {
        if (strcmp(argv[optind], dir_commands[i].name) == 0)
            return dir_commands[i].run(o->config_path, argc - optind,
                                       argv + optind);
    }
    (void)fprintf(stderr, "mailseald: unknown command '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
}

int
main(int argc, char **argv)
{
    ms_daemon_options o = {NULL, NULL, false, false, false};
    char path[4096];
    int rc;

    ms_log_init("mailseald");
    if (ms_pid_cache_init() != 0) {
        ms_log(MS_LOGLEVEL_ERROR, NULL, "cannot register a fork handler");
        return 1;
    }
    if (argc > 1) {
        for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
             i++) {
            if (strcmp(argv[1], subcommands[i].name) == 0)
                return subcommands[i].run(argc - 1, argv + 1);
        }
    }
    if ((rc = parse_args(&o, path, sizeof(path), argc, argv)) >= 0)
        return rc;
    return ms_daemon_run(&o, modules, sizeof(modules) / sizeof(modules[0]));
}
