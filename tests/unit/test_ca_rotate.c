/*
 * tests/unit/test_ca_rotate.c - lib/ca/{rotate,retired}.c: data directories
 * made in a temporary directory (insecure keys for speed, one encrypted
 * case) and rotated: the OCSP responders (new serials, chains, old files
 * in retired/, a response of the real responder signed by the new key
 * verifies with OCSP_basic_verify), the TSA under a wrong passphrase
 * (refused, every file unchanged) and the right one, an issuing CA (what
 * the old key issued verifies against the retired certificate, what the
 * new key issues against the new one, both up to the root), and failures
 * that must leave the directory as it was.
 */
#include <sys/stat.h>

#include <dirent.h>
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <mailseal/mailseal.h>

#include "ca/hierarchy.h"
#include "ca/issue.h"
#include "ca/keys.h"
#include "ca/ocsp.h"
#include "ca/rotate.h"
#include "ms_test.h"
#include "store/store.h"
#include "util/alloc.h"
#include "x509/info.h"

#define T_INIT   MS_TEST_NOW
#define T_ISSUE  (MS_TEST_NOW + 86400)
#define T_ROTATE (MS_TEST_NOW + (time_t)2 * 86400)
#define T_AFTER  (MS_TEST_NOW + (time_t)2 * 86400 + 3600)
#define T_CHECK  (MS_TEST_NOW + (time_t)3 * 86400)
#define PASS     "correct horse battery staple"

static const ms_ca_identity id3 = {3,
                                   "info@example.com",
                                   NULL,
                                   NULL,
                                   "Example GmbH",
                                   "NTRDE-HRB123456",
                                   "DE",
                                   NULL};

static char tmp_root[64];
static int dir_count;

/* ---- helpers ---- */

static void
path_in(char *out, size_t n, const char *dir, const char *rel)
{
    int k = snprintf(out, n, "%s/%s", dir, rel);

    assert_true(k > 0 && (size_t)k < n);
}

/* A new data directory under the temporary root; pass NULL: insecure. */
static void
make_dir(char *out, size_t n, const char *pass)
{
    ms_ca_init_options o = MS_CA_INIT_OPTIONS_INIT;
    ms_error err;
    int k = snprintf(out, n, "%s/d%d", tmp_root, dir_count++);

    assert_true(k > 0 && (size_t)k < n);
    o.insecure_keys = pass == NULL;
    o.passphrase = pass;
    o.now = T_INIT;
    if (ms_ca_init_dir(out, &o, &err) != 0)
        fail_msg("init: %s", err.msg);
}

static ms_ca *
open_ok(const char *dir, const char *pass)
{
    ms_ca *ca = NULL;
    ms_error err;

    if (ms_ca_open(&ca, dir, pass, &err) != 0)
        fail_msg("ms_ca_open: %s", err.msg);
    assert_int_equal(ERR_peek_error(), 0);
    return ca;
}

static ms_store *
store_of(const char *dir)
{
    char url[512];
    ms_store *st = NULL;
    ms_error err;

    (void)snprintf(url, sizeof(url), "sqlite:%s/mailseal.db", dir);
    assert_int_equal(ms_store_open(&st, url, &err), 0);
    return st;
}

static uint64_t
audit_rows(const char *dir)
{
    ms_store *st = store_of(dir);
    uint64_t rows = 0;
    ms_error err;

    assert_int_equal(ms_store_audit_verify(st, &rows, &err), 0);
    ms_store_close(st);
    return rows;
}

static int
rotate(const char *dir, unsigned what, int level, const char *pass,
       ms_error *err)
{
    ms_ca_rotate_options o = MS_CA_ROTATE_OPTIONS_INIT;

    o.what = what;
    o.level = level;
    o.passphrase = pass;
    o.now = T_ROTATE;
    return ms_ca_rotate(dir, &o, err);
}

