/*
 * ca/hierarchy_int.h - private to lib/ca: the table of the hierarchy's
 * certificates, the ms_ca structure, and the certificate-making and file
 * helpers that creating (hierarchy.c), loading retired CAs (retired.c) and
 * rotating (rotate.c) share. Not installed, not for other modules.
 *
 * Ownership: as in each function's comment; the table is static data.
 * Thread safety: the functions keep no state; an ms_ca is written only by
 * ms_ca_open() before it is handed out.
 */
#ifndef MS_CA_HIERARCHY_INT_H
#define MS_CA_HIERARCHY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/error.h>

#include "ca/hierarchy.h"
#include "ca/keys.h"

typedef enum ms_ca_kind {
    MS_CA_KIND_ROOT,
    MS_CA_KIND_CA,
    MS_CA_KIND_TSA,
    MS_CA_KIND_OCSP
} ms_ca_kind;

typedef struct ms_ca_entity {
    const char *file; /* certs/<file>.pem, private/<file>.key */
    const char *name; /* subject CN */
    int issuer;       /* index into ms_ca_entities[] (itself for the root) */
    int level;        /* 1..4 for issuing CAs and responders */
    ms_ca_kind kind;
} ms_ca_entity;

#define MS_CA_N_ENT          10
#define MS_CA_TSA_IX         5
#define MS_CA_OCSP_IX(level) (5 + (level))

/* Issuers come before what they issue: root, v1..v4, tsa, ocsp-v1..v4. */
extern const ms_ca_entity ms_ca_entities[MS_CA_N_ENT];

struct ms_ca {
    X509 *cert[MS_CA_N_ENT];
    EVP_PKEY *key[MS_CA_N_ENT]; /* key[0] (the root's) stays NULL */
    STACK_OF(X509) * tsa_chain;
    /* Retired issuing CAs per level 1..4 (index 0 unused), newest first;
     * retired_key[l][i] belongs to retired[l]'s i-th entry (or NULL). */
    STACK_OF(X509) * retired[5];
    EVP_PKEY *retired_key[5][MS_CA_RETIRED_MAX];
};

/* dir/sub/file + ext into buf (sub "" for none); MS_EINVAL when too long. */
int ms_ca_path(char *buf, size_t n, const char *dir, const char *sub,
               const char *file, const char *ext, ms_error *err);

/* True when type may be used for an entity of kind (see ms_ca_init_dir). */
bool ms_ca_kind_key_ok(ms_ca_kind kind, ms_ca_key_type type);

/*
 * *out = the certificate of ms_ca_entities[i] for key, signed by
 * issuer_key; issuer is the issuing certificate (NULL for the root: self-
 * signed). url is the public URL for AIA; valid from now - 60 s for the
 * entity's days. Returns 0, MS_ENOMEM, MS_ERR.
 */
int ms_ca_entity_cert_new(X509 **out, int i, EVP_PKEY *key, X509 *issuer,
                          EVP_PKEY *issuer_key, const char *url, time_t now,
                          ms_error *err);

/* Writes x as PEM to path (mode 0644, must not exist). 0, MS_EIO, ... */
int ms_ca_cert_write(const char *path, X509 *x, ms_error *err);
/* *out = the first PEM certificate in path. 0, MS_EIO, MS_EMALFORMED... */
int ms_ca_cert_load(X509 **out, const char *path, ms_error *err);
/* True when x's subject is CN=name alone. */
bool ms_ca_subject_is(X509 *x, const char *name);

/* retired.c: fills ca->retired from dir (see ms_ca_get0_retired()). */
int ms_ca_retired_load(ms_ca *ca, const char *dir, const char *passphrase,
                       ms_error *err);
/* Releases what ms_ca_retired_load() put into ca. */
void ms_ca_retired_free(ms_ca *ca);

#endif
