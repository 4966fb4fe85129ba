/* config/daemon.c - mailseald's key table and snapshots (see daemon.h). */
#include "config/daemon.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mail/submit.h"
#include "util/alloc.h"
#include "util/error.h"
#include "kms/keygen.h"
#include "mail/submit.h"
#include "util/file.h"

#define DEFAULT_DATA_DIR "/var/lib/mailseal"
#define OFF(f)           offsetof(ms_daemon_config, f)
#define R                MS_CONFIG_F_RELOAD

static const char *const module_names[] = {
    "ca", "tsa", "ocsp", "crl", "validate", "kms", "directory", NULL};
static const char *const log_levels[] = {"error", "warning", "info", "debug",
                                         NULL};

static int
check_url(const char *v, ms_error *err)
{
    size_t n = strlen(v);

    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return ms_error_set(err, MS_EINVAL,
                            "public_url: must start with http:// or https://");
    if (strcspn(v, " \t?#") != n || v[n - 1] == '/')
        return ms_error_set(err, MS_EINVAL,
                            "public_url: no blanks, query, fragment or "
                            "trailing slash");
    return 0;
}

static int
check_dir(const char *v, ms_error *err)
{
    if (v[0] != '/')
        return ms_error_set(err, MS_EINVAL, "data_dir: must be absolute");
    return 0;
}

static int
check_abs(const char *v, ms_error *err)
{
    if (v[0] != '/')
        return ms_error_set(err, MS_EINVAL,
                            "admin_token_file: must be "
                            "absolute");
    return 0;
}

static int
check_abs_kms(const char *v, ms_error *err)
{
    if (v[0] != '/')
        return ms_error_set(err, MS_EINVAL,
                            "kms_master_key_file: must be absolute");
    return 0;
}

static int
check_alg(const char *v, ms_error *err)
{
    if (!ms_kms_alg_valid(v))
        return ms_error_set(err, MS_EINVAL,
                            "kms_key_alg: expected rsa-2048, rsa-3072, "
                            "rsa-4096, p-256 or p-384");
    return 0;
}

static int
check_abs_file(const char *v, ms_error *err)
{
    if (v[0] != '/')
        return ms_error_set(err, MS_EINVAL, "must be an absolute path");
    return 0;
}

static int
check_database(const char *v, ms_error *err)
{
    if (strncmp(v, "sqlite:", 7) != 0 && strncmp(v, "postgresql://", 13) != 0 &&
        strncmp(v, "postgres://", 11) != 0)
        return ms_error_set(err, MS_EINVAL,
                            "database: expected sqlite:PATH or "
                            "postgresql://...");
    return 0;
}

