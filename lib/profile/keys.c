/* profile/keys.c - key pairs, identities and trust anchors of a profile. */
#include "ca/keys.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "profile/profile_int.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/load.h"

#define ANCHORS_NAME "anchors.pem"

const char *
ms_profile_kind_dir(ms_profile_kind kind)
{
    return kind == MS_PROFILE_SIGN ? "sign" : "enc";
}

void
ms_profile_pairs_clear(ms_profile *p)
{
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < p->npairs[k]; i++)
            X509_free(p->pairs[k][i].cert);
        p->npairs[k] = 0;
    }
}

/* "sign/<id>.<ext>" into out (fixed size: the names are bounded). */
static void
pair_name(char out[64], ms_profile_kind kind, const char *id, const char *ext)
{
    (void)snprintf(out, 64, "%s/%s.%s", ms_profile_kind_dir(kind), id, ext);
}

static bool
is_id_pem(const char *name)
{
    size_t n = strlen(name);

    return n == MS_PROFILE_ID_LEN + 4 &&
           strspn(name, "0123456789abcdef") == MS_PROFILE_ID_LEN &&
           strcmp(name + MS_PROFILE_ID_LEN, ".pem") == 0;
}

/* Newest first: later notBefore, then later notAfter (qsort order). */
static int
pair_cmp(const void *a, const void *b)
{
    const ms_profile_pair *x = a, *y = b;
    int d = 0, c;

    if (ASN1_TIME_diff(&d, &c, X509_get0_notBefore(x->cert),
                       X509_get0_notBefore(y->cert)) &&
        (d != 0 || c != 0))
        return d > 0 || (d == 0 && c > 0) ? 1 : -1;
    if (ASN1_TIME_diff(&d, &c, X509_get0_notAfter(x->cert),
                       X509_get0_notAfter(y->cert)) &&
        (d != 0 || c != 0))
        return d > 0 || (d == 0 && c > 0) ? 1 : -1;
    return strcmp(x->id, y->id);
}

/* Reads the certificate file of pair id of kind (cert first, then chain). */
static int
read_certs(STACK_OF(X509) * sk, ms_profile *p, ms_profile_kind kind,
           const char *id, ms_error *err)
{
    char name[64];
    ms_buf text;
    int rc;

    pair_name(name, kind, id, "pem");
    ms_buf_init(&text, MS_PROFILE_FILE_MAX);
    if ((rc = ms_profile_file_read(&text, p, name, err)) == 0 &&
        (rc = ms_x509_parse_certs(sk, text.data, text.len, err)) == 0 &&
        sk_X509_num(sk) == 0)
        rc = ms_error_set(err, MS_EMALFORMED, "%s: no certificate", name);
    ms_buf_cleanup(&text);
    return rc;
}

static int
scan_one(ms_profile *p, ms_profile_kind kind, const char *id, ms_error *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    ms_profile_pair *pair;
    char hex[MS_PROFILE_ID_LEN + 1];
    int rc;

    if (sk == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = read_certs(sk, p, kind, id, err)) != 0)
        goto out;
    if ((rc = ms_profile_cert_hex(hex, MS_PROFILE_ID_LEN / 2,
                                  sk_X509_value(sk, 0), err)) != 0)
        goto out;
    if (strcmp(hex, id) != 0) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s/%s.pem holds another certificate than its "
                          "name says",
                          ms_profile_kind_dir(kind), id);
        goto out;
    }
    if (p->npairs[kind] >= MS_PROFILE_MAX_PAIRS) {
        rc = ms_error_set(err, MS_ETOOBIG, "over %d keys in %s/",
                          MS_PROFILE_MAX_PAIRS, ms_profile_kind_dir(kind));
        goto out;
    }
    pair = &p->pairs[kind][p->npairs[kind]++];
    memcpy(pair->id, id, sizeof(pair->id));
    pair->cert = sk_X509_shift(sk); /* the pair owns it now */
out:
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

static int
scan_kind(ms_profile *p, ms_profile_kind kind, ms_error *err)
{
    char *path = NULL;
    DIR *d = NULL;
    struct dirent *e;
    int rc;

    rc = ms_profile_subdir(p, ms_profile_kind_dir(kind), false, err);
    if (rc == MS_ENOTFOUND) {
        ms_error_clear(err);
        return 0;
    }
    if (rc != 0 ||
        (rc = ms_profile_join(&path, p, ms_profile_kind_dir(kind), err)) != 0)
        goto out;
    if ((d = opendir(path)) == NULL) {
        rc = ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char id[MS_PROFILE_ID_LEN + 1];

        if (!is_id_pem(e->d_name))
            continue;
        memcpy(id, e->d_name, MS_PROFILE_ID_LEN);
        id[MS_PROFILE_ID_LEN] = '\0';
        rc = scan_one(p, kind, id, err);
    }
    if (rc == 0)
        qsort(p->pairs[kind], p->npairs[kind], sizeof(ms_profile_pair),
              pair_cmp);
out:
    if (d != NULL)
        (void)closedir(d); /* a read-only directory stream */
    ms_free(path);
    return rc;
}