static X509 *
read_cert(const char *path)
{
    FILE *fp = fopen(path, "rb");
    X509 *x;

    assert_non_null(fp);
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    (void)fclose(fp); /* read-only */
    assert_non_null(x);
    return x;
}

static bool
exists(const char *dir, const char *rel, mode_t *mode)
{
    char p[512];
    struct stat st;

    path_in(p, sizeof(p), dir, rel);
    if (lstat(p, &st) != 0)
        return false;
    if (mode != NULL)
        *mode = st.st_mode & 0777;
    return true;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* SHA-256 over every file name and content in dir and its known
 * subdirectories (empty directories do not count). */
static void
hash_tree(const char *dir, unsigned char md[32])
{
    static const char *const subs[] = {"", "certs", "private", "certs/retired",
                                       "private/retired"};
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    char names_seen[64][128];

    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    for (size_t s = 0; s < sizeof(subs) / sizeof(subs[0]); s++) {
        char p[512], f[768];
        struct dirent *de;
        int n = 0;
        size_t k;
        DIR *d;

        path_in(p, sizeof(p), dir, subs[s]);
        if ((d = opendir(p)) == NULL)
            continue; /* a missing directory hashes like an empty one */
        while ((de = readdir(d)) != NULL) { /* NOLINT(concurrency-mt-unsafe) */
            assert_true(n < 64);
            k = (size_t)snprintf(names_seen[n++], 128, "%s", de->d_name);
            assert_true(k < 128);
        }
        (void)closedir(d);
        qsort(names_seen, (size_t)n, 128, cmp_name);
        for (int i = 0; i < n; i++) {
            unsigned char buf[4096];
            struct stat st;
            FILE *fp;

            path_in(f, sizeof(f), p, names_seen[i]);
            assert_int_equal(lstat(f, &st), 0);
            if (S_ISDIR(st.st_mode))
                continue; /* retired/ may appear empty: walked above */
            assert_int_equal(
                EVP_DigestUpdate(c, names_seen[i], strlen(names_seen[i]) + 1),
                1);
            if (!S_ISREG(st.st_mode))
                continue;
            assert_non_null(fp = fopen(f, "rb"));
            while ((k = fread(buf, 1, sizeof(buf), fp)) > 0)
                assert_int_equal(EVP_DigestUpdate(c, buf, k), 1);
            (void)fclose(fp);
        }
    }
    assert_int_equal(EVP_DigestFinal_ex(c, md, NULL), 1);
    EVP_MD_CTX_free(c);
}

/* X509_verify_cert of leaf with root as the only anchor and the given
 * intermediates, at T_CHECK. */
static int
chain_ok(X509 *root, X509 *leaf, X509 *ca1, X509 *ca2)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int ok;

    assert_non_null(store);
    assert_non_null(ctx);
    assert_non_null(untrusted);
    assert_int_equal(X509_STORE_add_cert(store, root), 1);
    if (ca1 != NULL)
        assert_true(sk_X509_push(untrusted, ca1) > 0);
    if (ca2 != NULL)
        assert_true(sk_X509_push(untrusted, ca2) > 0);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), T_CHECK);
    ok = X509_verify_cert(ctx);
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    ERR_clear_error(); /* a refused chain is an answer here */
    return ok;
}

/* A DER CSR for key asking for the mailbox of id. */
static void
make_csr(ms_buf *out, EVP_PKEY *key, const char *mailbox)
{
    X509_REQ *r = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    unsigned char *p = NULL;
    char san[256];
    int len;

    assert_non_null(r);
    assert_non_null(exts);
    (void)snprintf(san, sizeof(san), "email:%s", mailbox);
    assert_int_equal(X509_REQ_set_version(r, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_REQ_set_pubkey(r, key), 1);
    assert_true(sk_X509_EXTENSION_push(
                    exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
                                              san)) > 0);
    assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
    len = i2d_X509_REQ(r, &p);
    assert_true(len > 0);
    ms_buf_reset(out);
    assert_int_equal(ms_buf_append(out, p, (size_t)len), 0);
    OPENSSL_free(p);
    X509_REQ_free(r);
}

