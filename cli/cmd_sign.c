/* cmd_sign.c - mailseal sign, encrypt and seal. */
#include <string.h>

#include "cli.h"

/* The profile's signer, and its timestamp server when --tsa is absent. */
static int
profile_identity(ms_identity **id, const char **tsa, ms_buf *tsa_buf,
                 const cli_opts *o, const char *cmd)
{
    const ms_profile_conf *conf;
    ms_profile *p;
    ms_error err;
    int ec;

    if (o->chain != NULL || o->enc_cert != NULL) {
        cli_error(cmd, "--chain and --encryption-cert go with --cert and "
                  "--key");
        return EXIT_USAGE;
    }
    if ((ec = cli_profile(&p, o, cmd, false)) != EXIT_OK)
        return ec;
    if (ms_profile_load_signer(id, p, &err) != 0) {
        if (err.code == MS_ENOTFOUND)
            cli_error(cmd, "%s: give --cert and --key, or put a signing key "
                      "into the profile (mailseal import, mailseal enroll)",
                      err.msg);
        else
            cli_error(cmd, "%s", err.msg);
        return EXIT_USAGE;
    }
    conf = ms_profile_get0_conf(p);
    if (*tsa == NULL && conf->tsa_url != NULL)
        *tsa = conf->tsa_url;
    else if (*tsa == NULL && conf->server_url != NULL) {
        if (ms_buf_printf(tsa_buf, "%s/tsa", conf->server_url) != 0) {
            cli_error(cmd, "server_url too long");
            return EXIT_USAGE;
        }
        *tsa = (const char *)tsa_buf->data;
    }
    return EXIT_OK;
}

static int
load_identity(ms_identity **id, const char **tsa, ms_buf *tsa_buf,
              ms_ctx *ctx, const cli_opts *o, const char *cmd)
{
    ms_error err;

    if (o->cert == NULL && o->key == NULL)
        return profile_identity(id, tsa, tsa_buf, o, cmd);
    if (o->cert == NULL || o->key == NULL) {
        cli_error(cmd, "--cert and --key are required");
        return EXIT_USAGE;
    }
    if (ms_identity_load(id, ctx, o->cert, o->key, o->chain, o->enc_cert,
                         &err) != 0) {
        cli_error(cmd, "%s", err.msg);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int
encrypt_options(ms_encrypt_options *eo, const cli_opts *o, const char *cmd)
{
    if (o->cipher == NULL)
        eo->cipher = MS_CIPHER_AUTO;
    else if (strcmp(o->cipher, "aes-256-gcm") == 0)
        eo->cipher = MS_CIPHER_AES256_GCM;
    else if (strcmp(o->cipher, "aes-128-gcm") == 0)
        eo->cipher = MS_CIPHER_AES128_GCM;
    else if (strcmp(o->cipher, "aes-256-cbc") == 0)
        eo->cipher = MS_CIPHER_AES256_CBC;
    else {
        cli_error(cmd, "unknown cipher %s (aes-256-gcm, aes-128-gcm, "
                  "aes-256-cbc)", o->cipher);
        return EXIT_USAGE;
    }
    if (o->key_transport == NULL)
        eo->key_transport = MS_KT_AUTO;
    else if (strcmp(o->key_transport, "oaep") == 0)
        eo->key_transport = MS_KT_OAEP;
    else if (strcmp(o->key_transport, "pkcs1") == 0)
        eo->key_transport = MS_KT_PKCS1;
    else {
        cli_error(cmd, "unknown key transport %s (oaep, pkcs1)",
                  o->key_transport);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int
load_recipients(ms_recipients **r, const cli_opts *o, const char *cmd,
                bool required)
{
    ms_error err;

    if (required && o->nrcpt == 0) {
        cli_error(cmd, "at least one --recipient-cert is required");
        return EXIT_USAGE;
    }
    if (ms_recipients_new(r, &err) != 0)
        return cli_fail(cmd, &err);
    for (size_t i = 0; i < o->nrcpt; i++) {
        if (ms_recipients_add_file(*r, o->rcpt[i], 0, &err) != 0)
            return cli_fail(cmd, &err); /* policy refusals exit 1 */
    }
    return EXIT_OK;
}

/* The shared body of the three commands. */
static int
transform(ms_ctx *ctx, const cli_opts *o, const char *cmd, bool sign,
          bool encrypt)
{
    ms_identity *id = NULL;
    ms_recipients *r = NULL;
    ms_sign_options so = MS_SIGN_OPTIONS_INIT;
    ms_encrypt_options eo = MS_ENCRYPT_OPTIONS_INIT;
    ms_buf in, out, tsa;
    ms_error err;
    int rc, ec;

    ms_buf_init(&in, ms_ctx_get0_limits(ctx)->max_message);
    ms_buf_init(&out, 0);
    ms_buf_init(&tsa, 4096);
    so.opaque = o->opaque;
    so.tsa_url = o->tsa;
    if ((sign && (ec = load_identity(&id, &so.tsa_url, &tsa, ctx, o, cmd)) !=
                     EXIT_OK) ||
        (encrypt && ((ec = encrypt_options(&eo, o, cmd)) != EXIT_OK ||
                     (ec = load_recipients(&r, o, cmd, !sign)) != EXIT_OK)) ||
        (ec = cli_read_stdin(&in, ctx, cmd)) != EXIT_OK)
        goto out;
    if (sign && encrypt)
        rc = ms_seal(&out, ctx, id, &so, r, &eo, in.data, in.len, &err);
    else if (sign)
        rc = ms_sign(&out, ctx, id, &so, in.data, in.len, &err);
    else
        rc = ms_encrypt(&out, ctx, r, &eo, in.data, in.len, &err);
    if (rc != 0) {
        ec = cli_fail(cmd, &err);
        goto out;
    }
    ec = cli_write(cmd, NULL, out.data, out.len);
out:
    ms_identity_free(id);
    ms_recipients_free(r);
    ms_buf_cleanup(&in);
    ms_buf_cleanup(&out);
    ms_buf_cleanup(&tsa);
    return ec;
}

int
cmd_sign(ms_ctx *ctx, const cli_opts *o)
{
    return transform(ctx, o, "sign", true, false);
}

int
cmd_encrypt(ms_ctx *ctx, const cli_opts *o)
{
    return transform(ctx, o, "encrypt", false, true);
}

int
cmd_seal(ms_ctx *ctx, const cli_opts *o)
{
    return transform(ctx, o, "seal", true, true);
}