int
ms_profile_scan(ms_profile *p, ms_error *err)
{
    int rc;

    ms_profile_pairs_clear(p);
    if ((rc = scan_kind(p, MS_PROFILE_SIGN, err)) == 0)
        rc = scan_kind(p, MS_PROFILE_ENC, err);
    if (rc != 0)
        ms_profile_pairs_clear(p);
    return rc;
}

size_t
ms_profile_count(const ms_profile *p, ms_profile_kind kind)
{
    return p->npairs[kind];
}

X509 *
ms_profile_get0_cert(const ms_profile *p, ms_profile_kind kind, size_t i)
{
    return i < p->npairs[kind] ? p->pairs[kind][i].cert : NULL;
}

static int
pem_append(BIO *bio, X509 *x, ms_error *err)
{
    if (!PEM_write_bio_X509(bio, x))
        return ms_error_set_ossl(err, MS_ENOMEM, "cannot encode a certificate");
    return 0;
}

/* Writes kind/<id>.pem: cert, then chain. */
static int
write_certs(ms_profile *p, const char *name, X509 *cert, STACK_OF(X509) * chain,
            ms_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc;

    if (bio == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    rc = pem_append(bio, cert, err);
    for (int i = 0; rc == 0 && i < sk_X509_num(chain); i++) {
        if (X509_cmp(sk_X509_value(chain, i), cert) != 0)
            rc = pem_append(bio, sk_X509_value(chain, i), err);
    }
    if (rc == 0 && (len = BIO_get_mem_data(bio, &data)) > 0)
        rc = ms_profile_file_write(p, name, data, (size_t)len, err);
    BIO_free(bio);
    return rc;
}

static int
write_key(ms_profile *p, const char *name, EVP_PKEY *key, ms_error *err)
{
    const char *pass = NULL;
    char *path = NULL;
    bool first = p->npairs[0] == 0 && p->npairs[1] == 0;
    int rc;

    if ((rc = ms_profile_passphrase(&pass, p, first, err)) != 0 ||
        (rc = ms_profile_join(&path, p, name, err)) != 0)
        goto out;
    /* A key without its .pem is left from an interrupted store: ours. */
    if (unlink(path) != 0 && errno != ENOENT) {
        rc = ms_error_set(err, MS_EIO, "cannot replace %s: %s", path,
                          strerror(errno));
        goto out;
    }
    rc = ms_ca_key_save(path, key, pass, pass == NULL, err);
out:
    ms_free(path);
    return rc;
}

int
ms_profile_add_pair(ms_profile *p, ms_profile_kind kind, EVP_PKEY *key,
                    X509 *cert, STACK_OF(X509) * chain, ms_error *err)
{
    char id[MS_PROFILE_ID_LEN + 1], name[64];
    int rc;

    if (X509_check_private_key(cert, key) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the private key does not match the "
                                 "certificate");
    if ((rc = ms_profile_cert_hex(id, MS_PROFILE_ID_LEN / 2, cert, err)) != 0)
        return rc;
    for (size_t i = 0; i < p->npairs[kind]; i++) {
        if (strcmp(p->pairs[kind][i].id, id) == 0)
            return 0;
    }
    if (p->npairs[kind] >= MS_PROFILE_MAX_PAIRS)
        return ms_error_set(err, MS_ETOOBIG, "over %d keys in %s/",
                            MS_PROFILE_MAX_PAIRS, ms_profile_kind_dir(kind));
    if ((rc = ms_profile_subdir(p, ms_profile_kind_dir(kind), true, err)) != 0)
        return rc;
    pair_name(name, kind, id, "key");
    if ((rc = write_key(p, name, key, err)) != 0)
        return rc;
    pair_name(name, kind, id, "pem");
    if ((rc = write_certs(p, name, cert, chain, err)) != 0)
        return rc;
    return ms_profile_scan(p, err);
}

static int
load_key(EVP_PKEY **out, ms_profile *p, ms_profile_kind kind, const char *id,
         ms_error *err)
{
    const char *pass = NULL;
    char *path = NULL;
    char name[64];
    int rc;

    pair_name(name, kind, id, "key");
    if ((rc = ms_profile_passphrase(&pass, p, false, err)) != 0 ||
        (rc = ms_profile_join(&path, p, name, err)) != 0)
        goto out;
    rc = ms_ca_key_load(out, path, pass, err);
    if (rc == MS_EBADSIG) {
        /* Ask again next time: the cached passphrase is wrong. */
        ms_buf_reset(&p->pass);
        p->have_pass = false;
    }
out:
    ms_free(path);
    return rc;
}

int
ms_profile_load_pair(EVP_PKEY **key_out, X509 **cert_out,
                     STACK_OF(X509) * *chain_out, ms_profile *p,
                     ms_profile_kind kind, size_t i, ms_error *err)
{
    STACK_OF(X509) *sk = NULL;
    EVP_PKEY *key = NULL;
    int rc;

    if (i >= p->npairs[kind])
        return ms_error_set(err, MS_ENOTFOUND, "the profile %s has no %s key",
                            p->dir,
                            kind == MS_PROFILE_SIGN ? "signing" : "encryption");
    if ((sk = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = read_certs(sk, p, kind, p->pairs[kind][i].id, err)) != 0 ||
        (rc = load_key(&key, p, kind, p->pairs[kind][i].id, err)) != 0)
        goto out;
    if (X509_check_private_key(sk_X509_value(sk, 0), key) != 1) {
        rc = ms_error_set_ossl(err, MS_EINVAL,
                               "%s/%s.key does not match its certificate",
                               ms_profile_kind_dir(kind), p->pairs[kind][i].id);
        goto out;
    }
    if (cert_out != NULL)
        *cert_out = sk_X509_shift(sk);
    if (chain_out != NULL) {
        *chain_out = sk;
        sk = NULL; /* the caller owns it now */
    }
    if (key_out != NULL) {
        *key_out = key;
        key = NULL;
    }
out:
    EVP_PKEY_free(key); /* wipes the key */
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int
ms_profile_load_signer(ms_identity **out, ms_profile *p, ms_error *err)
{
    ms_identity *id;
    int rc;

    if ((id = ms_calloc(1, sizeof(*id))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_profile_load_pair(&id->key, &id->cert, &id->chain, p,
                                   MS_PROFILE_SIGN, 0, err)) != 0)
        goto out;
    if (p->npairs[MS_PROFILE_ENC] > 0) {
        id->enc_cert = p->pairs[MS_PROFILE_ENC][0].cert;
        if (!X509_up_ref(id->enc_cert)) {
            id->enc_cert = NULL;
            rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = id;
    id = NULL; /* the caller owns it now */
out:
    ms_identity_free(id);
    return rc;
}

int
ms_profile_load_decryptor(ms_identity **out, ms_profile *p, size_t i,
                          ms_error *err)
{
    ms_identity *id;
    int rc;

    if ((id = ms_calloc(1, sizeof(*id))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = ms_profile_load_pair(&id->key, &id->cert, &id->chain, p,
                                   MS_PROFILE_ENC, i, err)) != 0)
        goto out;
    *out = id;
    id = NULL; /* the caller owns it now */
out:
    ms_identity_free(id);
    return rc;
}

int
ms_profile_set_anchors(ms_profile *p, const void *data, size_t len,
                       ms_error *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    BIO *bio = NULL;
    char *pem;
    long n;
    int rc;

    if (sk == NULL || (bio = BIO_new(BIO_s_mem())) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ms_x509_parse_certs(sk, data, len, err)) != 0)
        goto out;
    if (sk_X509_num(sk) == 0) {
        rc = ms_error_set(err, MS_EMALFORMED, "no trust anchor given");
        goto out;
    }
    for (int i = 0; rc == 0 && i < sk_X509_num(sk); i++) {
        if (X509_check_ca(sk_X509_value(sk, i)) == 0)
            rc = ms_error_set(err, MS_EINVAL,
                              "trust anchor %d is not a CA certificate", i + 1);
        else
            rc = pem_append(bio, sk_X509_value(sk, i), err);
    }
    if (rc == 0 && (n = BIO_get_mem_data(bio, &pem)) > 0)
        rc = ms_profile_file_write(p, ANCHORS_NAME, pem, (size_t)n, err);
out:
    BIO_free(bio);
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

int
ms_profile_anchors_path(char **out, const ms_profile *p, ms_error *err)
{
    ms_buf text;
    int rc;

    *out = NULL;
    /* Reading checks the owner and mode; the verifier reads it again. */
    ms_buf_init(&text, MS_PROFILE_FILE_MAX);
    if ((rc = ms_profile_file_read(&text, p, ANCHORS_NAME, err)) == 0)
        rc = ms_profile_join(out, p, ANCHORS_NAME, err);
    ms_buf_cleanup(&text);
    return rc;
}
