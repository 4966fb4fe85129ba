/*
 * cmd_enroll.c - mailseal enroll and mailseal devices: the command-line
 * glue of lib/enroll (which does the protocol): arguments, the code asked
 * on the terminal, the summary, exit statuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "enroll/enroll.h"

static const char enroll_usage[] =
    "usage: mailseal enroll ADDRESS --server URL [--device NAME]\n"
    "                       [--code -] [--profile NAME]\n"
    "Sets this device up for ADDRESS with the mailseal server at URL: makes\n"
    "the device's signing key (it never leaves the device), proves that you\n"
    "read ADDRESS's mail (the server mails a code: type it when asked, or\n"
    "with --code - give it as one line on standard input; an empty answer\n"
    "waits for you to follow the link in the mail instead), then installs the signing certificate, the\n"
    "mailbox's encryption keys and the server's CA certificates in the\n"
    "profile (made when missing). Nothing is installed unless every step\n"
    "succeeds. --device names the device (default: the host name).\n"
    "Exit 0 enrolled; 1 refused (wrong code, expired, bad answer); 2 usage,\n"
    "server unreachable or busy (try again).\n";

static const char devices_usage[] =
    "usage: mailseal devices [--revoke ID] [--profile NAME]\n"
    "Lists the devices enrolled for the profile's mailbox (id, name, when\n"
    "enrolled, revoked or active, signing certificate serials; '*' marks\n"
    "this device). --revoke ID revokes device ID's credential and signing\n"
    "certificates (a lost or retired device).\n";

/* Exit status for a failed enroll/devices call; prints the message. */
static int
enroll_fail(const char *cmd, const ms_error *err)
{
    cli_error(cmd, "%s", err->msg);
    switch (err->code) {
    case MS_EINVAL:
    case MS_ETEMP:
    case MS_EIO:
    case MS_ENOMEM:
        return EXIT_USAGE;
    default:
        return EXIT_VERDICT;
    }
}

/* Reads one line from fd into out (a longer line is cut: the server
 * then says the code is wrong). */
static void
read_line(ms_buf *out, int fd)
{
    char c;
    ssize_t n;

    while ((n = read(fd, &c, 1)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || c == '\n')
            break;
        if (c != '\r' && ms_buf_append(out, &c, 1) != 0)
            break;
    }
    c = 0;
}

/* ms_enroll_code_fn: one line from the terminal (echoed: it is copied
 * from a mail) or, with arg non-NULL (--code -), from standard input; no
 * terminal: none (the link is waited for). */
static int
ask_code(ms_buf *out, const char *address, void *arg, ms_error *err)
{
    int fd;

    (void)err;
    if (arg != NULL) {
        fprintf(stderr, "mailseal: enroll: reading the code from the mail "
                        "sent to %s on standard input\n",
                address);
        read_line(out, STDIN_FILENO);
    } else if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0) {
        dprintf(fd, "code from the mail sent to %s (empty: I followed the "
                    "link): ",
                address);
        read_line(out, fd);
        (void)close(fd); /* the terminal: nothing buffered */
    } else {
        fprintf(stderr, "mailseal: enroll: no terminal to ask for the code "
                        "on: ");
    }
    if (out->len == 0)
        fprintf(stderr, "waiting for the link in the mail sent to %s to be "
                        "followed\n",
                address);
    return 0;
}

static void
print_summary(const ms_enroll_result *r, const char *device,
              const ms_profile *p)
{
    char until[32] = "?";

    if (r->sign_not_after != 0)
        (void)ms_time_format(until, sizeof(until), r->sign_not_after);
    printf("enrolled %s on device %s (id %s)\n", r->address, device,
           r->device_id);
    printf("level: V%d (mailbox-validated)\n", r->level);
    printf("signing certificate valid until %s\n", until);
    printf("encryption keys: %zu\n", r->nenc);
    printf("profile: %s\n", ms_profile_get0_dir(p));
}

