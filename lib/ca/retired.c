/*
 * ca/retired.c - the retired issuing-CA certificates of a data directory
 * (DIR/certs/retired/v<N>-<serial>.pem, left there by ms_ca_rotate()) and
 * their keys (DIR/private/retired/v<N>-<serial>.key), loaded by
 * ms_ca_open() and checked like the current ones. See ca/hierarchy.h.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/hierarchy_int.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

/* Longest file name read: "v4-" + 40 hex digits + ".pem". */
#define NAME_MAX_LEN (3 + 40 + 4)

typedef struct retired_ent {
    X509 *cert;
    EVP_PKEY *key;
    time_t not_before;
} retired_ent;

typedef struct retired_set {
    retired_ent ent[5][MS_CA_RETIRED_MAX];
    int n[5];
} retired_set;

/* Level 1..4 when name is "v<N>-<lower-case hex>.pem", else 0; *hex_len
 * receives the length of the serial. */
static int
retired_level(const char *name, size_t *hex_len)
{
    size_t len = strlen(name);
    size_t k;

    if (len < 3 + 1 + 4 || len > NAME_MAX_LEN || name[0] != 'v' ||
        name[1] < '1' || name[1] > '4' || name[2] != '-' ||
        strcmp(name + len - 4, ".pem") != 0)
        return 0;
    for (k = 3; k < len - 4; k++)
        if (!((name[k] >= '0' && name[k] <= '9') ||
              (name[k] >= 'a' && name[k] <= 'f')))
            return 0;
    *hex_len = len - 7;
    return name[1] - '0';
}

/* The certificate checks of ms_ca_open(), for a retired CA of level. */
static int
check_retired(const ms_ca *ca, int level, X509 *x, const char *name,
              size_t hex_len, const char *path, ms_error *err)
{
    char *serial = NULL;
    char *cur = NULL;
    int rc = 0;

    if (!ms_ca_subject_is(x, ms_ca_entities[level].name) ||
        ms_x509_level(x) != level) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "%s is not a certificate of "
                          "%s",
                          path, ms_ca_entities[level].name);
        goto out;
    }
    if (X509_verify(x, X509_get0_pubkey(ca->cert[0])) != 1) {
        rc = ms_error_set_ossl(err, MS_EBADSIG, "%s is not signed by %s", path,
                               ms_ca_entities[0].name);
        goto out;
    }
    if ((serial = ms_x509_serial_hex(x)) == NULL ||
        (cur = ms_x509_serial_hex(ca->cert[level])) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (strlen(serial) != hex_len || memcmp(serial, name + 3, hex_len) != 0 ||
        strcmp(serial, cur) == 0)
        rc = ms_error_set(err, MS_EPOLICY,
                          "%s: serial %s does not match its file name, or "
                          "it is the current CA certificate",
                          path, serial);
    /* Fill the extension cache now, while no other thread reads x. */
    (void)X509_check_purpose(x, -1, 0); /* -1: caching only */
out:
    ms_free(serial);
    ms_free(cur);
    return rc;
}

/* The key of a retired certificate, NULL when its file is gone. */
static int
load_retired_key(EVP_PKEY **out, const char *dir, const char *name, X509 *x,
                 const char *pass, ms_error *err)
{
    char file[NAME_MAX_LEN + 1];
    char path[PATH_MAX];
    struct stat st;
    size_t stem = strlen(name) - 4; /* without ".pem" */
    int rc;

    memcpy(file, name, stem);
    file[stem] = '\0';
    if ((rc = ms_ca_path(path, sizeof(path), dir, "private/retired", file,
                         ".key", err)) != 0)
        return rc;
    if (lstat(path, &st) != 0 && errno == ENOENT)
        return 0; /* destroyed: the certificate stays, without a key */
    if ((rc = ms_ca_key_load(out, path, pass, err)) != 0)
        return rc;
    if (X509_check_private_key(x, *out) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "%s does not match its "
                                 "certificate",
                                 path);
    return 0;
}

static int
load_one(const ms_ca *ca, retired_set *set, const char *dir, const char *name,
         const char *pass, ms_error *err)
{
    char path[PATH_MAX];
    size_t hex_len = 0;
    int level = retired_level(name, &hex_len);
    retired_ent *e;
    int rc;

    if (level == 0)
        return 0; /* a responder, the TSA, or something else: not ours */
    if (set->n[level] >= MS_CA_RETIRED_MAX)
        return ms_error_set(err, MS_EPOLICY,
                            "over %d retired certificates of %s: move the "
                            "oldest out of %s/certs/retired",
                            MS_CA_RETIRED_MAX, ms_ca_entities[level].name, dir);
    e = &set->ent[level][set->n[level]];
    if ((rc = ms_ca_path(path, sizeof(path), dir, "certs/retired", name, "",
                         err)) != 0 ||
        (rc = ms_ca_cert_load(&e->cert, path, err)) != 0)
        goto out;
    set->n[level]++; /* freed with the set from now on */
    if ((rc = check_retired(ca, level, e->cert, name, hex_len, path, err)) != 0)
        goto out;
    if (!ms_asn1_time_epoch(X509_get0_notBefore(e->cert), &e->not_before)) {
        rc = ms_error_set(err, MS_EMALFORMED, "%s: unreadable notBefore", path);
        goto out;
    }
    rc = load_retired_key(&e->key, dir, name, e->cert, pass, err);
out:
    return rc;
}

