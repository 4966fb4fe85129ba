/*
 * ca/hierarchy.c - creating and loading the CA hierarchy of a data
 * directory. One table (ms_ca_entities[]) names every certificate, its file,
 * its issuer and its kind; creation and loading both walk it in order, so an
 * issuer always comes before what it issues.
 */
#include "ca/hierarchy.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/build.h"
#include "ca/hierarchy_int.h"
#include "config/config.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/file.h"
#include "x509/info.h"

#define SKEW       60L /* notBefore this far back: clocks differ */
#define DAY        (24L * 60 * 60)
#define CERT_MAX   ((size_t)64 * 1024)
#define CONFIG_MAX ((size_t)8 * 1024)

const ms_ca_entity ms_ca_entities[MS_CA_N_ENT] = {
    {"root", "mailseal Root CA", 0, 0, MS_CA_KIND_ROOT},
    {"v1", "mailseal V1 Mailbox CA", 0, 1, MS_CA_KIND_CA},
    {"v2", "mailseal V2 Individual CA", 0, 2, MS_CA_KIND_CA},
    {"v3", "mailseal V3 Organisation CA", 0, 3, MS_CA_KIND_CA},
    {"v4", "mailseal V4 Sponsor CA", 0, 4, MS_CA_KIND_CA},
    {"tsa", "mailseal Timestamp Authority", 0, 0, MS_CA_KIND_TSA},
    {"ocsp-v1", "mailseal V1 Mailbox OCSP Responder", 1, 1, MS_CA_KIND_OCSP},
    {"ocsp-v2", "mailseal V2 Individual OCSP Responder", 2, 2, MS_CA_KIND_OCSP},
    {"ocsp-v3", "mailseal V3 Organisation OCSP Responder", 3, 3,
     MS_CA_KIND_OCSP},
    {"ocsp-v4", "mailseal V4 Sponsor OCSP Responder", 4, 4, MS_CA_KIND_OCSP},
};

/* ---- names ---- */

const char *
ms_ca_name(int level)
{
    return level >= 0 && level <= 4 ? ms_ca_entities[level].name : NULL;
}

const char *
ms_ca_ocsp_name(int level)
{
    return level >= 1 && level <= 4 ? ms_ca_entities[MS_CA_OCSP_IX(level)].name
                                    : NULL;
}

const char *
ms_ca_tsa_name(void)
{
    return ms_ca_entities[MS_CA_TSA_IX].name;
}

int
ms_ca_level_of_name(const char *name)
{
    for (int l = 1; name != NULL && l <= 4; l++)
        if (strcmp(name, ms_ca_entities[l].name) == 0)
            return l;
    return 0;
}

/* dir/sub/file + ext into buf; MS_EINVAL when it does not fit. */
int
ms_ca_path(char *buf, size_t n, const char *dir, const char *sub,
           const char *file, const char *ext, ms_error *err)
{
    int k = snprintf(buf, n, "%s%s%s/%s%s", dir, sub[0] != '\0' ? "/" : "", sub,
                     file, ext);

    if (k < 0 || (size_t)k >= n)
        return ms_error_set(err, MS_EINVAL, "path too long under %s", dir);
    return 0;
}

/* ---- creating: state and options ---- */

typedef struct init_ctx {
    char dir[PATH_MAX]; /* absolute once the directory exists */
    char url[MS_CA_URL_MAX + 1];
    char listen[64];          /* as written into mailseald.conf */
    char pass_file[PATH_MAX]; /* "" when none */
    const char *pass;         /* NULL: insecure keys */
    ms_buf pass_buf;
    ms_ca_key_type types[MS_CA_N_ENT];
    time_t now;
    bool created_dir;
    bool prepared;
    X509 *cert[MS_CA_N_ENT];
    EVP_PKEY *key[MS_CA_N_ENT];
} init_ctx;

