/* cmd_open.c - mailseal decrypt, verify and open. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cmd_decrypt(ms_ctx *ctx, const cli_opts *o)
{
    ms_identity *id = NULL;
    ms_buf in, out;
    ms_error err;
    int ec;

    ms_buf_init(&in, ms_ctx_get0_limits(ctx)->max_message);
    ms_buf_init(&out, 0);
    if (o->cert == NULL || o->key == NULL) {
        cli_error("decrypt", "--cert and --key are required");
        ec = EXIT_USAGE;
        goto out;
    }
    if (ms_identity_load(&id, ctx, o->cert, o->key, NULL, NULL, &err) != 0) {
        cli_error("decrypt", "%s", err.msg);
        ec = EXIT_USAGE;
        goto out;
    }
    if ((ec = cli_read_stdin(&in, ctx, "decrypt")) != EXIT_OK)
        goto out;
    if (ms_decrypt(&out, ctx, id, in.data, in.len, NULL, &err) != 0) {
        ec = cli_fail("decrypt", &err);
        goto out;
    }
    ec = cli_write("decrypt", NULL, out.data, out.len);
out:
    ms_identity_free(id);
    ms_buf_cleanup(&in);
    ms_buf_cleanup(&out);
    return ec;
}

static int
build_verifier(ms_verifier **v, ms_ctx *ctx, const cli_opts *o,
               const char *cmd)
{
    ms_error err;
    time_t at;
    int rc = 0;

    if (o->ntrust == 0) {
        cli_error(cmd, "--trust is required (the anchors you trust)");
        return EXIT_USAGE;
    }
    if (ms_verifier_new(v, ctx, &err) != 0)
        return cli_fail(cmd, &err);
    for (size_t i = 0; rc == 0 && i < o->ntrust; i++)
        rc = ms_verifier_add_trust_file(*v, o->trust[i], &err);
    for (size_t i = 0; rc == 0 && i < o->nuntrusted; i++)
        rc = ms_verifier_add_untrusted_file(*v, o->untrusted[i], &err);
    for (size_t i = 0; rc == 0 && i < o->ncrl; i++)
        rc = ms_verifier_add_crl_file(*v, o->crl[i], &err);
    for (size_t i = 0; rc == 0 && i < o->ntsa_trust; i++)
        rc = ms_verifier_add_tsa_trust_file(*v, o->tsa_trust[i], &err);
    if (rc == 0 && o->no_system_trust)
        rc = ms_verifier_set_system_trust(*v, false, &err);
    if (rc == 0 && o->at != NULL) {
        if ((rc = ms_time_parse(&at, o->at, &err)) == 0)
            ms_verifier_set_time(*v, at);
    }
    if (rc != 0) {
        cli_error(cmd, "%s", err.msg);
        return EXIT_USAGE;
    }
    ms_verifier_set_offline(*v, o->offline);
    return EXIT_OK;
}

static int
verdict_exit(const ms_result *r)
{
    ms_verdict v = ms_result_verdict(r);

    return v <= MS_VERDICT_SIGNED ? EXIT_OK : EXIT_VERDICT;
}

static int
report(const char *cmd, const ms_result *r, bool json, bool banner)
{
    ms_buf j;
    ms_error err;
    int ec = EXIT_OK;

    if (json) {
        ms_buf_init(&j, 0);
        if (ms_result_json(&j, r, &err) != 0)
            ec = cli_fail(cmd, &err);
        else if (printf("%s\n", (char *)j.data) < 0)
            ec = EXIT_USAGE;
        ms_buf_cleanup(&j);
        return ec;
    }
    for (size_t i = 0; i < ms_result_warning_count(r); i++)
        fprintf(stderr, "%s: warning: %s\n", cli_prog,
                ms_result_warning(r, i));
    if (printf("%s%s\n", banner ? "[mailseal] " : "", ms_result_display(r)) <
        0)
        ec = EXIT_USAGE;
    return ec;
}

static int
judge(ms_ctx *ctx, const cli_opts *o, const char *cmd, bool open)
{
    ms_verifier *v = NULL;
    ms_identity *id = NULL;
    ms_result *r = NULL;
    ms_buf in, clear, annotated;
    ms_error err;
    int ec;

    ms_buf_init(&in, ms_ctx_get0_limits(ctx)->max_message);
    ms_buf_init(&clear, 0);
    ms_buf_init(&annotated, 0);
    if ((ec = build_verifier(&v, ctx, o, cmd)) != EXIT_OK)
        goto out;
    if (open && (o->cert != NULL || o->key != NULL)) {
        if (o->cert == NULL || o->key == NULL) {
            cli_error(cmd, "--cert and --key go together");
            ec = EXIT_USAGE;
            goto out;
        }
        if (ms_identity_load(&id, ctx, o->cert, o->key, NULL, NULL, &err) !=
            0) {
            cli_error(cmd, "%s", err.msg);
            ec = EXIT_USAGE;
            goto out;
        }
    }
    if ((ec = cli_read_stdin(&in, ctx, cmd)) != EXIT_OK)
        goto out;
    if (ms_open(&r, open ? &clear : NULL, ctx, v, id, in.data, in.len,
                &err) != 0) {
        ec = cli_fail(cmd, &err);
        goto out;
    }
    if (!open) {
        if ((ec = report(cmd, r, o->json, false)) == EXIT_OK)
            ec = verdict_exit(r);
        goto out;
    }
    if (clear.len == 0 && ms_buf_append(&clear, in.data, in.len) != 0) {
        cli_error(cmd, "out of memory");
        ec = EXIT_USAGE;
        goto out;
    }
    if (o->output != NULL) {
        if (ms_result_annotate(&annotated, r, clear.data, clear.len, &err) !=
            0) {
            ec = cli_fail(cmd, &err);
            goto out;
        }
        if ((ec = cli_write(cmd, o->output, annotated.data, annotated.len)) !=
                EXIT_OK ||
            (ec = report(cmd, r, o->json, true)) != EXIT_OK)
            goto out;
    } else if ((ec = report(cmd, r, o->json, true)) != EXIT_OK ||
               (!o->json &&
                (ec = cli_write(cmd, NULL, clear.data, clear.len)) !=
                    EXIT_OK)) {
        goto out;
    }
    ec = verdict_exit(r);
out:
    ms_result_free(r);
    ms_identity_free(id);
    ms_verifier_free(v);
    ms_buf_cleanup(&in);
    ms_buf_cleanup(&clear);
    ms_buf_cleanup(&annotated);
    return ec;
}

int
cmd_verify(ms_ctx *ctx, const cli_opts *o)
{
    return judge(ctx, o, "verify", false);
}

int
cmd_open(ms_ctx *ctx, const cli_opts *o)
{
    return judge(ctx, o, "open", true);
}
