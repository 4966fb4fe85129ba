/* services/mailseald/cmd_common.c - the data-directory commands' setup. */
#include <stdio.h>
#include <string.h>

#include <mailseal/mailseal.h>

#include "commands.h"
#include "common/service.h"

int
cmd_env_open(cmd_env *env, const char *config_path, bool with_ca)
{
    ms_error err;

    memset(env, 0, sizeof(*env));
    if (ms_daemon_config_load(&env->cfg, config_path, &err) != 0 ||
        ms_library_init(&err) != 0 ||
        ms_store_open(&env->store, env->cfg->database, &err) != 0 ||
        (with_ca && ms_service_ca_open(&env->ca, env->cfg, &err) != 0)) {
        (void)fprintf(stderr, "mailseald: %s\n", err.msg);
        cmd_env_close(env);
        return 1;
    }
    return 0;
}

void
cmd_env_close(cmd_env *env)
{
    ms_ca_close(env->ca);
    ms_store_close(env->store);
    ms_daemon_config_free(env->cfg);
    memset(env, 0, sizeof(*env));
}
