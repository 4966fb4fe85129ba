/*
 * profile/profile.h - the client agent's profile: one directory per user
 * and device holding the settings, the device's signing key and
 * certificate(s), the escrowed encryption key(s) with their certificates
 * (older ones kept for old mail), the trust anchors from the server, a
 * cache of correspondents' certificates and one continuity record per
 * correspondent.
 *
 * Layout (see docs/man/mailseal.1, PROFILE):
 *   <dir>/profile.conf        key = value settings (lib/config syntax)
 *   <dir>/anchors.pem         trust anchors (CA certificates)
 *   <dir>/sign/<id>.key|.pem  signing key (PKCS#8) and certificate + chain
 *   <dir>/enc/<id>.key|.pem   encryption keys and certificates
 *   <dir>/certs/<addr>.pem    correspondents' certificates (exact address)
 *   <dir>/seen/<addr>         continuity record of a correspondent
 * <id> is the first 16 bytes of the certificate's SHA-256 in hex. A pair is
 * complete when its .pem exists (the .key is written first).
 *
 * Safety: every directory is mode 0700 and every file 0600, owned by the
 * effective user; a directory or file with group/other bits, another
 * owner, or (for files) a symbolic link is refused with MS_EPOLICY and a
 * message saying how to fix it. Files are replaced atomically (a temporary
 * file created O_EXCL, written, fsync'd, renamed over, directory fsync'd).
 * Private keys are PKCS#8 PEM, encrypted (PBES2, PBKDF2-HMAC-SHA256,
 * AES-256-CBC) when the profile has `passphrase = yes`.
 *
 * Ownership: ms_profile_open() returns a profile freed by ms_profile_free(),
 * which wipes the cached passphrase. Loaded identities, keys and
 * certificates belong to the caller. Borrowed (get0) values live as long
 * as the profile. Thread safety: a profile is used by one thread at a time.
 */
#ifndef MS_PROFILE_PROFILE_H
#define MS_PROFILE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>
#include <mailseal/identity.h>

#define MS_PROFILE_NAME_MAX  64             /* bytes in a profile name */
#define MS_PROFILE_MAX_PAIRS 64             /* key pairs of one kind */
#define MS_PROFILE_FILE_MAX  (1024u * 1024) /* bytes in one profile file */
#define MS_PROFILE_ADDR_MAX  254  /* bytes in a correspondent address */
#define MS_PROFILE_PASS_MAX  1024 /* bytes in a passphrase or password */

typedef enum ms_profile_encrypt {
    MS_PROFILE_ENCRYPT_AUTO = 0, /* when every recipient has a certificate */
    MS_PROFILE_ENCRYPT_ALWAYS,   /* refuse to send in clear */
    MS_PROFILE_ENCRYPT_NEVER
} ms_profile_encrypt;

/* profile.conf. Strings are NULL when unset; owned by the profile. */
typedef struct ms_profile_conf {
    char *address;              /* the mailbox of this profile */
    char *device;               /* this device's name (enrollment) */
    char *server_url;           /* mailseald public URL */
    char *tsa_url;              /* RFC 3161 server (default <server_url>/tsa) */
    char *submit_url;           /* SMTP relay: smtp://host:587, smtps://host */
    char *submit_user;          /* SMTP AUTH user */
    char *submit_password_file; /* SMTP AUTH password, a 0600 file */
    int encrypt;                /* ms_profile_encrypt */
    bool passphrase;            /* private keys encrypted under a passphrase */
} ms_profile_conf;

typedef struct ms_profile ms_profile;

/*
 * Passphrase source: fills out (a secret ms_buf) with the passphrase;
 * confirm asks twice (a new passphrase). Returns 0 or a negative status
 * with err filled.
 */
typedef int (*ms_profile_pass_fn)(ms_buf *out, bool confirm, void *arg,
                                  ms_error *err);

/* ms_profile_open() flags. */
#define MS_PROFILE_CREATE 0x1u /* create the directory when missing */

/*
 * *out (ms_free) = the profile directory: base is $MAILSEAL_HOME, else
 * $XDG_DATA_HOME/mailseal, else $HOME/.local/share/mailseal; the name is
 * name, else $MAILSEAL_PROFILE, else "default". A name is 1..64 bytes of
 * [A-Za-z0-9._-] not starting with '.'. MS_EINVAL (bad name, no HOME),
 * MS_ENOMEM.
 */