/* Issues a V3 signing certificate with ca at time now. */
static X509 *
issue_v3(const ms_ca *ca, const char *dir, time_t now)
{
    ms_ca_issue_options o = MS_CA_ISSUE_OPTIONS_INIT;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ms_store *st = store_of(dir);
    const unsigned char *p;
    ms_buf csr, out;
    ms_error err;
    X509 *x;

    assert_non_null(key);
    ms_buf_init(&csr, 0);
    ms_buf_init(&out, 0);
    make_csr(&csr, key, id3.mailbox);
    o.now = now;
    if (ms_ca_issue(ca, st, &id3, csr.data, csr.len, MS_LINT_SIGNING, &o, &out,
                    &err) != 0)
        fail_msg("issue: %s", err.msg);
    p = out.data;
    x = d2i_X509(NULL, &p, (long)out.len);
    assert_non_null(x);
    ms_buf_cleanup(&csr);
    ms_buf_cleanup(&out);
    ms_store_close(st);
    EVP_PKEY_free(key);
    return x;
}

static char *
serial_of(X509 *x)
{
    char *s = ms_x509_serial_hex(x);

    assert_non_null(s);
    return s;
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    if (ms_test_library_setup(state) != 0)
        return -1;
    memcpy(tmp_root, "/tmp/ms-rot-XXXXXX", sizeof("/tmp/ms-rot-XXXXXX"));
    if (mkdtemp(tmp_root) == NULL)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    char cmd[128];

    (void)snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmp_root);
    /* Our own mkdtemp name, no quotes in it. */
    if (system(cmd) != 0) /* NOLINT(concurrency-mt-unsafe) */
        return -1;
    return ms_test_library_teardown(state);
}

/* ---- OCSP responders ---- */

/* Asks the real responder (new responder of level 3) about leaf and
 * checks the answer with OCSP_basic_verify against root + CA. */
static void
assert_ocsp_verifies(const ms_ca *ca, const char *dir, X509 *leaf)
{
    ms_ocsp_options oo = MS_OCSP_OPTIONS_INIT;
    time_t now = T_AFTER;
    ms_ocsp_responder *r = NULL;
    ms_store *st = store_of(dir);
    X509 *issuer = ms_ca_get0_issuer_cert(ca, 3);
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    OCSP_RESPONSE *resp = NULL;
    OCSP_BASICRESP *bs = NULL;
    STACK_OF(X509) *extra = sk_X509_new_null();
    X509_STORE *xs = X509_STORE_new();
    X509 *signer = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    int status = -1, reason = -1, len;
    ms_buf out;
    ms_error err;

    assert_non_null(req);
    assert_non_null(id);
    assert_non_null(extra);
    assert_non_null(xs);
    oo.clock = ms_test_clock;
    oo.clock_arg = &now;
    assert_int_equal(ms_ocsp_responder_new(&r, &oo, &err), 0);
    if (ms_ocsp_responder_add_issuer(r, issuer, ms_ca_name(3),
                                     ms_ca_get0_ocsp_cert(ca, 3),
                                     ms_ca_get0_ocsp_key(ca, 3), &err) != 0)
        fail_msg("add_issuer: %s", err.msg);
    assert_non_null(OCSP_request_add0_id(req, id));
    len = i2d_OCSP_REQUEST(req, &der);
    assert_true(len > 0);
    ms_buf_init(&out, 65536);
    if (ms_ocsp_respond(r, st, der, (size_t)len, &out, &err) != 0)
        fail_msg("respond: %s", err.msg);
    p = out.data;
    assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)out.len));
    assert_int_equal(OCSP_response_status(resp),
                     OCSP_RESPONSE_STATUS_SUCCESSFUL);
    assert_non_null(bs = OCSP_response_get1_basic(resp));
    /* Signed by the new responder. */
    assert_int_equal(OCSP_resp_get0_signer(bs, &signer, NULL), 1);
    assert_int_equal(X509_cmp(signer, ms_ca_get0_ocsp_cert(ca, 3)), 0);
    assert_int_equal(X509_STORE_add_cert(xs, ms_ca_get0_root(ca)), 1);
    X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(xs), T_CHECK);
    assert_true(sk_X509_push(extra, issuer) > 0);
    if (OCSP_basic_verify(bs, extra, xs, 0) != 1)
        fail_msg("OCSP_basic_verify: %s",
                 ERR_reason_error_string(ERR_peek_last_error()));
    id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    assert_int_equal(
        OCSP_resp_find_status(bs, id, &status, &reason, NULL, NULL, NULL), 1);
    assert_int_equal(status, V_OCSP_CERTSTATUS_GOOD);
    OCSP_CERTID_free(id);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    sk_X509_free(extra);
    X509_STORE_free(xs);
    OPENSSL_free(der);
    OCSP_REQUEST_free(req);
    ms_buf_cleanup(&out);
    ms_ocsp_responder_free(r);
    ms_store_close(st);
    assert_int_equal(ERR_peek_error(), 0);
}

