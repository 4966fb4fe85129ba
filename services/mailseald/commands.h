/*
 * services/mailseald/commands.h - the operator commands of mailseald, one
 * file each: --init (cmd_init.c), and the data-directory commands issue,
 * revoke (cmd_issue.c), audit-verify (cmd_audit.c) and rotate
 * (cmd_rotate.c), run as
 * `mailseald -d DIR COMMAND ARGS...`.
 *
 * Each returns the exit status: 0 done, 1 error (message on stderr), 2
 * usage. argv[0] is the command's name. Not thread safe (getopt); called
 * once from main().
 */
#ifndef MS_MAILSEALD_COMMANDS_H
#define MS_MAILSEALD_COMMANDS_H

#include "ca/hierarchy.h"
#include "config/daemon.h"
#include "store/store.h"

/* `mailseald --init DIR [options]`. */
int cmd_init(int argc, char **argv);

/* What a data-directory command works on (cmd_common.c). */
typedef struct cmd_env {
    ms_daemon_config *cfg;
    ms_store *store;
    ms_ca *ca; /* NULL unless asked for */
} cmd_env;

/*
 * Loads the config at config_path, initialises the library, opens the
 * store and (with_ca) the CA. Prints the error and returns 1 on failure.
 */
int cmd_env_open(cmd_env *env, const char *config_path, bool with_ca);
void cmd_env_close(cmd_env *env);

int cmd_issue(const char *config_path, int argc, char **argv);
int cmd_revoke(const char *config_path, int argc, char **argv);
int cmd_audit_verify(const char *config_path, int argc, char **argv);
/* `rotate ocsp|tsa|ca --level N` (cmd_rotate.c). */
int cmd_rotate(const char *config_path, int argc, char **argv);
/* `apikey create --name N [--domain D] [--rate N] | list | revoke ID`
 * (cmd_apikey.c). */
int cmd_apikey(const char *config_path, int argc, char **argv);

/*
 * pid.c: getpid() served from memory (read again after fork); call once
 * at start. Returns 0, or -1 when the fork handler cannot be registered.
 */
int ms_pid_cache_init(void);

#endif
