/*
 * ca/rotate.c - key and certificate rotation in a data directory: make,
 * write under temporary names, keep the old files in retired/, rename into
 * place, check the result loads, audit; undo on any failure. See
 * ca/rotate.h.
 */
#include "ca/rotate.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/hierarchy.h"
#include "ca/hierarchy_int.h"
#include "config/daemon.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

#define ITEM_MAX 2 /* an issuing CA and its responder */

/* One certificate (and key) being replaced. */
typedef struct rot_ent {
    int ix; /* into ms_ca_entities[] */
    EVP_PKEY *key;
    X509 *cert;
    char *old_serial;
    char *new_serial;
    char cert_path[PATH_MAX], key_path[PATH_MAX];
    char cert_new[PATH_MAX], key_new[PATH_MAX];
    char cert_ret[PATH_MAX], key_ret[PATH_MAX];
    bool cert_ret_made, key_ret_made; /* we linked the retired names */
    bool cert_placed, key_placed;     /* the new file is in place */
} rot_ent;

typedef struct rot_ctx {
    const char *dir;
    const ms_ca_rotate_options *opt;
    time_t now;
    ms_daemon_config *conf;
    ms_store *st;
    ms_ca *ca; /* the directory as it is now */
    rot_ent ent[ITEM_MAX];
    int n;
} rot_ctx;

/* ---- options and set-up ---- */

static int
check_options(const char *dir, const ms_ca_rotate_options *opt, ms_error *err)
{
    const unsigned all =
        MS_CA_ROTATE_OCSP | MS_CA_ROTATE_TSA | MS_CA_ROTATE_ISSUING;

    if (opt->version != MS_CA_ROTATE_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL, "options version %u unknown",
                            opt->version);
    if (dir[0] == '\0')
        return ms_error_set(err, MS_EINVAL, "empty directory name");
    if (opt->what == 0 || (opt->what & ~all) != 0)
        return ms_error_set(err, MS_EINVAL,
                            "nothing or something unknown to rotate (0x%x)",
                            opt->what);
    if ((opt->what & MS_CA_ROTATE_ISSUING) != 0 &&
        (opt->level < 1 || opt->level > 4))
        return ms_error_set(err, MS_EINVAL, "issuing CA level %d: not 1..4",
                            opt->level);
    if ((opt->ocsp_key != MS_CA_KEY_DEFAULT &&
         !ms_ca_kind_key_ok(MS_CA_KIND_OCSP, opt->ocsp_key)) ||
        (opt->tsa_key != MS_CA_KEY_DEFAULT &&
         !ms_ca_kind_key_ok(MS_CA_KIND_TSA, opt->tsa_key)) ||
        (opt->ca_key != MS_CA_KEY_DEFAULT &&
         !ms_ca_kind_key_ok(MS_CA_KIND_CA, opt->ca_key)))
        return ms_error_set(err, MS_EINVAL,
                            "a key type not allowed for its certificate");
    return 0;
}

static time_t
fixed_clock(void *arg)
{
    return *(const time_t *)arg;
}

/* A directory dir/sub that exists (made with mode when missing). */
static int
ensure_dir(const char *dir, const char *sub, mode_t mode, ms_error *err)
{
    char path[PATH_MAX];
    struct stat st;
    int rc;

    if ((rc = ms_ca_path(path, sizeof(path), dir, "", sub, "", err)) != 0)
        return rc;
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        return ms_error_set(err, MS_EIO, "cannot create %s: %s", path,
                            ms_ca_errtext(errno).text);
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return ms_error_set(err, MS_EIO, "%s is not a directory", path);
    return 0;
}

/* The configuration, the directory as it is, the store, retired/. */
static int
rot_setup(rot_ctx *rc, ms_error *err)
{
    char path[PATH_MAX];
    int r;

    if ((r = ms_ca_path(path, sizeof(path), rc->dir, "", MS_DAEMON_CONFIG_NAME,
                        "", err)) != 0 ||
        (r = ms_daemon_config_load(&rc->conf, path, err)) != 0)
        return r;
    if ((r = ms_ca_open(&rc->ca, rc->dir, rc->opt->passphrase, err)) != 0)
        return r;
    if ((r = ms_store_open(&rc->st, rc->conf->database, err)) != 0)
        return r;
    if (rc->opt->now != 0)
        ms_store_set_clock(rc->st, fixed_clock, &rc->now);
    if ((r = ensure_dir(rc->dir, "certs/retired", 0755, err)) != 0)
        return r;
    return ensure_dir(rc->dir, "private/retired", 0700, err);
}