int ms_profile_path(char **out, const char *name, ms_error *err);

/*
 * Opens the profile in dir: checks the directory's owner and mode, reads
 * profile.conf (defaults when absent) and lists the key pairs. With
 * MS_PROFILE_CREATE a missing dir (and missing parents) is created 0700.
 * MS_ENOTFOUND (no such profile), MS_EPOLICY (owner, mode, symlink),
 * MS_EINVAL (bad profile.conf), MS_EMALFORMED (an unreadable certificate),
 * MS_EIO, MS_ENOMEM.
 */
int ms_profile_open(ms_profile **out, const char *dir, unsigned flags,
                    ms_error *err);
void ms_profile_free(ms_profile *p);

const char *ms_profile_get0_dir(const ms_profile *p);
const ms_profile_conf *ms_profile_get0_conf(const ms_profile *p);

/*
 * Sets one profile.conf key from its text form (as in the file) and writes
 * the file. MS_EINVAL (unknown key, bad value), MS_EIO, MS_ENOMEM.
 */
int ms_profile_set(ms_profile *p, const char *key, const char *value,
                   ms_error *err);

/* Where passphrases come from (none: keys needing one fail, MS_EPOLICY). */
void ms_profile_set_pass_fn(ms_profile *p, ms_profile_pass_fn fn, void *arg);

/* ---- keys (profile/keys.c) ---- */

typedef enum ms_profile_kind {
    MS_PROFILE_SIGN = 0, /* this device's signing keys */
    MS_PROFILE_ENC       /* the escrowed encryption keys */
} ms_profile_kind;

/* Number of complete pairs of kind. */
size_t ms_profile_count(const ms_profile *p, ms_profile_kind kind);
/*
 * The certificate of pair i of kind (0 = current: the latest notBefore,
 * then the latest notAfter); borrowed; NULL when i is out of range.
 */
X509 *ms_profile_get0_cert(const ms_profile *p, ms_profile_kind kind, size_t i);

/*
 * Stores key with cert (and chain, may be NULL) as a pair of kind. The
 * key must match the certificate (MS_EINVAL). Storing a pair that is
 * there already is a no-op. The key is encrypted when the profile has
 * `passphrase = yes` (the passphrase comes from the pass fn, asked once
 * per profile). MS_EINVAL, MS_EPOLICY, MS_ETOOBIG (too many pairs),
 * MS_EIO, MS_ENOMEM.
 */
int ms_profile_add_pair(ms_profile *p, ms_profile_kind kind, EVP_PKEY *key,
                        X509 *cert, STACK_OF(X509) * chain, ms_error *err);

/*
 * *key_out (EVP_PKEY_free) and *cert_out, *chain_out (caller frees; either
 * pointer may be NULL) = pair i of kind. MS_ENOTFOUND (no such pair),
 * MS_EBADSIG (wrong passphrase), MS_EPOLICY (file mode/owner, or no
 * passphrase source for an encrypted key), MS_EINVAL (key and certificate
 * do not match), MS_EIO, MS_ENOMEM.
 */
int ms_profile_load_pair(EVP_PKEY **key_out, X509 **cert_out,
                         STACK_OF(X509) * *chain_out, ms_profile *p,
                         ms_profile_kind kind, size_t i, ms_error *err);

/*
 * *out (ms_identity_free) = the signing identity: the current signing key
 * and certificate, its chain and the current encryption certificate (when
 * there is one). MS_ENOTFOUND when the profile has no signing key; as
 * ms_profile_load_pair() otherwise.
 */
int ms_profile_load_signer(ms_identity **out, ms_profile *p, ms_error *err);
/* *out = a decryption identity from encryption pair i (0 = current). */
int ms_profile_load_decryptor(ms_identity **out, ms_profile *p, size_t i,
                              ms_error *err);

/*
 * Replaces anchors.pem with the certificates in data (PEM or DER, at least
 * one, every one a CA). MS_EMALFORMED, MS_EINVAL, MS_EIO, MS_ENOMEM.
 */
int ms_profile_set_anchors(ms_profile *p, const void *data, size_t len,
                           ms_error *err);
/*
 * *out (ms_free) = the path of anchors.pem after checking its owner and
 * mode. MS_ENOTFOUND when the profile has none; MS_EPOLICY, MS_ENOMEM.
 */
int ms_profile_anchors_path(char **out, const ms_profile *p, ms_error *err);