bool
ms_ca_kind_key_ok(ms_ca_kind kind, ms_ca_key_type type)
{
    static const ms_ca_key_type root_ok[] = {MS_CA_KEY_RSA3072, MS_CA_KEY_P384};
    static const ms_ca_key_type ca_ok[] = {MS_CA_KEY_P256, MS_CA_KEY_P384,
                                           MS_CA_KEY_RSA2048, MS_CA_KEY_RSA3072,
                                           MS_CA_KEY_RSA4096};
    static const ms_ca_key_type tsa_ok[] = {MS_CA_KEY_P256, MS_CA_KEY_RSA2048};
    static const ms_ca_key_type ocsp_ok[] = {MS_CA_KEY_P256, MS_CA_KEY_P384,
                                             MS_CA_KEY_RSA2048};
    const ms_ca_key_type *ok = kind == MS_CA_KIND_ROOT  ? root_ok
                               : kind == MS_CA_KIND_CA  ? ca_ok
                               : kind == MS_CA_KIND_TSA ? tsa_ok
                                                        : ocsp_ok;
    size_t n = kind == MS_CA_KIND_ROOT  ? 2
               : kind == MS_CA_KIND_CA  ? 5
               : kind == MS_CA_KIND_TSA ? 2
                                        : 3;

    for (size_t i = 0; i < n; i++)
        if (ok[i] == type)
            return true;
    return false;
}

static int
init_key_types(init_ctx *ic, const ms_ca_init_options *opt, ms_error *err)
{
    ms_ca_key_type root = opt->root_key ? opt->root_key : MS_CA_KEY_P384;
    ms_ca_key_type ca = opt->ca_key ? opt->ca_key : MS_CA_KEY_P256;
    ms_ca_key_type tsa = opt->tsa_key ? opt->tsa_key : MS_CA_KEY_P256;
    ms_ca_key_type ocsp = opt->ocsp_key ? opt->ocsp_key : MS_CA_KEY_P256;

    if (!ms_ca_kind_key_ok(MS_CA_KIND_ROOT, root))
        return ms_error_set(err, MS_EINVAL,
                            "the root key is RSA-3072 or "
                            "P-384");
    if (!ms_ca_kind_key_ok(MS_CA_KIND_CA, ca))
        return ms_error_set(err, MS_EINVAL, "unknown issuing CA key type");
    if (!ms_ca_kind_key_ok(MS_CA_KIND_TSA, tsa))
        return ms_error_set(err, MS_EINVAL,
                            "the TSA key is P-256 or "
                            "RSA-2048");
    if (!ms_ca_kind_key_ok(MS_CA_KIND_OCSP, ocsp))
        return ms_error_set(err, MS_EINVAL,
                            "the OCSP key is P-256, P-384 "
                            "or RSA-2048");
    for (int i = 0; i < MS_CA_N_ENT; i++)
        ic->types[i] = ms_ca_entities[i].kind == MS_CA_KIND_ROOT  ? root
                       : ms_ca_entities[i].kind == MS_CA_KIND_CA  ? ca
                       : ms_ca_entities[i].kind == MS_CA_KIND_TSA ? tsa
                                                                  : ocsp;
    return 0;
}

/* A path for the configuration file: no control characters. */
static bool
config_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* path made absolute against the working directory, without resolving. */
static int
absolute(char *out, size_t n, const char *path, ms_error *err)
{
    char cwd[PATH_MAX];
    int k;

    if (path[0] == '/') {
        k = snprintf(out, n, "%s", path);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return ms_error_set(err, MS_EIO, "getcwd: %s",
                                ms_ca_errtext(errno).text);
        k = snprintf(out, n, "%s/%s", cwd, path);
    }
    if (k < 0 || (size_t)k >= n)
        return ms_error_set(err, MS_EINVAL, "path too long: %s", path);
    if (!config_safe(out))
        return ms_error_set(err, MS_EINVAL, "path holds control characters");
    return 0;
}

static int
init_passphrase(init_ctx *ic, const ms_ca_init_options *opt, ms_error *err)
{
    int rc;

    if (opt->passphrase_file != NULL) {
        if ((rc = absolute(ic->pass_file, sizeof(ic->pass_file),
                           opt->passphrase_file, err)) != 0)
            return rc;
    }
    if (opt->passphrase != NULL) {
        ic->pass = opt->passphrase;
    } else if (opt->passphrase_file != NULL) {
        if ((rc = ms_ca_passphrase_read(opt->passphrase_file, &ic->pass_buf,
                                        err)) != 0)
            return rc;
        ic->pass = (const char *)ic->pass_buf.data;
    } else if (!opt->insecure_keys) {
        return ms_error_set(err, MS_EINVAL,
                            "no passphrase given and "
                            "insecure keys not asked for");
    }
    return 0;
}

