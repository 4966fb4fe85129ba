/*
 * cmd_send.c - mailseal send: a drop-in for sendmail(8). Reads a message,
 * signs and timestamps it with the profile's key, encrypts it when the
 * recipients' certificates are found (cache, then directory) and submits
 * it (lib/mail/submit.h). Exit statuses are sendmail's (<sysexits.h>):
 * 0 sent, 64 usage, 65 bad message, 69 cannot encrypt (--encrypt always)
 * or refused by the relay, 74 I/O, 75 try again (TSA, directory or relay
 * unreachable), 78 profile incomplete. Nothing is sent unsigned.
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "cli.h"
#include "lookup/lookup.h"
#include "mail/outgoing.h"
#include "mail/submit.h"
#include "util/alloc.h"
#include "util/str.h"

#define SEND "send"

static const char send_usage[] =
    "usage: mailseal send [-t] [-i|-oi] [-f FROM] [-F NAME] [-v]\n"
    "                     [--encrypt auto|always|never] [--profile NAME]\n"
    "                     [--] [RECIPIENT...] <message\n"
    "A drop-in for sendmail(8): signs and timestamps the message with the\n"
    "profile's key, encrypts it when every recipient has a certificate\n"
    "(--encrypt auto, the profile's default), and submits it to the\n"
    "profile's relay. -t adds the To, Cc and Bcc recipients (Bcc fields\n"
    "are removed); without -i a line holding only \".\" ends the message.\n"
    "Ignored as sendmail programs pass them: -oem -odi -oQ... -B T -N D\n"
    "-R R -V E -U -bm. Exit: 0 sent, 64 usage, 65 bad message, 69 cannot\n"
    "encrypt (always) or refused, 75 try again later, 78 profile.\n";

typedef struct send_opts {
    bool from_headers, dot_ends, verbose;
    const char *envelope_from, *full_name, *profile;
    int encrypt; /* ms_profile_encrypt, -1: the profile's */
    char **rcpt;
    size_t nrcpt;
} send_opts;

/* The value of an option letter given as "-xVALUE" or "-x VALUE". */
static const char *
opt_value(int argc, char **argv, int *i, const char *arg)
{
    if (arg[2] != '\0')
        return arg + 2;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static int
parse_encrypt(send_opts *o, const char *v)
{
    if (v == NULL)
        return -1;
    if (strcmp(v, "auto") == 0)
        o->encrypt = MS_PROFILE_ENCRYPT_AUTO;
    else if (strcmp(v, "always") == 0)
        o->encrypt = MS_PROFILE_ENCRYPT_ALWAYS;
    else if (strcmp(v, "never") == 0)
        o->encrypt = MS_PROFILE_ENCRYPT_NEVER;
    else
        return -1;
    return 0;
}

/* Long options: --encrypt, --profile, --help. 1 = help shown. */
static int
parse_long(send_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
    const char *v = eq != NULL ? eq + 1 : NULL;

    if (n == 6 && strncmp(a, "--help", n) == 0 && v == NULL) {
        fputs(send_usage, stdout);
        return 1;
    }
    if (v == NULL && *i + 1 < argc &&
        ((n == 9 && strncmp(a, "--encrypt", n) == 0) ||
         (n == 9 && strncmp(a, "--profile", n) == 0)))
        v = argv[++*i];
    if (n == 9 && strncmp(a, "--encrypt", n) == 0 &&
        parse_encrypt(o, v) == 0)
        return 0;
    if (n == 9 && strncmp(a, "--profile", n) == 0 && v != NULL) {
        o->profile = v;
        return 0;
    }
    cli_error(SEND, "unknown or incomplete option %s (see mailseal send "
              "--help)", a);
    return -1;
}

/* -o options: -oi is -i; -oem, -odi, -oQ..., -oX... are sendmail's. */
static void
parse_o(send_opts *o, const char *a)
{
    if (strcmp(a, "-oi") == 0)
        o->dot_ends = false;
}

/* One short option (a cluster like -ti is read letter by letter only for
 * the flags without a value). */
static int
parse_short(send_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];

    switch (a[1]) {
    case 'f':
    case 'r':
        return (o->envelope_from = opt_value(argc, argv, i, a)) ? 0 : -1;
    case 'F':
        return (o->full_name = opt_value(argc, argv, i, a)) ? 0 : -1;
    case 'B': case 'N': case 'R': case 'V': case 'L':
        return opt_value(argc, argv, i, a) != NULL ? 0 : -1;
    case 'o':
        parse_o(o, a);
        return 0;
    case 'b':
        return strcmp(a, "-bm") == 0 ? 0 : -1; /* other modes: no */
    default:
        break;
    }
    for (const char *c = a + 1; *c != '\0'; c++) {
        if (*c == 't')
            o->from_headers = true;
        else if (*c == 'i')
            o->dot_ends = false;
        else if (*c == 'v')
            o->verbose = true;
        else if (*c != 'U' && *c != 'm' && *c != 'e')
            return -1; /* -U initial submission, -m me too, -e: ignored */
    }
    return 0;
}

