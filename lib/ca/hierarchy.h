/*
 * ca/hierarchy.h - the CA hierarchy of mailseald: creating a data directory
 * (`mailseald --init DIR`) and loading it.
 *
 * The hierarchy: a root CA; four issuing CAs V1..V4 (pathlen 0, each
 * asserting its level's policy OID MS_OID_ARC ".1.N", EKU emailProtection
 * and OCSPSigning, AIA caIssuers <public_url>/ca/root.crt); a TSA
 * certificate issued by the root (the TSA vouches for time, not for an
 * identity level, so it hangs off no level's CA; verifiers anchor it at the
 * root they already trust); one delegated OCSP responder per issuing CA,
 * issued by that CA as RFC 6960 requires (EKU OCSPSigning, id-pkix-ocsp-
 * nocheck, one year). The directory layout is the one of the shared
 * decisions: DIR/mailseald.conf, DIR/mailseal.db, DIR/certs/<name>.pem,
 * DIR/private/<name>.key, <name> in root v1..v4 tsa ocsp-v1..ocsp-v4.
 *
 * Retired issuing CAs: ms_ca_rotate() (ca/rotate.h) replaces an issuing
 * CA's key and certificate under the SAME subject name and keeps the old
 * ones as DIR/certs/retired/v<N>-<serial>.pem and DIR/private/retired/
 * v<N>-<serial>.key (still encrypted, 0600). Certificates issued before
 * the rotation chain only through the old CA certificate (their
 * authorityKeyIdentifier names the old key), so ms_ca_open() loads the
 * retired CA certificates too and ms_ca_get0_retired() exposes them.
 * What the other modules must do with them:
 *   - Verifiers and the CA certificate publication (/ca/v<N>.crt) offer
 *     the retired certificates next to the current one as intermediates
 *     (e.g. /ca/v<N>-<serial>.crt): OpenSSL picks the issuer whose
 *     subjectKeyIdentifier matches the leaf's authorityKeyIdentifier.
 *   - OCSP (ca/ocsp.c): a CertID carries issuerKeyHash. One with level
 *     N's name hash but a retired CA's key hash must still be answered
 *     (good/revoked from the store: old and new key share the issuer
 *     string and the serial space), signed by the retired CA key itself
 *     (RFC 6960 2.6/4.2.2.2: the CA may sign its own responses) or by a
 *     responder that the RETIRED key certified, never by the current
 *     responder (clients require the signer to be issued by the
 *     certificate's issuer). ms_ocsp_responder_add_issuer() takes only a
 *     delegated responder today: it must also accept responder == the
 *     CA itself, then register each retired CA that still has a key
 *     (ms_ca_get0_retired_key()) with its own certificate and key. Until
 *     then such requests get "unauthorized" (fail closed).
 *   - CRL (ca/crl.c): RFC 5280 5.2.1, a CA with several keys issues one
 *     CRL per key. Keep calling ms_crl_build(retired cert, retired key,
 *     ms_ca_name(N), ...) for each retired CA that still has a key until
 *     its notAfter (which bounds what it issued) has passed, and serve
 *     that CRL where the old certificates' CRL distribution point leads:
 *     a CRL signed by the new key does not verify for them.
 *   - A retired key file removed by the operator (destroyed, e.g. after
 *     a compromise) leaves the certificate with a NULL key: nothing more
 *     is signed for it.
 *
 * Ownership: ms_ca_open() returns an ms_ca released by ms_ca_close(), which
 * frees (and so wipes) its private keys. get0 results are borrowed from the
 * ms_ca and live as long as it.
 *
 * Thread safety: an ms_ca is immutable once ms_ca_open() returns; any
 * number of threads may read it and sign with its keys at once (OpenSSL
 * makes a context per operation; certificate extension caches are filled
 * before ms_ca_open() returns). ms_ca_init_dir() touches only its DIR.
 */
#ifndef MS_CA_HIERARCHY_H
#define MS_CA_HIERARCHY_H

#include <stdbool.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/error.h>

#include "ca/keys.h"

typedef struct ms_ca ms_ca;

/* Most retired certificates read per issuing CA level. */
#define MS_CA_RETIRED_MAX 32

/* Validity of what ms_ca_init_dir() makes, in days. */
#define MS_CA_ROOT_DAYS 7305 /* 20 years */
#define MS_CA_CA_DAYS   3652 /* 10 years */
#define MS_CA_TSA_DAYS  3652 /* 10 years: within the issuing root's life */
#define MS_CA_OCSP_DAYS 365

/* Policy OID the TSA certificate asserts. */
#define MS_CA_TSA_POLICY_SUFFIX ".2.1"

typedef struct ms_ca_init_options {
    unsigned version;            /* MS_CA_INIT_OPTIONS_VERSION */
    const char *public_url;      /* NULL: MS_CA_DEFAULT_URL (ca/build.h) */
    const char *passphrase;      /* encrypts every key; see below */
    const char *passphrase_file; /* named in mailseald.conf; read when
                                    passphrase is NULL */
    bool insecure_keys;          /* keys unencrypted (tests, development) */
    ms_ca_key_type root_key;     /* RSA3072 or P384 (default) */
    ms_ca_key_type ca_key;       /* issuing CAs: P256 (default), P384, RSA */
    ms_ca_key_type tsa_key;      /* P256 (default) or RSA2048 */
    ms_ca_key_type ocsp_key;     /* P256 (default), P384 or RSA2048 */
    time_t now;                  /* 0: time(2) */
    const char *listen;          /* listen value written into the
                                    config; NULL: 127.0.0.1:8025 */
} ms_ca_init_options;

