/*
 * profile.c - the mailseal command's profile: which one, passphrases and
 * passwords (a file or the terminal with echo off).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ca/keys.h"
#include "cli.h"
#include "util/alloc.h"
#include "util/error.h"

static ms_profile *the_profile;

/* Reads one line from the terminal with echo off into out. */
static int
tty_line(ms_buf *out, int fd, const char *prompt)
{
    struct termios saved, quiet;
    char c;
    int rc = 0;
    ssize_t n;

    if (tcgetattr(fd, &saved) != 0)
        return -1;
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        return -1;
    if (write(fd, prompt, strlen(prompt)) < 0)
        rc = -1;
    while (rc == 0 && (n = read(fd, &c, 1)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || c == '\n')
            break;
        if (c != '\r' && ms_buf_append(out, &c, 1) != 0)
            rc = -1;
    }
    c = 0;
    (void)tcsetattr(fd, TCSAFLUSH, &saved); /* best effort: restore echo */
    if (write(fd, "\n", 1) < 0)
        rc = -1;
    return rc;
}

static int
tty_password(ms_buf *out, const char *what, bool confirm, ms_error *err)
{
    char prompt[128];
    ms_buf again;
    int fd, rc = 0;

    if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
        return ms_error_set(err, MS_EPOLICY,
                            "%s needed: no terminal to ask on (give it "
                            "in a file)",
                            what);
    ms_buf_init_secret(&again, MS_PROFILE_PASS_MAX);
    (void)snprintf(prompt, sizeof(prompt), "%s: ", what); /* cut is fine */
    if (tty_line(out, fd, prompt) != 0)
        rc = MS_EIO;
    if (rc == 0 && confirm) {
        (void)snprintf(prompt, sizeof(prompt), "%s (again): ", what);
        if (tty_line(&again, fd, prompt) != 0)
            rc = MS_EIO;
        else if (again.len != out->len ||
                 CRYPTO_memcmp(again.data, out->data, out->len) != 0)
            rc = MS_EINVAL;
    }
    (void)close(fd); /* the terminal: nothing buffered */
    ms_buf_cleanup(&again);
    if (rc == MS_EIO)
        return ms_error_set(err, rc, "cannot read the %s from the terminal",
                            what);
    if (rc == 0 && out->len == 0)
        rc = MS_EINVAL;
    if (rc != 0)
        return ms_error_set(err, rc,
                            "the %s is empty or the two entries differ", what);
    return 0;
}

static int
read_secret(ms_buf *out, const char *file, const char *what, bool confirm,
            ms_error *err)
{
    ms_buf_reset(out);
    if (file != NULL)
        return ms_ca_passphrase_read(file, out, err);
    return tty_password(out, what, confirm, err);
}

/* ms_profile_pass_fn: MAILSEAL_PASSPHRASE_FILE, else the terminal. */
static int
profile_pass(ms_buf *out, bool confirm, void *arg, ms_error *err)
{
    (void)arg;
    return read_secret(out, getenv("MAILSEAL_PASSPHRASE_FILE"),
                       "Profile passphrase", confirm, err);
}

int
cli_password(ms_buf *out, const char *file, const char *what, bool confirm,
             const char *cmd)
{
    ms_error err;

    if (read_secret(out, file, what, confirm, &err) != 0)
        return cli_fail(cmd, &err);
    return EXIT_OK;
}

static int
profile_open(ms_profile **out, const cli_opts *o, const char *cmd, bool create,
             bool quiet)
{
    char *dir = NULL;
    ms_error err;
    int rc;

    *out = NULL;
    if (the_profile != NULL) {
        *out = the_profile;
        return EXIT_OK;
    }
    if ((rc = ms_profile_path(&dir, o->profile, &err)) == 0)
        rc = ms_profile_open(&the_profile, dir, create ? MS_PROFILE_CREATE : 0,
                             &err);
    ms_free(dir);
    if (rc == MS_ENOTFOUND && quiet)
        return EXIT_OK;
    if (rc != 0) {
        if (rc == MS_ENOTFOUND)
            cli_error(cmd,
                      "%s (give the files as options, or set up a "
                      "profile: mailseal import, mailseal enroll)",
                      err.msg);
        else
            cli_error(cmd, "%s", err.msg);
        return EXIT_USAGE;
    }
    ms_profile_set_pass_fn(the_profile, profile_pass, NULL);
    *out = the_profile;
    return EXIT_OK;
}

int
cli_profile(ms_profile **out, const cli_opts *o, const char *cmd, bool create)
{
    return profile_open(out, o, cmd, create, false);
}

int
cli_profile_try(ms_profile **out, const cli_opts *o, const char *cmd)
{
    return profile_open(out, o, cmd, false, o->profile == NULL);
}

void
cli_profile_close(void)
{
    ms_profile_free(the_profile);
    the_profile = NULL;
}
