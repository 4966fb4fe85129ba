/*
 * tests/support/ms_test.h - helpers shared by the cmocka unit tests.
 *
 * The test PKI (tests/fixtures/gen-pki.sh) is found through the MS_PKI_DIR
 * environment variable, which ctest sets. Paths and loaded objects are
 * owned by the caller unless noted. Not thread safe (tests are serial).
 */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include <mailseal/mailseal.h>

/* 2026-11-23T10:00:00Z: the fixed clock of deterministic tests. */
#define MS_TEST_NOW ((time_t)1795428000)

/* cmocka group setup: ms_library_init(); fails the group on error. */
int ms_test_library_setup(void **state);
/* cmocka group teardown: ms_library_cleanup(). */
int ms_test_library_teardown(void **state);

/*
 * The path of file name in the test PKI, in a static buffer (valid until
 * the next call). Fails the test when MS_PKI_DIR is unset.
 */
const char *ms_test_pki(const char *name);
/* The first certificate of a PKI file (X509_free). Fails the test if none. */
X509 *ms_test_cert(const char *name);
/* Reads a PKI file into out (ms_buf_init'ed by the caller). */
void ms_test_read_pki(ms_buf *out, const char *name);

/* A clock returning *(const time_t *)arg. */
time_t ms_test_clock(void *arg);

/* A context with the fixed clock at *now (which must outlive it). */
ms_ctx *ms_test_ctx(const time_t *now);

#endif
