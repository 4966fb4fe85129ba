/*
 * kms/escrow.c - the master key (file, memory) and wrapping escrowed keys
 * under it. Formats and rules: kms/escrow.h.
 */
#include "kms/escrow.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "ca/keys.h"
#include "kms/kms_int.h"
#include "mime/addr.h"
#include "util/alloc.h"
#include "util/error.h"

#define WRAP_TYPE  'W'
#define ID_LABEL   "mailseal kms master key id"
#define WRAP_LABEL "mailseal kms wrap v1"

static const unsigned char file_magic[4] = {'M', 'S', 'K', 'M'};
#define FILE_VERSION 1

_Static_assert(MS_KMS_MAILBOX_MAX == MS_ADDR_NORM_MAX,
               "a kms mailbox is a normal address");

struct ms_kms_master {
    uint32_t id;
    bool secure; /* on the OpenSSL secure heap */
    unsigned char key[MS_KMS_MASTER_KEY_LEN];
};

/* ---- names ---- */

int
ms_kms_mailbox_check(const char *mailbox, ms_error *err)
{
    char norm[MS_KMS_MAILBOX_MAX + 1];
    int rc;

    if ((rc = ms_addr_normalise(norm, sizeof(norm), mailbox, err)) != 0)
        return rc;
    if (strcmp(norm, mailbox) != 0)
        return ms_error_set(err, MS_EINVAL,
                            "the mailbox is not in normal form (trimmed, "
                            "lower case)");
    return 0;
}

int
ms_kms_names_check(const char *mailbox, const char *key_id, ms_error *err)
{
    size_t len;
    int rc;

    if ((rc = ms_kms_mailbox_check(mailbox, err)) != 0)
        return rc;
    if (key_id == NULL)
        return ms_error_set(err, MS_EINVAL, "no key id given");
    len = strnlen(key_id, MS_KMS_KEY_ID_MAX + 1);
    if (len == 0 || len > MS_KMS_KEY_ID_MAX)
        return ms_error_set(err, MS_EINVAL, "the key id must be 1..%d bytes",
                            MS_KMS_KEY_ID_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key_id[i] <= 0x20 ||
            (unsigned char)key_id[i] >= 0x7f)
            return ms_error_set(err, MS_EINVAL,
                                "the key id must be printable ASCII");
    return 0;
}

/* ---- the master key ---- */