static int
enroll_run(ms_ctx *ctx, const cli_opts *o, ms_enroll_options *eo)
{
    static int from_stdin; /* its address marks --code - */
    char host[MS_ENROLL_DEVICE_MAX + 1] = "";
    ms_enroll_result res;
    ms_profile *p = NULL;
    ms_error err;
    int ec;

    if (eo->device == NULL) {
        if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
            (void)snprintf(host, sizeof(host), "device"); /* fits */
        host[sizeof(host) - 1] = '\0';
        eo->device = host;
    }
    if ((ec = cli_profile(&p, o, "enroll", true)) != EXIT_OK)
        return ec;
    eo->code_fn = ask_code;
    eo->code_arg = eo->code != NULL ? &from_stdin : NULL; /* --code - */
    eo->code = NULL;
    if (ms_enroll_run(&res, ctx, p, eo, &err) != 0)
        return enroll_fail("enroll", &err);
    print_summary(&res, eo->device, p);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

/* Runs fn(ctx, opts, arg) between library set-up and clean-up. */
static int
with_ctx(int (*fn)(ms_ctx *, const cli_opts *, void *), const cli_opts *o,
         void *arg, const char *cmd)
{
    ms_ctx *ctx = NULL;
    ms_error err;
    int ec;

    if (ms_library_init(&err) != 0 || ms_ctx_new(&ctx, &err) != 0)
        return cli_fail(cmd, &err);
    ec = fn(ctx, o, arg);
    cli_profile_close();
    ms_ctx_free(ctx);
    ms_library_cleanup();
    return ec;
}

static int
enroll_fn(ms_ctx *ctx, const cli_opts *o, void *arg)
{
    return enroll_run(ctx, o, arg);
}

int
cli_enroll(int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {"code", required_argument, NULL, 'c'},
        {"profile", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    ms_enroll_options eo = MS_ENROLL_OPTIONS_INIT;
    cli_opts o;
    int ch;

    memset(&o, 0, sizeof(o));
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': fputs(enroll_usage, stdout); return EXIT_OK;
        case 's': eo.server_url = optarg; break;
        case 'd': eo.device = optarg; break;
        case 'c':
            if (strcmp(optarg, "-") != 0) {
                cli_error("enroll", "--code takes - (the code is read from "
                          "standard input once the mail is sent: the "
                          "server mails it during enrollment)");
                return EXIT_USAGE;
            }
            eo.code = optarg;
            break;
        case 'P': o.profile = optarg; break;
        default:
            cli_error("enroll", "unknown or incomplete option %s (see "
                      "mailseal enroll --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || eo.server_url == NULL) {
        fputs(enroll_usage, stderr);
        return EXIT_USAGE;
    }
    eo.address = argv[optind];
    return with_ctx(enroll_fn, &o, &eo, "enroll");
}

/* ---- mailseal devices ---- */

static int
print_device(const ms_enroll_device *d, void *arg)
{
    (void)arg;
    printf("%s%s %s enrolled %s %s%s", d->self ? "*" : " ", d->id, d->name,
           d->created, d->revoked != NULL ? "revoked " : "active",
           d->revoked != NULL ? d->revoked : "");
    for (size_t i = 0; i < d->nserials; i++)
        printf("%s%s", i == 0 ? " certificates " : ",", d->serials[i]);
    putchar('\n');
    return 0;
}

static int
devices_fn(ms_ctx *ctx, const cli_opts *o, void *arg)
{
    const char *revoke = arg;
    ms_profile *p = NULL;
    ms_error err;
    int ec;

    if ((ec = cli_profile(&p, o, "devices", false)) != EXIT_OK)
        return ec;
    if (revoke != NULL) {
        if (ms_enroll_revoke(ctx, p, revoke, &err) != 0)
            return enroll_fail("devices", &err);
        printf("revoked device %s and its signing certificates\n", revoke);
    } else if (ms_enroll_devices(ctx, p, print_device, NULL, &err) != 0) {
        return enroll_fail("devices", &err);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

int
cli_devices(int argc, char **argv)
{
    static const struct option lo[] = {
        {"revoke", required_argument, NULL, 'r'},
        {"profile", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *revoke = NULL;
    cli_opts o;
    int ch;

    memset(&o, 0, sizeof(o));
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': fputs(devices_usage, stdout); return EXIT_OK;
        case 'r': revoke = optarg; break;
        case 'P': o.profile = optarg; break;
        default:
            cli_error("devices", "unknown or incomplete option %s (see "
                      "mailseal devices --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs(devices_usage, stderr);
        return EXIT_USAGE;
    }
    return with_ctx(devices_fn, &o, (void *)(uintptr_t)revoke, "devices");
}
