/*
 * tests/unit/test_profile.c - lib/profile: the client profile directory,
 * its file modes and refusals, settings, key pairs with and without a
 * passphrase, PKCS#12 export and import, the certificate cache and the
 * continuity records. Real files in a fresh temporary directory.
 */
#include <sys/stat.h>

/* cmocka.h needs these first (clang-format would sort it up). */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <mailseal/mailseal.h>

#include "mime/addr.h"
#include "ms_test.h"
#include "profile/profile.h"
#include "util/alloc.h"
#include "x509/load.h"

static char base[256];
static char dir[300];
static int counter;

/* A fresh, empty profile path below base for each test. */
static int
setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "%s/p%d", base, ++counter);
    return 0;
}

static int
group_setup(void **state)
{
    const char *tmp = getenv("TMPDIR");

    (void)snprintf(base, sizeof(base), "%s/ms-profile-XXXXXX",
                   tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(base) == NULL)
        return -1;
    return ms_test_library_setup(state);
}

static int
group_teardown(void **state)
{
    char cmd[400];

    (void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return -1;
    return ms_test_library_teardown(state);
}

static EVP_PKEY *
pki_key(const char *name)
{
    BIO *b = BIO_new_file(ms_test_pki(name), "r");
    EVP_PKEY *k;

    assert_non_null(b);
    k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static mode_t
mode_of(const char *rel)
{
    char path[512];
    struct stat st;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static void
chmod_rel(const char *rel, mode_t m)
{
    char path[512];

    (void)snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(chmod(path, m), 0);
}

static ms_profile *
new_profile(void)
{
    ms_profile *p = NULL;
    ms_error err;

    assert_int_equal(ms_profile_open(&p, dir, MS_PROFILE_CREATE, &err), 0);
    return p;
}

/* Adds the PKI's name-sign and name-enc pairs (with the level's chain). */
static void
add_pki_pairs(ms_profile *p, const char *sign, const char *enc,
              const char *chain)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    EVP_PKEY *k;
    X509 *x;
    ms_error err;
    char name[64];

    assert_non_null(sk);
    assert_int_equal(ms_x509_load_certs(sk, ms_test_pki(chain), &err), 0);
    (void)snprintf(name, sizeof(name), "%s.key", sign);
    k = pki_key(name);
    (void)snprintf(name, sizeof(name), "%s.pem", sign);
    x = ms_test_cert(name);
    assert_int_equal(ms_profile_add_pair(p, MS_PROFILE_SIGN, k, x, sk, &err),
                     0);
    EVP_PKEY_free(k);
    X509_free(x);
    if (enc != NULL) {
        (void)snprintf(name, sizeof(name), "%s.key", enc);
        k = pki_key(name);
        (void)snprintf(name, sizeof(name), "%s.pem", enc);
        x = ms_test_cert(name);
        assert_int_equal(
            ms_profile_add_pair(p, MS_PROFILE_ENC, k, x, NULL, &err), 0);
        EVP_PKEY_free(k);
        X509_free(x);
    }
    sk_X509_pop_free(sk, X509_free);
}

static void
test_profile__path(void **state)
{
    char *path = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(setenv("MAILSEAL_HOME", "/x/home", 1), 0);
    assert_int_equal(unsetenv("MAILSEAL_PROFILE"), 0);
    assert_int_equal(ms_profile_path(&path, NULL, &err), 0);
    assert_string_equal(path, "/x/home/default");
    ms_free(path);
    assert_int_equal(setenv("MAILSEAL_PROFILE", "work", 1), 0);
    assert_int_equal(ms_profile_path(&path, NULL, &err), 0);
    assert_string_equal(path, "/x/home/work");
    ms_free(path);
    assert_int_equal(ms_profile_path(&path, "bob", &err), 0);
    assert_string_equal(path, "/x/home/bob"); /* --profile wins */
    ms_free(path);
    assert_int_equal(unsetenv("MAILSEAL_HOME"), 0);
    assert_int_equal(unsetenv("MAILSEAL_PROFILE"), 0);
    assert_int_equal(setenv("XDG_DATA_HOME", "/x/xdg", 1), 0);
    assert_int_equal(ms_profile_path(&path, NULL, &err), 0);
    assert_string_equal(path, "/x/xdg/mailseal/default");
    ms_free(path);
    assert_int_equal(unsetenv("XDG_DATA_HOME"), 0);
    assert_int_equal(setenv("HOME", "/x/h", 1), 0);
    assert_int_equal(ms_profile_path(&path, NULL, &err), 0);
    assert_string_equal(path, "/x/h/.local/share/mailseal/default");
    ms_free(path);
    assert_int_equal(ms_profile_path(&path, "../etc", &err), MS_EINVAL);
    assert_null(path);
    assert_int_equal(ms_profile_path(&path, ".hidden", &err), MS_EINVAL);
    assert_int_equal(ms_profile_path(&path, "", &err), MS_EINVAL);
    assert_int_equal(ms_profile_path(&path, "a/b", &err), MS_EINVAL);
}

static void
test_profile__create_modes(void **state)
{
    ms_profile *p = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), MS_ENOTFOUND);
    assert_null(p);
    p = new_profile();
    assert_int_equal(mode_of(""), 0700);
    assert_int_equal(ms_profile_set(p, "address", "Alice@Example.com", &err),
                     0);
    assert_int_equal(ms_profile_set(p, "encrypt", "always", &err), 0);
    assert_int_equal(mode_of("profile.conf"), 0600);
    assert_int_equal(ms_profile_set(p, "encrypt", "sometimes", &err),
                     MS_EINVAL);
    assert_int_equal(ms_profile_set(p, "colour", "blue", &err), MS_EINVAL);
    assert_int_equal(ms_profile_set(p, "device", "a\nserver_url = x", &err),
                     MS_EINVAL);
    assert_int_equal(ms_profile_set(p, "address", "a b@example.com", &err),
                     MS_EINVAL);
    ms_profile_free(p);
    /* Read back from the file. */
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), 0);
    assert_string_equal(ms_profile_get0_conf(p)->address, "Alice@Example.com");
    assert_int_equal(ms_profile_get0_conf(p)->encrypt,
                     MS_PROFILE_ENCRYPT_ALWAYS);
    assert_null(ms_profile_get0_conf(p)->server_url);
    ms_profile_free(p);
}

