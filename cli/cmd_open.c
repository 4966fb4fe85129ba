/* cmd_open.c - mailseal decrypt, verify and open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "continuity.h"
#include "util/alloc.h"

/*
 * *id = the profile's encryption key that opens msg: the newest first,
 * then older ones; with several keys each is tried on msg. When none
 * fits, the newest (the failure is then reported by the caller).
 */
static int
profile_decryptor(ms_identity **id, ms_profile *p, ms_ctx *ctx,
                  const ms_buf *msg, const char *cmd)
{
    size_t n = ms_profile_count(p, MS_PROFILE_ENC);
    ms_buf scratch;
    ms_error err;
    int ec = EXIT_OK;

    if (n == 0) {
        cli_error(cmd, "the profile %s has no encryption key: give --cert "
                  "and --key", ms_profile_get0_dir(p));
        return EXIT_USAGE;
    }
    ms_buf_init_secret(&scratch, ms_ctx_get0_limits(ctx)->max_message);
    for (size_t i = 0; i < n; i++) {
        if (ms_profile_load_decryptor(id, p, i, &err) != 0) {
            cli_error(cmd, "%s", err.msg);
            ec = EXIT_USAGE;
            break;
        }
        if (n == 1 ||
            ms_decrypt(&scratch, ctx, *id, msg->data, msg->len, NULL, NULL) ==
                0)
            break;
        ms_identity_free(*id);
        *id = NULL;
    }
    ms_buf_cleanup(&scratch); /* secret: wiped */
    if (ec == EXIT_OK && *id == NULL &&
        ms_profile_load_decryptor(id, p, 0, &err) != 0) {
        cli_error(cmd, "%s", err.msg);
        ec = EXIT_USAGE;
    }
    return ec;
}