/* The listen value: checked as the daemon will parse it. */
static int
init_listen(init_ctx *ic, const char *listen, ms_error *err)
{
    ms_config_listen l;
    int rc;

    if (listen == NULL)
        listen = "127.0.0.1:8025";
    if (strlen(listen) >= sizeof(ic->listen))
        return ms_error_set(err, MS_EINVAL, "listen address too long");
    if ((rc = ms_config_parse_listen(&l, listen, err)) != 0)
        return rc;
    memcpy(ic->listen, listen, strlen(listen) + 1);
    return 0;
}

static int
init_options(init_ctx *ic, const char *dir, const ms_ca_init_options *opt,
             ms_error *err)
{
    const char *url = opt->public_url ? opt->public_url : MS_CA_DEFAULT_URL;
    const char *why;
    int rc;

    if (opt->version != MS_CA_INIT_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL, "options version %u unknown",
                            opt->version);
    if (dir[0] == '\0')
        return ms_error_set(err, MS_EINVAL, "empty directory name");
    if ((rc = absolute(ic->dir, sizeof(ic->dir), dir, err)) != 0)
        return rc;
    if (!ms_ca_url_check(url, &why))
        return ms_error_set(err, MS_EINVAL, "%s", why);
    memcpy(ic->url, url, strlen(url) + 1);
    if ((rc = init_listen(ic, opt->listen, err)) != 0)
        return rc;
    if ((rc = init_key_types(ic, opt, err)) != 0)
        return rc;
    ic->now = opt->now != 0 ? opt->now : time(NULL);
    return init_passphrase(ic, opt, err);
}

/* ---- creating: the directory ---- */

static int
dir_is_empty(const char *dir, bool *empty, ms_error *err)
{
    DIR *d = opendir(dir);
    const struct dirent *e;

    if (d == NULL)
        return ms_error_set(err, MS_EIO, "cannot open %s: %s", dir,
                            ms_ca_errtext(errno).text);
    *empty = true;
    errno = 0;
    /* Only this thread reads this stream: readdir(3) is safe then. */
    while ((e = readdir(d)) != NULL) { /* NOLINT(concurrency-mt-unsafe) */
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            *empty = false;
            break;
        }
    }
    (void)closedir(d); /* read-only directory stream */
    return 0;
}

static int
prepare_dir(init_ctx *ic, ms_error *err)
{
    char sub[PATH_MAX];
    bool empty = false;
    int rc;

    if (mkdir(ic->dir, 0700) == 0) {
        ic->created_dir = true;
    } else if (errno != EEXIST) {
        return ms_error_set(err, MS_EIO, "cannot create %s: %s", ic->dir,
                            ms_ca_errtext(errno).text);
    } else {
        if ((rc = dir_is_empty(ic->dir, &empty, err)) != 0)
            return rc;
        if (!empty)
            return ms_error_set(err, MS_EPOLICY,
                                "%s exists and is not "
                                "empty: refusing to initialise it",
                                ic->dir);
    }
    ic->prepared = true;
    if ((rc = ms_ca_path(sub, sizeof(sub), ic->dir, "", "certs", "", err)) != 0)
        return rc;
    if (mkdir(sub, 0755) != 0)
        return ms_error_set(err, MS_EIO, "cannot create %s: %s", sub,
                            ms_ca_errtext(errno).text);
    if ((rc = ms_ca_path(sub, sizeof(sub), ic->dir, "", "private", "", err)) !=
        0)
        return rc;
    if (mkdir(sub, 0700) != 0)
        return ms_error_set(err, MS_EIO, "cannot create %s: %s", sub,
                            ms_ca_errtext(errno).text);
    return 0;
}

/* Best effort: every name this module may have made goes again. */
static void
remove_partial(const init_ctx *ic)
{
    static const char *const top[] = {"mailseald.conf",  "mailseald.conf.tmp",
                                      "mailseal.db",     "mailseal.db-wal",
                                      "mailseal.db-shm", "mailseal.db-journal"};
    char p[PATH_MAX];

    for (int i = 0; i < MS_CA_N_ENT; i++) {
        if (ms_ca_path(p, sizeof(p), ic->dir, "certs", ms_ca_entities[i].file,
                       ".pem", NULL) == 0)
            (void)unlink(p); /* may not exist */
        if (ms_ca_path(p, sizeof(p), ic->dir, "private", ms_ca_entities[i].file,
                       ".key", NULL) == 0)
            (void)unlink(p);
    }
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
        if (ms_ca_path(p, sizeof(p), ic->dir, "", top[i], "", NULL) == 0)
            (void)unlink(p);
    if (ms_ca_path(p, sizeof(p), ic->dir, "", "certs", "", NULL) == 0)
        (void)rmdir(p);
    if (ms_ca_path(p, sizeof(p), ic->dir, "", "private", "", NULL) == 0)
        (void)rmdir(p);
    if (ic->created_dir)
        (void)rmdir(ic->dir);
}