static void
test_profile__refusals(void **state)
{
    ms_profile *p;
    ms_error err;
    char path[512];

    (void)state;
    p = new_profile();
    assert_int_equal(ms_profile_set(p, "device", "laptop", &err), 0);
    ms_profile_free(p);
    p = NULL;
    /* A directory others can read. */
    chmod_rel("", 0750);
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), MS_EPOLICY);
    assert_non_null(strstr(err.msg, "chmod 700"));
    chmod_rel("", 0700);
    /* A settings file others can read. */
    chmod_rel("profile.conf", 0644);
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), MS_EPOLICY);
    assert_non_null(strstr(err.msg, "chmod 600"));
    chmod_rel("profile.conf", 0600);
    /* A symbolic link in place of a file. */
    (void)snprintf(path, sizeof(path), "%s/profile.conf", dir);
    {
        char real[520];

        (void)snprintf(real, sizeof(real), "%s/real.conf", dir);
        assert_int_equal(rename(path, real), 0);
        assert_int_equal(symlink(real, path), 0);
    }
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), MS_EPOLICY);
    assert_non_null(strstr(err.msg, "symbolic link"));
    assert_null(p);
    /* Not a directory at all. */
    (void)snprintf(path, sizeof(path), "%s/real.conf", dir);
    assert_int_equal(ms_profile_open(&p, path, 0, &err), MS_EPOLICY);
    if (geteuid() == 0)
        return; /* root: the owner check needs another user's file */
    assert_int_equal(ms_profile_open(&p, "/", 0, &err), MS_EPOLICY);
}