#define MS_CA_INIT_OPTIONS_VERSION 1
#define MS_CA_INIT_OPTIONS_INIT                                                \
    {                                                                          \
        MS_CA_INIT_OPTIONS_VERSION, NULL, NULL, NULL, false,                   \
            MS_CA_KEY_DEFAULT, MS_CA_KEY_DEFAULT, MS_CA_KEY_DEFAULT,           \
            MS_CA_KEY_DEFAULT, 0, NULL                                         \
    }

/*
 * Creates the data directory dir (mode 0700; an existing dir must be an
 * empty directory) with a new hierarchy, a default mailseald.conf (listen
 * = opt->listen,
 * public_url, database, modules, passphrase_file or insecure_keys = yes,
 * ocsp_validity, crl_validity, crl_interval, cert_validity_days), the
 * SQLite store and one audit row per certificate made ("ca.create") after
 * one "ca.init" row. Keys are encrypted under opt->passphrase, or under the
 * contents of opt->passphrase_file (ms_ca_passphrase_read()) when
 * passphrase is NULL; unencrypted only with insecure_keys and neither
 * passphrase given. On failure everything made so far is removed again.
 * Returns 0, MS_EINVAL (bad options: version, URL, key types, no
 * passphrase), MS_EPOLICY (dir not empty; passphrase file mode), MS_EIO,
 * MS_ENOMEM, MS_ERR.
 */
int ms_ca_init_dir(const char *dir, const ms_ca_init_options *opt,
                   ms_error *err);

/*
 * *out = the hierarchy in dir, keys decrypted with passphrase (NULL: the
 * keys must be unencrypted). The root's private key is not loaded (nothing
 * online needs it). Each certificate must match its key and carry the
 * signature of its issuer. Retired issuing CAs (DIR/certs/retired/
 * v<N>-<serial>.pem, see the top) are loaded as well and checked alike:
 * CN = level N's name, policy level N, signed by the root, the serial its
 * file name says, not the current certificate; its key, when present in
 * DIR/private/retired/, decrypts with passphrase and matches; more than
 * MS_CA_RETIRED_MAX per level are refused (MS_EPOLICY). Other files in
 * retired/ (old responders, TSA) are ignored. Returns 0, MS_EIO (missing or
 * unreadable files), MS_EBADSIG (wrong passphrase; a certificate not signed by
 * its issuer), MS_EPOLICY (encrypted keys without passphrase or the reverse,
 * file modes), MS_EINVAL (a key not matching its certificate),
 * MS_EMALFORMED, MS_ENOMEM.
 */
int ms_ca_open(ms_ca **out, const char *dir, const char *passphrase,
               ms_error *err);
/* Frees ca and wipes its keys; NULL is a no-op. */
void ms_ca_close(ms_ca *ca);

/* The root certificate. */
X509 *ms_ca_get0_root(const ms_ca *ca);
/* The issuing CA of level 1..4 and its key; NULL for another level. */
X509 *ms_ca_get0_issuer_cert(const ms_ca *ca, int level);
EVP_PKEY *ms_ca_get0_issuer_key(const ms_ca *ca, int level);
/* The TSA certificate, its key, and its chain (the root) to send along. */
X509 *ms_ca_get0_tsa_cert(const ms_ca *ca);
EVP_PKEY *ms_ca_get0_tsa_key(const ms_ca *ca);
STACK_OF(X509) * ms_ca_get0_tsa_chain(const ms_ca *ca);
/* The OCSP responder of level 1..4's CA and its key; NULL otherwise. */
X509 *ms_ca_get0_ocsp_cert(const ms_ca *ca, int level);
EVP_PKEY *ms_ca_get0_ocsp_key(const ms_ca *ca, int level);

/*
 * The retired certificates of level 1..4's issuing CA, newest first (by
 * notBefore), at most MS_CA_RETIRED_MAX; an empty stack when the CA was
 * never rotated; NULL for another level. Borrowed, like every get0 here.
 */
STACK_OF(X509) * ms_ca_get0_retired(const ms_ca *ca, int level);
/*
 * The private key of the i-th certificate of ms_ca_get0_retired(ca,
 * level), for CRLs and OCSP answers about what it issued; NULL when the
 * key file was removed, or level or i is out of range.
 */
EVP_PKEY *ms_ca_get0_retired_key(const ms_ca *ca, int level, int i);
/*
 * The issuing CA certificate of level 1..4, current or retired, that
 * issued x (its subject is x's issuer and its key verifies x's
 * signature); *key_out (may be NULL) receives its key (NULL for a retired
 * one without). Returns NULL when none did. x's extension cache may be
 * filled: no other thread may use x during the call.
 */
X509 *ms_ca_find_issuer(EVP_PKEY **key_out, const ms_ca *ca, int level,
                        X509 *x);

/*
 * The fixed names (static strings, also the store's issuer names): level
 * 0 is the root, 1..4 the issuing CAs; NULL for any other level.
 */
const char *ms_ca_name(int level);
/* The OCSP responder's name for level 1..4, else NULL. */
const char *ms_ca_ocsp_name(int level);
/* The TSA's name. */
const char *ms_ca_tsa_name(void);
/* 1..4 when name is an issuing CA's name, else 0. */
int ms_ca_level_of_name(const char *name);

#endif
