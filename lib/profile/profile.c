/* profile/profile.c - the profile directory, its files and profile.conf. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config/config.h"
#include "mail/submit.h"
#include "mime/addr.h"
#include "profile/profile_int.h"
#include "util/alloc.h"
#include "util/error.h"

#define OFF(f)    offsetof(ms_profile_conf, f)
#define CONF_NAME "profile.conf"

static const char *const encrypt_names[] = {"auto", "always", "never", NULL};

static int
check_address(const char *v, ms_error *err)
{
    char norm[MS_ADDR_NORM_MAX + 1];

    return ms_addr_normalise(norm, sizeof(norm), v, err);
}

/* The relay: smtp://, smtps:// or spool:/DIR (lib/mail/submit.h). */
static int
check_submit(const char *v, ms_error *err)
{
    return v[0] == '\0' ? 0 : ms_submit_url_check(v, err);
}

static int
check_url(const char *v, ms_error *err)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0 &&
        strncmp(v, "smtp://", 7) != 0 && strncmp(v, "smtps://", 8) != 0)
        return ms_error_set(err, MS_EINVAL,
                            "a URL must start with http://, https://, "
                            "smtp:// or smtps://");
    if (strcspn(v, " \t") != strlen(v))
        return ms_error_set(err, MS_EINVAL, "a URL holds no blanks");
    return 0;
}

static const ms_config_key conf_keys[] = {
    {"address", MS_CONFIG_STRING, "", 0, 0, NULL, OFF(address), 0,
     "the mailbox of this profile", check_address},
    {"device", MS_CONFIG_STRING, "", 0, 0, NULL, OFF(device), 0,
     "this device's name", NULL},
    {"server_url", MS_CONFIG_STRING, "", 0, 0, NULL, OFF(server_url), 0,
     "mailseald public URL", check_url},
    {"tsa_url", MS_CONFIG_STRING, "", 0, 0, NULL, OFF(tsa_url), 0,
     "RFC 3161 server (default <server_url>/tsa)", check_url},
    {"submit_url", MS_CONFIG_STRING, "", 0, 0, NULL, OFF(submit_url), 0,
     "SMTP relay (smtp://host:587, smtps://host, or spool:/DIR)",
     check_submit},
    {"submit_user", MS_CONFIG_STRING, "", 0, 0, NULL, OFF(submit_user), 0,
     "SMTP AUTH user", NULL},
    {"submit_password_file", MS_CONFIG_STRING, "", 0, 0, NULL,
     OFF(submit_password_file), 0, "SMTP AUTH password file (mode 0600)", NULL},
    {"encrypt", MS_CONFIG_ENUM, "auto", 0, 0, encrypt_names, OFF(encrypt), 0,
     "auto, always or never", NULL},
    {"passphrase", MS_CONFIG_BOOL, "no", 0, 0, NULL, OFF(passphrase), 0,
     "private keys are encrypted under a passphrase", NULL},
};
#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static bool
name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > MS_PROFILE_NAME_MAX || name[0] == '.')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789._-") == n;
}