static void
test_profile__pairs_plain(void **state)
{
    ms_profile *p = new_profile();
    ms_identity *id = NULL;
    ms_error err;

    (void)state;
    assert_int_equal(ms_profile_load_signer(&id, p, &err), MS_ENOTFOUND);
    add_pki_pairs(p, "v1-sign", "v1-enc", "v1-chain.pem");
    assert_int_equal(ms_profile_count(p, MS_PROFILE_SIGN), 1);
    assert_int_equal(ms_profile_count(p, MS_PROFILE_ENC), 1);
    assert_int_equal(mode_of("sign"), 0700);
    assert_int_equal(mode_of("enc"), 0700);
    assert_int_equal(ms_profile_load_signer(&id, p, &err), 0);
    assert_non_null(id->enc_cert);
    assert_int_equal(sk_X509_num(id->chain), 1);
    ms_identity_free(id);
    id = NULL;
    /* The same pair again is a no-op. */
    add_pki_pairs(p, "v1-sign", NULL, "v1-chain.pem");
    assert_int_equal(ms_profile_count(p, MS_PROFILE_SIGN), 1);
    ms_profile_free(p);
    p = NULL;
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), 0);
    assert_int_equal(ms_profile_load_decryptor(&id, p, 0, &err), 0);
    ms_identity_free(id);
    id = NULL;
    assert_int_equal(ms_profile_load_decryptor(&id, p, 1, &err), MS_ENOTFOUND);
    ms_profile_free(p);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_profile__key_mismatch(void **state)
{
    ms_profile *p = new_profile();
    EVP_PKEY *k = pki_key("v2-sign.key");
    X509 *x = ms_test_cert("v1-sign.pem");
    ms_error err;

    (void)state;
    assert_int_equal(ms_profile_add_pair(p, MS_PROFILE_SIGN, k, x, NULL, &err),
                     MS_EINVAL);
    assert_int_equal(ms_profile_count(p, MS_PROFILE_SIGN), 0);
    EVP_PKEY_free(k);
    X509_free(x);
    ms_profile_free(p);
    ERR_clear_error();
}

static char good_pass[] = "correct horse";
static char bad_pass[] = "wrong";

static int
pass_fn(ms_buf *out, bool confirm, void *arg, ms_error *err)
{
    (void)confirm;
    (void)err;
    return ms_buf_puts(out, (const char *)arg);
}

