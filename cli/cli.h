/*
 * cli.h - the mailseal command: shared option handling and I/O.
 */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <mailseal/mailseal.h>

#include "profile/profile.h"

/* Exit statuses (mailseal(1)). */
#define EXIT_OK 0
#define EXIT_VERDICT 1 /* a verdict other than validated/mailbox/signed, or
                          an operation that failed on its input */
#define EXIT_USAGE 2   /* usage or I/O error */

#define CLI_MAX_FILES 64

typedef struct cli_opts {
    const char *cert, *key, *chain, *enc_cert, *tsa, *output, *at;
    const char *profile, *password_file, *file;
    const char *cipher, *key_transport;
    const char *rcpt[CLI_MAX_FILES];
    size_t nrcpt;
    const char *trust[CLI_MAX_FILES];
    size_t ntrust;
    const char *untrusted[CLI_MAX_FILES];
    size_t nuntrusted;
    const char *crl[CLI_MAX_FILES];
    size_t ncrl;
    const char *tsa_trust[CLI_MAX_FILES];
    size_t ntsa_trust;
    bool opaque, json, offline, no_system_trust, legacy, passphrase;
    bool signing_only, encryption_only;
} cli_opts;

typedef struct cli_cmd {
    const char *name;
    int (*run)(ms_ctx *ctx, const cli_opts *o);
    const char *usage;
    unsigned allowed; /* CLI_O_* bits */
    bool takes_file;  /* one FILE operand */
} cli_cmd;

#define CLI_O_SIGN 0x01u
#define CLI_O_ENCRYPT 0x02u
#define CLI_O_KEY 0x04u
#define CLI_O_VERIFY 0x08u
#define CLI_O_OUTPUT 0x10u
#define CLI_O_PROFILE 0x20u
#define CLI_O_EXPORT 0x40u
#define CLI_O_IMPORT 0x80u

extern const char *cli_prog;

/* Prints "mailseal: <cmd>: msg" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Reports err and returns the exit status for its code. */
int cli_fail(const char *cmd, const ms_error *err);
/* Reads stdin into b. */
int cli_read_stdin(ms_buf *b, ms_ctx *ctx, const char *cmd);
/* Writes b to stdout (or path); returns an exit status. */
int cli_write(const char *cmd, const char *path, const void *p, size_t n);

int cmd_sign(ms_ctx *ctx, const cli_opts *o);
int cmd_encrypt(ms_ctx *ctx, const cli_opts *o);
int cmd_seal(ms_ctx *ctx, const cli_opts *o);
int cmd_decrypt(ms_ctx *ctx, const cli_opts *o);
int cmd_verify(ms_ctx *ctx, const cli_opts *o);
int cmd_open(ms_ctx *ctx, const cli_opts *o);
int cmd_export(ms_ctx *ctx, const cli_opts *o);
int cmd_import(ms_ctx *ctx, const cli_opts *o);

/* send and lookup parse their own arguments (sendmail's, for send):
 * argv[0] is the command name. They return the exit status (send:
 * <sysexits.h>, see cmd_send.c). */
int cli_send(int argc, char **argv);
int cli_lookup(int argc, char **argv);
/* enroll and devices (cmd_enroll.c) parse their own arguments too. */
int cli_enroll(int argc, char **argv);
int cli_devices(int argc, char **argv);
struct ms_rcpt_list;
/*
 * send's recipient look-up (cmd_lookup.c): *r gets each recipient's
 * newest encryption certificate; *encrypt says whether to encrypt (mode
 * an ms_profile_encrypt). Returns a <sysexits.h> status, printing why.
 */
int cli_send_encrypt(ms_recipients **r, bool *encrypt, ms_ctx *ctx,
                     ms_profile *p, const char *server_url, int mode,
                     const struct ms_rcpt_list *l);

/*
 * The profile (profile.c): opened on first use with the name from
 * --profile or MAILSEAL_PROFILE, kept until cli_profile_close(). create
 * makes a missing profile. Returns an exit status; prints the error.
 * The profile is "in use" once a command took something from it.
 */
int cli_profile(ms_profile **out, const cli_opts *o, const char *cmd,
                bool create);
/* As cli_profile(), but *out = NULL and EXIT_OK when there is no profile
 * (and none was named with --profile). */
int cli_profile_try(ms_profile **out, const cli_opts *o, const char *cmd);
void cli_profile_close(void);
/*
 * Reads a password: from file (owner and mode checked; one line) when
 * non-NULL, else asked on the terminal with echo off (twice when confirm).
 * out should be a secret buffer. Returns an exit status; prints the error.
 */
int cli_password(ms_buf *out, const char *file, const char *what,
                 bool confirm, const char *cmd);

#endif
