/*
 * ca/keys.c - CA key generation, key files, the passphrase file and the
 * weak-key check for certificate requests.
 */
#include "ca/keys.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

#define RSA_EXPONENT 65537
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define PATH_TMP_MAX 4096

static const char pem_encrypted[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
static const char pem_plain[] = "-----BEGIN PRIVATE KEY-----";

ms_ca_errbuf
ms_ca_errtext(int e)
{
    ms_ca_errbuf b;

    /* XSI strerror_r (no _GNU_SOURCE): thread-safe, fills b.text. */
    if (strerror_r(e, b.text, sizeof(b.text)) != 0)
        (void)snprintf(b.text, sizeof(b.text), "errno %d", e);
    return b;
}

/* ---- generation and names ---- */

int
ms_ca_key_generate(EVP_PKEY **out, ms_ca_key_type type, ms_error *err)
{
    EVP_PKEY *k = NULL;

    MS_ASSERT(out != NULL);
    *out = NULL;
    switch (type) {
    case MS_CA_KEY_RSA2048:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case MS_CA_KEY_RSA3072:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
        break;
    case MS_CA_KEY_RSA4096:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        break;
    case MS_CA_KEY_P256:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case MS_CA_KEY_P384:
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    default:
        return ms_error_set(err, MS_EINVAL, "unknown key type %d", (int)type);
    }
    if (k == NULL)
        return ms_error_set_ossl(err, MS_ERR, "key generation failed");
    *out = k;
    return 0;
}

/* NID of an EC key's named curve, NID_undef when none. */
static int
ec_curve_nid(const EVP_PKEY *key)
{
    char group[64];
    size_t len;
    int nid;

    if (!EVP_PKEY_get_group_name(key, group, sizeof(group), &len))
        return NID_undef;
    if ((nid = OBJ_txt2nid(group)) == NID_undef)
        nid = EC_curve_nist2nid(group);
    return nid;
}

const char *
ms_ca_key_name(const EVP_PKEY *key)
{
    int bits;

    if (key == NULL)
        return "none";
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        bits = EVP_PKEY_get_bits(key);
        return bits == 2048   ? "RSA-2048"
               : bits == 3072 ? "RSA-3072"
               : bits == 4096 ? "RSA-4096"
                              : "RSA";
    case EVP_PKEY_EC:
        switch (ec_curve_nid(key)) {
        case NID_X9_62_prime256v1:
            return "P-256";
        case NID_secp384r1:
            return "P-384";
        default:
            return "EC";
        }
    case EVP_PKEY_ED25519:
        return "ED25519";
    default:
        return "other";
    }
}

/* ---- files ---- */

static int
write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
ms_ca_file_write(const char *path, const void *data, size_t len, mode_t mode,
                 ms_error *err)
{
    char tmp[PATH_TMP_MAX];
    int fd = -1;
    int rc = 0;
    int n;

    MS_ASSERT(path != NULL && (data != NULL || len == 0));
    n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return ms_error_set(err, MS_EIO, "path too long: %s", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return ms_error_set(err, MS_EIO, "cannot create %s: %s", tmp,
                            ms_ca_errtext(errno).text);
    /* The umask may have taken bits away; never more than asked. */
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
        fsync(fd) != 0) {
        rc = ms_error_set(err, MS_EIO, "cannot write %s: %s", tmp,
                          ms_ca_errtext(errno).text);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ms_error_set(err, MS_EIO, "cannot write %s: %s", tmp,
                          ms_ca_errtext(errno).text);
        goto out;
    }
    fd = -1;
    /* link(2), unlike rename(2), never replaces an existing file. */
    if (link(tmp, path) != 0)
        rc = ms_error_set(err, MS_EIO, "cannot create %s: %s", path,
                          ms_ca_errtext(errno).text);
out:
    if (fd >= 0)
        (void)close(fd); /* already failing; the write error is reported */
    (void)unlink(tmp);   /* the name is ours; gone either way */
    return rc;
}

/*
 * Reads a file that must be private to us (a key or a passphrase): regular,
 * no symlink, owned by the effective user, no group/other bits.
 */