static void
test_ca_rotate__ocsp(void **state)
{
    char dir[256], rel[160];
    char *old[5] = {NULL};
    X509 *oldcert[5] = {NULL};
    uint64_t rows;
    ms_ca *ca;
    ms_error err;
    mode_t mode = 0;

    (void)state;
    make_dir(dir, sizeof(dir), NULL);
    ca = open_ok(dir, NULL);
    for (int l = 1; l <= 4; l++) {
        oldcert[l] = X509_dup(ms_ca_get0_ocsp_cert(ca, l));
        old[l] = serial_of(oldcert[l]);
    }
    ms_ca_close(ca);
    rows = audit_rows(dir);
    if (rotate(dir, MS_CA_ROTATE_OCSP, 0, NULL, &err) != 0)
        fail_msg("rotate: %s", err.msg);
    assert_int_equal(ERR_peek_error(), 0);
    assert_int_equal(audit_rows(dir), rows + 4);
    ca = open_ok(dir, NULL);
    for (int l = 1; l <= 4; l++) {
        X509 *now = ms_ca_get0_ocsp_cert(ca, l);
        char *fresh = serial_of(now);
        X509 *kept;

        assert_string_not_equal(fresh, old[l]);
        assert_int_equal(X509_check_issued(ms_ca_get0_issuer_cert(ca, l), now),
                         X509_V_OK);
        assert_int_equal(chain_ok(ms_ca_get0_root(ca), now,
                                  ms_ca_get0_issuer_cert(ca, l), NULL),
                         1);
        assert_string_equal(ms_ca_key_name(ms_ca_get0_ocsp_key(ca, l)),
                            "P-256");
        assert_true((X509_get_extended_key_usage(now) & XKU_OCSP_SIGN) != 0);
        /* The old files in retired/, unchanged, the key still 0600. */
        (void)snprintf(rel, sizeof(rel), "certs/retired/ocsp-v%d-%s.pem", l,
                       old[l]);
        {
            char p[512];

            path_in(p, sizeof(p), dir, rel);
            kept = read_cert(p);
            assert_int_equal(X509_cmp(kept, oldcert[l]), 0);
            X509_free(kept);
        }
        (void)snprintf(rel, sizeof(rel), "private/retired/ocsp-v%d-%s.key", l,
                       old[l]);
        assert_true(exists(dir, rel, &mode));
        assert_int_equal(mode, 0600);
        (void)snprintf(rel, sizeof(rel), "certs/ocsp-v%d.pem.new", l);
        assert_false(exists(dir, rel, NULL));
        ms_free(fresh);
        /* Responders only: no issuing CA was retired. */
        assert_int_equal(sk_X509_num(ms_ca_get0_retired(ca, l)), 0);
    }
    assert_true(exists(dir, "private/retired", &mode));
    assert_int_equal(mode, 0700);
    {
        X509 *leaf = issue_v3(ca, dir, T_AFTER);

        assert_ocsp_verifies(ca, dir, leaf);
        X509_free(leaf);
    }
    ms_ca_close(ca);
    for (int l = 1; l <= 4; l++) {
        ms_free(old[l]);
        X509_free(oldcert[l]);
    }
}