/* ---- making the new key and certificate ---- */

static ms_ca_key_type
type_of(const EVP_PKEY *key)
{
    static const struct {
        const char *name;
        ms_ca_key_type type;
    } map[] = {{"P-256", MS_CA_KEY_P256},
               {"P-384", MS_CA_KEY_P384},
               {"RSA-2048", MS_CA_KEY_RSA2048},
               {"RSA-3072", MS_CA_KEY_RSA3072},
               {"RSA-4096", MS_CA_KEY_RSA4096}};
    const char *name = ms_ca_key_name(key);

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(name, map[i].name) == 0)
            return map[i].type;
    return MS_CA_KEY_DEFAULT;
}

static int
new_key(const rot_ctx *rc, rot_ent *e, ms_error *err)
{
    const ms_ca_entity *me = &ms_ca_entities[e->ix];
    const ms_ca_rotate_options *o = rc->opt;
    ms_ca_key_type t = me->kind == MS_CA_KIND_OCSP  ? o->ocsp_key
                       : me->kind == MS_CA_KIND_TSA ? o->tsa_key
                                                    : o->ca_key;

    if (t == MS_CA_KEY_DEFAULT)
        t = type_of(rc->ca->key[e->ix]);
    if (!ms_ca_kind_key_ok(me->kind, t))
        return ms_error_set(err, MS_EINVAL,
                            "the current key of %s (%s) is not a type its "
                            "rotation may keep: name one",
                            me->name, ms_ca_key_name(rc->ca->key[e->ix]));
    return ms_ca_key_generate(&e->key, t, err);
}

/* The issuer of entity e: new in this item, or the current one. */
static void
issuer_of(const rot_ctx *rc, const rot_ent *e, EVP_PKEY *root_key, X509 **cert,
          EVP_PKEY **key)
{
    int iss = ms_ca_entities[e->ix].issuer;

    *cert = rc->ca->cert[iss];
    *key = iss == 0 ? root_key : rc->ca->key[iss];
    for (int i = 0; i < rc->n; i++) {
        if (rc->ent[i].ix == iss) {
            *cert = rc->ent[i].cert;
            *key = rc->ent[i].key;
        }
    }
}

