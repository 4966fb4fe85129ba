/* cmd_p12.c - mailseal export and import: the profile's keys as PKCS#12. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/alloc.h"
#include "util/file.h"

/* Writes the PKCS#12 to path, created mode 0600, or to standard output. */
static int
write_private(const char *cmd, const char *path, const ms_buf *b)
{
    size_t off = 0;
    int fd;

    if (path == NULL || strcmp(path, "-") == 0)
        return cli_write(cmd, NULL, b->data, b->len);
    fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    while (off < b->len) {
        ssize_t n = write(fd, b->data + off, b->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    if (off < b->len || fsync(fd) != 0) {
        cli_error(cmd, "%s: write error: %s", path, strerror(errno));
        (void)close(fd); /* already failing */
        return EXIT_USAGE;
    }
    if (close(fd) != 0) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int
cmd_export(ms_ctx *ctx, const cli_opts *o)
{
    ms_profile *p = NULL;
    ms_buf pw, der;
    ms_error err;
    unsigned flags;
    int ec;

    (void)ctx;
    ms_buf_init_secret(&pw, MS_PROFILE_PASS_MAX);
    ms_buf_init(&der, MS_PROFILE_FILE_MAX);
    if ((ec = cli_profile(&p, o, "export", false)) != EXIT_OK)
        goto out;
    flags = (o->legacy ? MS_PROFILE_P12_LEGACY : 0) |
            (o->signing_only ? MS_PROFILE_P12_NO_ENC : 0) |
            (o->encryption_only ? MS_PROFILE_P12_NO_SIGN : 0);
    if (o->signing_only && o->encryption_only) {
        cli_error("export", "--signing-only and --encryption-only exclude "
                            "each other");
        ec = EXIT_USAGE;
        goto out;
    }
    /* Refuse before asking for a password: an empty export helps no one. */
    if ((o->encryption_only || ms_profile_count(p, MS_PROFILE_SIGN) == 0) &&
        (o->signing_only || ms_profile_count(p, MS_PROFILE_ENC) == 0)) {
        cli_error("export", "the profile %s holds no %skey to export",
                  ms_profile_get0_dir(p),
                  o->signing_only      ? "signing "
                  : o->encryption_only ? "encryption "
                                       : "");
        ec = EXIT_USAGE;
        goto out;
    }
    if ((ec = cli_password(&pw, o->password_file, "Export password", true,
                           "export")) != EXIT_OK)
        goto out;
    if (ms_profile_export_p12(&der, p, (const char *)pw.data, flags, &err) !=
        0) {
        ec = cli_fail("export", &err);
        goto out;
    }
    ec = write_private("export", o->output, &der);
out:
    ms_buf_cleanup(&pw); /* secret: wiped */
    ms_buf_cleanup(&der);
    return ec;
}

/* --passphrase: the keys of this profile are stored encrypted. */
static int
want_passphrase(ms_profile *p, const char *cmd)
{
    ms_error err;

    if (ms_profile_get0_conf(p)->passphrase)
        return EXIT_OK;
    if (ms_profile_count(p, MS_PROFILE_SIGN) > 0 ||
        ms_profile_count(p, MS_PROFILE_ENC) > 0) {
        cli_error(cmd,
                  "the profile %s already holds keys without a "
                  "passphrase: --passphrase applies to a new profile",
                  ms_profile_get0_dir(p));
        return EXIT_USAGE;
    }
    if (ms_profile_set(p, "passphrase", "yes", &err) != 0)
        return cli_fail(cmd, &err);
    return EXIT_OK;
}

/* Removes what a failed import left of a profile it created. */
static void
undo_create(const char *dir)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/profile.conf", dir);

    if (n > 0 && (size_t)n < sizeof(path))
        (void)unlink(path); /* may not exist */
    (void)rmdir(dir);       /* only when empty: nothing else is lost */
}

static int
import_into(ms_profile *p, const cli_opts *o, const ms_buf *file)
{
    size_t ns = 0, ne = 0;
    ms_buf pw;
    ms_error err;
    int ec;

    ms_buf_init_secret(&pw, MS_PROFILE_PASS_MAX);
    if ((o->passphrase && (ec = want_passphrase(p, "import")) != EXIT_OK) ||
        (ec = cli_password(&pw, o->password_file, "PKCS#12 password", false,
                           "import")) != EXIT_OK)
        goto out;
    if (ms_profile_import_p12(p, file->data, file->len, (const char *)pw.data,
                              &ns, &ne, &err) != 0) {
        cli_error("import", "%s: %s", o->file, err.msg);
        ec = err.code == MS_EIO || err.code == MS_ENOMEM ? EXIT_USAGE
                                                         : EXIT_VERDICT;
        goto out;
    }
    fprintf(stderr,
            "%s: import: %s: %zu signing and %zu encryption key(s) in %s\n",
            cli_prog, ms_profile_get0_conf(p)->address, ns, ne,
            ms_profile_get0_dir(p));
out:
    ms_buf_cleanup(&pw);
    return ec;
}

int
cmd_import(ms_ctx *ctx, const cli_opts *o)
{
    ms_profile *p = NULL;
    char *dir = NULL;
    ms_buf file;
    ms_error err;
    bool created;
    int ec;

    (void)ctx;
    ms_buf_init_secret(&file, MS_PROFILE_FILE_MAX);
    if (ms_file_read(&file, o->file, MS_PROFILE_FILE_MAX, &err) != 0) {
        ec = cli_fail("import", &err);
        goto out;
    }
    if (ms_profile_path(&dir, o->profile, &err) != 0) {
        ec = cli_fail("import", &err);
        goto out;
    }
    created = access(dir, F_OK) != 0;
    if ((ec = cli_profile(&p, o, "import", true)) != EXIT_OK)
        goto out;
    ec = import_into(p, o, &file);
    if (ec != EXIT_OK && created && ms_profile_count(p, MS_PROFILE_SIGN) == 0 &&
        ms_profile_count(p, MS_PROFILE_ENC) == 0)
        undo_create(ms_profile_get0_dir(p));
out:
    ms_free(dir);
    ms_buf_cleanup(&file);
    return ec;
}