/* ---- TSA, encrypted keys ---- */

static void
test_ca_rotate__tsa_passphrase(void **state)
{
    unsigned char before[32], after[32];
    char dir[256], rel[160], p[512], text[4096];
    char *old;
    uint64_t rows;
    ms_ca *ca;
    ms_error err;
    FILE *fp;
    size_t k;

    (void)state;
    make_dir(dir, sizeof(dir), PASS);
    ca = open_ok(dir, PASS);
    old = serial_of(ms_ca_get0_tsa_cert(ca));
    ms_ca_close(ca);
    rows = audit_rows(dir);
    hash_tree(dir, before);
    assert_int_equal(rotate(dir, MS_CA_ROTATE_TSA, 0, "wrong passphrase", &err),
                     MS_EBADSIG);
    assert_int_equal(rotate(dir, MS_CA_ROTATE_TSA, 0, NULL, &err), MS_EPOLICY);
    assert_int_equal(ERR_peek_error(), 0);
    hash_tree(dir, after);
    assert_memory_equal(before, after, 32);
    assert_false(exists(dir, "certs/retired", NULL));
    assert_int_equal(audit_rows(dir), rows);

    if (rotate(dir, MS_CA_ROTATE_TSA, 0, PASS, &err) != 0)
        fail_msg("rotate: %s", err.msg);
    assert_int_equal(audit_rows(dir), rows + 1);
    ca = open_ok(dir, PASS);
    {
        X509 *tsa = ms_ca_get0_tsa_cert(ca);
        char *fresh = serial_of(tsa);

        assert_string_not_equal(fresh, old);
        assert_int_equal(chain_ok(ms_ca_get0_root(ca), tsa, NULL, NULL), 1);
        assert_int_equal(X509_get_extended_key_usage(tsa), XKU_TIMESTAMP);
        ms_free(fresh);
    }
    /* Both keys encrypted: the new one in place, the old one retired. */
    (void)snprintf(rel, sizeof(rel), "private/retired/tsa-%s.key", old);
    for (int i = 0; i < 2; i++) {
        path_in(p, sizeof(p), dir, i == 0 ? "private/tsa.key" : rel);
        assert_non_null(fp = fopen(p, "rb"));
        k = fread(text, 1, sizeof(text) - 1, fp);
        text[k] = '\0';
        (void)fclose(fp);
        assert_non_null(strstr(text, "BEGIN ENCRYPTED PRIVATE KEY"));
    }
    ms_ca_close(ca);
    ms_free(old);
}

/* ---- an issuing CA ---- */