/* Fills o from argv; EX_OK, EX_USAGE, or -1 when --help was shown. */
static int
parse_args(send_opts *o, int argc, char **argv)
{
    int i, rc;

    memset(o, 0, sizeof(*o));
    o->dot_ends = true;
    o->encrypt = -1;
    if ((o->rcpt = calloc((size_t)argc + 1, sizeof(*o->rcpt))) == NULL) {
        cli_error(SEND, "out of memory");
        return EX_OSERR;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            while (++i < argc)
                o->rcpt[o->nrcpt++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            o->rcpt[o->nrcpt++] = argv[i];
            continue;
        }
        rc = a[1] == '-' ? parse_long(o, argc, argv, &i)
                         : parse_short(o, argc, argv, &i);
        if (rc == 1)
            return -1;
        if (rc != 0) {
            if (a[1] != '-')
                cli_error(SEND, "unknown option or missing value: %s (see "
                          "mailseal send --help)", a);
            return EX_USAGE;
        }
    }
    return EX_OK;
}

/* ---- the profile's settings ---- */

/* profile.conf strings default to "": unset. */
static const char *
set_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

typedef struct send_env {
    ms_profile *p;
    const ms_profile_conf *conf;
    ms_submit_config submit;
    ms_buf tsa;
} send_env;

static int
submit_config(ms_submit_config *c, const ms_profile_conf *conf)
{
    ms_error err;

    ms_submit_config_init(c);
    if (set_or_null(conf->submit_url) == NULL) {
        cli_error(SEND, "the profile has no submit_url (the relay: "
                  "smtp://HOST:587, smtps://HOST or spool:/DIR)");
        return EX_CONFIG;
    }
    if (ms_submit_config_parse_url(c, conf->submit_url, &err) != 0 ||
        (set_or_null(conf->submit_user) != NULL &&
         ms_submit_config_set(c, "user", conf->submit_user, &err) != 0) ||
        (set_or_null(conf->submit_password_file) != NULL &&
         ms_submit_config_set(c, "password_file",
                              conf->submit_password_file, &err) != 0) ||
        ms_submit_config_check(c, &err) != 0) {
        cli_error(SEND, "submit settings: %s", err.msg);
        return EX_CONFIG;
    }
    return EX_OK;
}

static int
load_env(send_env *e, const send_opts *o)
{
    cli_opts co;
    int ec;

    memset(&co, 0, sizeof(co));
    co.profile = o->profile;
    if (cli_profile(&e->p, &co, SEND, false) != EXIT_OK)
        return EX_CONFIG;
    e->conf = ms_profile_get0_conf(e->p);
    if (set_or_null(e->conf->address) == NULL) {
        cli_error(SEND, "the profile has no address (mailseal enroll)");
        return EX_CONFIG;
    }
    if ((ec = submit_config(&e->submit, e->conf)) != EX_OK)
        return ec;
    if (set_or_null(e->conf->tsa_url) != NULL)
        ec = ms_buf_puts(&e->tsa, e->conf->tsa_url);
    else if (set_or_null(e->conf->server_url) != NULL)
        ec = ms_buf_printf(&e->tsa, "%s/tsa", e->conf->server_url);
    else {
        cli_error(SEND, "the profile names no timestamp server (tsa_url "
                  "or server_url): every message is timestamped");
        return EX_CONFIG;
    }
    if (ec != 0) {
        cli_error(SEND, "tsa_url too long");
        return EX_CONFIG;
    }
    return EX_OK;
}

/* ---- the message ---- */

static int
read_message(ms_buf *out, ms_rcpt_list *rcpts, ms_ctx *ctx,
             const send_opts *o, const send_env *e)
{
    ms_outgoing_options oo = {o->from_headers, e->conf->address,
                              o->full_name};
    char *from = NULL;
    ms_buf in;
    ms_error err;
    int ec = EX_OK;

    ms_buf_init(&in, MS_OUTGOING_MAX_MESSAGE);
    if (ms_outgoing_read(&in, STDIN_FILENO, o->dot_ends, &err) != 0) {
        cli_error(SEND, "%s", err.msg);
        ec = err.code == MS_ETOOBIG ? EX_DATAERR : EX_IOERR;
        goto out;
    }
    if (ms_outgoing_prepare(out, rcpts, &from, ctx, in.data, in.len, &oo,
                            &err) != 0) {
        cli_error(SEND, "%s", err.msg);
        ec = err.code == MS_ENOMEM ? EX_OSERR : EX_DATAERR;
        goto out;
    }
    if (from == NULL || !ms_ascii_caseeq(from, e->conf->address))
        cli_error(SEND, "warning: the From field is not %s, the signing "
                  "certificate's address: readers will see a mismatch",
                  e->conf->address);
out:
    ms_free(from);
    ms_buf_cleanup(&in);
    return ec;
}