/* The key id of key: SHA-256(label || key), first four bytes, never 0. */
static int
master_key_id(uint32_t *out, const unsigned char *key, ms_error *err)
{
    unsigned char md[32];
    EVP_MD_CTX *mc = NULL;
    EVP_MD *sha = NULL;
    unsigned int mdlen = 0;
    int rc = 0;

    if ((sha = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
        (mc = EVP_MD_CTX_new()) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot set up SHA-256");
        goto out;
    }
    if (EVP_DigestInit_ex2(mc, sha, NULL) != 1 ||
        EVP_DigestUpdate(mc, ID_LABEL, sizeof(ID_LABEL) - 1) != 1 ||
        EVP_DigestUpdate(mc, key, MS_KMS_MASTER_KEY_LEN) != 1 ||
        EVP_DigestFinal_ex(mc, md, &mdlen) != 1 || mdlen != sizeof(md)) {
        rc = ms_error_set_ossl(err, MS_ERR, "SHA-256 failed");
        goto out;
    }
    *out = ms_kms_get_u32(md);
out:
    EVP_MD_CTX_free(mc);
    EVP_MD_free(sha);
    return rc;
}

int
ms_kms_master_new(ms_kms_master **out, const uint8_t key[MS_KMS_MASTER_KEY_LEN],
                  ms_error *err)
{
    ms_kms_master *m;
    bool secure = CRYPTO_secure_malloc_initialized() != 0;
    int rc;

    MS_ASSERT(out != NULL && key != NULL);
    *out = NULL;
    m = secure ? OPENSSL_secure_zalloc(sizeof(*m)) : ms_calloc(1, sizeof(*m));
    if (m == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    m->secure = secure;
    memcpy(m->key, key, MS_KMS_MASTER_KEY_LEN);
    if ((rc = master_key_id(&m->id, m->key, err)) != 0)
        goto out;
    if (m->id == 0) {
        rc = ms_error_set(err, MS_EINVAL, "unusable master key (id 0)");
        goto out;
    }
    *out = m;
    m = NULL;
out:
    ms_kms_master_free(m);
    return rc;
}

void
ms_kms_master_free(ms_kms_master *m)
{
    if (m == NULL)
        return;
    if (m->secure) {
        OPENSSL_secure_clear_free(m, sizeof(*m));
        return;
    }
    OPENSSL_cleanse(m, sizeof(*m));
    ms_free(m);
}

uint32_t
ms_kms_master_id(const ms_kms_master *m)
{
    MS_ASSERT(m != NULL);
    return m->id;
}

int
ms_kms_master_create(const char *path, uint32_t *id_out, ms_error *err)
{
    unsigned char file[MS_KMS_MASTER_FILE_LEN];
    uint32_t id = 0;
    int rc;

    MS_ASSERT(path != NULL);
    memset(file, 0, sizeof(file));
    memcpy(file, file_magic, sizeof(file_magic));
    file[4] = FILE_VERSION;
    /* A key whose id would be 0 is drawn again (p = 2^-32). */
    do {
        if (RAND_priv_bytes(file + 12, MS_KMS_MASTER_KEY_LEN) != 1) {
            rc = ms_error_set_ossl(err, MS_ERR, "no randomness for the key");
            goto out;
        }
        if ((rc = master_key_id(&id, file + 12, err)) != 0)
            goto out;
    } while (id == 0);
    ms_kms_put_u32(file + 8, id);
    if ((rc = ms_ca_file_write(path, file, sizeof(file), 0600, err)) != 0)
        goto out;
    if (id_out != NULL)
        *id_out = id;
out:
    OPENSSL_cleanse(file, sizeof(file));
    return rc;
}

/* Opens path for reading after the owner and mode checks; *fd_out. */
static int
open_private(int *fd_out, const char *path, ms_error *err)
{
    struct stat st;
    int fd;
    int rc = 0;

    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ELOOP)
        return ms_error_set(err, MS_EPOLICY,
                            "master key %s is a symbolic link: name the "
                            "file itself",
                            path);
    if (fd < 0)
        return ms_error_set(err, MS_EIO, "cannot open master key %s: %s", path,
                            ms_ca_errtext(errno).text);
    if (fstat(fd, &st) != 0)
        rc = ms_error_set(err, MS_EIO, "cannot stat %s: %s", path,
                          ms_ca_errtext(errno).text);
    else if (!S_ISREG(st.st_mode))
        rc = ms_error_set(err, MS_EPOLICY,
                          "master key %s is not a regular file", path);
    else if (st.st_uid != geteuid())
        rc = ms_error_set(err, MS_EPOLICY,
                          "master key %s is owned by uid %u, not by the "
                          "current user (uid %u)",
                          path, (unsigned)st.st_uid, (unsigned)geteuid());
    else if ((st.st_mode & 077) != 0)
        rc = ms_error_set(err, MS_EPOLICY,
                          "master key %s has mode %04o: it must not be "
                          "accessible to group or others (chmod 600)",
                          path, (unsigned)(st.st_mode & 07777));
    else if (st.st_size != MS_KMS_MASTER_FILE_LEN)
        rc = ms_error_set(err, MS_EMALFORMED,
                          "master key %s is %lld bytes, not %d: not a "
                          "master key file",
                          path, (long long)st.st_size, MS_KMS_MASTER_FILE_LEN);
    if (rc != 0) {
        (void)close(fd); /* read-only descriptor */
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* Reads exactly n bytes (one more must hit the end of the file). */
static int
read_exact(int fd, unsigned char *p, size_t n, const char *path, ms_error *err)
{
    unsigned char extra;
    size_t got = 0;
    ssize_t r;

    while (got <= n) {
        r = got < n ? read(fd, p + got, n - got) : read(fd, &extra, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return ms_error_set(err, MS_EIO, "cannot read %s: %s", path,
                                ms_ca_errtext(errno).text);
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got != n)
        return ms_error_set(err, MS_EMALFORMED,
                            "master key %s changed size while read", path);
    return 0;
}

int
ms_kms_master_load(ms_kms_master **out, const char *path, ms_error *err)
{
    unsigned char file[MS_KMS_MASTER_FILE_LEN];
    ms_kms_master *m = NULL;
    int fd = -1;
    int rc;

    MS_ASSERT(out != NULL && path != NULL);
    *out = NULL;
    if ((rc = open_private(&fd, path, err)) != 0)
        return rc;
    if ((rc = read_exact(fd, file, sizeof(file), path, err)) != 0)
        goto out;
    if (memcmp(file, file_magic, sizeof(file_magic)) != 0 ||
        file[4] != FILE_VERSION || file[5] != 0 || file[6] != 0 ||
        file[7] != 0) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "%s is not a version %d master key file", path,
                          FILE_VERSION);
        goto out;
    }
    if ((rc = ms_kms_master_new(&m, file + 12, err)) != 0)
        goto out;
    if (ms_kms_master_id(m) != ms_kms_get_u32(file + 8)) {
        rc = ms_error_set(err, MS_EMALFORMED,
                          "master key %s is damaged (its key id does not "
                          "match the key)",
                          path);
        goto out;
    }
    *out = m;
    m = NULL;
out:
    OPENSSL_cleanse(file, sizeof(file));
    ms_kms_master_free(m);
    (void)close(fd); /* read-only descriptor */
    return rc;
}

/* ---- wrapping ---- */

bool
ms_kms_is_pkcs8(const uint8_t *p, size_t len)
{
    const unsigned char *q = p;
    PKCS8_PRIV_KEY_INFO *p8;

    if (len > LONG_MAX)
        return false;
    /* Freeing wipes the key octets it copied (ASN1_STRING_clear_free). */
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, (long)len);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return p8 != NULL && q == p + len;
}

static void
wrap_aad(ms_kms_aad *a, const unsigned char *header, const char *key_id,
         const char *mailbox)
{
    memset(a, 0, sizeof(*a));
    ms_kms_aad_raw(a, header, 6);
    ms_kms_aad_str(a, WRAP_LABEL);
    ms_kms_aad_str(a, key_id);
    ms_kms_aad_str(a, mailbox);
}

int
ms_kms_wrap(ms_buf *out, const ms_kms_master *m, const char *key_id,
            const char *mailbox, const uint8_t *pkcs8, size_t len,
            ms_error *err)
{
    ms_kms_aad aad;
    unsigned char *b;
    int rc;

    MS_ASSERT(out != NULL && m != NULL && (pkcs8 != NULL || len == 0));
    if ((rc = ms_kms_names_check(mailbox, key_id, err)) != 0)
        return rc;
    if (len > MS_KMS_PKCS8_MAX)
        return ms_error_set(err, MS_ETOOBIG, "the key is over %d bytes",
                            MS_KMS_PKCS8_MAX);
    if (len == 0 || !ms_kms_is_pkcs8(pkcs8, len))
        return ms_error_set(err, MS_EINVAL,
                            "the key to wrap is not a DER PKCS#8 "
                            "PrivateKeyInfo");
    if ((rc = ms_buf_reserve(out, len + MS_KMS_WRAP_OVERHEAD)) != 0)
        return ms_error_set(err, rc, "no room for the wrapped key");
    b = out->data + out->len;
    b[0] = WRAP_TYPE;
    b[1] = MS_KMS_WRAP_VERSION;
    ms_kms_put_u32(b + 2, m->id);
    if (RAND_bytes(b + 6, MS_KMS_GCM_NONCE_LEN) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no randomness for the nonce");
    wrap_aad(&aad, b, key_id, mailbox);
    if ((rc = ms_kms_gcm_seal(b + MS_KMS_WRAP_HEADER,
                              b + MS_KMS_WRAP_HEADER + len, m->key, b + 6, &aad,
                              pkcs8, len, err)) != 0)
        return rc;
    out->len += len + MS_KMS_WRAP_OVERHEAD;
    out->data[out->len] = '\0';
    return 0;
}

int
ms_kms_wrap_master_id(uint32_t *out, const uint8_t *blob, size_t len,
                      ms_error *err)
{
    MS_ASSERT(out != NULL && (blob != NULL || len == 0));
    if (len > MS_KMS_WRAP_MAX)
        return ms_error_set(err, MS_ETOOBIG, "wrapped key over %d bytes",
                            MS_KMS_WRAP_MAX);
    if (len < MS_KMS_WRAP_OVERHEAD + 1)
        return ms_error_set(err, MS_EMALFORMED, "wrapped key too short");
    if (blob[0] != WRAP_TYPE)
        return ms_error_set(err, MS_EMALFORMED, "not a wrapped key");
    if (blob[1] != MS_KMS_WRAP_VERSION)
        return ms_error_set(err, MS_EMALFORMED,
                            "wrapped key of unknown version %u",
                            (unsigned)blob[1]);
    *out = ms_kms_get_u32(blob + 2);
    return 0;
}

int
ms_kms_unwrap(ms_buf *pkcs8_out, const ms_kms_master *m, const char *key_id,
              const char *mailbox, const uint8_t *blob, size_t len,
              ms_error *err)
{
    ms_kms_aad aad;
    uint32_t id = 0;
    size_t ctlen;
    int rc;

    MS_ASSERT(pkcs8_out != NULL && m != NULL);
    if (!pkcs8_out->secret)
        return ms_error_set(err, MS_EINVAL,
                            "a private key goes only into a secret buffer");
    if ((rc = ms_kms_names_check(mailbox, key_id, err)) != 0 ||
        (rc = ms_kms_wrap_master_id(&id, blob, len, err)) != 0)
        return rc;
    if (id != m->id)
        return ms_error_set(err, MS_EPOLICY,
                            "the key was wrapped under master key %08x, "
                            "not %08x",
                            (unsigned)id, (unsigned)m->id);
    ctlen = len - MS_KMS_WRAP_OVERHEAD;
    if ((rc = ms_buf_reserve(pkcs8_out, ctlen)) != 0)
        return ms_error_set(err, rc, "no room for the key");
    wrap_aad(&aad, blob, key_id, mailbox);
    /* Plaintext lands past len; it counts only once the tag verified. */
    if ((rc = ms_kms_gcm_open(pkcs8_out->data + pkcs8_out->len, m->key,
                              blob + 6, &aad, blob + MS_KMS_WRAP_HEADER, ctlen,
                              blob + MS_KMS_WRAP_HEADER + ctlen, "wrapped key",
                              err)) != 0)
        return rc;
    pkcs8_out->len += ctlen;
    pkcs8_out->data[pkcs8_out->len] = '\0';
    return 0;
}