static void
test_ca_rotate__issuing(void **state)
{
    char dir[256], rel[160];
    char *old_ca, *old_ocsp, *new_ca, *new_ocsp;
    X509 *old_leaf, *new_leaf, *old_cert, *retired, *cur;
    EVP_PKEY *k = NULL;
    uint64_t rows;
    ms_ca *ca;
    ms_error err;
    mode_t mode = 0;

    (void)state;
    make_dir(dir, sizeof(dir), NULL);
    ca = open_ok(dir, NULL);
    old_leaf = issue_v3(ca, dir, T_ISSUE);
    old_cert = X509_dup(ms_ca_get0_issuer_cert(ca, 3));
    old_ca = serial_of(old_cert);
    old_ocsp = serial_of(ms_ca_get0_ocsp_cert(ca, 3));
    ms_ca_close(ca);
    rows = audit_rows(dir);

    if (rotate(dir, MS_CA_ROTATE_ISSUING, 3, NULL, &err) != 0)
        fail_msg("rotate: %s", err.msg);
    assert_int_equal(audit_rows(dir), rows + 1); /* one row, both */
    ca = open_ok(dir, NULL);
    cur = ms_ca_get0_issuer_cert(ca, 3);
    new_ca = serial_of(cur);
    assert_string_not_equal(new_ca, old_ca);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(cur),
                                   X509_get_subject_name(old_cert)),
                     0);
    assert_int_equal(ms_x509_level(cur), 3);
    assert_int_not_equal(
        EVP_PKEY_eq(X509_get0_pubkey(cur), X509_get0_pubkey(old_cert)), 1);
    /* The retired CA: exposed with its key, files kept. */
    assert_int_equal(sk_X509_num(ms_ca_get0_retired(ca, 3)), 1);
    retired = sk_X509_value(ms_ca_get0_retired(ca, 3), 0);
    assert_int_equal(X509_cmp(retired, old_cert), 0);
    assert_non_null(ms_ca_get0_retired_key(ca, 3, 0));
    assert_int_equal(
        X509_check_private_key(retired, ms_ca_get0_retired_key(ca, 3, 0)), 1);
    assert_null(ms_ca_get0_retired_key(ca, 3, 1));
    assert_null(ms_ca_get0_retired(ca, 5));
    for (int l = 1; l <= 4; l++)
        if (l != 3)
            assert_int_equal(sk_X509_num(ms_ca_get0_retired(ca, l)), 0);
    (void)snprintf(rel, sizeof(rel), "certs/retired/v3-%s.pem", old_ca);
    assert_true(exists(dir, rel, NULL));
    (void)snprintf(rel, sizeof(rel), "private/retired/v3-%s.key", old_ca);
    assert_true(exists(dir, rel, &mode));
    assert_int_equal(mode, 0600);
    (void)snprintf(rel, sizeof(rel), "certs/retired/ocsp-v3-%s.pem", old_ocsp);
    assert_true(exists(dir, rel, NULL));
    /* The new responder is certified by the new key. */
    new_ocsp = serial_of(ms_ca_get0_ocsp_cert(ca, 3));
    assert_string_not_equal(new_ocsp, old_ocsp);
    assert_int_equal(
        X509_verify(ms_ca_get0_ocsp_cert(ca, 3), X509_get0_pubkey(cur)), 1);

    /* Before: through the retired CA only. After: through the new one. */
    new_leaf = issue_v3(ca, dir, T_AFTER);
    assert_int_equal(chain_ok(ms_ca_get0_root(ca), old_leaf, retired, NULL), 1);
    assert_int_equal(chain_ok(ms_ca_get0_root(ca), old_leaf, cur, NULL), 0);
    assert_int_equal(chain_ok(ms_ca_get0_root(ca), new_leaf, cur, NULL), 1);
    assert_int_equal(chain_ok(ms_ca_get0_root(ca), new_leaf, retired, NULL), 0);
    /* Both offered: OpenSSL picks by key identifier. */
    assert_int_equal(chain_ok(ms_ca_get0_root(ca), old_leaf, cur, retired), 1);
    assert_int_equal(chain_ok(ms_ca_get0_root(ca), new_leaf, retired, cur), 1);
    assert_ptr_equal(ms_ca_find_issuer(&k, ca, 3, old_leaf), retired);
    assert_ptr_equal(k, ms_ca_get0_retired_key(ca, 3, 0));
    assert_ptr_equal(ms_ca_find_issuer(&k, ca, 3, new_leaf), cur);
    assert_ptr_equal(k, ms_ca_get0_issuer_key(ca, 3));
    assert_null(ms_ca_find_issuer(NULL, ca, 2, new_leaf));
    assert_int_equal(ERR_peek_error(), 0);

    X509_free(old_leaf);
    X509_free(new_leaf);
    X509_free(old_cert);
    ms_free(old_ca);
    ms_free(old_ocsp);
    ms_free(new_ca);
    ms_free(new_ocsp);
    ms_ca_close(ca);
}

