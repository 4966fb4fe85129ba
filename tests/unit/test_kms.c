/*
 * tests/unit/test_kms.c - lib/kms/{escrow,keygen,deliver,aead}.c: the master
 * key file (creation, owner and mode checks, damaged files), wrapping and
 * delivery round trips for every key algorithm, every byte of both blobs
 * changed in turn and every truncation refused, wrong mailbox, key id,
 * master and device refused, fixed vectors made by an independent
 * implementation (fuzz/gen-kms-corpus.py --kat, Python "cryptography"),
 * the CSR accepted by the CA for an encryption certificate, and a message
 * encrypted by `openssl cms -encrypt` (a real process) to that certificate
 * decrypted with the key a device opened.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* clang-format off: cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>
/* clang-format on */

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mailseal/mailseal.h>

#include "ca/hierarchy.h"
#include "ca/issue.h"
#include "kms/deliver.h"
#include "kms/escrow.h"
#include "kms/keygen.h"
#include "kms/kms_int.h"
#include "ms_test.h"
#include "store/store.h"
#include "util/alloc.h"
#include "util/str.h"

#define MAILBOX "alice@example.org"
#define KEY_ID  "enc-0001"
#define NALGS   5

/* Fixed vectors (fuzz/gen-kms-corpus.py --kat): a P-256 PKCS#8, its wrap
 * blob under master key bytes 0x00..0x1f (nonce 0xc0..0xcb) and its
 * envelope for device key 0x40..0x5f (server key 0x80..0x9f, nonce
 * 0xd0..0xdb), key id "fuzz-key-1", mailbox bob@fuzz.example. */
static const uint8_t kat_pkcs8[138] = {
    0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x12, 0x34, 0x56, 0x78, 0x90, 0xab, 0xcd, 0xef, 0xa1, 0x44, 0x03, 0x42,
    0x00, 0x04, 0x9f, 0xad, 0x84, 0xae, 0xae, 0x08, 0xbb, 0xef, 0x7f, 0x01,
    0x00, 0x14, 0xd8, 0x2c, 0xef, 0x6a, 0x09, 0xde, 0x2b, 0x0c, 0xf8, 0x71,
    0xb5, 0xce, 0x0c, 0x4f, 0x1d, 0x13, 0xa5, 0x9a, 0x59, 0x34, 0x07, 0xcb,
    0x45, 0x76, 0x9f, 0x10, 0x70, 0xe2, 0xc2, 0x47, 0x0f, 0xe5, 0xb1, 0xbf,
    0xe6, 0x31, 0x33, 0xc0, 0xb0, 0xcd, 0xc6, 0x4e, 0xa4, 0xbf, 0x37, 0x91,
    0xa8, 0xec, 0x2a, 0x07, 0xfd, 0x4f,
};
static const uint8_t kat_wrap[172] = {
    0x57, 0x01, 0xad, 0xe0, 0x41, 0xc2, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0x30, 0xc9, 0xa0, 0x65, 0x76, 0x78,
    0xa6, 0x4d, 0x9e, 0xde, 0xd7, 0x24, 0x7a, 0x62, 0xd5, 0x54, 0x4d, 0x75,
    0xeb, 0x15, 0xba, 0xaa, 0xd1, 0x87, 0x29, 0xc2, 0x4c, 0x0e, 0x5a, 0x4d,
    0x14, 0xb4, 0xbd, 0x97, 0x93, 0x87, 0x72, 0xdb, 0x45, 0x03, 0xc8, 0x4d,
    0x54, 0x19, 0xf9, 0xc4, 0x65, 0x89, 0x8d, 0x65, 0xdf, 0x7a, 0xd2, 0xcd,
    0xa0, 0x19, 0x84, 0x25, 0x2e, 0xd0, 0xf0, 0xd3, 0x6d, 0x65, 0x9d, 0x87,
    0x46, 0xd2, 0x48, 0x82, 0x7f, 0xee, 0x62, 0x91, 0x87, 0xb1, 0x70, 0xf9,
    0xb1, 0x8e, 0xfe, 0xa9, 0xd5, 0xae, 0xc6, 0x19, 0xfd, 0xa1, 0x4c, 0x44,
    0xbd, 0xcd, 0x9d, 0x40, 0xeb, 0xb3, 0x75, 0x4f, 0x7c, 0xe8, 0x5b, 0x1f,
    0x6e, 0x32, 0x58, 0x3f, 0x95, 0xc4, 0x1d, 0xa4, 0x89, 0xd9, 0xaa, 0xb5,
    0x47, 0x30, 0x78, 0x04, 0x02, 0x00, 0xf5, 0x1a, 0x63, 0xbc, 0x1a, 0xf6,
    0x21, 0x58, 0x9f, 0xcb, 0x3c, 0xd2, 0xf1, 0x6f, 0x30, 0xc4, 0x8d, 0x3d,
    0x5b, 0x06, 0x11, 0xab, 0xd4, 0xd6, 0xa7, 0x78, 0x3c, 0xb9, 0x74, 0x16,
    0x90, 0x81, 0x6a, 0x2b,
};
static const uint8_t kat_envelope[200] = {
    0x45, 0x01, 0x49, 0x3e, 0x82, 0xfc, 0x74, 0x46, 0x4a, 0x59, 0x26, 0x88,
    0x17, 0x62, 0x3d, 0x20, 0x53, 0xc5, 0xeb, 0x8e, 0x2c, 0xc4, 0xa9, 0x88,
    0xb4, 0xfe, 0xe1, 0x79, 0xec, 0x6b, 0x01, 0x0d, 0x53, 0x1d, 0xd0, 0xd1,
    0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0x9e, 0xa0,
    0x87, 0x89, 0x0c, 0xc2, 0x8a, 0x3a, 0xe0, 0x62, 0x0c, 0xf6, 0xe8, 0xfe,
    0x94, 0x98, 0x2c, 0xa2, 0xa0, 0x3d, 0x87, 0xb2, 0xbd, 0xd7, 0xf9, 0x6e,
    0xd5, 0x05, 0x0a, 0x15, 0xfd, 0x81, 0x8e, 0x39, 0x2f, 0x7a, 0x8c, 0x07,
    0x91, 0x8e, 0xba, 0xa7, 0xc6, 0xa8, 0xa7, 0xc8, 0xa7, 0xdb, 0x16, 0x5c,
    0x3b, 0x5a, 0x56, 0xcf, 0x6d, 0x56, 0xcb, 0xb2, 0x95, 0x24, 0xd0, 0xad,
    0xfd, 0x6e, 0xb6, 0x6c, 0x40, 0x51, 0x7d, 0x4b, 0x99, 0xc1, 0x7f, 0x06,
    0xda, 0x27, 0x08, 0x91, 0x65, 0x30, 0x2c, 0xa8, 0x35, 0xbe, 0x53, 0x91,
    0x2a, 0x13, 0x04, 0x41, 0xcb, 0xb1, 0x18, 0xa0, 0xbd, 0x85, 0x9a, 0xa7,
    0x7d, 0x26, 0xa5, 0x3e, 0xb9, 0x75, 0x55, 0xba, 0x70, 0xbd, 0x54, 0x7f,
    0x7e, 0x8f, 0xdd, 0xeb, 0x80, 0xe9, 0x53, 0x5a, 0xa9, 0xc1, 0x30, 0x55,
    0x0e, 0x47, 0xa0, 0xa9, 0x29, 0xf3, 0x71, 0xcf, 0xae, 0x41, 0xda, 0xaa,
    0xee, 0x52, 0xad, 0x94, 0x9d, 0x93, 0xd4, 0x31, 0xe3, 0x20, 0x26, 0x71,
    0xf9, 0x8a, 0x62, 0x10, 0x23, 0xe1, 0x58, 0xb7,
};