static int
read_private_file(const char *path, ms_buf *out, size_t max, const char *what,
                  ms_error *err)
{
    unsigned char chunk[4096];
    struct stat st;
    int fd = -1;
    int rc = 0;

    ms_buf_reset(out);
    out->max = max;
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ELOOP)
        return ms_error_set(err, MS_EPOLICY,
                            "%s %s is a symbolic link: use the file itself",
                            what, path);
    if (fd < 0)
        return ms_error_set(err, MS_EIO, "cannot open %s %s: %s", what, path,
                            ms_ca_errtext(errno).text);
    if (fstat(fd, &st) != 0) {
        rc = ms_error_set(err, MS_EIO, "cannot stat %s: %s", path,
                          ms_ca_errtext(errno).text);
    } else if (!S_ISREG(st.st_mode)) {
        rc = ms_error_set(err, MS_EPOLICY, "%s %s is not a regular file", what,
                          path);
    } else if (st.st_uid != geteuid()) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "%s %s is owned by uid %u, not by the current "
                          "user (uid %u)",
                          what, path, (unsigned)st.st_uid, (unsigned)geteuid());
    } else if ((st.st_mode & 077) != 0) {
        rc = ms_error_set(err, MS_EPOLICY,
                          "%s %s has mode %04o: it must not be accessible "
                          "to group or others (chmod 600)",
                          what, path, (unsigned)(st.st_mode & 07777));
    } else if ((unsigned long long)st.st_size > max) {
        rc = ms_error_set(err, MS_ETOOBIG, "%s %s is over %zu bytes", what,
                          path, max);
    }
    while (rc == 0) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = ms_error_set(err, MS_EIO, "cannot read %s: %s", path,
                              ms_ca_errtext(errno).text);
        else if (n == 0)
            break;
        else if ((rc = ms_buf_append(out, chunk, (size_t)n)) != 0)
            rc = ms_error_set(err, rc, "%s %s is over %zu bytes", what, path,
                              max);
    }
    ms_wipe(chunk, sizeof(chunk));
    (void)close(fd); /* read-only descriptor */
    if (rc != 0)
        ms_buf_reset(out);
    return rc;
}

int
ms_ca_passphrase_read(const char *path, ms_buf *out, ms_error *err)
{
    int rc;

    MS_ASSERT(path != NULL && out != NULL);
    if ((rc = read_private_file(path, out, MS_CA_PASSPHRASE_MAX,
                                "passphrase file", err)) != 0)
        return rc;
    if (out->len > 0 && out->data[out->len - 1] == '\n') {
        out->data[--out->len] = '\0';
        if (out->len > 0 && out->data[out->len - 1] == '\r')
            out->data[--out->len] = '\0';
    }
    if (out->len == 0)
        rc = ms_error_set(err, MS_EINVAL, "passphrase file %s is empty", path);
    else if (memchr(out->data, '\0', out->len) != NULL)
        rc = ms_error_set(err, MS_EINVAL, "passphrase file %s holds a NUL byte",
                          path);
    if (rc != 0)
        ms_buf_reset(out);
    return rc;
}

/* ---- key files ---- */

/* Appends key as PKCS#8 PEM (encrypted when pass is non-NULL) to bio. */
static int
encode_pkcs8(BIO *bio, EVP_PKEY *key, const char *pass, ms_error *err)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    X509_ALGOR *pbe = NULL;
    X509_SIG *p8e = NULL;
    int rc = 0;

    if ((p8 = EVP_PKEY2PKCS8(key)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encode the key");
        goto out;
    }
    if (pass == NULL) {
        if (!PEM_write_bio_PKCS8_PRIV_KEY_INFO(bio, p8))
            rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the key");
        goto out;
    }
    pbe = PKCS5_pbe2_set_iv_ex(EVP_aes_256_cbc(), MS_CA_KEY_PBKDF2_ITER, NULL,
                               0, NULL, NID_hmacWithSHA256, NULL);
    if (pbe == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot set up PBES2");
        goto out;
    }
    if ((p8e = PKCS8_set0_pbe_ex(pass, (int)strlen(pass), p8, pbe, NULL,
                                 NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encrypt the key");
        goto out;
    }
    pbe = NULL; /* p8e owns it */
    if (!PEM_write_bio_PKCS8(bio, p8e))
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the key");
out:
    X509_SIG_free(p8e);
    X509_ALGOR_free(pbe);
    PKCS8_PRIV_KEY_INFO_free(p8); /* wipes the key octets */
    return rc;
}

int
ms_ca_key_save(const char *path, EVP_PKEY *key, const char *passphrase,
               bool insecure, ms_error *err)
{
    BIO *bio = NULL;
    char *data;
    long len;
    int rc;

    MS_ASSERT(path != NULL && key != NULL);
    if (passphrase == NULL && !insecure)
        return ms_error_set(err, MS_EINVAL,
                            "no passphrase: refusing to store %s unencrypted "
                            "without the insecure-keys flag",
                            path);
    if (passphrase != NULL &&
        (passphrase[0] == '\0' || strlen(passphrase) > MS_CA_PASSPHRASE_MAX))
        return ms_error_set(err, MS_EINVAL,
                            "the passphrase is empty or over "
                            "%d bytes",
                            MS_CA_PASSPHRASE_MAX);
    /* Secure-heap memory BIO: wiped when freed. */
    if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = encode_pkcs8(bio, key, passphrase, err)) != 0)
        goto out;
    if ((len = BIO_get_mem_data(bio, &data)) <= 0) {
        rc = ms_error_set(err, MS_ERR, "empty key encoding");
        goto out;
    }
    rc = ms_ca_file_write(path, data, (size_t)len, 0600, err);
out:
    BIO_free(bio);
    return rc;
}