/* ---- creating: certificates ---- */

static int
add_exts(X509 *x, X509 *issuer, const int *nids, const char *const *values,
         size_t n, ms_error *err)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = ms_ca_ext_add(x, issuer, nids[i], values[i], err);
    return rc;
}

static int
entity_exts(const char *url, int i, X509 *x, X509 *issuer, ms_error *err)
{
    static const int root_nids[] = {NID_basic_constraints, NID_key_usage,
                                    NID_subject_key_identifier};
    static const char *const root_vals[] = {
        "critical,CA:TRUE", "critical,keyCertSign,cRLSign", "hash"};
    static const int nids[] = {NID_basic_constraints,
                               NID_key_usage,
                               NID_ext_key_usage,
                               NID_subject_key_identifier,
                               NID_authority_key_identifier,
                               NID_info_access,
                               NID_certificate_policies,
                               NID_id_pkix_OCSP_noCheck};
    const ms_ca_entity *e = &ms_ca_entities[i];
    char aia[MS_CA_URL_MAX + 64];
    char policy[128];
    const char *vals[8] = {NULL,           NULL, NULL,   "hash",
                           "keyid:always", aia,  policy, "ignored"};
    int rc;

    if (e->kind == MS_CA_KIND_ROOT)
        return add_exts(x, issuer, root_nids, root_vals, 3, err);
    (void)snprintf(aia, sizeof(aia), "caIssuers;URI:%s/ca/%s.crt", url,
                   ms_ca_entities[e->issuer].file); /* sized for the longest */
    if (e->kind == MS_CA_KIND_TSA)
        (void)snprintf(policy, sizeof(policy), "%s",
                       MS_OID_ARC MS_CA_TSA_POLICY_SUFFIX);
    else
        (void)snprintf(policy, sizeof(policy), "%s.1.%d", MS_OID_ARC, e->level);
    if (e->kind == MS_CA_KIND_CA) {
        vals[0] = "critical,CA:TRUE,pathlen:0";
        vals[1] = "critical,keyCertSign,cRLSign";
        /* BR 7.1.2.2: emailProtection; OCSPSigning so that verifiers that
         * chain EKUs (NSS) accept the delegated responders below. */
        vals[2] = "emailProtection,OCSPSigning";
        return add_exts(x, issuer, nids, vals, 7, err);
    }
    vals[0] = "critical,CA:FALSE";
    vals[1] = "critical,digitalSignature";
    if (e->kind == MS_CA_KIND_TSA) {
        vals[2] = "critical,timeStamping"; /* RFC 3161 2.3 */
        return add_exts(x, issuer, nids, vals, 7, err);
    }
    vals[2] = "OCSPSigning";
    /* No certificatePolicies for a responder: skip index 6. */
    if ((rc = add_exts(x, issuer, nids, vals, 6, err)) != 0)
        return rc;
    return ms_ca_ext_add(x, issuer, nids[7], vals[7], err);
}

static long
entity_days(ms_ca_kind k)
{
    return k == MS_CA_KIND_ROOT  ? MS_CA_ROOT_DAYS
           : k == MS_CA_KIND_CA  ? MS_CA_CA_DAYS
           : k == MS_CA_KIND_TSA ? MS_CA_TSA_DAYS
                                 : MS_CA_OCSP_DAYS;
}

int
ms_ca_entity_cert_new(X509 **out, int i, EVP_PKEY *key, X509 *issuer,
                      EVP_PKEY *issuer_key, const char *url, time_t now,
                      ms_error *err)
{
    const ms_ca_entity *e = &ms_ca_entities[i];
    X509_NAME *subject = NULL;
    X509 *x = NULL;
    int rc;

    if ((subject = X509_NAME_new()) == NULL ||
        !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)e->name, -1, -1,
                                    0)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot make a name");
        goto out;
    }
    rc = ms_ca_tbs_new(&x, key,
                       issuer != NULL ? X509_get_subject_name(issuer) : subject,
                       now - SKEW, entity_days(e->kind) * DAY, err);
    if (rc != 0)
        goto out;
    if (!X509_set_subject_name(x, subject)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set the subject");
        goto out;
    }
    if ((rc = entity_exts(url, i, x, issuer ? issuer : x, err)) != 0)
        goto out;
    if ((rc = ms_ca_cert_sign(x, issuer_key, err)) != 0)
        goto out;
    *out = x;
    x = NULL; /* the caller owns it now */
