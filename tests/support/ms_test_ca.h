/*
 * tests/support/ms_test_ca.h - a throw-away CA made in memory for the CA,
 * OCSP and CRL tests: P-256 keys and certificates with fixed validity
 * (2020-01-01 .. 2040-01-01), so any test clock inside that works.
 * Every object returned belongs to the caller. Failures fail the test.
 */
#ifndef MS_TEST_CA_H
#define MS_TEST_CA_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/mailseal.h>

#include "store/store.h"

typedef enum {
    MS_TEST_PROFILE_CA,   /* CA:TRUE, keyCertSign + cRLSign, SKID */
    MS_TEST_PROFILE_OCSP, /* digitalSignature, EKU OCSPSigning, AKID */
    MS_TEST_PROFILE_LEAF  /* digitalSignature, EKU emailProtection, AKID */
} ms_test_profile;

/* A new P-256 key. */
EVP_PKEY *ms_test_ec_key(void);

/*
 * A certificate for key with subject CN=cn and the given serial, signed by
 * issuer/issuer_key (self-signed when issuer is NULL) with SHA-256.
 */
X509 *ms_test_make_cert(EVP_PKEY *key, const char *cn, uint64_t serial,
                        X509 *issuer, EVP_PKEY *issuer_key,
                        ms_test_profile profile);

/* Records x in the store as issued by issuer_name (V1 signing). */
void ms_test_store_cert(ms_store *s, X509 *x, const char *issuer_name);

/* The store serial (lower-case BN_bn2hex) of x; ms_free it. */
char *ms_test_serial_hex(X509 *x);

#endif