static int
make_cert(const rot_ctx *rc, rot_ent *e, EVP_PKEY *root_key, ms_error *err)
{
    const ms_ca_entity *me = &ms_ca_entities[e->ix];
    X509 *icert;
    EVP_PKEY *ikey;
    int r;

    issuer_of(rc, e, root_key, &icert, &ikey);
    if ((r = ms_ca_entity_cert_new(&e->cert, e->ix, e->key, icert, ikey,
                                   rc->conf->public_url, rc->now, err)) != 0)
        return r;
    /* The checks ms_ca_open() makes, before anything is written. */
    if (!ms_ca_subject_is(e->cert, me->name) ||
        X509_verify(e->cert, X509_get0_pubkey(icert)) != 1 ||
        X509_check_private_key(e->cert, e->key) != 1 ||
        (me->kind == MS_CA_KIND_CA && ms_x509_level(e->cert) != me->level))
        return ms_error_set_ossl(err, MS_ERR,
                                 "the new certificate of %s "
                                 "does not check out",
                                 me->name);
    if ((e->new_serial = ms_x509_serial_hex(e->cert)) == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    return 0;
}

/* Keys and certificates of the item; the root key lives only here. */
static int
make_item(rot_ctx *rc, ms_error *err)
{
    char path[PATH_MAX];
    EVP_PKEY *root_key = NULL;
    bool need_root = false;
    int r = 0;

    for (int i = 0; r == 0 && i < rc->n; i++) {
        need_root |= ms_ca_entities[rc->ent[i].ix].issuer == 0;
        r = new_key(rc, &rc->ent[i], err);
    }
    if (r == 0 && need_root &&
        ((r = ms_ca_path(path, sizeof(path), rc->dir, "private", "root", ".key",
                         err)) != 0 ||
         (r = ms_ca_key_load(&root_key, path, rc->opt->passphrase, err)) != 0))
        goto out;
    if (r == 0 && root_key != NULL &&
        X509_check_private_key(rc->ca->cert[0], root_key) != 1)
        r = ms_error_set_ossl(err, MS_EINVAL,
                              "the root key does not match "
                              "the root certificate");
    for (int i = 0; r == 0 && i < rc->n; i++)
        r = make_cert(rc, &rc->ent[i], root_key, err);
out:
    EVP_PKEY_free(root_key); /* OpenSSL wipes it: the root key is gone */
    return r;
}

/* ---- files ---- */

static int
ent_paths(const rot_ctx *rc, rot_ent *e, ms_error *err)
{
    const char *f = ms_ca_entities[e->ix].file;
    char stem[128];
    int k, r;

    if ((e->old_serial = ms_x509_serial_hex(rc->ca->cert[e->ix])) == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    k = snprintf(stem, sizeof(stem), "%s-%s", f, e->old_serial);
    if (k < 0 || (size_t)k >= sizeof(stem))
        return ms_error_set(err, MS_EINVAL, "serial too long");
    if ((r = ms_ca_path(e->cert_path, PATH_MAX, rc->dir, "certs", f, ".pem",
                        err)) != 0 ||
        (r = ms_ca_path(e->key_path, PATH_MAX, rc->dir, "private", f, ".key",
                        err)) != 0 ||
        (r = ms_ca_path(e->cert_new, PATH_MAX, rc->dir, "certs", f, ".pem.new",
                        err)) != 0 ||
        (r = ms_ca_path(e->key_new, PATH_MAX, rc->dir, "private", f, ".key.new",
                        err)) != 0 ||
        (r = ms_ca_path(e->cert_ret, PATH_MAX, rc->dir, "certs/retired", stem,
                        ".pem", err)) != 0)
        return r;
    return ms_ca_path(e->key_ret, PATH_MAX, rc->dir, "private/retired", stem,
                      ".key", err);
}

/* Removes a name reserved for rotation (left by a crash, or ours). */
static int
drop(const char *path, ms_error *err)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return ms_error_set(err, MS_EIO, "cannot remove %s: %s", path,
                            ms_ca_errtext(errno).text);
    return 0;
}

static int
write_new(const rot_ctx *rc, rot_ent *e, ms_error *err)
{
    const char *pass = rc->opt->passphrase;
    int r;

    if ((r = drop(e->key_new, err)) != 0 || (r = drop(e->cert_new, err)) != 0)
        return r;
    if ((r = ms_ca_key_save(e->key_new, e->key, pass, pass == NULL, err)) != 0)
        return r;
    return ms_ca_cert_write(e->cert_new, e->cert, err);
}

/*
 * link(2) from to retired name ret (never replaces). A retired name that
 * is already this very file (a rotation that crashed before its renames)
 * is fine and stays: *made tells whether we made it.
 */
static int
keep_old(const char *from, const char *ret, bool *made, ms_error *err)
{
    struct stat a, b;

    if (link(from, ret) == 0) {
        *made = true;
        return 0;
    }
    if (errno == EEXIST && stat(from, &a) == 0 && lstat(ret, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return 0;
    return ms_error_set(err, MS_EIO, "cannot keep %s as %s: %s", from, ret,
                        ms_ca_errtext(errno).text);
}

static int
place(const char *from, const char *to, bool *placed, ms_error *err)
{
    if (rename(from, to) != 0)
        return ms_error_set(err, MS_EIO, "cannot rename %s to %s: %s", from, to,
                            ms_ca_errtext(errno).text);
    *placed = true;
    return 0;
}

static int
sync_dir(const char *dir, const char *sub, ms_error *err)
{
    char path[PATH_MAX];
    int fd, r;

    if ((r = ms_ca_path(path, sizeof(path), dir, "", sub, "", err)) != 0)
        return r;
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return ms_error_set(err, MS_EIO, "cannot open %s: %s", path,
                            ms_ca_errtext(errno).text);
    r = fsync(fd) == 0 ? 0
                       : ms_error_set(err, MS_EIO, "cannot sync %s: %s", path,
                                      ms_ca_errtext(errno).text);
    (void)close(fd); /* read-only descriptor */
    return r;
}

/* Old files to retired/ (links), then the new ones over them. */
static int
commit_item(rot_ctx *rc, ms_error *err)
{
    static const char *const dirs[] = {"certs", "private", "certs/retired",
                                       "private/retired"};
    int r = 0;

    for (int i = 0; r == 0 && i < rc->n; i++) {
        rot_ent *e = &rc->ent[i];

        if ((r = keep_old(e->cert_path, e->cert_ret, &e->cert_ret_made, err)) ==
            0)
            r = keep_old(e->key_path, e->key_ret, &e->key_ret_made, err);
    }
    for (int i = 0; r == 0 && i < rc->n; i++) {
        rot_ent *e = &rc->ent[i];

        if ((r = place(e->key_new, e->key_path, &e->key_placed, err)) == 0)
            r = place(e->cert_new, e->cert_path, &e->cert_placed, err);
    }
    for (size_t i = 0; r == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++)
        r = sync_dir(rc->dir, dirs[i], err);
    return r;
}

/* Puts the old file back from its retired name (rename: atomic). */
static int
restore(const char *ret, const char *path, bool *placed, bool *made,
        ms_error *err)
{
    if (*placed) {
        if (rename(ret, path) != 0)
            return ms_error_set(err, MS_EIO,
                                "rotation failed and %s could not be put "
                                "back from %s: %s",
                                path, ret, ms_ca_errtext(errno).text);
        *placed = false;
        *made = false; /* the retired name went with the rename */
    } else if (*made) {
        (void)unlink(ret); /* our own link; the original is in place */
        *made = false;
    }
    return 0;
}

/* Undoes commit_item() as far as it went; keeps rc unless it fails. */
static int
rollback_item(rot_ctx *rc, int rc_in, ms_error *err)
{
    int r = rc_in;

    for (int i = 0; i < rc->n; i++) {
        rot_ent *e = &rc->ent[i];

        if (restore(e->key_ret, e->key_path, &e->key_placed, &e->key_ret_made,
                    err) != 0 ||
            restore(e->cert_ret, e->cert_path, &e->cert_placed,
                    &e->cert_ret_made, err) != 0)
            r = MS_EIO;
        (void)unlink(e->key_new); /* ours; may be gone already */
        (void)unlink(e->cert_new);
    }
    return r;
}

/* ---- audit and one item ---- */

/* " name=... not_after=..." of e, the prefix (e.g. "responder_") first. */
static int
describe(char *out, size_t n, const char *prefix, const rot_ent *e,
         ms_error *err)
{
    const ms_ca_entity *me = &ms_ca_entities[e->ix];
    time_t na = 0;
    int k;

    if (!ms_asn1_time_epoch(X509_get0_notAfter(e->cert), &na))
        return ms_error_set(err, MS_ERR, "unreadable notAfter");
    k = snprintf(out, n,
                 " %sname=\"%s\" %sfile=certs/%s.pem %sold_serial=%s "
                 "%snew_serial=%s %snot_after=%" PRId64 " %skey=%s "
                 "%sretired=certs/retired/%s-%s.pem",
                 prefix, me->name, prefix, me->file, prefix, e->old_serial,
                 prefix, e->new_serial, prefix, (int64_t)na, prefix,
                 ms_ca_key_name(e->key), prefix, me->file, e->old_serial);
    if (k < 0 || (size_t)k >= n)
        return ms_error_set(err, MS_ERR, "audit detail too long");
    return 0;
}

/*
 * One row per item, in one store transaction: an issuing CA's row names
 * its renewed responder too (responder_* fields), so the log never
 * records half an item.
 */
static int
audit_item(const rot_ctx *rc, ms_error *err)
{
    char detail[1024];
    char more[512];
    int r;

    if ((r = describe(detail, sizeof(detail), "", &rc->ent[0], err)) != 0)
        return r;
    if (rc->n == 2) {
        if ((r = describe(more, sizeof(more), "responder_", &rc->ent[1],
                          err)) != 0)
            return r;
        if (strlen(detail) + strlen(more) >= sizeof(detail))
            return ms_error_set(err, MS_ERR, "audit detail too long");
        memcpy(detail + strlen(detail), more, strlen(more) + 1);
    }
    /* detail + 1: no leading space */
    return ms_store_audit_append(rc->st, "ca.rotate", detail + 1, err);
}

static void
item_clear(rot_ctx *rc)
{
    for (int i = 0; i < rc->n; i++) {
        EVP_PKEY_free(rc->ent[i].key);
        X509_free(rc->ent[i].cert);
        ms_free(rc->ent[i].old_serial);
        ms_free(rc->ent[i].new_serial);
    }
    memset(rc->ent, 0, sizeof(rc->ent));
    rc->n = 0;
}

static void
tell(const rot_ctx *rc)
{
    time_t na;

    if (rc->opt->on_rotated == NULL)
        return;
    for (int i = 0; i < rc->n; i++) {
        const rot_ent *e = &rc->ent[i];

        if (!ms_asn1_time_epoch(X509_get0_notAfter(e->cert), &na))
            na = 0; /* read already by describe() */
        rc->opt->on_rotated(ms_ca_entities[e->ix].file, e->old_serial,
                            e->new_serial, na, rc->opt->arg);
    }
}

/* Rotates the n entities ixs[] as one item. */
static int
rotate_item(rot_ctx *rc, const int *ixs, int n, ms_error *err)
{
    ms_ca *fresh = NULL;
    bool committed = false;
    int r = 0;

    MS_ASSERT(n >= 1 && n <= ITEM_MAX);
    for (int i = 0; i < n; i++)
        rc->ent[i].ix = ixs[i];
    rc->n = n;
    for (int i = 0; r == 0 && i < n; i++)
        r = ent_paths(rc, &rc->ent[i], err);
    if (r == 0)
        r = make_item(rc, err);
    for (int i = 0; r == 0 && i < n; i++)
        r = write_new(rc, &rc->ent[i], err);
    if (r == 0) {
        committed = true;
        r = commit_item(rc, err);
    }
    if (r == 0)
        r = ms_ca_open(&fresh, rc->dir, rc->opt->passphrase, err);
    if (r == 0)
        r = audit_item(rc, err);
    if (r != 0 && committed)
        r = rollback_item(rc, r, err);
    else if (r != 0)
        for (int i = 0; i < n; i++) {
            (void)unlink(rc->ent[i].key_new); /* ours, if made */
            (void)unlink(rc->ent[i].cert_new);
        }
    if (r == 0) {
        tell(rc);
        ms_ca_close(rc->ca);
        rc->ca = fresh;
        fresh = NULL; /* the next item starts from the new directory */
    }
    ms_ca_close(fresh);
    item_clear(rc);
    return r;
}

static int
rotate_all(rot_ctx *rc, ms_error *err)
{
    const ms_ca_rotate_options *o = rc->opt;
    int ixs[ITEM_MAX];
    int r = 0;

    if ((o->what & MS_CA_ROTATE_ISSUING) != 0) {
        ixs[0] = o->level;
        ixs[1] = MS_CA_OCSP_IX(o->level);
        r = rotate_item(rc, ixs, 2, err);
    }
    if (r == 0 && (o->what & MS_CA_ROTATE_TSA) != 0) {
        ixs[0] = MS_CA_TSA_IX;
        r = rotate_item(rc, ixs, 1, err);
    }
    for (int l = 1; r == 0 && (o->what & MS_CA_ROTATE_OCSP) != 0 && l <= 4;
         l++) {
        if ((o->what & MS_CA_ROTATE_ISSUING) != 0 && l == o->level)
            continue; /* renewed with its CA above */
        ixs[0] = MS_CA_OCSP_IX(l);
        r = rotate_item(rc, ixs, 1, err);
    }
    return r;
}

int
ms_ca_rotate(const char *dir, const ms_ca_rotate_options *opt, ms_error *err)
{
    rot_ctx *rc = NULL;
    int r;

    MS_ASSERT(dir != NULL && opt != NULL);
    if ((r = check_options(dir, opt, err)) != 0)
        return r;
    if ((rc = ms_calloc(1, sizeof(*rc))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    rc->dir = dir;
    rc->opt = opt;
    rc->now = opt->now != 0 ? opt->now : time(NULL);
    if ((r = rot_setup(rc, err)) == 0)
        r = rotate_all(rc, err);
    item_clear(rc);
    ms_ca_close(rc->ca);
    ms_store_close(rc->st);
    ms_daemon_config_free(rc->conf);
    ms_free(rc);
    return r;
}