static void
test_profile__passphrase(void **state)
{
    ms_profile *p = new_profile();
    ms_identity *id = NULL;
    ms_buf key;
    ms_error err;
    char rel[128];

    (void)state;
    assert_int_equal(ms_profile_set(p, "passphrase", "yes", &err), 0);
    /* No way to ask: storing a key fails, nothing is written. */
    {
        EVP_PKEY *k = pki_key("v3-sign.key");
        X509 *x = ms_test_cert("v3-sign.pem");

        assert_int_equal(
            ms_profile_add_pair(p, MS_PROFILE_SIGN, k, x, NULL, &err),
            MS_EPOLICY);
        EVP_PKEY_free(k);
        X509_free(x);
    }
    ms_profile_set_pass_fn(p, pass_fn, good_pass);
    add_pki_pairs(p, "v3-sign", NULL, "v3-chain.pem");
    /* The key file is encrypted PKCS#8. */
    ms_buf_init(&key, MS_PROFILE_FILE_MAX);
    {
        char hex[80];
        unsigned char md[32];
        unsigned int n;
        X509 *x = ms_profile_get0_cert(p, MS_PROFILE_SIGN, 0);

        assert_true(X509_digest(x, EVP_sha256(), md, &n));
        for (int i = 0; i < 16; i++)
            (void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
        (void)snprintf(rel, sizeof(rel), "sign/%s.key", hex);
    }
    assert_int_equal(ms_profile_file_read(&key, p, rel, &err), 0);
    assert_non_null(strstr((char *)key.data, "ENCRYPTED PRIVATE KEY"));
    assert_int_equal(mode_of(rel), 0600);
    ms_buf_cleanup(&key);
    ms_profile_free(p);
    /* A wrong passphrase is a clear error; the right one works. */
    assert_int_equal(ms_profile_open(&p, dir, 0, &err), 0);
    ms_profile_set_pass_fn(p, pass_fn, bad_pass);
    assert_int_equal(ms_profile_load_signer(&id, p, &err), MS_EBADSIG);
    assert_non_null(strstr(err.msg, "wrong passphrase"));
    ms_profile_set_pass_fn(p, pass_fn, good_pass);
    assert_int_equal(ms_profile_load_signer(&id, p, &err), 0);
    ms_identity_free(id);
    /* A key file others can read is refused. */
    chmod_rel(rel, 0640);
    id = NULL;
    assert_int_equal(ms_profile_load_signer(&id, p, &err), MS_EPOLICY);
    assert_null(id);
    ms_profile_free(p);
}

static ms_profile *
exported_profile(ms_buf *der, unsigned flags)
{
    ms_profile *p = new_profile();
    ms_error err;

    assert_int_equal(ms_profile_set(p, "address", "eve@example.net", &err), 0);
    add_pki_pairs(p, "v1-sign", "v1-enc", "v1-chain.pem");
    ms_buf_init(der, MS_PROFILE_FILE_MAX);
    assert_int_equal(ms_profile_export_p12(der, p, "pw", flags, &err), 0);
    return p;
}

static void
test_profile__p12_round_trip(void **state)
{
    const unsigned flags[] = {0, MS_PROFILE_P12_LEGACY};
    ms_error err;

    (void)state;
    for (size_t f = 0; f < 2; f++) {
        ms_profile *a, *b;
        ms_buf der;
        size_t ns, ne;

        a = exported_profile(&der, flags[f]);
        setup(NULL);
        b = new_profile();
        assert_int_equal(
            ms_profile_import_p12(b, der.data, der.len, "nope", &ns, &ne, &err),
            MS_EBADSIG);
        assert_non_null(strstr(err.msg, "wrong password"));
        assert_int_equal(
            ms_profile_import_p12(b, der.data, der.len, "pw", &ns, &ne, &err),
            0);
        assert_int_equal(ns, 1);
        assert_int_equal(ne, 1);
        assert_string_equal(ms_profile_get0_conf(b)->address,
                            "eve@example.net");
        assert_int_equal(X509_cmp(ms_profile_get0_cert(a, MS_PROFILE_SIGN, 0),
                                  ms_profile_get0_cert(b, MS_PROFILE_SIGN, 0)),
                         0);
        assert_int_equal(X509_cmp(ms_profile_get0_cert(a, MS_PROFILE_ENC, 0),
                                  ms_profile_get0_cert(b, MS_PROFILE_ENC, 0)),
                         0);
        ms_profile_free(a);
        ms_profile_free(b);
        ms_buf_cleanup(&der);
        setup(NULL);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_profile__p12_only_one_kind(void **state)
{
    ms_profile *a, *b;
    ms_buf der;
    size_t ns, ne;
    ms_error err;

    (void)state;
    a = exported_profile(&der, MS_PROFILE_P12_NO_SIGN);
    setup(NULL);
    b = new_profile();
    assert_int_equal(
        ms_profile_import_p12(b, der.data, der.len, "pw", &ns, &ne, &err), 0);
    assert_int_equal(ns, 0);
    assert_int_equal(ne, 1);
    ms_profile_free(b);
    ms_buf_cleanup(&der);
    ms_profile_free(a);
}

/* A PKCS#12 made by OpenSSL from key (may be NULL) and cert. */
static void
make_p12(ms_buf *out, const char *key, const char *cert)
{
    EVP_PKEY *k = key != NULL ? pki_key(key) : NULL;
    X509 *x = ms_test_cert(cert);
    PKCS12 *p12;
    unsigned char *der = NULL;
    int n;

    p12 = PKCS12_create("pw", "x", k, x, NULL, 0, 0, 0, 0, 0);
    assert_non_null(p12);
    n = i2d_PKCS12(p12, &der);
    assert_true(n > 0);
    ms_buf_init(out, 0);
    assert_int_equal(ms_buf_append(out, der, (size_t)n), 0);
    OPENSSL_free(der);
    PKCS12_free(p12);
    EVP_PKEY_free(k);
    X509_free(x);
}

static void
test_profile__p12_errors(void **state)
{
    ms_profile *p = new_profile();
    ms_buf der;
    ms_error err;

    (void)state;
    /* Not a PKCS#12. */
    assert_int_equal(
        ms_profile_import_p12(p, "junk", 4, "pw", NULL, NULL, &err),
        MS_EMALFORMED);
    /* A certificate without its key. */
    make_p12(&der, NULL, "v2-sign.pem");
    assert_int_equal(
        ms_profile_import_p12(p, der.data, der.len, "pw", NULL, NULL, &err),
        MS_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no private key"));
    ms_buf_cleanup(&der);
    /* The address of the profile is not the certificate's. */
    assert_int_equal(ms_profile_set(p, "address", "bob@example.org", &err), 0);
    make_p12(&der, "v2-sign.key", "v2-sign.pem");
    assert_int_equal(
        ms_profile_import_p12(p, der.data, der.len, "pw", NULL, NULL, &err),
        MS_EPOLICY);
    ms_buf_cleanup(&der);
    assert_int_equal(ms_profile_count(p, MS_PROFILE_SIGN), 0);
    /* Nothing to export from an empty profile. */
    ms_buf_init(&der, 0);
    assert_int_equal(ms_profile_export_p12(&der, p, "pw", 0, &err),
                     MS_ENOTFOUND);
    assert_int_equal(ms_profile_export_p12(&der, p, "", 0, &err), MS_EINVAL);
    ms_buf_cleanup(&der);
    ms_profile_free(p);
    ERR_clear_error();
}

static void
test_profile__cache_and_seen(void **state)
{
    ms_profile *p = new_profile();
    STACK_OF(X509) *sk = sk_X509_new_null();
    ms_profile_seen s, got;
    char norm[MS_ADDR_NORM_MAX + 1];
    ms_error err;

    (void)state;
    /* Cache names are normal addresses (test_addr.c has all the rules). */
    assert_int_equal(
        ms_addr_normalise(norm, sizeof(norm), "Bob@Example.ORG", &err), 0);
    assert_string_equal(norm, "bob@example.org");
    assert_int_equal(
        ms_addr_normalise(norm, sizeof(norm), "\"a\"@example.org", &err),
        MS_EINVAL);
    assert_int_equal(ms_profile_cache_get(sk, p, "a/b@example.org", &err),
                     MS_EINVAL);
    assert_int_equal(ms_profile_cache_get(sk, p, "../x@example.org", &err),
                     MS_EINVAL);
    assert_int_equal(ms_profile_cache_get(sk, p, "bob", &err), MS_EINVAL);
    assert_int_equal(ms_profile_cache_get(sk, p, "a@b@c", &err), MS_EINVAL);
    assert_int_equal(ms_profile_cache_get(sk, p, "john.doe@example.org", &err),
                     MS_ENOTFOUND);
    assert_true(sk_X509_push(sk, ms_test_cert("v2-enc.pem")) > 0);
    assert_int_equal(ms_profile_cache_put(p, "John.Doe@example.org", sk, &err),
                     0);
    assert_int_equal(mode_of("certs/john.doe@example.org.pem"), 0600);
    sk_X509_pop_free(sk, X509_free);
    sk = sk_X509_new_null();
    assert_int_equal(ms_profile_cache_get(sk, p, "john.doe@example.org", &err),
                     0);
    assert_int_equal(sk_X509_num(sk), 1);
    sk_X509_pop_free(sk, X509_free);

    memset(&s, 0, sizeof(s));
    memset(s.fingerprint, 'a', 64);
    (void)snprintf(s.issuer, sizeof(s.issuer), "CN=Some CA # with hash");
    s.level = 3;
    s.first_seen = MS_TEST_NOW - 86400;
    s.last_seen = MS_TEST_NOW;
    assert_int_equal(ms_profile_seen_get(&got, p, "x@example.org", &err),
                     MS_ENOTFOUND);
    assert_int_equal(ms_profile_seen_put(p, "X@example.org", &s, &err), 0);
    assert_int_equal(ms_profile_seen_get(&got, p, "x@example.org", &err), 0);
    assert_memory_equal(&got, &s, sizeof(s));
    s.level = 5;
    assert_int_equal(ms_profile_seen_put(p, "x@example.org", &s, &err),
                     MS_EINVAL);
    ms_profile_free(p);
}

static void
test_profile__alloc_failures(void **state)
{
    ms_profile *p = new_profile();
    ms_error err;
    int rc;

    (void)state;
    assert_int_equal(ms_profile_set(p, "address", "eve@example.net", &err), 0);
    add_pki_pairs(p, "v1-sign", "v1-enc", "v1-chain.pem");
    ms_profile_free(p);
    for (size_t n = 1; n < 200; n++) {
        p = NULL;
        (void)ms_alloc_fail_at(n);
        rc = ms_profile_open(&p, dir, 0, &err);
        (void)ms_alloc_fail_at(0);
        if (rc == 0) {
            ms_profile_free(p);
            break;
        }
        assert_int_equal(rc, MS_ENOMEM);
        assert_null(p);
        ERR_clear_error();
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_profile__path, setup),
        cmocka_unit_test_setup(test_profile__create_modes, setup),
        cmocka_unit_test_setup(test_profile__refusals, setup),
        cmocka_unit_test_setup(test_profile__pairs_plain, setup),
        cmocka_unit_test_setup(test_profile__key_mismatch, setup),
        cmocka_unit_test_setup(test_profile__passphrase, setup),
        cmocka_unit_test_setup(test_profile__p12_round_trip, setup),
        cmocka_unit_test_setup(test_profile__p12_only_one_kind, setup),
        cmocka_unit_test_setup(test_profile__p12_errors, setup),
        cmocka_unit_test_setup(test_profile__cache_and_seen, setup),
        cmocka_unit_test_setup(test_profile__alloc_failures, setup),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