/* ---- refusals and failures ---- */

static void
test_ca_rotate__bad_options(void **state)
{
    ms_ca_rotate_options o = MS_CA_ROTATE_OPTIONS_INIT;
    ms_error err;

    (void)state;
    assert_int_equal(ms_ca_rotate("/nonexistent-ms", &o, &err), MS_EINVAL);
    o.what = 0x10;
    assert_int_equal(ms_ca_rotate("/nonexistent-ms", &o, &err), MS_EINVAL);
    o.what = MS_CA_ROTATE_ISSUING;
    o.level = 5;
    assert_int_equal(ms_ca_rotate("/nonexistent-ms", &o, &err), MS_EINVAL);
    o.what = MS_CA_ROTATE_TSA;
    o.level = 0;
    o.tsa_key = MS_CA_KEY_P384;
    assert_int_equal(ms_ca_rotate("/nonexistent-ms", &o, &err), MS_EINVAL);
    o.tsa_key = MS_CA_KEY_DEFAULT;
    o.version = 99;
    assert_int_equal(ms_ca_rotate("/nonexistent-ms", &o, &err), MS_EINVAL);
    o.version = MS_CA_ROTATE_OPTIONS_VERSION;
    assert_int_equal(ms_ca_rotate("/nonexistent-ms", &o, &err), MS_EIO);
    assert_int_equal(ERR_peek_error(), 0);
}

/* A retired name taken by another file: the item fails after the first
 * link, which is undone; nothing in place changes. */
