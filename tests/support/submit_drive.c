/*
 * tests/support/submit_drive.c - ms_submit_send() from the command line, for
 * tests/integration/submit.sh.
 *
 * Usage: submit_drive [-o key=value]... [-f FROM] [-j N] RCPT... < MESSAGE
 *
 * Each -o goes to ms_submit_config_set() ("relay=smtp://127.0.0.1:2525",
 * "starttls=required", ...). The message is read from stdin (at most
 * MS_SUBMIT_MAX_MESSAGE + 1 bytes, so the limit itself can be tested) and
 * submitted once, or by N threads at once with -j N (same config). Prints
 * "status=<ms_status name>" and "message=<error text>" per submission and
 * exits 0 when all succeeded, 1 when one failed, 2 on usage errors.
 * TEST-ONLY.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mailseal/mailseal.h>

#include "mail/submit.h"
#include "util/file.h"

#define MAX_THREADS 16

typedef struct run {
    const ms_submit_config *c;
    const char *from;
    const char *const *rcpts;
    size_t nrcpt;
    const ms_buf *msg;
    int rc;
    ms_error err;
} run;

static void *
submit_one(void *arg)
{
    run *r = arg;

    ms_error_clear(&r->err);
    r->rc = ms_submit_send(r->c, r->from, r->rcpts, r->nrcpt, r->msg->data,
                           r->msg->len, &r->err);
    return NULL;
}

static int
usage(void)
{
    (void)fprintf(stderr, "usage: submit_drive [-o key=value]... [-f FROM] "
                          "[-j N] RCPT... < MESSAGE\n");
    return 2;
}

static int
set_option(ms_submit_config *c, char *kv)
{
    char *eq = strchr(kv, '=');
    ms_error err;

    if (eq == NULL)
        return usage();
    *eq = '\0';
    if (ms_submit_config_set(c, kv, eq + 1, &err) != 0) {
        (void)printf("status=%s\nmessage=%s\n", ms_status_name(err.code),
                     err.msg);
        return 1;
    }
    return 0;
}

static int
run_all(run *r, int jobs)
{
    pthread_t th[MAX_THREADS];
    int failed = 0;

    for (int i = 0; i < jobs; i++) {
        r[i] = r[0];
        if (pthread_create(&th[i], NULL, submit_one, &r[i]) != 0)
            return 2;
    }
    for (int i = 0; i < jobs; i++) {
        if (pthread_join(th[i], NULL) != 0)
            return 2;
        (void)printf("status=%s\nmessage=%s\n",
                     r[i].rc == 0 ? "MS_OK" : ms_status_name(r[i].rc),
                     r[i].rc == 0 ? "" : r[i].err.msg);
        failed |= r[i].rc != 0;
    }
    return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
    ms_submit_config c;
    run r[MAX_THREADS];
    ms_buf msg;
    ms_error err;
    const char *from = "";
    int jobs = 1;
    int opt, rc;

    ms_submit_config_init(&c);
    while ((opt = getopt(argc, argv, "o:f:j:")) != -1) {
        if (opt == 'o' && (rc = set_option(&c, optarg)) != 0)
            return rc;
        if (opt == 'f')
            from = optarg;
        if (opt == 'j' &&
            ((jobs = (int)strtol(optarg, NULL, 10)) < 1 || jobs > MAX_THREADS))
            return usage();
        if (opt == '?')
            return usage();
    }
    if (ms_library_init(&err) != 0) {
        (void)fprintf(stderr, "submit_drive: %s\n", err.msg);
        return 2;
    }
    ms_buf_init(&msg, 0);
    if (ms_stream_read(&msg, stdin, MS_SUBMIT_MAX_MESSAGE + 1, &err) != 0) {
        (void)fprintf(stderr, "submit_drive: stdin: %s\n", err.msg);
        return 2;
    }
    r[0].c = &c;
    r[0].from = from;
    r[0].rcpts = (const char *const *)(argv + optind);
    r[0].nrcpt = (size_t)(argc - optind);
    r[0].msg = &msg;
    rc = run_all(r, jobs);
    ms_buf_cleanup(&msg);
    ms_library_cleanup();
    return rc;
}
