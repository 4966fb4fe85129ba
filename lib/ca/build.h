/*
 * ca/build.h - the pieces every certificate the CA makes is built from:
 * a to-be-signed v3 certificate with a random serial, extensions from
 * OpenSSL's configuration syntax, the signature, and the checks on a
 * public URL before it is written into extensions.
 *
 * Ownership: ms_ca_tbs_new() returns an X509 the caller frees. Nothing is
 * kept between calls; all functions are thread-safe on objects the calling
 * thread owns (the issuer certificate and key are only read).
 */
#ifndef MS_CA_BUILD_H
#define MS_CA_BUILD_H

#include <stdbool.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/error.h>

/* Random serial octets (128 bits, top bit clear, top octet non-zero). */
#define MS_CA_SERIAL_OCTETS 16
/* Longest public URL accepted (the extensions append up to ~20 bytes). */
#define MS_CA_URL_MAX     200
#define MS_CA_DEFAULT_URL "http://127.0.0.1:8025"

/*
 * *out = a new v3 certificate for subject_key with a 128-bit random serial
 * (MS_CA_SERIAL_OCTETS octets: DER needs no padding octet, so the serial is
 * always 16 content octets, inside lint's 9..20), issuer name issuer (NULL:
 * left empty, for a self-signed certificate set later), valid from
 * not_before for seconds. Returns 0, MS_ENOMEM, MS_ERR.
 */
int ms_ca_tbs_new(X509 **out, EVP_PKEY *subject_key, const X509_NAME *issuer,
                  time_t not_before, long seconds, ms_error *err);

/*
 * Adds extension nid with value in openssl x509v3_config syntax. issuer is
 * the issuing certificate (for authorityKeyIdentifier; x itself when
 * self-signed). value must come from us or from checked input (no commas in
 * URLs: see ms_ca_url_check()). Returns 0 or MS_ERR naming the extension.
 */
int ms_ca_ext_add(X509 *x, X509 *issuer, int nid, const char *value,
                  ms_error *err);

/*
 * Signs x with key: SHA-384 for a P-384 key, SHA-256 otherwise (RSA
 * PKCS#1 v1.5, ECDSA). Returns 0 or MS_ERR.
 */
int ms_ca_cert_sign(X509 *x, EVP_PKEY *key, ms_error *err);

/*
 * True when url can be written into AIA and CRL DP extensions: "http://"
 * then 1..MS_CA_URL_MAX bytes of letters, digits and "-._~:/[]%", no
 * trailing "/". *why (static text) says what is wrong.
 */
bool ms_ca_url_check(const char *url, const char **why);

#endif
