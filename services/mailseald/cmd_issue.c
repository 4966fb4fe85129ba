/*
 * services/mailseald/cmd_issue.c - `mailseald -d DIR issue ...` (a
 * certificate from a CSR, ms_ca_issue) and `mailseald -d DIR revoke ...`
 * (ms_ca_revoke), on the data directory's store and CA.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <mailseal/mailseal.h>

#include "ca/issue.h"
#include "commands.h"
#include "common/ca_admin.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/file.h"

enum {
    O_LEVEL = 256,
    O_USE,
    O_MAILBOX,
    O_GIVEN,
    O_SURNAME,
    O_ORG,
    O_ORGID,
    O_COUNTRY,
    O_TITLE,
    O_DAYS,
    O_CSR,
    O_OUT,
    O_SERIAL,
    O_REASON
};

typedef struct issue_args {
    ms_ca_identity id;
    const char *use, *csr, *out;
    long long days;
} issue_args;

static void
issue_usage(FILE *fp)
{
    (void)fprintf(fp, "usage: mailseald -d DIR issue --level N --use "
                      "signing|encryption --mailbox ADDR\n"
                      "         [--given-name S] [--surname S] [--org S] "
                      "[--org-id S] [--country CC] [--title S]\n"
                      "         [--days N] --csr FILE [--out FILE]\n");
}

/* A decimal number in min..max (at most 9 digits, nothing else). */
static int
number(long long *out, const char *s, long long min, long long max)
{
    size_t n = strlen(s);
    long long v = 0;

    if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
parse_issue(issue_args *a, int argc, char **argv)
{
    static const struct option lo[] = {
        {"level", required_argument, NULL, O_LEVEL},
        {"use", required_argument, NULL, O_USE},
        {"mailbox", required_argument, NULL, O_MAILBOX},
        {"given-name", required_argument, NULL, O_GIVEN},
        {"surname", required_argument, NULL, O_SURNAME},
        {"org", required_argument, NULL, O_ORG},
        {"org-id", required_argument, NULL, O_ORGID},
        {"country", required_argument, NULL, O_COUNTRY},
        {"title", required_argument, NULL, O_TITLE},
        {"days", required_argument, NULL, O_DAYS},
        {"csr", required_argument, NULL, O_CSR},
        {"out", required_argument, NULL, O_OUT},
        {NULL, 0, NULL, 0},
    };
    long long level = 0;
    int c, bad = 0;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case O_LEVEL:
            bad |= number(&level, optarg, 1, 4);
            break;
        case O_USE:
            a->use = optarg;
            break;
        case O_MAILBOX:
            a->id.mailbox = optarg;
            break;
        case O_GIVEN:
            a->id.given_name = optarg;
            break;
        case O_SURNAME:
            a->id.surname = optarg;
            break;
        case O_ORG:
            a->id.organisation = optarg;
            break;
        case O_ORGID:
            a->id.organisation_id = optarg;
            break;
        case O_COUNTRY:
            a->id.country = optarg;
            break;
        case O_TITLE:
            a->id.title = optarg;
            break;
        case O_DAYS:
            bad |= number(&a->days, optarg, 1, 3650);
            break;
        case O_CSR:
            a->csr = optarg;
            break;
        case O_OUT:
            a->out = optarg;
            break;
        default:
            bad = -1;
            break;
        }
    }
    a->id.level = (int)level;
    if (bad != 0 || optind != argc || level == 0 || a->use == NULL ||
        a->id.mailbox == NULL || a->csr == NULL) {
        issue_usage(stderr);
        return 2;
    }
    return -1;
}

/* Writes the certificate's PEM to a->out or stdout; *serial (ms_free). */
static int
write_cert(const issue_args *a, const ms_buf *der, char **serial, ms_error *err)
{
    FILE *fp = stdout;
    ms_buf pem;
    int rc;

    ms_buf_init(&pem, 0);
    if ((rc = ms_service_cert_pem(&pem, serial, der->data, der->len, err)) != 0)
        goto out;
    if (a->out != NULL && (fp = fopen(a->out, "w")) == NULL) {
        rc = ms_error_set(err, MS_EIO, "%s: cannot create", a->out);
        goto out;
    }
    if (fwrite(pem.data, 1, pem.len, fp) != pem.len)
        rc = ms_error_set(err, MS_EIO, "%s: write error",
                          a->out ? a->out : "stdout");
    if ((fp == stdout ? fflush(fp) : fclose(fp)) != 0 && rc == 0)
        rc = ms_error_set(err, MS_EIO, "%s: write error",
                          a->out ? a->out : "stdout");
out:
    ms_buf_cleanup(&pem);
    return rc;
}