/* The PKCS#8 structure of a key file's text (encrypted or plain). */
static int
decode_pkcs8(PKCS8_PRIV_KEY_INFO **out, const ms_buf *file, const char *path,
             const char *pass, ms_error *err)
{
    BIO *bio = NULL;
    X509_SIG *p8e = NULL;
    bool enc;
    int rc = 0;

    enc = ms_memmem(file->data, file->len, pem_encrypted,
                    sizeof(pem_encrypted) - 1) != NULL;
    if (!enc && ms_memmem(file->data, file->len, pem_plain,
                          sizeof(pem_plain) - 1) == NULL)
        return ms_error_set(err, MS_EMALFORMED,
                            "%s holds no PKCS#8 PEM private key", path);
    if (enc && pass == NULL)
        return ms_error_set(err, MS_EPOLICY,
                            "%s is encrypted: a passphrase is needed", path);
    if (!enc && pass != NULL)
        return ms_error_set(err, MS_EPOLICY,
                            "%s is not encrypted but a passphrase was given "
                            "(re-encrypt it, or use insecure keys)",
                            path);
    if ((bio = BIO_new_mem_buf(file->data, (int)file->len)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (!enc) {
        if ((*out = PEM_read_bio_PKCS8_PRIV_KEY_INFO(bio, NULL, NULL, NULL)) ==
            NULL)
            rc = ms_error_set_ossl(err, MS_EMALFORMED,
                                   "%s: the private key cannot be decoded",
                                   path);
        goto out;
    }
    if ((p8e = PEM_read_bio_PKCS8(bio, NULL, NULL, NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "%s: the encrypted key cannot be decoded", path);
        goto out;
    }
    if ((*out = PKCS8_decrypt_ex(p8e, pass, (int)strlen(pass), NULL, NULL)) ==
        NULL)
        rc = ms_error_set_ossl(err, MS_EBADSIG,
                               "%s: wrong passphrase (or a damaged key file)",
                               path);
out:
    X509_SIG_free(p8e);
    BIO_free(bio);
    return rc;
}

int
ms_ca_key_load(EVP_PKEY **out, const char *path, const char *passphrase,
               ms_error *err)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    ms_buf file;
    int rc;

    MS_ASSERT(out != NULL && path != NULL);
    *out = NULL;
    ms_buf_init_secret(&file, MS_CA_KEY_FILE_MAX);
    if (passphrase != NULL && strlen(passphrase) > MS_CA_PASSPHRASE_MAX) {
        rc = ms_error_set(err, MS_EINVAL, "the passphrase is over %d bytes",
                          MS_CA_PASSPHRASE_MAX);
        goto out;
    }
    if ((rc = read_private_file(path, &file, MS_CA_KEY_FILE_MAX, "key file",
                                err)) != 0)
        goto out;
    if ((rc = decode_pkcs8(&p8, &file, path, passphrase, err)) != 0)
        goto out;
    if ((*out = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL)
        rc = ms_error_set_ossl(err, MS_EMALFORMED,
                               "%s: the private key cannot be decoded", path);
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    ms_buf_cleanup(&file);
    return rc;
}

/* ---- the weak-key check ---- */

static int
check_rsa(EVP_PKEY *key, ms_error *err)
{
    BIGNUM *e = NULL;
    int bits = EVP_PKEY_get_bits(key);
    int rc = 0;

    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || bits % 8 != 0)
        return ms_error_set(err, MS_EPOLICY,
                            "the RSA key has %d bits: 2048 to 8192 bits in "
                            "whole octets are accepted",
                            bits);
    if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) ||
        !BN_is_word(e, RSA_EXPONENT))
        rc = ms_error_set(err, MS_EPOLICY,
                          "the RSA public exponent is not 65537");
    BN_free(e);
    return rc;
}

int
ms_ca_key_check(EVP_PKEY *key, ms_error *err)
{
    EVP_PKEY_CTX *pctx = NULL;
    int nid;
    int rc = 0;

    if (key == NULL)
        return ms_error_set(err, MS_EINVAL, "no public key");
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
        if ((rc = check_rsa(key, err)) != 0)
            return rc;
        break;
    case EVP_PKEY_EC:
        nid = ec_curve_nid(key);
        if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1)
            return ms_error_set(err, MS_EPOLICY,
                                "the EC key is not on P-256 "
                                "or P-384");
        break;
    default:
        return ms_error_set(err, MS_EPOLICY,
                            "the key is neither RSA nor EC (P-256, P-384)");
    }
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (EVP_PKEY_public_check(pctx) != 1)
        rc = ms_error_set_ossl(err, MS_EPOLICY,
                               "the public key fails its validity check");
out:
    EVP_PKEY_CTX_free(pctx);
    return rc;
}