static const char *const alg_names[NALGS] = {"rsa-2048", "rsa-3072", "rsa-4096",
                                             "p-256", "p-384"};

typedef struct fixture {
    char tmp[64];
    char master_path[128];
    ms_kms_master *m;  /* from master_path */
    ms_kms_master *m2; /* another key */
    EVP_PKEY *keys[NALGS];
    ms_buf p8[NALGS]; /* their PKCS#8 */
} fixture;

static fixture *g;

/* ---- helpers ---- */

static void
path_in(char *out, size_t n, const char *name)
{
    int k = snprintf(out, n, "%s/%s", g->tmp, name);

    assert_true(k > 0 && (size_t)k < n);
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd;

    (void)unlink(path); /* may not exist */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static void
read_file(ms_buf *out, const char *path)
{
    unsigned char chunk[4096];
    FILE *fp = fopen(path, "rb");
    size_t n;

    assert_non_null(fp);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        assert_int_equal(ms_buf_append(out, chunk, n), 0);
    assert_int_equal(fclose(fp), 0);
}

static void
rm_rf(const char *dir)
{
    char cmd[256];
    int k = snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);

    assert_true(k > 0 && (size_t)k < sizeof(cmd));
    /* Our own mkdtemp name, no quotes in it. */
    assert_int_equal(system(cmd), 0); /* NOLINT(concurrency-mt-unsafe) */
}

static ms_kms_master *
master_bytes(uint8_t first)
{
    uint8_t key[MS_KMS_MASTER_KEY_LEN];
    ms_kms_master *m = NULL;
    ms_error err;

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(first + i);
    assert_int_equal(ms_kms_master_new(&m, key, &err), 0);
    return m;
}

static EVP_PKEY *
device_key(uint8_t first)
{
    uint8_t priv[MS_KMS_X25519_LEN];
    EVP_PKEY *k;

    for (size_t i = 0; i < sizeof(priv); i++)
        priv[i] = (uint8_t)(first + i);
    k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
                                        sizeof(priv));
    assert_non_null(k);
    return k;
}

static void
wrap_ok(ms_buf *blob, const ms_kms_master *m, const char *key_id,
        const char *mailbox, const ms_buf *p8)
{
    ms_error err;

    ms_buf_init(blob, 0);
    if (ms_kms_wrap(blob, m, key_id, mailbox, p8->data, p8->len, &err) != 0)
        fail_msg("wrap: %s", err.msg);
}