int
cmd_issue(const char *config_path, int argc, char **argv)
{
    ms_ca_issue_options opt = MS_CA_ISSUE_OPTIONS_INIT;
    issue_args a;
    ms_lint_use use;
    char *serial = NULL;
    cmd_env env;
    ms_buf csr, der;
    ms_error err;
    int rc;

    memset(&a, 0, sizeof(a));
    if ((rc = parse_issue(&a, argc, argv)) >= 0)
        return rc;
    if (ms_service_use_parse(&use, a.use, &err) != 0) {
        (void)fprintf(stderr, "mailseald: issue: %s\n", err.msg);
        return 2;
    }
    if (cmd_env_open(&env, config_path, true) != 0)
        return 1;
    ms_buf_init(&csr, MS_CA_CSR_MAX);
    ms_buf_init(&der, MS_STORE_DER_MAX);
    opt.public_url = env.cfg->public_url;
    opt.validity_days = (int)(a.days ? a.days : env.cfg->cert_validity_days);
    if ((rc = ms_file_read(&csr, a.csr, MS_CA_CSR_MAX, &err)) == 0 &&
        (rc = ms_ca_issue(env.ca, env.store, &a.id, csr.data, csr.len, use,
                          &opt, &der, &err)) == 0)
        rc = write_cert(&a, &der, &serial, &err);
    if (rc == 0)
        (void)fprintf(stderr, "issued serial=%s level=V%d use=%s mailbox=%s\n",
                      serial, a.id.level, a.use, a.id.mailbox);
    else
        (void)fprintf(stderr, "mailseald: issue: %s\n", err.msg);
    ms_free(serial);
    ms_buf_cleanup(&csr);
    ms_buf_cleanup(&der);
    cmd_env_close(&env);
    return rc == 0 ? 0 : 1;
}

/* ---- revoke ---- */

static void
revoke_usage(FILE *fp)
{
    (void)fprintf(fp, "usage: mailseald -d DIR revoke --serial HEX "
                      "[--level N] [--reason NAME|NUMBER]\n");
}

int
cmd_revoke(const char *config_path, int argc, char **argv)
{
    static const struct option lo[] = {
        {"serial", required_argument, NULL, O_SERIAL},
        {"level", required_argument, NULL, O_LEVEL},
        {"reason", required_argument, NULL, O_REASON},
        {NULL, 0, NULL, 0},
    };
    char canon[MS_STORE_SERIAL_HEX_MAX + 2];
    const char *serial = NULL;
    long long level = 0;
    int c, reason = 0, bad = 0, lv, rc;
    cmd_env env;
    ms_error err;

    optind = 0;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        if (c == O_SERIAL)
            serial = optarg;
        else if (c == O_LEVEL)
            bad |= number(&level, optarg, 1, 4);
        else if (c == O_REASON &&
                 ms_service_reason_parse(&reason, optarg, &err) != 0) {
            (void)fprintf(stderr, "mailseald: revoke: %s\n", err.msg);
            return 2;
        } else if (c != O_REASON)
            bad = -1;
    }
    if (bad != 0 || optind != argc || serial == NULL) {
        revoke_usage(stderr);
        return 2;
    }
    /* The store's spelling, so the message names what was revoked. */
    if (ms_ca_serial_canonical(canon, sizeof(canon), serial, &err) != 0) {
        (void)fprintf(stderr, "mailseald: revoke: %s\n", err.msg);
        return 1;
    }
    serial = canon;
    if (cmd_env_open(&env, config_path, true) != 0)
        return 1;
    lv = (int)level;
    rc = 0;
    if (lv == 0)
        rc = ms_service_find_level(&lv, env.store, serial, &err);
    if (rc == 0)
        rc = ms_ca_revoke(env.ca, env.store, lv, serial, reason, 0, &err);
    if (rc == 0)
        (void)printf("revoked serial=%s level=V%d reason=%s\n", serial, lv,
                     ms_service_reason_name(reason));
    else
        (void)fprintf(stderr, "mailseald: revoke: %s\n", err.msg);
    cmd_env_close(&env);
    return rc == 0 ? 0 : 1;
}