out:
    X509_free(x);
    X509_NAME_free(subject);
    return rc;
}

static int
make_cert(init_ctx *ic, int i, ms_error *err)
{
    const ms_ca_entity *e = &ms_ca_entities[i];

    return ms_ca_entity_cert_new(&ic->cert[i], i, ic->key[i],
                                 i == 0 ? NULL : ic->cert[e->issuer],
                                 ic->key[e->issuer], ic->url, ic->now, err);
}

int
ms_ca_cert_write(const char *path, X509 *x, ms_error *err)
{
    BIO *bio = NULL;
    char *data;
    long len;
    int rc;

    if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(bio, x) ||
        (len = BIO_get_mem_data(bio, &data)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode %s", path);
        goto out;
    }
    rc = ms_ca_file_write(path, data, (size_t)len, 0644, err);
out:
    BIO_free(bio);
    return rc;
}

static int
save_cert(const init_ctx *ic, int i, ms_error *err)
{
    char path[PATH_MAX];
    int rc;

    if ((rc = ms_ca_path(path, sizeof(path), ic->dir, "certs",
                         ms_ca_entities[i].file, ".pem", err)) != 0)
        return rc;
    return ms_ca_cert_write(path, ic->cert[i], err);
}

static int
make_entity(init_ctx *ic, int i, ms_error *err)
{
    char path[PATH_MAX];
    int rc;

    if ((rc = ms_ca_key_generate(&ic->key[i], ic->types[i], err)) != 0)
        return rc;
    if ((rc = make_cert(ic, i, err)) != 0)
        return rc;
    if ((rc = ms_ca_path(path, sizeof(path), ic->dir, "private",
                         ms_ca_entities[i].file, ".key", err)) != 0)
        return rc;
    if ((rc = ms_ca_key_save(path, ic->key[i], ic->pass, ic->pass == NULL,
                             err)) != 0)
        return rc;
    return save_cert(ic, i, err);
}

/* ---- creating: configuration and store ---- */

static int
write_config(const init_ctx *ic, ms_error *err)
{
    char path[PATH_MAX];
    ms_buf b;
    int rc;

    ms_buf_init(&b, CONFIG_MAX);
    rc = ms_buf_printf(&b,
                       "# mailseald configuration (written by mailseald "
                       "--init)\n"
                       "listen = %s\n"
                       "public_url = %s\n"
                       "database = sqlite:%s/mailseal.db\n"
                       "modules = ca tsa ocsp crl validate kms\n",
                       ic->listen, ic->url, ic->dir);
    if (rc == 0 && ic->pass == NULL)
        rc = ms_buf_puts(&b, "insecure_keys = yes\n");
    else if (rc == 0 && ic->pass_file[0] != '\0')
        rc = ms_buf_printf(&b, "passphrase_file = %s\n", ic->pass_file);
    else if (rc == 0)
        rc = ms_buf_puts(&b, "# passphrase_file = (the file holding the key "
                             "passphrase, mode 0600)\n");
    if (rc == 0)
        rc = ms_buf_puts(&b, "ocsp_validity = 86400\n"
                             "crl_validity = 604800\n"
                             "crl_interval = 3600\n"
                             "cert_validity_days = 365\n");
    if (rc != 0) {
        rc = ms_error_set(err, rc, "cannot format the configuration");
        goto out;
    }
    if ((rc = ms_ca_path(path, sizeof(path), ic->dir, "", "mailseald.conf", "",
                         err)) != 0)
        goto out;
    rc = ms_ca_file_write(path, b.data, b.len, 0640, err);
out:
    ms_buf_cleanup(&b);
    return rc;
}

static time_t
fixed_clock(void *arg)
{
    return *(const time_t *)arg;
}