/* Unwraps and expects rc; on failure out must stay empty. */
static void
unwrap_expect(int rc, const ms_kms_master *m, const char *key_id,
              const char *mailbox, const uint8_t *blob, size_t len,
              const ms_buf *want)
{
    ms_error err;
    ms_buf out;
    int got;

    ms_buf_init_secret(&out, 0);
    ms_error_clear(&err);
    got = ms_kms_unwrap(&out, m, key_id, mailbox, blob, len, &err);
    if (got != rc)
        fail_msg("unwrap: %s (%s), expected %s", ms_status_name(got), err.msg,
                 ms_status_name(rc));
    if (rc == 0) {
        assert_int_equal(out.len, want->len);
        assert_memory_equal(out.data, want->data, want->len);
    } else {
        assert_int_equal(out.len, 0);
        assert_true(err.msg[0] != '\0');
    }
    ms_buf_cleanup(&out);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
seal_ok(ms_buf *env, const uint8_t *dpub, const char *key_id,
        const char *mailbox, const ms_buf *p8)
{
    ms_error err;

    ms_buf_init(env, 0);
    if (ms_kms_seal_for_device(env, dpub, MS_KMS_X25519_LEN, key_id, mailbox,
                               p8->data, p8->len, &err) != 0)
        fail_msg("seal: %s", err.msg);
}

static void
open_expect(int rc, EVP_PKEY *dev, const char *key_id, const char *mailbox,
            const uint8_t *env, size_t len, const ms_buf *want)
{
    ms_error err;
    ms_buf out;
    int got;

    ms_buf_init_secret(&out, 0);
    ms_error_clear(&err);
    got = ms_kms_open_from_server(&out, dev, key_id, mailbox, env, len, &err);
    if (got != rc)
        fail_msg("open: %s (%s), expected %s", ms_status_name(got), err.msg,
                 ms_status_name(rc));
    if (rc == 0) {
        assert_int_equal(out.len, want->len);
        assert_memory_equal(out.data, want->data, want->len);
    } else {
        assert_int_equal(out.len, 0);
        assert_true(err.msg[0] != '\0');
    }
    ms_buf_cleanup(&out);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    ms_error err;

    if (ms_test_library_setup(state) != 0)
        return -1;
    if ((g = calloc(1, sizeof(*g))) == NULL)
        return -1;
    memcpy(g->tmp, "/tmp/ms-kms-XXXXXX", sizeof("/tmp/ms-kms-XXXXXX"));
    if (mkdtemp(g->tmp) == NULL)
        return -1;
    (void)snprintf(g->master_path, sizeof(g->master_path), "%s/master.key",
                   g->tmp);
    if (ms_kms_master_create(g->master_path, NULL, &err) != 0 ||
        ms_kms_master_load(&g->m, g->master_path, &err) != 0) {
        print_error("master key: %s\n", err.msg);
        return -1;
    }
    g->m2 = master_bytes(0x55);
    for (int i = 0; i < NALGS; i++) {
        ms_buf_init_secret(&g->p8[i], 0);
        if (ms_kms_keygen(&g->keys[i], alg_names[i], &err) != 0 ||
            ms_kms_pkcs8_encode(&g->p8[i], g->keys[i], &err) != 0) {
            print_error("%s: %s\n", alg_names[i], err.msg);
            return -1;
        }
    }
    return 0;
}

static int
group_teardown(void **state)
{
    ms_kms_master_free(g->m);
    ms_kms_master_free(g->m2);
    for (int i = 0; i < NALGS; i++) {
        EVP_PKEY_free(g->keys[i]);
        ms_buf_cleanup(&g->p8[i]);
    }
    rm_rf(g->tmp);
    free(g);
    return ms_test_library_teardown(state);
}

/* ---- the master key ---- */

static void
test_kms__master_create_and_load(void **state)
{
    unsigned char before[MS_KMS_MASTER_FILE_LEN];
    char p[256];
    struct stat st;
    ms_kms_master *m = NULL;
    uint32_t id = 0;
    ms_error err;
    ms_buf file;

    (void)state;
    path_in(p, sizeof(p), "create.key");
    assert_int_equal(ms_kms_master_create(p, &id, &err), 0);
    assert_int_not_equal(id, 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, MS_KMS_MASTER_FILE_LEN);
    ms_buf_init(&file, 0);
    read_file(&file, p);
    assert_memory_equal(file.data, "MSKM\x01\0\0\0", 8);
    assert_int_equal((uint32_t)file.data[8] << 24 |
                         (uint32_t)file.data[9] << 16 |
                         (uint32_t)file.data[10] << 8 | file.data[11],
                     id);
    memcpy(before, file.data, sizeof(before));
    assert_int_equal(ms_kms_master_load(&m, p, &err), 0);
    assert_int_equal(ms_kms_master_id(m), id);
    assert_int_not_equal(ms_kms_master_id(m), ms_kms_master_id(g->m));
    ms_kms_master_free(m);

    /* Never replaced: a second create fails and the file is unchanged. */
    assert_int_equal(ms_kms_master_create(p, NULL, &err), MS_EIO);
    ms_buf_reset(&file);
    read_file(&file, p);
    assert_memory_equal(file.data, before, sizeof(before));
    ms_buf_cleanup(&file);
    OPENSSL_cleanse(before, sizeof(before));
    assert_int_equal(ms_kms_master_create("/nonexistent-ms/k", NULL, &err),
                     MS_EIO);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A copy of the good master key file at p with mode. */
static void
copy_master(const char *p, mode_t mode, ms_buf *file)
{
    ms_buf_reset(file);
    read_file(file, g->master_path);
    write_file(p, file->data, file->len, mode);
}

static void
test_kms__master_mode_and_owner(void **state)
{
    static const mode_t bad[] = {0640, 0604, 0660, 0606, 0644, 0610, 0601};
    ms_kms_master *m = NULL;
    char p[256], link[256];
    ms_error err;
    ms_buf file;

    (void)state;
    ms_buf_init_secret(&file, 0);
    path_in(p, sizeof(p), "mode.key");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        copy_master(p, bad[i], &file);
        assert_int_equal(ms_kms_master_load(&m, p, &err), MS_EPOLICY);
        assert_null(m);
        assert_non_null(strstr(err.msg, "chmod 600"));
    }
    copy_master(p, 0400, &file);
    assert_int_equal(ms_kms_master_load(&m, p, &err), 0);
    ms_kms_master_free(m);
    m = NULL;

    /* A symbolic link to a good file. */
    copy_master(p, 0600, &file);
    path_in(link, sizeof(link), "link.key");
    assert_int_equal(symlink(p, link), 0);
    assert_int_equal(ms_kms_master_load(&m, link, &err), MS_EPOLICY);
    assert_non_null(strstr(err.msg, "symbolic link"));
    /* A directory, a FIFO. */
    assert_int_equal(ms_kms_master_load(&m, g->tmp, &err), MS_EPOLICY);
    path_in(link, sizeof(link), "fifo.key");
    assert_int_equal(mkfifo(link, 0600), 0);
    assert_int_equal(ms_kms_master_load(&m, link, &err), MS_EPOLICY);
    /* Owned by someone else (only root can make such a file here). */
    if (geteuid() == 0) {
        assert_int_equal(chown(p, 65534, 65534), 0);
        assert_int_equal(ms_kms_master_load(&m, p, &err), MS_EPOLICY);
        assert_non_null(strstr(err.msg, "owned by uid 65534"));
    }
    assert_int_equal(ms_kms_master_load(&m, "/nonexistent-ms/k", &err), MS_EIO);
    assert_null(m);
    ms_buf_cleanup(&file);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_kms__master_damaged(void **state)
{
    ms_kms_master *m = NULL;
    char p[256];
    ms_error err;
    ms_buf file;

    (void)state;
    ms_buf_init_secret(&file, 0);
    path_in(p, sizeof(p), "bad.key");
    read_file(&file, g->master_path);
    /* Wrong sizes. */
    write_file(p, file.data, file.len - 1, 0600);
    assert_int_equal(ms_kms_master_load(&m, p, &err), MS_EMALFORMED);
    assert_int_equal(ms_buf_append(&file, "x", 1), 0);
    write_file(p, file.data, file.len, 0600);
    assert_int_equal(ms_kms_master_load(&m, p, &err), MS_EMALFORMED);
    file.len--;
    write_file(p, "", 0, 0600);
    assert_int_equal(ms_kms_master_load(&m, p, &err), MS_EMALFORMED);
    /* Any changed byte: magic, version, reserved, key id or key. */
    for (size_t i = 0; i < MS_KMS_MASTER_FILE_LEN; i++) {
        file.data[i] ^= 0x01;
        write_file(p, file.data, file.len, 0600);
        assert_int_equal(ms_kms_master_load(&m, p, &err), MS_EMALFORMED);
        assert_null(m);
        file.data[i] ^= 0x01;
    }
    write_file(p, file.data, file.len, 0600);
    assert_int_equal(ms_kms_master_load(&m, p, &err), 0);
    assert_int_equal(ms_kms_master_id(m), ms_kms_master_id(g->m));
    ms_kms_master_free(m);
    ms_buf_cleanup(&file);
    assert_int_equal(ERR_peek_error(), 0);
}

/* With a secure heap the key lives there, and is released from it. */
static void
test_kms__master_secure_heap(void **state)
{
    ms_kms_master *m = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(CRYPTO_secure_malloc_initialized(), 0);
    assert_int_not_equal(CRYPTO_secure_malloc_init(16384, 16), 0);
    assert_int_equal(ms_kms_master_load(&m, g->master_path, &err), 0);
    assert_int_equal(CRYPTO_secure_allocated(m), 1);
    assert_true(CRYPTO_secure_used() > 0);
    {
        ms_buf b;

        wrap_ok(&b, m, KEY_ID, MAILBOX, &g->p8[3]);
        unwrap_expect(0, g->m, KEY_ID, MAILBOX, b.data, b.len, &g->p8[3]);
        ms_buf_cleanup(&b);
    }
    ms_kms_master_free(m);
    assert_int_equal(CRYPTO_secure_used(), 0);
    assert_int_equal(CRYPTO_secure_malloc_done(), 1);
}

/* ---- names ---- */

/*
 * kms takes a mailbox only in the normal form of ms_addr_normalise()
 * (tests/unit/test_addr.c has its rules) and refuses rather than folds.
 */
static void
test_kms__mailbox_check(void **state)
{
    static const char *const good[] = {"alice@example.org", "a@b",
                                       "a.b+tag@xn--bcher-kva.example"};
    static const char *const bad[] = {"",
                                      "a@",
                                      "@b.c",
                                      "ab",
                                      "no-at.example",
                                      "a b@c.d",
                                      "a@b.c\x7f",
                                      "a\t@b.c",
                                      "j\xc3\xb6rg@b.c",
                                      "a@b.c ",
                                      " a@b.c",
                                      "Alice@Example.ORG",
                                      "alice@EXAMPLE.org",
                                      "\"a@b\"@xn--bcher-kva.example",
                                      "a*@b.c",
                                      "a@b@c.d"};
    char big[MS_KMS_MAILBOX_MAX + 2];
    ms_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(ms_kms_mailbox_check(good[i], &err), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ms_kms_mailbox_check(bad[i], &err), MS_EINVAL);
    assert_int_equal(ms_kms_mailbox_check(NULL, &err), MS_EINVAL);
    /* 254 bytes pass, 255 do not (a 64-byte local part, long domain). */
    memset(big, 'a', sizeof(big));
    big[64] = '@';
    for (size_t i = 65 + 63; i < sizeof(big); i += 64)
        big[i] = '.';
    big[MS_KMS_MAILBOX_MAX] = '\0';
    assert_int_equal(ms_kms_mailbox_check(big, &err), 0);
    big[MS_KMS_MAILBOX_MAX] = 'a';
    big[MS_KMS_MAILBOX_MAX + 1] = '\0';
    assert_int_equal(ms_kms_mailbox_check(big, &err), MS_EINVAL);
}

/* Names that every kms call refuses before any cryptography. */
static void
test_kms__names_refused(void **state)
{
    static const char *const mailboxes[] = {"Alice@example.org", "a b@c.d",
                                            "nobody"};
    static const char *const ids[] = {"", "with space", "tab\t", "\xc3\xa9"};
    char long_id[MS_KMS_KEY_ID_MAX + 2];
    uint8_t dpub[MS_KMS_X25519_LEN] = {9};
    EVP_PKEY *dev = device_key(0x40);
    const ms_buf *p8 = &g->p8[3];
    ms_buf out, sec;
    ms_error err;

    (void)state;
    ms_buf_init(&out, 0);
    ms_buf_init_secret(&sec, 0);
    memset(long_id, 'k', sizeof(long_id));
    long_id[MS_KMS_KEY_ID_MAX + 1] = '\0';
    for (size_t i = 0; i < sizeof(mailboxes) / sizeof(mailboxes[0]); i++) {
        const char *mb = mailboxes[i];

        assert_int_equal(
            ms_kms_wrap(&out, g->m, KEY_ID, mb, p8->data, p8->len, &err),
            MS_EINVAL);
        assert_int_equal(
            ms_kms_unwrap(&sec, g->m, KEY_ID, mb, p8->data, p8->len, &err),
            MS_EINVAL);
        assert_int_equal(ms_kms_seal_for_device(&out, dpub, sizeof(dpub),
                                                KEY_ID, mb, p8->data, p8->len,
                                                &err),
                         MS_EINVAL);
        assert_int_equal(ms_kms_open_from_server(&sec, dev, KEY_ID, mb,
                                                 p8->data, p8->len, &err),
                         MS_EINVAL);
        assert_int_equal(ms_kms_csr_make(&out, g->keys[3], mb, &err),
                         MS_EINVAL);
    }
    for (size_t i = 0; i <= sizeof(ids) / sizeof(ids[0]); i++) {
        const char *id = i < sizeof(ids) / sizeof(ids[0]) ? ids[i] : long_id;

        assert_int_equal(
            ms_kms_wrap(&out, g->m, id, MAILBOX, p8->data, p8->len, &err),
            MS_EINVAL);
        assert_int_equal(ms_kms_seal_for_device(&out, dpub, sizeof(dpub), id,
                                                MAILBOX, p8->data, p8->len,
                                                &err),
                         MS_EINVAL);
    }
    assert_int_equal(
        ms_kms_wrap(&out, g->m, NULL, MAILBOX, p8->data, p8->len, &err),
        MS_EINVAL);
    long_id[MS_KMS_KEY_ID_MAX] = '\0'; /* 128 bytes: the longest allowed */
    assert_int_equal(
        ms_kms_wrap(&out, g->m, long_id, MAILBOX, p8->data, p8->len, &err), 0);
    unwrap_expect(0, g->m, long_id, MAILBOX, out.data, out.len, p8);
    ms_buf_cleanup(&out);
    ms_buf_cleanup(&sec);
    EVP_PKEY_free(dev);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- keys ---- */

static void
test_kms__keygen(void **state)
{
    static const int bits[NALGS] = {2048, 3072, 4096, 256, 384};
    EVP_PKEY *k = NULL;
    ms_error err;

    (void)state;
    for (int i = 0; i < NALGS; i++) {
        assert_int_equal(EVP_PKEY_get_bits(g->keys[i]), bits[i]);
        assert_int_equal(EVP_PKEY_get_base_id(g->keys[i]),
                         i < 3 ? EVP_PKEY_RSA : EVP_PKEY_EC);
        assert_true(ms_kms_alg_valid(alg_names[i]));
    }
    assert_true(ms_kms_alg_valid(NULL));
    assert_true(ms_kms_alg_valid("P-384"));
    assert_false(ms_kms_alg_valid("rsa-1024"));
    assert_false(ms_kms_alg_valid("ed25519"));
    assert_int_equal(ms_kms_keygen(&k, "rsa-1024", &err), MS_EINVAL);
    assert_null(k);
    assert_int_equal(ms_kms_keygen(&k, "P-256", &err), 0);
    assert_int_equal(EVP_PKEY_get_bits(k), 256);
    EVP_PKEY_free(k);
    /* The default is RSA-3072. */
    assert_int_equal(ms_kms_keygen(&k, NULL, &err), 0);
    assert_int_equal(EVP_PKEY_get_bits(k), 3072);
    EVP_PKEY_free(k);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_kms__pkcs8(void **state)
{
    uint8_t big[MS_KMS_PKCS8_MAX + 1];
    EVP_PKEY *k = NULL;
    ms_buf plain, p8;
    ms_error err;

    (void)state;
    for (int i = 0; i < NALGS; i++) {
        assert_int_equal(
            ms_kms_pkcs8_decode(&k, g->p8[i].data, g->p8[i].len, &err), 0);
        assert_int_equal(EVP_PKEY_eq(k, g->keys[i]), 1);
        EVP_PKEY_free(k);
        k = NULL;
    }
    /* Only into a secret buffer; a small one is left as it was. */
    ms_buf_init(&plain, 0);
    assert_int_equal(ms_kms_pkcs8_encode(&plain, g->keys[0], &err), MS_EINVAL);
    assert_null(plain.data);
    ms_buf_init_secret(&p8, 100);
    assert_int_equal(ms_kms_pkcs8_encode(&p8, g->keys[0], &err), MS_ETOOBIG);
    assert_int_equal(p8.len, 0);
    ms_buf_cleanup(&p8);
    /* Garbage, trailing bytes, truncation, over the limit. */
    assert_int_equal(ms_kms_pkcs8_decode(&k, (const uint8_t *)"junk", 4, &err),
                     MS_EMALFORMED);
    ms_buf_init_secret(&p8, 0);
    assert_int_equal(ms_buf_append(&p8, g->p8[3].data, g->p8[3].len), 0);
    assert_int_equal(ms_buf_append(&p8, "", 1), 0);
    assert_int_equal(ms_kms_pkcs8_decode(&k, p8.data, p8.len, &err),
                     MS_EMALFORMED);
    assert_int_equal(ms_kms_pkcs8_decode(&k, p8.data, p8.len - 2, &err),
                     MS_EMALFORMED);
    ms_buf_cleanup(&p8);
    memset(big, 0x30, sizeof(big));
    assert_int_equal(ms_kms_pkcs8_decode(&k, big, sizeof(big), &err),
                     MS_ETOOBIG);
    assert_null(k);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- wrapping ---- */

static void
test_kms__wrap_round_trip(void **state)
{
    uint32_t id = 0;
    ms_buf a, b;
    ms_error err;

    (void)state;
    for (int i = 0; i < NALGS; i++) {
        wrap_ok(&a, g->m, KEY_ID, MAILBOX, &g->p8[i]);
        assert_int_equal(a.len, g->p8[i].len + MS_KMS_WRAP_OVERHEAD);
        assert_int_equal(a.data[0], 'W');
        assert_int_equal(a.data[1], MS_KMS_WRAP_VERSION);
        assert_int_equal(ms_kms_wrap_master_id(&id, a.data, a.len, &err), 0);
        assert_int_equal(id, ms_kms_master_id(g->m));
        /* The key is not in the blob in clear. */
        assert_null(
            ms_memmem(a.data, a.len, g->p8[i].data + g->p8[i].len - 16, 16));
        unwrap_expect(0, g->m, KEY_ID, MAILBOX, a.data, a.len, &g->p8[i]);
        /* A fresh nonce each time: the same input never gives the same. */
        wrap_ok(&b, g->m, KEY_ID, MAILBOX, &g->p8[i]);
        assert_int_equal(a.len, b.len);
        assert_memory_not_equal(a.data + 6, b.data + 6, 12);
        assert_memory_not_equal(a.data + 18, b.data + 18, a.len - 18);
        unwrap_expect(0, g->m, KEY_ID, MAILBOX, b.data, b.len, &g->p8[i]);
        ms_buf_cleanup(&a);
        ms_buf_cleanup(&b);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

/* Every byte of the blob changed in turn, every truncation, an extra byte:
 * all refused, with the status of the field that was hit. */
static void
test_kms__wrap_tamper(void **state)
{
    const ms_buf *p8 = &g->p8[0];
    ms_buf blob, longer;
    int rc;

    (void)state;
    wrap_ok(&blob, g->m, KEY_ID, MAILBOX, p8);
    for (size_t i = 0; i < blob.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            blob.data[i] ^= (unsigned char)(1u << bit);
            rc = i < 2 ? MS_EMALFORMED : i < 6 ? MS_EPOLICY : MS_EBADSIG;
            unwrap_expect(rc, g->m, KEY_ID, MAILBOX, blob.data, blob.len, p8);
            blob.data[i] ^= (unsigned char)(1u << bit);
        }
    }
    for (size_t n = 0; n < blob.len; n++)
        unwrap_expect(n <= MS_KMS_WRAP_OVERHEAD ? MS_EMALFORMED : MS_EBADSIG,
                      g->m, KEY_ID, MAILBOX, blob.data, n, p8);
    ms_buf_init(&longer, 0);
    assert_int_equal(ms_buf_append(&longer, blob.data, blob.len), 0);
    assert_int_equal(ms_buf_append(&longer, "", 1), 0);
    unwrap_expect(MS_EBADSIG, g->m, KEY_ID, MAILBOX, longer.data, longer.len,
                  p8);
    /* Over the size limit: refused before anything else. */
    ms_buf_reset(&longer);
    assert_int_equal(ms_buf_append(&longer, blob.data, blob.len), 0);
    while (longer.len <= MS_KMS_WRAP_MAX)
        assert_int_equal(ms_buf_append(&longer, "\0", 1), 0);
    unwrap_expect(MS_ETOOBIG, g->m, KEY_ID, MAILBOX, longer.data, longer.len,
                  p8);
    unwrap_expect(MS_EMALFORMED, g->m, KEY_ID, MAILBOX, NULL, 0, p8);
    ms_buf_cleanup(&longer);
    unwrap_expect(0, g->m, KEY_ID, MAILBOX, blob.data, blob.len, p8);
    ms_buf_cleanup(&blob);
}

static void
test_kms__wrap_wrong_binding(void **state)
{
    const ms_buf *p8 = &g->p8[3];
    uint32_t id2 = ms_kms_master_id(g->m2);
    ms_buf blob;

    (void)state;
    wrap_ok(&blob, g->m, KEY_ID, MAILBOX, p8);
    unwrap_expect(MS_EBADSIG, g->m, KEY_ID, "bob@example.org", blob.data,
                  blob.len, p8);
    unwrap_expect(MS_EBADSIG, g->m, "enc-0002", MAILBOX, blob.data, blob.len,
                  p8);
    unwrap_expect(MS_EBADSIG, g->m, KEY_ID, "alice@example.org.evil", blob.data,
                  blob.len, p8);
    /* Another master key: refused by id, with both ids named... */
    unwrap_expect(MS_EPOLICY, g->m2, KEY_ID, MAILBOX, blob.data, blob.len, p8);
    /* ...and by the tag when the id is forged to match. */
    blob.data[2] = (unsigned char)(id2 >> 24);
    blob.data[3] = (unsigned char)(id2 >> 16);
    blob.data[4] = (unsigned char)(id2 >> 8);
    blob.data[5] = (unsigned char)id2;
    unwrap_expect(MS_EBADSIG, g->m2, KEY_ID, MAILBOX, blob.data, blob.len, p8);
    ms_buf_cleanup(&blob);

    /* Length-prefixed fields: key id "x1" with mailbox "a@b.c" and key id
     * "x" with "1a@b.c" concatenate to the same text, yet do not match. */
    wrap_ok(&blob, g->m, "x1", "a@b.c", p8);
    unwrap_expect(MS_EBADSIG, g->m, "x", "1a@b.c", blob.data, blob.len, p8);
    unwrap_expect(0, g->m, "x1", "a@b.c", blob.data, blob.len, p8);
    ms_buf_cleanup(&blob);
}

static void
test_kms__wrap_bad_input(void **state)
{
    const ms_buf *p8 = &g->p8[3];
    uint8_t big[MS_KMS_PKCS8_MAX + 1];
    ms_buf out, sec, plain;
    ms_error err;

    (void)state;
    ms_buf_init(&out, 0);
    /* Not PKCS#8, trailing bytes, empty, over the limit. */
    assert_int_equal(ms_kms_wrap(&out, g->m, KEY_ID, MAILBOX,
                                 (const uint8_t *)"secret", 6, &err),
                     MS_EINVAL);
    ms_buf_init_secret(&sec, 0);
    assert_int_equal(ms_buf_append(&sec, p8->data, p8->len), 0);
    assert_int_equal(ms_buf_append(&sec, "", 1), 0);
    assert_int_equal(
        ms_kms_wrap(&out, g->m, KEY_ID, MAILBOX, sec.data, sec.len, &err),
        MS_EINVAL);
    assert_int_equal(
        ms_kms_wrap(&out, g->m, KEY_ID, MAILBOX, p8->data, 0, &err), MS_EINVAL);
    memset(big, 0x30, sizeof(big));
    assert_int_equal(
        ms_kms_wrap(&out, g->m, KEY_ID, MAILBOX, big, sizeof(big), &err),
        MS_ETOOBIG);
    assert_null(out.data);
    /* An output too small is left as it was. */
    ms_buf_cleanup(&out);
    ms_buf_init(&out, 40);
    assert_int_equal(ms_buf_append(&out, "prefix", 6), 0);
    assert_int_equal(
        ms_kms_wrap(&out, g->m, KEY_ID, MAILBOX, p8->data, p8->len, &err),
        MS_ETOOBIG);
    assert_int_equal(out.len, 6);
    ms_buf_cleanup(&out);

    /* Appends: an existing prefix stays; plaintext only to a secret buf. */
    wrap_ok(&out, g->m, KEY_ID, MAILBOX, p8);
    ms_buf_reset(&sec);
    assert_int_equal(ms_buf_append(&sec, "pre", 3), 0);
    assert_int_equal(
        ms_kms_unwrap(&sec, g->m, KEY_ID, MAILBOX, out.data, out.len, &err), 0);
    assert_int_equal(sec.len, 3 + p8->len);
    assert_memory_equal(sec.data, "pre", 3);
    assert_memory_equal(sec.data + 3, p8->data, p8->len);
    ms_buf_init(&plain, 0);
    assert_int_equal(
        ms_kms_unwrap(&plain, g->m, KEY_ID, MAILBOX, out.data, out.len, &err),
        MS_EINVAL);
    assert_null(plain.data);
    ms_buf_cleanup(&sec);
    ms_buf_init_secret(&sec, 10);
    assert_int_equal(
        ms_kms_unwrap(&sec, g->m, KEY_ID, MAILBOX, out.data, out.len, &err),
        MS_ETOOBIG);
    assert_int_equal(sec.len, 0);
    ms_buf_cleanup(&sec);
    ms_buf_cleanup(&out);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- delivery ---- */

static void
test_kms__envelope_round_trip(void **state)
{
    uint8_t dpub[MS_KMS_X25519_LEN];
    EVP_PKEY *dev = NULL;
    ms_buf a, b;
    ms_error err;

    (void)state;
    assert_int_equal(ms_kms_device_keygen(&dev, dpub, &err), 0);
    for (int i = 0; i < NALGS; i++) {
        seal_ok(&a, dpub, KEY_ID, MAILBOX, &g->p8[i]);
        assert_int_equal(a.len, g->p8[i].len + MS_KMS_ENVELOPE_OVERHEAD);
        assert_int_equal(a.data[0], 'E');
        assert_int_equal(a.data[1], MS_KMS_ENVELOPE_VERSION);
        assert_null(
            ms_memmem(a.data, a.len, g->p8[i].data + g->p8[i].len - 16, 16));
        open_expect(0, dev, KEY_ID, MAILBOX, a.data, a.len, &g->p8[i]);
        /* A fresh server key and nonce for every envelope. */
        seal_ok(&b, dpub, KEY_ID, MAILBOX, &g->p8[i]);
        assert_memory_not_equal(a.data + 2, b.data + 2, 32);
        assert_memory_not_equal(a.data + 34, b.data + 34, 12);
        open_expect(0, dev, KEY_ID, MAILBOX, b.data, b.len, &g->p8[i]);
        ms_buf_cleanup(&a);
        ms_buf_cleanup(&b);
    }
    EVP_PKEY_free(dev);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_kms__envelope_tamper(void **state)
{
    const ms_buf *p8 = &g->p8[3];
    uint8_t dpub[MS_KMS_X25519_LEN];
    EVP_PKEY *dev = NULL;
    ms_buf env, longer;
    ms_error err;

    (void)state;
    assert_int_equal(ms_kms_device_keygen(&dev, dpub, &err), 0);
    seal_ok(&env, dpub, KEY_ID, MAILBOX, p8);
    for (size_t i = 0; i < env.len; i++) {
        for (unsigned bit = 0; bit < 8; bit += 7) {
            env.data[i] ^= (unsigned char)(1u << bit);
            open_expect(i < 2 ? MS_EMALFORMED : MS_EBADSIG, dev, KEY_ID,
                        MAILBOX, env.data, env.len, p8);
            env.data[i] ^= (unsigned char)(1u << bit);
        }
    }
    for (size_t n = 0; n < env.len; n++)
        open_expect(n <= MS_KMS_ENVELOPE_OVERHEAD ? MS_EMALFORMED : MS_EBADSIG,
                    dev, KEY_ID, MAILBOX, env.data, n, p8);
    ms_buf_init(&longer, 0);
    assert_int_equal(ms_buf_append(&longer, env.data, env.len), 0);
    assert_int_equal(ms_buf_append(&longer, "", 1), 0);
    open_expect(MS_EBADSIG, dev, KEY_ID, MAILBOX, longer.data, longer.len, p8);
    while (longer.len <= MS_KMS_ENVELOPE_MAX)
        assert_int_equal(ms_buf_append(&longer, "\0", 1), 0);
    open_expect(MS_ETOOBIG, dev, KEY_ID, MAILBOX, longer.data, longer.len, p8);
    /* A server key of low order (all zero): refused, as damage. */
    ms_buf_reset(&longer);
    assert_int_equal(ms_buf_append(&longer, env.data, env.len), 0);
    memset(longer.data + 2, 0, 32);
    open_expect(MS_EBADSIG, dev, KEY_ID, MAILBOX, longer.data, longer.len, p8);
    ms_buf_cleanup(&longer);
    open_expect(0, dev, KEY_ID, MAILBOX, env.data, env.len, p8);
    ms_buf_cleanup(&env);
    EVP_PKEY_free(dev);
}

static void
test_kms__envelope_wrong_binding(void **state)
{
    const ms_buf *p8 = &g->p8[4];
    uint8_t dpub[MS_KMS_X25519_LEN], opub[MS_KMS_X25519_LEN];
    EVP_PKEY *dev = NULL, *other = NULL, *pub_only;
    ms_buf env, sec;
    ms_error err;

    (void)state;
    assert_int_equal(ms_kms_device_keygen(&dev, dpub, &err), 0);
    assert_int_equal(ms_kms_device_keygen(&other, opub, &err), 0);
    seal_ok(&env, dpub, KEY_ID, MAILBOX, p8);
    open_expect(MS_EBADSIG, other, KEY_ID, MAILBOX, env.data, env.len, p8);
    open_expect(MS_EBADSIG, dev, "enc-0002", MAILBOX, env.data, env.len, p8);
    open_expect(MS_EBADSIG, dev, KEY_ID, "bob@example.org", env.data, env.len,
                p8);
    /* Not an X25519 device key, only its public half; not a secret output. */
    open_expect(MS_EINVAL, g->keys[3], KEY_ID, MAILBOX, env.data, env.len, p8);
    pub_only = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, dpub,
                                              sizeof(dpub));
    assert_non_null(pub_only);
    open_expect(MS_EINVAL, pub_only, KEY_ID, MAILBOX, env.data, env.len, p8);
    EVP_PKEY_free(pub_only);
    ms_buf_init(&sec, 0);
    assert_int_equal(ms_kms_open_from_server(&sec, dev, KEY_ID, MAILBOX,
                                             env.data, env.len, &err),
                     MS_EINVAL);
    assert_null(sec.data);
    ms_buf_cleanup(&env);
    /* Length-prefixed fields in the key derivation and the AAD too. */
    seal_ok(&env, dpub, "x1", "a@b.c", p8);
    open_expect(MS_EBADSIG, dev, "x", "1a@b.c", env.data, env.len, p8);
    open_expect(0, dev, "x1", "a@b.c", env.data, env.len, p8);
    ms_buf_cleanup(&env);
    EVP_PKEY_free(dev);
    EVP_PKEY_free(other);
}

static void
test_kms__seal_bad_device_key(void **state)
{
    /* Curve25519 points of small order (RFC 7748 section 7 lists them). */
    static const uint8_t order8[MS_KMS_X25519_LEN] = {
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
        0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
        0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00};
    uint8_t zero[MS_KMS_X25519_LEN + 1] = {0}, one[MS_KMS_X25519_LEN] = {1};
    const ms_buf *p8 = &g->p8[3];
    ms_buf out;
    ms_error err;

    (void)state;
    ms_buf_init(&out, 0);
    assert_int_equal(ms_kms_seal_for_device(&out, zero, MS_KMS_X25519_LEN,
                                            KEY_ID, MAILBOX, p8->data, p8->len,
                                            &err),
                     MS_EINVAL);
    assert_int_equal(ms_kms_seal_for_device(&out, one, sizeof(one), KEY_ID,
                                            MAILBOX, p8->data, p8->len, &err),
                     MS_EINVAL);
    assert_int_equal(ms_kms_seal_for_device(&out, order8, sizeof(order8),
                                            KEY_ID, MAILBOX, p8->data, p8->len,
                                            &err),
                     MS_EINVAL);
    assert_int_equal(ms_kms_seal_for_device(&out, zero, 31, KEY_ID, MAILBOX,
                                            p8->data, p8->len, &err),
                     MS_EINVAL);
    assert_int_equal(ms_kms_seal_for_device(&out, zero, 33, KEY_ID, MAILBOX,
                                            p8->data, p8->len, &err),
                     MS_EINVAL);
    assert_int_equal(ms_kms_seal_for_device(&out, NULL, 32, KEY_ID, MAILBOX,
                                            p8->data, p8->len, &err),
                     MS_EINVAL);
    assert_int_equal(ms_kms_seal_for_device(&out, order8, sizeof(order8),
                                            KEY_ID, MAILBOX,
                                            (const uint8_t *)"secret", 6, &err),
                     MS_EINVAL);
    assert_int_equal(out.len, 0); /* nothing written */
    ms_buf_cleanup(&out);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_kms__release(void **state)
{
    uint8_t dpub[MS_KMS_X25519_LEN];
    EVP_PKEY *dev = NULL, *k = NULL;
    ms_buf blob, env, p8;
    ms_error err;

    (void)state;
    assert_int_equal(ms_kms_device_keygen(&dev, dpub, &err), 0);
    for (int i = 0; i < NALGS; i++) {
        wrap_ok(&blob, g->m, KEY_ID, MAILBOX, &g->p8[i]);
        ms_buf_init(&env, 0);
        assert_int_equal(ms_kms_release(&env, g->m, KEY_ID, MAILBOX, blob.data,
                                        blob.len, dpub, sizeof(dpub), &err),
                         0);
        ms_buf_init_secret(&p8, 0);
        assert_int_equal(ms_kms_open_from_server(&p8, dev, KEY_ID, MAILBOX,
                                                 env.data, env.len, &err),
                         0);
        assert_int_equal(ms_kms_pkcs8_decode(&k, p8.data, p8.len, &err), 0);
        assert_int_equal(EVP_PKEY_eq(k, g->keys[i]), 1);
        EVP_PKEY_free(k);
        ms_buf_cleanup(&p8);
        ms_buf_cleanup(&env);
        /* Refused releases write nothing. */
        ms_buf_init(&env, 0);
        assert_int_equal(ms_kms_release(&env, g->m, KEY_ID, "bob@example.org",
                                        blob.data, blob.len, dpub, sizeof(dpub),
                                        &err),
                         MS_EBADSIG);
        assert_int_equal(ms_kms_release(&env, g->m2, KEY_ID, MAILBOX, blob.data,
                                        blob.len, dpub, sizeof(dpub), &err),
                         MS_EPOLICY);
        assert_int_equal(ms_kms_release(&env, g->m, KEY_ID, MAILBOX, blob.data,
                                        blob.len, dpub, 31, &err),
                         MS_EINVAL);
        assert_null(env.data);
        ms_buf_cleanup(&blob);
    }
    EVP_PKEY_free(dev);
    assert_int_equal(ERR_peek_error(), 0);
}

/* Vectors from an independent implementation pin both formats. */
static void
test_kms__known_answers(void **state)
{
    ms_kms_master *m = master_bytes(0x00);
    EVP_PKEY *dev = device_key(0x40);
    uint32_t id = 0;
    ms_buf want;
    ms_error err;

    (void)state;
    ms_buf_init(&want, 0);
    assert_int_equal(ms_buf_append(&want, kat_pkcs8, sizeof(kat_pkcs8)), 0);
    assert_int_equal(
        ms_kms_wrap_master_id(&id, kat_wrap, sizeof(kat_wrap), &err), 0);
    assert_int_equal(id, ms_kms_master_id(m));
    unwrap_expect(0, m, "fuzz-key-1", "bob@fuzz.example", kat_wrap,
                  sizeof(kat_wrap), &want);
    open_expect(0, dev, "fuzz-key-1", "bob@fuzz.example", kat_envelope,
                sizeof(kat_envelope), &want);
    unwrap_expect(MS_EBADSIG, m, "fuzz-key-2", "bob@fuzz.example", kat_wrap,
                  sizeof(kat_wrap), &want);
    open_expect(MS_EBADSIG, dev, "fuzz-key-1", "eve@fuzz.example", kat_envelope,
                sizeof(kat_envelope), &want);
    ms_buf_cleanup(&want);
    ms_kms_master_free(m);
    EVP_PKEY_free(dev);
}

/* ---- the CA and a real S/MIME client ---- */

/* openssl cms -encrypt (a real process) of msg to cert_pem into out_der. */
static bool
openssl_encrypt(const char *msg, const char *cert_pem, const char *out_der)
{
    char cmd[1024];
    int k = snprintf(cmd, sizeof(cmd),
                     "openssl cms -encrypt -binary -aes256 -in '%s' "
                     "-outform DER -out '%s' '%s' 2>&1",
                     msg, out_der, cert_pem);

    assert_true(k > 0 && (size_t)k < sizeof(cmd));
    /* Our own mkdtemp paths, no quotes in them. */
    return system(cmd) == 0; /* NOLINT(concurrency-mt-unsafe) */
}

/* Decrypts the DER CMS file with key and cert; returns the plaintext. */
static void
cms_decrypt(ms_buf *out, const char *der_path, EVP_PKEY *key, X509 *cert)
{
    BIO *in = BIO_new_file(der_path, "rb");
    BIO *mem = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms;
    char *p;
    long n;

    assert_non_null(in);
    assert_non_null(mem);
    cms = d2i_CMS_bio(in, NULL);
    assert_non_null(cms);
    assert_int_equal(CMS_decrypt(cms, key, cert, NULL, mem, CMS_BINARY), 1);
    n = BIO_get_mem_data(mem, &p);
    assert_true(n > 0);
    assert_int_equal(ms_buf_append(out, p, (size_t)n), 0);
    CMS_ContentInfo_free(cms);
    BIO_free(mem);
    BIO_free(in);
}

/* One algorithm: CSR, CA issue, escrow, release to a device, then the
 * device's key decrypts what `openssl cms` encrypted to the certificate. */
static void
issue_and_decrypt(ms_ca *ca, ms_store *st, int alg, bool have_openssl)
{
    static const char body[] = "Hello Alice, only you can read this.\n";
    const ms_ca_identity id = {1, MAILBOX, NULL, NULL, NULL, NULL, NULL, NULL};
    char msg[256], pem[256], enc[256];
    uint8_t dpub[MS_KMS_X25519_LEN];
    const unsigned char *q;
    EVP_PKEY *dev = NULL, *k = NULL;
    ms_buf csr, der, blob, env, p8, plain;
    X509 *cert;
    FILE *fp;
    ms_error err;

    ms_buf_init(&csr, 0);
    ms_buf_init(&der, 0);
    assert_int_equal(ms_kms_csr_make(&csr, g->keys[alg], MAILBOX, &err), 0);
    if (ms_ca_issue(ca, st, &id, csr.data, csr.len, MS_LINT_ENCRYPTION, NULL,
                    &der, &err) != 0)
        fail_msg("%s: issue: %s", alg_names[alg], err.msg);
    q = der.data;
    cert = d2i_X509(NULL, &q, (long)der.len);
    assert_non_null(cert);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), g->keys[alg]), 1);

    /* Escrow, release, open on the device. */
    wrap_ok(&blob, g->m, KEY_ID, MAILBOX, &g->p8[alg]);
    assert_int_equal(ms_kms_device_keygen(&dev, dpub, &err), 0);
    ms_buf_init(&env, 0);
    assert_int_equal(ms_kms_release(&env, g->m, KEY_ID, MAILBOX, blob.data,
                                    blob.len, dpub, sizeof(dpub), &err),
                     0);
    ms_buf_init_secret(&p8, 0);
    assert_int_equal(ms_kms_open_from_server(&p8, dev, KEY_ID, MAILBOX,
                                             env.data, env.len, &err),
                     0);
    assert_int_equal(ms_kms_pkcs8_decode(&k, p8.data, p8.len, &err), 0);
    assert_int_equal(X509_check_private_key(cert, k), 1);

    if (have_openssl) {
        path_in(msg, sizeof(msg), "msg.txt");
        path_in(pem, sizeof(pem), "enc.pem");
        path_in(enc, sizeof(enc), "msg.p7m");
        write_file(msg, body, sizeof(body) - 1, 0600);
        (void)unlink(pem); /* may not exist */
        assert_non_null(fp = fopen(pem, "wb"));
        assert_int_equal(PEM_write_X509(fp, cert), 1);
        assert_int_equal(fclose(fp), 0);
        assert_true(openssl_encrypt(msg, pem, enc));
        ms_buf_init(&plain, 0);
        cms_decrypt(&plain, enc, k, cert);
        assert_int_equal(plain.len, sizeof(body) - 1);
        assert_memory_equal(plain.data, body, plain.len);
        ms_buf_cleanup(&plain);
    }
    EVP_PKEY_free(k);
    EVP_PKEY_free(dev);
    X509_free(cert);
    ms_buf_cleanup(&p8);
    ms_buf_cleanup(&env);
    ms_buf_cleanup(&blob);
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&csr);
}

static void
test_kms__ca_issue_and_cms_interop(void **state)
{
    ms_ca_init_options o = MS_CA_INIT_OPTIONS_INIT;
    /* NOLINTNEXTLINE(concurrency-mt-unsafe): tests are serial */
    bool have_openssl = system("openssl version >/dev/null 2>&1") == 0;
    char dir[256], url[300];
    ms_store *st = NULL;
    ms_ca *ca = NULL;
    ms_error err;

    (void)state;
    path_in(dir, sizeof(dir), "ca");
    o.insecure_keys = true;
    if (ms_ca_init_dir(dir, &o, &err) != 0 ||
        ms_ca_open(&ca, dir, NULL, &err) != 0)
        fail_msg("CA setup: %s", err.msg);
    (void)snprintf(url, sizeof(url), "sqlite:%s/mailseal.db", dir);
    assert_int_equal(ms_store_open(&st, url, &err), 0);
    if (!have_openssl)
        print_message("openssl not found: the CMS interop part is skipped\n");
    issue_and_decrypt(ca, st, 1, have_openssl); /* rsa-3072 */
    issue_and_decrypt(ca, st, 3, have_openssl); /* p-256 */
    ms_store_close(st);
    ms_ca_close(ca);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- allocation failures ---- */

/* Runs op with the nth ms_ allocation failing, for every n it makes. */
#define ALLOC_LOOP(setup, op, cleanup)                                         \
    do {                                                                       \
        size_t total_;                                                         \
        setup;                                                                 \
        (void)ms_alloc_fail_at(0);                                             \
        assert_int_equal((op), 0);                                             \
        total_ = ms_alloc_fail_at(0);                                          \
        cleanup;                                                               \
        assert_true(total_ >= 1);                                              \
        for (size_t n_ = 1; n_ <= total_; n_++) {                              \
            int rc_;                                                           \
            setup;                                                             \
            (void)ms_alloc_fail_at(n_);                                        \
            rc_ = (op);                                                        \
            (void)ms_alloc_fail_at(0);                                         \
            if (rc_ != MS_ENOMEM)                                              \
                fail_msg("allocation %zu of %zu: %s", n_, total_,              \
                         ms_status_name(rc_));                                 \
            cleanup;                                                           \
        }                                                                      \
    } while (0)

static void
test_kms__alloc_failure_loop(void **state)
{
    const ms_buf *p8 = &g->p8[3];
    uint8_t dpub[MS_KMS_X25519_LEN];
    ms_kms_master *m = NULL;
    EVP_PKEY *dev = NULL;
    ms_buf blob, env, out;
    ms_error err;

    (void)state;
    assert_int_equal(ms_kms_device_keygen(&dev, dpub, &err), 0);
    wrap_ok(&blob, g->m, KEY_ID, MAILBOX, p8);
    seal_ok(&env, dpub, KEY_ID, MAILBOX, p8);
    ALLOC_LOOP(
        ms_buf_init(&out, 0),
        ms_kms_wrap(&out, g->m, KEY_ID, MAILBOX, p8->data, p8->len, &err),
        ms_buf_cleanup(&out));
    ALLOC_LOOP(
        ms_buf_init_secret(&out, 0),
        ms_kms_unwrap(&out, g->m, KEY_ID, MAILBOX, blob.data, blob.len, &err),
        ms_buf_cleanup(&out));
    ALLOC_LOOP(ms_buf_init(&out, 0),
               ms_kms_seal_for_device(&out, dpub, sizeof(dpub), KEY_ID, MAILBOX,
                                      p8->data, p8->len, &err),
               ms_buf_cleanup(&out));
    ALLOC_LOOP(ms_buf_init_secret(&out, 0),
               ms_kms_open_from_server(&out, dev, KEY_ID, MAILBOX, env.data,
                                       env.len, &err),
               ms_buf_cleanup(&out));
    ALLOC_LOOP(ms_buf_init(&out, 0),
               ms_kms_release(&out, g->m, KEY_ID, MAILBOX, blob.data, blob.len,
                              dpub, sizeof(dpub), &err),
               ms_buf_cleanup(&out));
    ALLOC_LOOP(ms_buf_init_secret(&out, 0),
               ms_kms_pkcs8_encode(&out, g->keys[3], &err),
               ms_buf_cleanup(&out));
    ALLOC_LOOP(ms_buf_init(&out, 0),
               ms_kms_csr_make(&out, g->keys[3], MAILBOX, &err),
               ms_buf_cleanup(&out));
    ALLOC_LOOP((void)0, ms_kms_master_load(&m, g->master_path, &err),
               (ms_kms_master_free(m), m = NULL));
    ms_buf_cleanup(&blob);
    ms_buf_cleanup(&env);
    EVP_PKEY_free(dev);
    ERR_clear_error(); /* OpenSSL may note our failed allocations */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kms__master_create_and_load),
        cmocka_unit_test(test_kms__master_mode_and_owner),
        cmocka_unit_test(test_kms__master_damaged),
        cmocka_unit_test(test_kms__mailbox_check),
        cmocka_unit_test(test_kms__names_refused),
        cmocka_unit_test(test_kms__keygen),
        cmocka_unit_test(test_kms__pkcs8),
        cmocka_unit_test(test_kms__wrap_round_trip),
        cmocka_unit_test(test_kms__wrap_tamper),
        cmocka_unit_test(test_kms__wrap_wrong_binding),
        cmocka_unit_test(test_kms__wrap_bad_input),
        cmocka_unit_test(test_kms__envelope_round_trip),
        cmocka_unit_test(test_kms__envelope_tamper),
        cmocka_unit_test(test_kms__envelope_wrong_binding),
        cmocka_unit_test(test_kms__seal_bad_device_key),
        cmocka_unit_test(test_kms__release),
        cmocka_unit_test(test_kms__known_answers),
        cmocka_unit_test(test_kms__ca_issue_and_cms_interop),
        cmocka_unit_test(test_kms__alloc_failure_loop),
        /* Last: it sets up and tears down the process's secure heap. */
        cmocka_unit_test(test_kms__master_secure_heap),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
