/*
 * services/mailseald/cmd_audit.c - `mailseald -d DIR audit-verify`: checks
 * the hash chain of the store's audit log (ms_store_audit_verify).
 */
#include <stdio.h>

#include <mailseal/mailseal.h>

#include "commands.h"

int
cmd_audit_verify(const char *config_path, int argc, char **argv)
{
    uint64_t rows = 0;
    cmd_env env;
    ms_error err;
    int rc;

    (void)argv;
    if (argc != 1) {
        (void)fprintf(stderr, "usage: mailseald -d DIR audit-verify\n");
        return 2;
    }
    if (cmd_env_open(&env, config_path, false) != 0)
        return 1;
    rc = ms_store_audit_verify(env.store, &rows, &err);
    if (rc == 0)
        (void)printf("audit chain intact: %llu rows\n",
                     (unsigned long long)rows);
    else if (rc == MS_EBADSIG)
        (void)printf("audit chain BROKEN after %llu good rows: %s\n",
                     (unsigned long long)rows, err.msg);
    else
        (void)fprintf(stderr, "mailseald: audit-verify: %s\n", err.msg);
    cmd_env_close(&env);
    return rc == 0 ? 0 : 1;
}
