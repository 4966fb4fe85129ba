/*
 * x509/load.h - certificates, keys and CRLs from PEM or DER bytes, and the
 * internals of ms_identity and ms_certlist.
 */
#ifndef MS_X509_LOAD_H
#define MS_X509_LOAD_H

#include <openssl/x509.h>

#include <mailseal/identity.h>

struct ms_identity {
    X509 *cert;             /* signing (or decryption) certificate */
    EVP_PKEY *key;          /* its private key */
    STACK_OF(X509) *chain;  /* intermediates to send along, maybe empty */
    X509 *enc_cert;         /* separate encryption certificate or NULL */
};

struct ms_certlist {
    STACK_OF(X509) *certs;
};

/* Appends every certificate in data (PEM bundle, or one DER) to sk. */
int ms_x509_parse_certs(STACK_OF(X509) *sk, const void *data, size_t len,
                        ms_error *err);
/* Appends every CRL in data (PEM bundle, or one DER) to sk. */
int ms_x509_parse_crls(STACK_OF(X509_CRL) *sk, const void *data, size_t len,
                       ms_error *err);
/* Loads every certificate of a file. */
int ms_x509_load_certs(STACK_OF(X509) *sk, const char *path, ms_error *err);
int ms_x509_load_crls(STACK_OF(X509_CRL) *sk, const char *path,
                      ms_error *err);

#define MS_MAX_PKI_FILE (16u * 1024 * 1024)

#endif