static int
audit_cert(ms_store *st, int i, X509 *x, ms_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    char detail[1024];
    char *serial = NULL;
    unsigned int mdlen = 0;
    time_t na = 0;
    int rc;

    if ((serial = ms_x509_serial_hex(x)) == NULL ||
        !X509_digest(x, EVP_sha256(), md, &mdlen) ||
        !ms_asn1_time_epoch(X509_get0_notAfter(x), &na)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot describe %s",
                               ms_ca_entities[i].file);
        goto out;
    }
    for (size_t k = 0; k < mdlen; k++)
        (void)snprintf(hex + 2 * k, 3, "%02x", md[k]);
    hex[(size_t)2 * mdlen] = '\0';
    (void)snprintf(detail, sizeof(detail),
                   "name=\"%s\" file=certs/%s.pem serial=%s sha256=%s "
                   "key=%s not_after=%" PRId64,
                   ms_ca_entities[i].name, ms_ca_entities[i].file, serial, hex,
                   ms_ca_key_name(X509_get0_pubkey(x)), (int64_t)na);
    rc = ms_store_audit_append(st, "ca.create", detail, err);
out:
    ms_free(serial);
    return rc;
}

static int
init_store(init_ctx *ic, ms_error *err)
{
    char url[PATH_MAX + 32];
    char detail[PATH_MAX + 256];
    ms_store *st = NULL;
    int rc;

    rc = snprintf(url, sizeof(url), "sqlite:%s/mailseal.db", ic->dir);
    if (rc < 0 || (size_t)rc >= sizeof(url))
        return ms_error_set(err, MS_EINVAL, "path too long under %s", ic->dir);
    if ((rc = ms_store_open(&st, url, err)) != 0)
        return rc;
    ms_store_set_clock(st, fixed_clock, &ic->now);
    (void)snprintf(detail, sizeof(detail), "dir=%s public_url=%s keys=%s",
                   ic->dir, ic->url, ic->pass ? "encrypted" : "insecure");
    rc = ms_store_audit_append(st, "ca.init", detail, err);
    for (int i = 0; rc == 0 && i < MS_CA_N_ENT; i++)
        rc = audit_cert(st, i, ic->cert[i], err);
    ms_store_close(st);
    return rc;
}