/* clang-format off */
static const ms_config_key keys[] = {
    {"listen", MS_CONFIG_LISTEN, "127.0.0.1:8025", 0, 0, NULL, OFF(listen), 0,
     "address:port to listen on (port 0: any free port)", NULL},
    {"public_url", MS_CONFIG_STRING, "http://127.0.0.1:8025", 0, 0, NULL,
     OFF(public_url), 0, "base URL put into certificates and CRLs", check_url},
    {"data_dir", MS_CONFIG_STRING, NULL, 0, 0, NULL, OFF(data_dir), 0,
     "data directory (default: the config file's directory)", check_dir},
    {"database", MS_CONFIG_STRING, NULL, 0, 0, NULL, OFF(database),
     MS_CONFIG_F_URL, "store URL (default sqlite:<data_dir>/mailseal.db)",
     check_database},
    {"modules", MS_CONFIG_WORDS, "ca tsa ocsp crl validate kms", 0, 16, module_names,
     OFF(modules), 0, "modules switched on", NULL},
    {"passphrase_file", MS_CONFIG_STRING, NULL, 0, 0, NULL,
     OFF(passphrase_file), 0, "file holding the private-key passphrase", NULL},
    {"insecure_keys", MS_CONFIG_BOOL, "no", 0, 0, NULL, OFF(insecure_keys), 0,
     "private keys are not encrypted (tests only)", NULL},
    {"threads", MS_CONFIG_INT, "0", 0, 256, NULL, OFF(threads), 0,
     "worker threads (0: one per CPU)", NULL},
    {"cpu_affinity", MS_CONFIG_BOOL, "no", 0, 0, NULL, OFF(cpu_affinity), 0,
     "one listening socket per worker thread, pinned to a CPU (a machine "
     "dedicated to mailseald)",
     NULL},
    {"max_body", MS_CONFIG_SIZE, "65536", 1024, 64LL * 1024 * 1024, NULL,
     OFF(max_body), 0, "largest request body, bytes", NULL},
    {"max_connections", MS_CONFIG_INT, "1024", 1, 65536, NULL,
     OFF(max_connections), 0, "simultaneous connections", NULL},
    {"connection_timeout", MS_CONFIG_DURATION, "30", 1, 3600, NULL,
     OFF(connection_timeout), 0, "idle connection timeout, seconds", NULL},
    {"admin_token_file", MS_CONFIG_STRING, NULL, 0, 0, NULL,
     OFF(admin_token_file), 0,
     "file holding the bearer token of POST /ca/issue and /ca/revoke "
     "(unset: no admin routes)", check_abs},
    {"ocsp_validity", MS_CONFIG_DURATION, "86400", 60, 10LL * 86400, NULL,
     OFF(ocsp_validity), R, "OCSP response lifetime, seconds", NULL},
    {"crl_validity", MS_CONFIG_DURATION, "604800", 3600, 10LL * 86400, NULL,
     OFF(crl_validity), R, "CRL lifetime (nextUpdate), seconds", NULL},
    {"crl_interval", MS_CONFIG_DURATION, "3600", 60, 30LL * 86400, NULL,
     OFF(crl_interval), R, "CRL re-issue interval, seconds", NULL},
    {"cert_validity_days", MS_CONFIG_INT, "365", 1, 3650, NULL,
     OFF(cert_validity_days), R, "end-entity certificate lifetime, days",
     NULL},
    {"tsa_accuracy", MS_CONFIG_INT, "1", 0, 60, NULL, OFF(tsa_accuracy), R,
     "timestamp accuracy, seconds", NULL},
    {"log_level", MS_CONFIG_ENUM, "info", 0, 0, log_levels, OFF(log_level), R,
     "error, warning, info or debug", NULL},
    {"access_log", MS_CONFIG_BOOL, "yes", 0, 0, NULL, OFF(access_log), R,
     "one info line per request (no: only warnings and errors of requests)",
     NULL},
    {"mail_relay", MS_CONFIG_STRING, NULL, 0, 0, NULL, OFF(mail_relay), 0,
     "where mailseald's mail goes: smtp://HOST[:PORT], smtps://... or "
     "spool:/DIR (default spool:<data_dir>/spool)", ms_submit_url_check},
    {"mail_from", MS_CONFIG_STRING, "mailseal@localhost", 0, 0, NULL,
     OFF(mail_from), 0, "sender address of the mail mailseald sends", NULL},
    {"kms_master_key_file", MS_CONFIG_STRING, NULL, 0, 0, NULL,
     OFF(kms_master_key_file), 0,
     "the key escrow's master key (default <data_dir>/private/"
     "kms-master.key, made by --init)", check_abs_kms},
    {"kms_key_alg", MS_CONFIG_STRING, MS_KMS_ALG_DEFAULT, 0, 0, NULL,
     OFF(kms_key_alg), 0, "algorithm of new escrowed encryption keys",
     check_alg},
    {"validate_rate_address", MS_CONFIG_INT, "5", 1, 1000000, NULL,
     OFF(validate_rate_address), 0,
     "mailbox validations started per address per hour", NULL},
    {"validate_rate_client", MS_CONFIG_INT, "30", 1, 1000000, NULL,
     OFF(validate_rate_client), 0,
     "validations started, and codes tried, per client address per hour",
     NULL},
    {"directory_rate", MS_CONFIG_INT, "60", 1, 1000000000, NULL,
     OFF(directory_rate), 0,
     "directory requests a minute per client address (anonymous)", NULL},
    {"directory_trust_file", MS_CONFIG_STRING, NULL, 0, 0, NULL,
     OFF(directory_trust_file), 0,
     "PEM anchors for harvested messages (default: the V1..V4 CAs here)",
     check_abs_file},
    {"directory_crl_file", MS_CONFIG_STRING, NULL, 0, 0, NULL,
     OFF(directory_crl_file), 0,
     "CRLs (PEM or DER) for harvested messages (unset: OCSP)",
     check_abs_file},
};
/* clang-format on */

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

const ms_config_key *
ms_daemon_config_keys(size_t *n)
{
    *n = NKEYS;
    return keys;
}

static void
config_destroy(ms_daemon_config *c)
{
    ms_config_release(c, keys, NKEYS);
    ms_free(c->source);
    ms_free(c);
}

/* *v = prefix dir suffix, when not set. */
static int
derive_path(char **v, const char *prefix, const char *dir, const char *suffix,
            ms_error *err)
{
    ms_buf b;
    int rc;

    if (*v != NULL)
        return 0;
    ms_buf_init(&b, PATH_MAX + 32);
    if ((rc = ms_buf_printf(&b, "%s%s%s", prefix, dir, suffix)) != 0) {
        ms_buf_cleanup(&b);
        return ms_error_set(err, rc, "data_dir: too long");
    }
    *v = (char *)b.data; /* the config owns it now */
    return 0;
}