static int
join2(char **out, const char *a, const char *b, ms_error *err)
{
    size_t n;

    if (!ms_size_add(&n, strlen(a), strlen(b)) || !ms_size_add(&n, n, 2) ||
        n > 4096)
        return ms_error_set(err, MS_EINVAL, "path too long");
    if ((*out = ms_malloc(n)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    (void)snprintf(*out, n, "%s/%s", a, b); /* sized above: no truncation */
    return 0;
}

int
ms_profile_path(char **out, const char *name, ms_error *err)
{
    const char *home = getenv("MAILSEAL_HOME");
    const char *xdg = getenv("XDG_DATA_HOME");
    char *base = NULL;
    int rc;

    *out = NULL;
    if (name == NULL && (name = getenv("MAILSEAL_PROFILE")) == NULL)
        name = "default";
    if (!name_ok(name))
        return ms_error_set(err, MS_EINVAL,
                            "bad profile name \"%.64s\": 1..64 letters, "
                            "digits, '.', '_' or '-', not starting with '.'",
                            name);
    if (home != NULL && home[0] != '\0')
        return join2(out, home, name, err);
    if (xdg != NULL && xdg[0] == '/')
        rc = join2(&base, xdg, "mailseal", err);
    else if ((home = getenv("HOME")) != NULL && home[0] == '/')
        rc = join2(&base, home, ".local/share/mailseal", err);
    else
        return ms_error_set(err, MS_EINVAL,
                            "cannot place the profile: HOME is not set "
                            "(set MAILSEAL_HOME)");
    if (rc == 0)
        rc = join2(out, base, name, err);
    ms_free(base);
    return rc;
}

/* Refuses a directory we do not own alone. */
static int
dir_ok(const char *path, const struct stat *st, ms_error *err)
{
    if (!S_ISDIR(st->st_mode))
        return ms_error_set(err, MS_EPOLICY, "%s is not a directory", path);
    if (st->st_uid != geteuid())
        return ms_error_set(err, MS_EPOLICY,
                            "profile directory %s is owned by uid %u, not by "
                            "the current user (uid %u)",
                            path, (unsigned)st->st_uid, (unsigned)geteuid());
    if ((st->st_mode & 077) != 0)
        return ms_error_set(err, MS_EPOLICY,
                            "profile directory %s has mode %04o: it must not "
                            "be accessible to group or others (chmod 700)",
                            path, (unsigned)(st->st_mode & 07777));
    return 0;
}

/* mkdir -p with mode 0700 for every directory made. */
static int
make_dirs(const char *path, ms_error *err)
{
    char *tmp = ms_strdup(path);
    int rc = 0;

    if (tmp == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (char *s = tmp + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;

        *s = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            rc = ms_error_set(err, MS_EIO, "cannot create %s: %s", tmp,
                              strerror(errno));
        *s = c;
        if (c == '\0')
            break;
    }
    ms_free(tmp);
    return rc;
}

static int
check_dir(const char *path, bool create, ms_error *err)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
        if (!create)
            return ms_error_set(err, MS_ENOTFOUND, "no profile at %s", path);
        if (make_dirs(path, err) != 0)
            return err != NULL ? err->code : MS_EIO;
        if (stat(path, &st) != 0)
            return ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
    }
    return dir_ok(path, &st, err);
}

int
ms_profile_join(char **out, const ms_profile *p, const char *name,
                ms_error *err)
{
    return join2(out, p->dir, name, err);
}

int
ms_profile_subdir(const ms_profile *p, const char *name, bool create,
                  ms_error *err)
{
    char *path = NULL;
    struct stat st;
    int rc;

    if ((rc = ms_profile_join(&path, p, name, err)) != 0)
        return rc;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT)
            rc = ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
        else if (!create)
            rc = ms_error_set(err, MS_ENOTFOUND, "%s: missing", path);
        else if (mkdir(path, 0700) != 0 || lstat(path, &st) != 0)
            rc = ms_error_set(err, MS_EIO, "cannot create %s: %s", path,
                              strerror(errno));
    }
    if (rc == 0)
        rc = dir_ok(path, &st, err);
    ms_free(path);
    return rc;
}

/* Checks an open profile file: regular, ours, no group/other bits. */
static int
file_ok(int fd, const char *path, ms_error *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ms_error_set(err, MS_EPOLICY, "%s is not a regular file", path);
    if (st.st_uid != geteuid())
        return ms_error_set(err, MS_EPOLICY,
                            "%s is owned by uid %u, not by the current user "
                            "(uid %u)",
                            path, (unsigned)st.st_uid, (unsigned)geteuid());
    if ((st.st_mode & 077) != 0)
        return ms_error_set(err, MS_EPOLICY,
                            "%s has mode %04o: it must not be accessible to "
                            "group or others (chmod 600)",
                            path, (unsigned)(st.st_mode & 07777));
    return 0;
}

static int
read_fd(ms_buf *out, int fd, const char *path, ms_error *err)
{
    unsigned char chunk[4096];
    int rc = 0;

    while (rc == 0) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = ms_error_set(err, MS_EIO, "cannot read %s: %s", path,
                              strerror(errno));
        else if (n == 0)
            break;
        else if ((rc = ms_buf_append(out, chunk, (size_t)n)) != 0)
            rc = ms_error_set(err, rc, "%s is over %zu bytes", path, out->max);
    }
    ms_wipe(chunk, sizeof(chunk));
    return rc;
}