int
ms_ca_init_dir(const char *dir, const ms_ca_init_options *opt, ms_error *err)
{
    init_ctx *ic = NULL;
    int rc;

    MS_ASSERT(dir != NULL && opt != NULL);
    if ((ic = ms_calloc(1, sizeof(*ic))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    ms_buf_init_secret(&ic->pass_buf, MS_CA_PASSPHRASE_MAX);
    if ((rc = init_options(ic, dir, opt, err)) != 0)
        goto out;
    if ((rc = prepare_dir(ic, err)) != 0)
        goto out;
    for (int i = 0; rc == 0 && i < MS_CA_N_ENT; i++)
        rc = make_entity(ic, i, err);
    if (rc == 0)
        rc = write_config(ic, err);
    if (rc == 0)
        rc = init_store(ic, err);
out:
    if (rc != 0 && ic->prepared)
        remove_partial(ic);
    for (int i = 0; i < MS_CA_N_ENT; i++) {
        X509_free(ic->cert[i]);
        EVP_PKEY_free(ic->key[i]);
    }
    ms_buf_cleanup(&ic->pass_buf);
    ms_free(ic);
    return rc;
}

/* ---- loading ---- */

int
ms_ca_cert_load(X509 **out, const char *path, ms_error *err)
{
    BIO *bio = NULL;
    ms_buf b;
    int rc;

    ms_buf_init(&b, CERT_MAX);
    if ((rc = ms_file_read(&b, path, CERT_MAX, err)) != 0)
        goto out;
    if ((bio = BIO_new_mem_buf(b.data, (int)b.len)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((*out = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
        rc = ms_error_set_ossl(err, MS_EMALFORMED, "%s: no certificate", path);
out:
    BIO_free(bio);
    ms_buf_cleanup(&b);
    return rc;
}

bool
ms_ca_subject_is(X509 *x, const char *name)
{
    const X509_NAME *n = X509_get_subject_name(x);
    const ASN1_STRING *v;

    if (X509_NAME_entry_count(n) != 1 ||
        OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 0))) !=
            NID_commonName)
        return false;
    v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, 0));
    return (size_t)ASN1_STRING_length(v) == strlen(name) &&
           memcmp(ASN1_STRING_get0_data(v), name, strlen(name)) == 0;
}

static int
check_entity(const ms_ca *ca, int i, const char *path, ms_error *err)
{
    const ms_ca_entity *e = &ms_ca_entities[i];
    X509 *x = ca->cert[i];

    if (!ms_ca_subject_is(x, e->name) ||
        (e->kind == MS_CA_KIND_CA && ms_x509_level(x) != e->level))
        return ms_error_set(err, MS_EPOLICY,
                            "%s is not the certificate of "
                            "%s",
                            path, e->name);
    if (X509_verify(x, X509_get0_pubkey(ca->cert[e->issuer])) != 1)
        return ms_error_set_ossl(err, MS_EBADSIG, "%s is not signed by %s",
                                 path, ms_ca_entities[e->issuer].name);
    if (ca->key[i] != NULL && X509_check_private_key(x, ca->key[i]) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the key of %s does not "
                                 "match its certificate",
                                 path);
    /* Fill the extension cache now, while no other thread reads x. */
    (void)X509_check_purpose(x, -1, 0); /* -1: caching only */
    return 0;
}

static int
load_entity(ms_ca *ca, const char *dir, int i, const char *pass, ms_error *err)
{
    char path[PATH_MAX];
    int rc;

    if ((rc = ms_ca_path(path, sizeof(path), dir, "certs",
                         ms_ca_entities[i].file, ".pem", err)) != 0 ||
        (rc = ms_ca_cert_load(&ca->cert[i], path, err)) != 0)
        return rc;
    if (i != 0 &&
        ((rc = ms_ca_path(path, sizeof(path), dir, "private",
                          ms_ca_entities[i].file, ".key", err)) != 0 ||
         (rc = ms_ca_key_load(&ca->key[i], path, pass, err)) != 0))
        return rc;
    (void)ms_ca_path(path, sizeof(path), dir, "certs", ms_ca_entities[i].file,
                     ".pem", NULL); /* fitted above */
    return check_entity(ca, i, path, err);
}

int
ms_ca_open(ms_ca **out, const char *dir, const char *passphrase, ms_error *err)
{
    ms_ca *ca = NULL;
    int rc = 0;

    MS_ASSERT(out != NULL && dir != NULL);
    *out = NULL;
    if ((ca = ms_calloc(1, sizeof(*ca))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < MS_CA_N_ENT; i++)
        rc = load_entity(ca, dir, i, passphrase, err);
    if (rc == 0)
        rc = ms_ca_retired_load(ca, dir, passphrase, err);
    if (rc != 0)
        goto out;
    if ((ca->tsa_chain = sk_X509_new_null()) == NULL ||
        !X509_add_cert(ca->tsa_chain, ca->cert[0], X509_ADD_FLAG_UP_REF)) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    *out = ca;
    ca = NULL; /* the caller owns it now */
out:
    ms_ca_close(ca);
    return rc;
}

void
ms_ca_close(ms_ca *ca)
{
    if (ca == NULL)
        return;
    for (int i = 0; i < MS_CA_N_ENT; i++) {
        X509_free(ca->cert[i]);
        EVP_PKEY_free(ca->key[i]); /* OpenSSL wipes the private key */
    }
    sk_X509_pop_free(ca->tsa_chain, X509_free);
    ms_ca_retired_free(ca);
    ms_free(ca);
}

/* ---- getters ---- */

X509 *
ms_ca_get0_root(const ms_ca *ca)
{
    return ca->cert[0];
}

X509 *
ms_ca_get0_issuer_cert(const ms_ca *ca, int level)
{
    return level >= 1 && level <= 4 ? ca->cert[level] : NULL;
}

EVP_PKEY *
ms_ca_get0_issuer_key(const ms_ca *ca, int level)
{
    return level >= 1 && level <= 4 ? ca->key[level] : NULL;
}

X509 *
ms_ca_get0_tsa_cert(const ms_ca *ca)
{
    return ca->cert[MS_CA_TSA_IX];
}

EVP_PKEY *
ms_ca_get0_tsa_key(const ms_ca *ca)
{
    return ca->key[MS_CA_TSA_IX];
}

STACK_OF(X509) * ms_ca_get0_tsa_chain(const ms_ca *ca)
{
    return ca->tsa_chain;
}

X509 *
ms_ca_get0_ocsp_cert(const ms_ca *ca, int level)
{
    return level >= 1 && level <= 4 ? ca->cert[MS_CA_OCSP_IX(level)] : NULL;
}

EVP_PKEY *
ms_ca_get0_ocsp_key(const ms_ca *ca, int level)
{
    return level >= 1 && level <= 4 ? ca->key[MS_CA_OCSP_IX(level)] : NULL;
}