static int
scan(const ms_ca *ca, retired_set *set, const char *dir, const char *pass,
     ms_error *err)
{
    char path[PATH_MAX];
    const struct dirent *de;
    DIR *d = NULL;
    int rc;

    if ((rc = ms_ca_path(path, sizeof(path), dir, "certs", "retired", "",
                         err)) != 0)
        return rc;
    if ((d = opendir(path)) == NULL) {
        if (errno == ENOENT)
            return 0; /* never rotated */
        return ms_error_set(err, MS_EIO, "cannot open %s: %s", path,
                            ms_ca_errtext(errno).text);
    }
    while (rc == 0) {
        errno = 0;
        /* Only this thread reads this stream: readdir(3) is safe then. */
        if ((de = readdir(d)) == NULL) { /* NOLINT(concurrency-mt-unsafe) */
            if (errno != 0)
                rc = ms_error_set(err, MS_EIO, "cannot read %s: %s", path,
                                  ms_ca_errtext(errno).text);
            break;
        }
        rc = load_one(ca, set, dir, de->d_name, pass, err);
    }
    (void)closedir(d); /* read-only directory stream */
    return rc;
}

/* Newest first; equal times by serial, so the order is stable. */
static int
cmp_ent(const void *a, const void *b)
{
    const retired_ent *x = a;
    const retired_ent *y = b;

    if (x->not_before != y->not_before)
        return x->not_before > y->not_before ? -1 : 1;
    return ASN1_INTEGER_cmp(X509_get0_serialNumber(x->cert),
                            X509_get0_serialNumber(y->cert));
}

int
ms_ca_retired_load(ms_ca *ca, const char *dir, const char *passphrase,
                   ms_error *err)
{
    retired_set *set = NULL;
    int rc;

    if ((set = ms_calloc(1, sizeof(*set))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (int l = 1; l <= 4; l++) {
        if ((ca->retired[l] = sk_X509_new_null()) == NULL) {
            rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = scan(ca, set, dir, passphrase, err)) != 0)
        goto out;
    for (int l = 1; l <= 4; l++) {
        qsort(set->ent[l], (size_t)set->n[l], sizeof(retired_ent), cmp_ent);
        for (int i = 0; i < set->n[l]; i++) {
            if (!sk_X509_push(ca->retired[l], set->ent[l][i].cert)) {
                rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
                goto out;
            }
            set->ent[l][i].cert = NULL; /* the stack owns it */
            ca->retired_key[l][i] = set->ent[l][i].key;
            set->ent[l][i].key = NULL;
        }
    }
out:
    for (int l = 1; l <= 4; l++) {
        for (int i = 0; i < set->n[l]; i++) {
            X509_free(set->ent[l][i].cert);
            EVP_PKEY_free(set->ent[l][i].key);
        }
    }
    ms_free(set);
    return rc;
}

void
ms_ca_retired_free(ms_ca *ca)
{
    for (int l = 1; l <= 4; l++) {
        for (int i = 0; i < MS_CA_RETIRED_MAX; i++) {
            EVP_PKEY_free(ca->retired_key[l][i]); /* wiped by OpenSSL */
            ca->retired_key[l][i] = NULL;
        }
        sk_X509_pop_free(ca->retired[l], X509_free);
        ca->retired[l] = NULL;
    }
}

STACK_OF(X509) * ms_ca_get0_retired(const ms_ca *ca, int level)
{
    return level >= 1 && level <= 4 ? ca->retired[level] : NULL;
}

EVP_PKEY *
ms_ca_get0_retired_key(const ms_ca *ca, int level, int i)
{
    if (level < 1 || level > 4 || i < 0 || i >= MS_CA_RETIRED_MAX ||
        i >= sk_X509_num(ca->retired[level]))
        return NULL;
    return ca->retired_key[level][i];
}

/* True when cand's subject is x's issuer (and AKI matches) and cand's key
 * verifies x. */
static bool
issued_by(X509 *cand, X509 *x)
{
    bool ok = X509_check_issued(cand, x) == X509_V_OK &&
              X509_verify(x, X509_get0_pubkey(cand)) == 1;

    ERR_clear_error(); /* a failed verification is an answer, not an error */
    return ok;
}

X509 *
ms_ca_find_issuer(EVP_PKEY **key_out, const ms_ca *ca, int level, X509 *x)
{
    X509 *cand;

    if (key_out != NULL)
        *key_out = NULL;
    if (level < 1 || level > 4 || x == NULL)
        return NULL;
    if (issued_by(ca->cert[level], x)) {
        if (key_out != NULL)
            *key_out = ca->key[level];
        return ca->cert[level];
    }
    for (int i = 0; i < sk_X509_num(ca->retired[level]); i++) {
        cand = sk_X509_value(ca->retired[level], i);
        if (issued_by(cand, x)) {
            if (key_out != NULL)
                *key_out = ca->retired_key[level][i];
            return cand;
        }
    }
    return NULL;
}