int
ms_profile_file_read(ms_buf *out, const ms_profile *p, const char *name,
                     ms_error *err)
{
    char *path = NULL;
    int fd = -1;
    int rc;

    ms_buf_reset(out);
    if ((rc = ms_profile_join(&path, p, name, err)) != 0)
        return rc;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            rc = ms_error_set(err, MS_ENOTFOUND, "%s: missing", path);
        else if (errno == ELOOP)
            rc = ms_error_set(err, MS_EPOLICY, "%s is a symbolic link: refused",
                              path);
        else
            rc = ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if ((rc = file_ok(fd, path, err)) == 0)
        rc = read_fd(out, fd, path, err);
out:
    if (fd >= 0)
        (void)close(fd); /* read-only descriptor: nothing to lose */
    if (rc != 0)
        ms_buf_reset(out);
    ms_free(path);
    return rc;
}

static int
write_all(int fd, const unsigned char *d, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, d, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        d += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding path, so the rename survives a crash. */
static int
sync_parent(const char *path)
{
    char *dir = ms_strdup(path);
    char *slash;
    int fd, rc = -1;

    if (dir == NULL)
        return -1;
    if ((slash = strrchr(dir, '/')) != NULL)
        *slash = '\0';
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        rc = fsync(fd);
        (void)close(fd); /* read-only descriptor */
    }
    ms_free(dir);
    return rc;
}