static void
test_ca_rotate__conflict_undone(void **state)
{
    unsigned char before[32], after[32];
    char dir[256], rel[160], p[512];
    char *old;
    ms_ca *ca;
    ms_error err;
    FILE *fp;

    (void)state;
    make_dir(dir, sizeof(dir), NULL);
    ca = open_ok(dir, NULL);
    old = serial_of(ms_ca_get0_ocsp_cert(ca, 1));
    ms_ca_close(ca);
    path_in(p, sizeof(p), dir, "private/retired");
    assert_int_equal(mkdir(p, 0700), 0);
    path_in(p, sizeof(p), dir, "certs/retired");
    assert_int_equal(mkdir(p, 0755), 0);
    (void)snprintf(rel, sizeof(rel), "private/retired/ocsp-v1-%s.key", old);
    path_in(p, sizeof(p), dir, rel);
    assert_non_null(fp = fopen(p, "wb"));
    assert_int_equal(fputs("someone else's\n", fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    hash_tree(dir, before);
    assert_int_equal(rotate(dir, MS_CA_ROTATE_OCSP, 0, NULL, &err), MS_EIO);
    assert_non_null(strstr(err.msg, "cannot keep"));
    assert_int_equal(ERR_peek_error(), 0);
    hash_tree(dir, after);
    assert_memory_equal(before, after, 32);
    (void)snprintf(rel, sizeof(rel), "certs/retired/ocsp-v1-%s.pem", old);
    assert_false(exists(dir, rel, NULL));
    assert_false(exists(dir, "certs/ocsp-v1.pem.new", NULL));
    assert_false(exists(dir, "private/ocsp-v1.key.new", NULL));
    ms_ca_close(open_ok(dir, NULL));
    ms_free(old);
}

/* A damaged retired CA certificate stops ms_ca_open (fail closed); other
 * files in retired/ are not read. */
static void
test_ca_rotate__retired_checked(void **state)
{
    char dir[256], p[512], q[512];
    ms_ca *ca = NULL;
    ms_error err;

    (void)state;
    make_dir(dir, sizeof(dir), NULL);
    if (rotate(dir, MS_CA_ROTATE_ISSUING, 2, NULL, &err) != 0)
        fail_msg("rotate: %s", err.msg);
    ms_ca_close(open_ok(dir, NULL));
    /* The current V1 certificate dressed as a retired V2 one. */
    path_in(p, sizeof(p), dir, "certs/v1.pem");
    path_in(q, sizeof(q), dir, "certs/retired/v2-00aa.pem");
    assert_int_equal(link(p, q), 0);
    assert_int_equal(ms_ca_open(&ca, dir, NULL, &err), MS_EPOLICY);
    assert_null(ca);
    assert_int_equal(unlink(q), 0);
    path_in(q, sizeof(q), dir, "certs/retired/notes.txt");
    assert_int_equal(link(p, q), 0);
    ms_ca_close(open_ok(dir, NULL));
    assert_int_equal(ERR_peek_error(), 0);
}

/* Allocation n fails, for n = 1, 2, ... until the rotation succeeds:
 * every failure leaves the directory and its audit log as they were. */
static void
test_ca_rotate__alloc_failures(void **state)
{
    unsigned char before[32], after[32];
    char dir[256];
    uint64_t rows;
    ms_error err;
    size_t n;
    int rc = -1;

    (void)state;
    make_dir(dir, sizeof(dir), NULL);
    rows = audit_rows(dir);
    hash_tree(dir, before);
    for (n = 1; n < 5000 && rc != 0; n++) {
        (void)ms_alloc_fail_at(n);
        rc = rotate(dir, MS_CA_ROTATE_ISSUING, 4, NULL, &err);
        (void)ms_alloc_fail_at(0);
        ERR_clear_error(); /* OpenSSL may leave a trace of our failure */
        if (rc == 0)
            break;
        hash_tree(dir, after);
        if (memcmp(before, after, 32) != 0)
            fail_msg("allocation %zu: %s (%s), and the directory changed", n,
                     err.msg, err.origin);
        assert_int_equal(audit_rows(dir), rows);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 10);
    assert_int_equal(audit_rows(dir), rows + 1);
    ms_ca_close(open_ok(dir, NULL));
}

static void
count_cb(const char *name, const char *old_serial, const char *new_serial,
         time_t not_after, void *arg)
{
    int *n = arg;

    assert_non_null(name);
    assert_string_not_equal(old_serial, new_serial);
    assert_true(not_after > T_ROTATE);
    (*n)++;
}

/* Everything at once: the level's responder is renewed once, with its
 * CA; the callback hears of each certificate. */
static void
test_ca_rotate__all(void **state)
{
    ms_ca_rotate_options o = MS_CA_ROTATE_OPTIONS_INIT;
    char dir[256];
    uint64_t rows;
    ms_error err;
    int n = 0;

    (void)state;
    make_dir(dir, sizeof(dir), NULL);
    rows = audit_rows(dir);
    o.what = MS_CA_ROTATE_OCSP | MS_CA_ROTATE_TSA | MS_CA_ROTATE_ISSUING;
    o.level = 1;
    o.ocsp_key = MS_CA_KEY_P384;
    o.now = T_ROTATE;
    o.on_rotated = count_cb;
    o.arg = &n;
    if (ms_ca_rotate(dir, &o, &err) != 0)
        fail_msg("rotate: %s", err.msg);
    assert_int_equal(n, 6);
    assert_int_equal(audit_rows(dir), rows + 5); /* one per item */
    {
        ms_ca *ca = open_ok(dir, NULL);

        for (int l = 1; l <= 4; l++)
            assert_string_equal(ms_ca_key_name(ms_ca_get0_ocsp_key(ca, l)),
                                "P-384");
        assert_int_equal(sk_X509_num(ms_ca_get0_retired(ca, 1)), 1);
        ms_ca_close(ca);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_rotate__bad_options),
        cmocka_unit_test(test_ca_rotate__ocsp),
        cmocka_unit_test(test_ca_rotate__tsa_passphrase),
        cmocka_unit_test(test_ca_rotate__issuing),
        cmocka_unit_test(test_ca_rotate__conflict_undone),
        cmocka_unit_test(test_ca_rotate__retired_checked),
        cmocka_unit_test(test_ca_rotate__all),
        cmocka_unit_test(test_ca_rotate__alloc_failures),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