static int
collect_rcpts(ms_rcpt_list *l, const send_opts *o)
{
    ms_error err;

    for (size_t i = 0; i < o->nrcpt; i++) {
        if (ms_rcpt_list_add(l, o->rcpt[i], "recipient argument", &err) !=
            0) {
            cli_error(SEND, "%s", err.msg);
            return EX_USAGE;
        }
    }
    return EX_OK;
}

/* Signs (or seals to r) and submits; the exit status. */
static int
seal_and_submit(ms_ctx *ctx, const send_env *e, const send_opts *o,
                const ms_rcpt_list *l, const ms_recipients *r,
                const ms_buf *msg)
{
    ms_sign_options so = MS_SIGN_OPTIONS_INIT;
    ms_encrypt_options eo = MS_ENCRYPT_OPTIONS_INIT;
    ms_identity *id = NULL;
    ms_buf out;
    ms_error err;
    int ec = EX_OK, rc;

    ms_buf_init(&out, MS_SUBMIT_MAX_MESSAGE);
    so.tsa_url = (const char *)e->tsa.data;
    if (ms_profile_load_signer(&id, e->p, &err) != 0) {
        cli_error(SEND, "%s", err.msg);
        ec = EX_CONFIG;
        goto out;
    }
    rc = r != NULL ? ms_seal(&out, ctx, id, &so, r, &eo, msg->data, msg->len,
                             &err)
                   : ms_sign(&out, ctx, id, &so, msg->data, msg->len, &err);
    if (rc != 0) {
        /* The message parsed already: a TSA that is down or answers
         * nonsense is a reason to try again later, never to send unsigned. */
        bool temp = rc == MS_ETEMP || rc == MS_EMALFORMED;

        cli_error(SEND, "%s: %s", temp ? "cannot timestamp, try again later"
                                       : "cannot sign", err.msg);
        ec = temp ? EX_TEMPFAIL : rc == MS_ETOOBIG ? EX_DATAERR : EX_SOFTWARE;
        goto out;
    }
    rc = ms_submit_send(&e->submit, o->envelope_from != NULL
                                        ? o->envelope_from
                                        : e->conf->address,
                        (const char *const *)l->addr, l->n, out.data, out.len,
                        &err);
    if (rc != 0) {
        cli_error(SEND, "not sent: %s", err.msg);
        ec = rc == MS_ETEMP     ? EX_TEMPFAIL
             : rc == MS_EPOLICY ? EX_UNAVAILABLE
             : rc == MS_EINVAL  ? EX_CONFIG
             : rc == MS_EIO     ? EX_IOERR
                                : EX_DATAERR;
    } else if (o->verbose) {
        fprintf(stderr, "mailseal: send: signed, timestamped%s, sent to "
                "%zu recipient%s\n", r != NULL ? " and encrypted" : "",
                l->n, l->n == 1 ? "" : "s");
    }
out:
    ms_identity_free(id);
    ms_buf_cleanup(&out);
    return ec;
}

static int
send_main(ms_ctx *ctx, const send_opts *o)
{
    send_env e;
    ms_rcpt_list l;
    ms_recipients *r = NULL;
    ms_buf msg;
    bool encrypt = false;
    int ec;

    memset(&e, 0, sizeof(e));
    ms_buf_init(&e.tsa, MS_LOOKUP_MAX_URL);
    ms_buf_init(&msg, MS_OUTGOING_MAX_MESSAGE + 4096);
    ms_rcpt_list_init(&l);
    if ((ec = load_env(&e, o)) != EX_OK ||
        (ec = collect_rcpts(&l, o)) != EX_OK ||
        (ec = read_message(&msg, &l, ctx, o, &e)) != EX_OK)
        goto out;
    if (l.n == 0) {
        cli_error(SEND, "no recipients (give them as arguments, or -t)");
        ec = EX_USAGE;
        goto out;
    }
    if ((ec = cli_send_encrypt(&r, &encrypt, ctx, e.p,
                               set_or_null(e.conf->server_url),
                               o->encrypt >= 0 ? o->encrypt
                                               : e.conf->encrypt,
                               &l)) != EX_OK)
        goto out;
    ec = seal_and_submit(ctx, &e, o, &l, encrypt ? r : NULL, &msg);
out:
    ms_recipients_free(r);
    ms_rcpt_list_cleanup(&l);
    ms_buf_cleanup(&msg);
    ms_buf_cleanup(&e.tsa);
    return ec;
}

int
cli_send(int argc, char **argv)
{
    send_opts o;
    ms_ctx *ctx = NULL;
    ms_error err;
    int ec;

    if ((ec = parse_args(&o, argc, argv)) != EX_OK) {
        free(o.rcpt);
        return ec < 0 ? EX_OK : ec;
    }
    if (ms_library_init(&err) != 0 || ms_ctx_new(&ctx, &err) != 0) {
        cli_error(SEND, "%s", err.msg);
        free(o.rcpt);
        return EX_OSERR;
    }
    ec = send_main(ctx, &o);
    cli_profile_close();
    ms_ctx_free(ctx);
    ms_library_cleanup();
    free(o.rcpt);
    return ec;
}