int
ms_profile_file_write(const ms_profile *p, const char *name, const void *data,
                      size_t len, ms_error *err)
{
    char *path = NULL, *tmp = NULL;
    size_t n;
    int fd = -1;
    int rc;

    if ((rc = ms_profile_join(&path, p, name, err)) != 0)
        return rc;
    if (!ms_size_add(&n, strlen(path), 16) || (tmp = ms_malloc(n)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    (void)snprintf(tmp, n, "%s.tmp.XXXXXX", path); /* sized above */
    /* mkstemp: O_CREAT|O_EXCL, mode 0600, a fresh name. */
    if ((fd = mkstemp(tmp)) < 0) {
        rc = ms_error_set(err, MS_EIO, "cannot create %s: %s", tmp,
                          strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 ||
        fsync(fd) != 0 || close(fd) != 0) {
        fd = -1; /* closed or failing: not closed again */
        rc = ms_error_set(err, MS_EIO, "cannot write %s: %s", tmp,
                          strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = ms_error_set(err, MS_EIO, "cannot replace %s: %s", path,
                          strerror(errno));
        goto out;
    }
    tmp[0] = '\0'; /* renamed: nothing to remove */
    if (sync_parent(path) != 0)
        rc = ms_error_set(err, MS_EIO, "cannot sync the directory of %s: %s",
                          path, strerror(errno));
out:
    if (fd >= 0)
        (void)close(fd); /* already failing */
    if (tmp != NULL && tmp[0] != '\0')
        (void)unlink(tmp); /* our temporary name; gone either way */
    ms_free(tmp);
    ms_free(path);
    return rc;
}

static int
conf_load(ms_profile *p, ms_error *err)
{
    ms_buf text;
    char *path = NULL;
    int rc;

    ms_buf_init(&text, MS_CONFIG_MAX_FILE);
    if ((rc = ms_config_defaults(&p->conf, conf_keys, NKEYS, err)) != 0)
        goto out;
    rc = ms_profile_file_read(&text, p, CONF_NAME, err);
    if (rc == MS_ENOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc != 0 || (rc = ms_profile_join(&path, p, CONF_NAME, err)) != 0)
        goto out;
    rc = ms_config_parse(&p->conf, conf_keys, NKEYS, (const char *)text.data,
                         text.len, path, err);
out:
    ms_free(path);
    ms_buf_cleanup(&text);
    return rc;
}

static int
conf_save(const ms_profile *p, const ms_profile_conf *c, ms_error *err)
{
    ms_buf text;
    int rc;

    ms_buf_init(&text, MS_CONFIG_MAX_FILE);
    if ((rc = ms_buf_puts(
             &text, "# mailseal profile (mailseal(1), PROFILE)\n")) != 0 ||
        (rc = ms_config_format(&text, c, conf_keys, NKEYS)) != 0)
        rc = ms_error_set(err, rc, "cannot format %s", CONF_NAME);
    else
        rc = ms_profile_file_write(p, CONF_NAME, text.data, text.len, err);
    ms_buf_cleanup(&text);
    return rc;
}

int
ms_profile_set(ms_profile *p, const char *key, const char *value, ms_error *err)
{
    ms_profile_conf c;
    ms_buf line;
    int rc;

    memset(&c, 0, sizeof(c));
    ms_buf_init(&line, MS_CONFIG_MAX_LINE);
    if (strpbrk(key, "\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
        return ms_error_set(err, MS_EINVAL, "a line break in a setting");
    /* A one-line file: the parser checks the key and the value. */
    if ((rc = ms_config_defaults(&c, conf_keys, NKEYS, err)) != 0)
        goto out;
    if ((rc = ms_buf_printf(&line, "%s = %s\n", key, value)) != 0) {
        rc = ms_error_set(err, MS_EINVAL, "%s: value too long", key);
        goto out;
    }
    if ((rc = ms_config_parse(&c, conf_keys, NKEYS, (const char *)line.data,
                              line.len, CONF_NAME, err)) != 0)
        goto out;
    for (size_t i = 0; i < NKEYS && rc == 0; i++) {
        if (strcmp(conf_keys[i].name, key) != 0 &&
            (rc = ms_config_copy(&c, &p->conf, &conf_keys[i])) != 0)
            rc = ms_error_set(err, rc, "out of memory");
    }
    if (rc == 0 && (rc = conf_save(p, &c, err)) == 0) {
        ms_config_release(&p->conf, conf_keys, NKEYS);
        p->conf = c;
        memset(&c, 0, sizeof(c)); /* p owns it now */
    }
out:
    ms_config_release(&c, conf_keys, NKEYS);
    ms_buf_cleanup(&line);
    return rc;
}

int
ms_profile_open(ms_profile **out, const char *dir, unsigned flags,
                ms_error *err)
{
    ms_profile *p = NULL;
    int rc;

    *out = NULL;
    if ((rc = check_dir(dir, (flags & MS_PROFILE_CREATE) != 0, err)) != 0)
        return rc;
    if ((p = ms_calloc(1, sizeof(*p))) == NULL ||
        (p->dir = ms_strdup(dir)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    ms_buf_init_secret(&p->pass, MS_PROFILE_PASS_MAX);
    if ((rc = conf_load(p, err)) != 0 || (rc = ms_profile_scan(p, err)) != 0)
        goto out;
    *out = p;
    p = NULL; /* the caller owns it now */
out:
    ms_profile_free(p);
    return rc;
}

void
ms_profile_free(ms_profile *p)
{
    if (p == NULL)
        return;
    ms_profile_pairs_clear(p);
    ms_config_release(&p->conf, conf_keys, NKEYS);
    ms_buf_cleanup(&p->pass); /* secret: wiped */
    ms_free(p->dir);
    ms_free(p);
}

const char *
ms_profile_get0_dir(const ms_profile *p)
{
    return p->dir;
}

const ms_profile_conf *
ms_profile_get0_conf(const ms_profile *p)
{
    return &p->conf;
}

void
ms_profile_set_pass_fn(ms_profile *p, ms_profile_pass_fn fn, void *arg)
{
    p->pass_fn = fn;
    p->pass_arg = arg;
}

int
ms_profile_passphrase(const char **out, ms_profile *p, bool confirm,
                      ms_error *err)
{
    int rc;

    *out = NULL;
    if (!p->conf.passphrase)
        return 0;
    if (!p->have_pass) {
        if (p->pass_fn == NULL)
            return ms_error_set(err, MS_EPOLICY,
                                "the profile's keys need a passphrase and "
                                "none can be asked for");
        ms_buf_reset(&p->pass);
        if ((rc = p->pass_fn(&p->pass, confirm, p->pass_arg, err)) != 0)
            return rc;
        if (p->pass.len == 0 ||
            memchr(p->pass.data, '\0', p->pass.len) != NULL) {
            ms_buf_reset(&p->pass);
            return ms_error_set(err, MS_EINVAL,
                                "the passphrase is empty or holds a NUL");
        }
        p->have_pass = true;
    }
    *out = (const char *)p->pass.data;
    return 0;
}

int
ms_profile_cert_hex(char *out, size_t n, X509 *x, ms_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";

    if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen < n)
        return ms_error_set_ossl(err, MS_ERR, "cannot hash a certificate");
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * n] = '\0';
    return 0;
}