int
cmd_decrypt(ms_ctx *ctx, const cli_opts *o)
{
    ms_identity *id = NULL;
    ms_profile *p = NULL;
    ms_buf in, out;
    ms_error err;
    int ec;

    ms_buf_init(&in, ms_ctx_get0_limits(ctx)->max_message);
    ms_buf_init_secret(&out, 0);
    if (o->cert == NULL && o->key == NULL) {
        if ((ec = cli_profile(&p, o, "decrypt", false)) != EXIT_OK ||
            (ec = cli_read_stdin(&in, ctx, "decrypt")) != EXIT_OK ||
            (ec = profile_decryptor(&id, p, ctx, &in, "decrypt")) != EXIT_OK)
            goto out;
    } else if (o->cert == NULL || o->key == NULL) {
        cli_error("decrypt", "--cert and --key go together");
        ec = EXIT_USAGE;
        goto out;
    } else {
        if (ms_identity_load(&id, ctx, o->cert, o->key, NULL, NULL, &err) !=
            0) {
            cli_error("decrypt", "%s", err.msg);
            ec = EXIT_USAGE;
            goto out;
        }
        if ((ec = cli_read_stdin(&in, ctx, "decrypt")) != EXIT_OK)
            goto out;
    }
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

/* --trust, or else the profile's anchors (also for timestamps). */
static int
add_anchors(ms_verifier *v, const cli_opts *o, const char *cmd,
            ms_profile **used)
{
    ms_profile *p = NULL;
    char *path = NULL;
    ms_error err;
    int rc = 0, ec;

    for (size_t i = 0; rc == 0 && i < o->ntrust; i++)
        rc = ms_verifier_add_trust_file(v, o->trust[i], &err);
    if (o->ntrust > 0)
        goto out;
    if ((ec = cli_profile_try(&p, o, cmd)) != EXIT_OK)
        return ec;
    if (p == NULL || (rc = ms_profile_anchors_path(&path, p, &err)) ==
                         MS_ENOTFOUND) {
        cli_error(cmd, "--trust is required (the anchors you trust), or a "
                  "profile with trust anchors");
        ms_free(path);
        return EXIT_USAGE;
    }
    if (rc == 0 && (rc = ms_verifier_add_trust_file(v, path, &err)) == 0 &&
        o->ntsa_trust == 0)
        rc = ms_verifier_add_tsa_trust_file(v, path, &err);
    *used = p;
out:
    ms_free(path);
    if (rc != 0) {
        cli_error(cmd, "%s", err.msg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int
build_verifier(ms_verifier **v, ms_ctx *ctx, const cli_opts *o,
               const char *cmd, ms_profile **used)
{
    ms_error err;
    time_t at;
    int rc = 0, ec;

    if (ms_verifier_new(v, ctx, &err) != 0)
        return cli_fail(cmd, &err);
    if ((ec = add_anchors(*v, o, cmd, used)) != EXIT_OK)
        return ec;
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

/* Prints the result as JSON, with the continuity member when cont. */
static int
report_json(const char *cmd, const ms_result *r, const cli_continuity *cont)
{
    json_t *o = NULL, *c = NULL;
    char *text = NULL;
    ms_buf j;
    ms_error err;
    int ec = EXIT_OK;

    ms_buf_init(&j, 0);
    if (ms_result_json(&j, r, &err) != 0) {
        ec = cli_fail(cmd, &err);
        goto out;
    }
    if (cont == NULL) {
        if (printf("%s\n", (char *)j.data) < 0)
            ec = EXIT_USAGE;
        goto out;
    }
    if ((o = json_loadb((const char *)j.data, j.len, 0, NULL)) == NULL ||
        (c = cli_continuity_json(cont)) == NULL ||
        json_object_set_new(o, "continuity", c) != 0 ||
        (text = json_dumps(o, JSON_COMPACT)) == NULL) {
        cli_error(cmd, "out of memory");
        ec = EXIT_USAGE;
        goto out;
    }
    if (printf("%s\n", text) < 0)
        ec = EXIT_USAGE;
out:
    free(text); /* jansson allocates with malloc */
    json_decref(o);
    ms_buf_cleanup(&j);
    return ec;
}

static int
report(const char *cmd, const ms_result *r, bool json, bool banner,
       const cli_continuity *cont)
{
    if (json)
        return report_json(cmd, r, cont);
    for (size_t i = 0; i < ms_result_warning_count(r); i++)
        fprintf(stderr, "%s: warning: %s\n", cli_prog,
                ms_result_warning(r, i));
    if (cont != NULL && cont->warning[0] != '\0')
        fprintf(stderr, "%s: warning: %s\n", cli_prog, cont->warning);
    if (printf("%s%s\n", banner ? "[mailseal] " : "", ms_result_display(r)) <
        0)
        return EXIT_USAGE;
    return EXIT_OK;
}

/* The explicit --cert/--key of open, if any. */
static int
explicit_key(ms_identity **id, ms_ctx *ctx, const cli_opts *o,
             const char *cmd)
{
    ms_error err;

    if (o->cert == NULL && o->key == NULL)
        return EXIT_OK;
    if (o->cert == NULL || o->key == NULL) {
        cli_error(cmd, "--cert and --key go together");
        return EXIT_USAGE;
    }
    if (ms_identity_load(id, ctx, o->cert, o->key, NULL, NULL, &err) != 0) {
        cli_error(cmd, "%s", err.msg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/*
 * Opens in with id; without one, an encrypted message is opened again
 * with the profile's key (*used is set when the profile served).
 */
static int
open_message(ms_result **r, ms_buf *clear, ms_ctx *ctx, const ms_verifier *v,
             const ms_identity *id, const ms_buf *in, const cli_opts *o,
             const char *cmd, ms_profile **used)
{
    ms_identity *pid = NULL;
    ms_profile *p = NULL;
    ms_error err;
    int ec = EXIT_OK;

    if (ms_open(r, clear, ctx, v, id, in->data, in->len, &err) != 0)
        return cli_fail(cmd, &err);
    if (id != NULL || clear == NULL || !ms_result_encrypted(*r) ||
        ms_result_verdict(*r) != MS_VERDICT_ERROR)
        return EXIT_OK;
    if ((ec = cli_profile_try(&p, o, cmd)) != EXIT_OK || p == NULL ||
        ms_profile_count(p, MS_PROFILE_ENC) == 0)
        return ec; /* the verdict says: use open with a key */
    if ((ec = profile_decryptor(&pid, p, ctx, in, cmd)) != EXIT_OK)
        return ec;
    *used = p;
    ms_result_free(*r);
    *r = NULL;
    ms_buf_reset(clear);
    if (ms_open(r, clear, ctx, v, pid, in->data, in->len, &err) != 0)
        ec = cli_fail(cmd, &err);
    ms_identity_free(pid);
    return ec;
}

/* Prints (or writes with --output) the opened message and the report. */
static int
emit(const char *cmd, const cli_opts *o, const ms_result *r, ms_buf *clear,
     const ms_buf *in, const cli_continuity *cont)
{
    ms_buf annotated;
    ms_error err;
    int ec;

    if (clear->len == 0 && ms_buf_append(clear, in->data, in->len) != 0) {
        cli_error(cmd, "out of memory");
        return EXIT_USAGE;
    }
    if (o->output == NULL) {
        if ((ec = report(cmd, r, o->json, true, cont)) == EXIT_OK && !o->json)
            ec = cli_write(cmd, NULL, clear->data, clear->len);
        return ec;
    }
    ms_buf_init(&annotated, 0);
    if (ms_result_annotate(&annotated, r, clear->data, clear->len, &err) != 0)
        ec = cli_fail(cmd, &err);
    else if ((ec = cli_write(cmd, o->output, annotated.data, annotated.len)) ==
             EXIT_OK)
        ec = report(cmd, r, o->json, true, cont);
    ms_buf_cleanup(&annotated);
    return ec;
}

/* Continuity, when the profile is in use; a failure is only a warning. */
static const cli_continuity *
continuity(cli_continuity *c, ms_profile *p, ms_ctx *ctx, const ms_result *r,
           const char *cmd)
{
    ms_error err;

    if (p == NULL)
        return NULL;
    if (cli_continuity_check(c, p, r, ms_ctx_now(ctx), &err) != 0) {
        cli_error(cmd, "continuity not checked: %s", err.msg);
        return NULL;
    }
    return c;
}

static int
judge(ms_ctx *ctx, const cli_opts *o, const char *cmd, bool open)
{
    ms_verifier *v = NULL;
    ms_identity *id = NULL;
    ms_result *r = NULL;
    ms_profile *used = NULL;
    cli_continuity cont;
    ms_buf in, clear;
    int ec;

    ms_buf_init(&in, ms_ctx_get0_limits(ctx)->max_message);
    ms_buf_init_secret(&clear, 0);
    if ((ec = build_verifier(&v, ctx, o, cmd, &used)) != EXIT_OK ||
        (open && (ec = explicit_key(&id, ctx, o, cmd)) != EXIT_OK) ||
        (ec = cli_read_stdin(&in, ctx, cmd)) != EXIT_OK)
        goto out;
    if ((ec = open_message(&r, open ? &clear : NULL, ctx, v, id, &in, o, cmd,
                           &used)) != EXIT_OK)
        goto out;
    if (!open) {
        if ((ec = report(cmd, r, o->json, false, NULL)) == EXIT_OK)
            ec = verdict_exit(r);
        goto out;
    }
    if (used == NULL && o->profile != NULL &&
        (ec = cli_profile(&used, o, cmd, false)) != EXIT_OK)
        goto out;
    if ((ec = emit(cmd, o, r, &clear, &in,
                   continuity(&cont, used, ctx, r, cmd))) == EXIT_OK)
        ec = verdict_exit(r);
out:
    ms_result_free(r);
    ms_identity_free(id);
    ms_verifier_free(v);
    ms_buf_cleanup(&in);
    ms_buf_cleanup(&clear);
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