/* ---- PKCS#12 (profile/p12.c) ---- */

/* ms_profile_export_p12() flags. */
#define MS_PROFILE_P12_LEGACY  0x1u /* PBE-SHA1-3DES and a SHA-1 MAC */
#define MS_PROFILE_P12_NO_SIGN 0x2u /* leave the signing key out */
#define MS_PROFILE_P12_NO_ENC  0x4u /* leave the encryption keys out */

/*
 * Appends a PKCS#12 (DER) of the current signing pair and every encryption
 * pair (newest first), with their chains, friendly names "<address>
 * signing", "<address> encryption" and, for older encryption keys,
 * "<address> encryption (<YYYY-MM-DD>)" (their notBefore), under password.
 * Default: PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for keys and
 * certificates, HMAC-SHA256 MAC; MS_PROFILE_P12_LEGACY:
 * pbeWithSHAAnd3-KeyTripleDES-CBC for both and a SHA-1 MAC (what gpgsm 2.2
 * and older clients read; gpgsm 2.2 takes only the first key of a file).
 * MS_ENOTFOUND (no key to export), MS_EINVAL (empty password), as
 * ms_profile_load_pair(), MS_ENOMEM.
 */
int ms_profile_export_p12(ms_buf *out, ms_profile *p, const char *password,
                          unsigned flags, ms_error *err);

/*
 * Reads a PKCS#12 (DER, at most MS_PROFILE_FILE_MAX bytes) and stores each
 * private key with its certificate: a certificate that allows signing
 * becomes a signing pair, one for key encipherment or agreement an
 * encryption pair (a dual-use certificate both). Sets the profile's
 * address from the certificate when unset. *nsign / *nenc (may be NULL)
 * count the pairs stored. MS_EBADSIG (wrong password), MS_EMALFORMED (not
 * a PKCS#12), MS_ENOTFOUND (no private key), MS_EINVAL (a key without its
 * certificate), MS_EPOLICY (certificates for another address than the
 * profile's), as ms_profile_add_pair().
 */
int ms_profile_import_p12(ms_profile *p, const void *der, size_t len,
                          const char *password, size_t *nsign, size_t *nenc,
                          ms_error *err);

/* ---- correspondents (profile/seen.c) ----
 * <addr> is the address in the normal form of ms_addr_normalise()
 * (mime/addr.h), which fits a file name; an address without one is
 * refused with MS_EINVAL. */

/* Writes certs (at least one) as certs/<addr>.pem. */
int ms_profile_cache_put(ms_profile *p, const char *addr,
                         STACK_OF(X509) * certs, ms_error *err);
/* Appends the cached certificates of addr to sk. MS_ENOTFOUND. */
int ms_profile_cache_get(STACK_OF(X509) * sk, ms_profile *p, const char *addr,
                         ms_error *err);

/* What was last seen from one correspondent (seen/<addr>). */
typedef struct ms_profile_seen {
    char fingerprint[65]; /* SHA-256 of the signing certificate, hex */
    char issuer[256];     /* the issuing CA (RFC 2253) */
    int level;            /* 0..4 */
    time_t first_seen;    /* when this certificate was first seen */
    time_t last_seen;
} ms_profile_seen;

/* *out = the record of addr. MS_ENOTFOUND, MS_EINVAL, MS_EPOLICY, MS_EIO. */
int ms_profile_seen_get(ms_profile_seen *out, ms_profile *p, const char *addr,
                        ms_error *err);
/* Writes the record of addr. */
int ms_profile_seen_put(ms_profile *p, const char *addr,
                        const ms_profile_seen *s, ms_error *err);

/* ---- files (profile/profile.c), for the other profile modules ---- */

/*
 * Reads dir/name (must be a regular file owned by us, mode without
 * group/other bits) into out. MS_ENOTFOUND when missing, MS_EPOLICY,
 * MS_ETOOBIG, MS_EIO.
 */
int ms_profile_file_read(ms_buf *out, const ms_profile *p, const char *name,
                         ms_error *err);
/* Replaces dir/name atomically with data, mode 0600 (subdirs made 0700). */
int ms_profile_file_write(const ms_profile *p, const char *name,
                          const void *data, size_t len, ms_error *err);
/* Checks (creating with create) the subdirectory name of the profile. */
int ms_profile_subdir(const ms_profile *p, const char *name, bool create,
                      ms_error *err);

#endif