/* Fills the defaults that depend on other keys. */
static int
derive(ms_daemon_config *c, const char *default_dir, ms_error *err)
{
    ms_buf url;
    int rc;

    if (c->data_dir == NULL &&
        (c->data_dir = ms_strdup(
             default_dir != NULL ? default_dir : DEFAULT_DATA_DIR)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (c->data_dir[0] != '/')
        return ms_error_set(err, MS_EINVAL, "data_dir: must be absolute");
    for (const char *q = c->data_dir; *q != '\0'; q++) {
        /* the paths and URLs derived from it could not be written back */
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return ms_error_set(err, MS_EINVAL,
                                "data_dir: holds a control character");
    }
    if ((rc = derive_path(&c->mail_relay, "spool:", c->data_dir, "/spool",
                          err)) != 0 ||
        (rc = derive_path(&c->kms_master_key_file, "", c->data_dir,
                          "/private/kms-master.key", err)) != 0)
        return rc;
    /* A derived relay must be one the config could name (its length,
     * its bytes): the printed config parses back. */
    if (ms_submit_url_check(c->mail_relay, err) != 0)
        return ms_error_set(err, MS_EINVAL,
                            "mail_relay: no usable default from data_dir "
                            "(set mail_relay, or a shorter data_dir)");
    if (c->database != NULL)
        return 0;
    ms_buf_init(&url, PATH_MAX + 16);
    if ((rc = ms_buf_printf(&url, "sqlite:%s/mailseal.db", c->data_dir)) != 0) {
        ms_buf_cleanup(&url);
        return ms_error_set(err, rc, "data_dir: too long");
    }
    c->database = (char *)url.data; /* the config owns it now */
    return 0;
}

int
ms_daemon_config_parse(ms_daemon_config **out, const char *text, size_t len,
                       const char *name, const char *default_dir, ms_error *err)
{
    ms_daemon_config *c;
    int rc;

    if ((c = ms_calloc(1, sizeof(*c))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    atomic_init(&c->refs, 1);
    if ((c->source = ms_strdup(name)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ms_config_defaults(c, keys, NKEYS, err)) != 0)
        goto out;
    if ((rc = ms_config_parse(c, keys, NKEYS, text, len, name, err)) != 0)
        goto out;
    if ((rc = derive(c, default_dir, err)) != 0)
        goto out;
    *out = c;
    c = NULL; /* the caller owns it now */
out:
    if (c != NULL)
        config_destroy(c);
    return rc;
}

/* The absolute directory holding path (ms_free), without resolving links. */
static char *
file_dir(const char *path)
{
    char cwd[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 0 : (slash == path ? 1 : (size_t)(slash - path));
    ms_buf dir;

    ms_buf_init(&dir, PATH_MAX);
    if (path[0] != '/') {
        if (getcwd(cwd, sizeof(cwd)) == NULL || ms_buf_puts(&dir, cwd) != 0)
            goto fail;
        if (n > 0 && (ms_buf_puts(&dir, "/") != 0))
            goto fail;
    }
    if (ms_buf_append(&dir, path, n) != 0)
        goto fail;
    return (char *)dir.data; /* the caller owns it now */
fail:
    ms_buf_cleanup(&dir);
    return NULL;
}

int
ms_daemon_config_load(ms_daemon_config **out, const char *path, ms_error *err)
{
    ms_buf text;
    char *dir = NULL;
    int rc;

    ms_buf_init(&text, MS_CONFIG_MAX_FILE);
    if ((rc = ms_file_read(&text, path, MS_CONFIG_MAX_FILE, err)) != 0)
        goto out;
    if ((dir = file_dir(path)) == NULL) {
        rc = ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    rc = ms_daemon_config_parse(out, text.data ? (char *)text.data : "",
                                text.len, path, dir, err);
out:
    ms_free(dir);
    ms_buf_cleanup(&text);
    return rc;
}

ms_daemon_config *
ms_daemon_config_up_ref(ms_daemon_config *c)
{
    atomic_fetch_add(&c->refs, 1);
    return c;
}

void
ms_daemon_config_free(ms_daemon_config *c)
{
    if (c != NULL && atomic_fetch_sub(&c->refs, 1) == 1)
        config_destroy(c);
}

int
ms_daemon_config_format(ms_buf *out, const ms_daemon_config *c)
{
    return ms_config_format(out, c, keys, NKEYS);
}
