/*
 * ca/rotate.h - key and certificate rotation in an existing data directory
 * (the library call behind `mailseald rotate`).
 *
 * What can be rotated (opt->what, any combination):
 *   MS_CA_ROTATE_OCSP     the four delegated OCSP responders: each a new
 *                         key (the current key's type unless opt->ocsp_key
 *                         names one) and a new certificate from the same
 *                         issuing CA, valid MS_CA_OCSP_DAYS.
 *   MS_CA_ROTATE_TSA      a new TSA key and certificate issued by the root
 *                         (MS_CA_TSA_DAYS). The root's private key is
 *                         loaded with the passphrase for the signature and
 *                         freed (wiped) right after it.
 *   MS_CA_ROTATE_ISSUING  issuing CA opt->level: a new key and certificate
 *                         with the SAME subject name, signed by the root
 *                         (MS_CA_CA_DAYS), and with it a new OCSP responder
 *                         for that level issued by the new key (the old
 *                         responder was certified by the old key and would
 *                         no longer load). The old CA certificate and key
 *                         are kept in retired/ (below) and exposed by
 *                         ms_ca_open() through ms_ca_get0_retired(): what
 *                         the old key issued keeps verifying, and the OCSP
 *                         and CRL modules must keep answering for it (see
 *                         ca/hierarchy.h for what they must do).
 *
 * An item is one certificate with its key, except MS_CA_ROTATE_ISSUING
 * whose CA and responder form one item. Items run in the order issuing
 * CA, TSA, responders (a responder renewed with its CA is not renewed
 * again). Each item is atomic and fails closed:
 *   1. the new key and certificate are made and checked (signature by the
 *      issuer, key match, names) and written under temporary names
 *      (DIR/private/<name>.key.new, DIR/certs/<name>.pem.new: the key
 *      encrypted under the passphrase like the others, mode 0600);
 *   2. the old files are linked to DIR/certs/retired/<name>-<serial>.pem
 *      and DIR/private/retired/<name>-<serial>.key (serial: the old
 *      certificate's, lower-case hex; the key file stays as it was,
 *      encrypted, 0600), then the new ones renamed over them;
 *   3. the directory must load with ms_ca_open() (every check it makes)
 *      and ONE audit row "ca.rotate" per item (name, file, old_serial,
 *      new_serial, not_after, key, retired; an issuing CA's row adds the
 *      same fields of its responder prefixed "responder_") is appended to
 *      the directory's store (`database` in DIR/mailseald.conf);
 * a failure anywhere before the end of 3 puts the old files back and
 * removes the new ones: nothing in place changes. Items done before a
 * failing one stay done (each has its audit row); the error says which
 * item failed. Before the first item the directory as it is must load
 * with ms_ca_open() under the passphrase and the store must open, so a
 * wrong passphrase or an unreachable database changes nothing at all.
 * A crash between the renames of step 2 leaves a directory that does not
 * load (a key not matching its certificate): fail closed; the old files
 * are in retired/.
 *
 * Ownership: only reads its arguments. Thread safety: one rotation per
 * directory at a time (no lock is taken: `mailseald rotate` is an
 * operator command; running daemons keep the hierarchy they opened and
 * see the new one after a restart).
 */
#ifndef MS_CA_ROTATE_H
#define MS_CA_ROTATE_H

#include <time.h>

#include <mailseal/error.h>

#include "ca/keys.h"

#define MS_CA_ROTATE_OCSP    0x1u
#define MS_CA_ROTATE_TSA     0x2u
#define MS_CA_ROTATE_ISSUING 0x4u

/*
 * Called once per certificate replaced, after its item is committed and
 * audited: name is the file name ("ocsp-v3"), serials lower-case hex.
 */
typedef void (*ms_ca_rotate_fn)(const char *name, const char *old_serial,
                                const char *new_serial, time_t not_after,
                                void *arg);

typedef struct ms_ca_rotate_options {
    unsigned version;           /* MS_CA_ROTATE_OPTIONS_VERSION */
    unsigned what;              /* MS_CA_ROTATE_* bits, at least one */
    int level;                  /* 1..4 with MS_CA_ROTATE_ISSUING, else 0 */
    const char *passphrase;     /* the keys' passphrase; NULL: the directory
                                   has insecure (unencrypted) keys */
    ms_ca_key_type ocsp_key;    /* DEFAULT: the current key's type; else
                                   P256, P384 or RSA2048 */
    ms_ca_key_type tsa_key;     /* DEFAULT: current; P256 or RSA2048 */
    ms_ca_key_type ca_key;      /* DEFAULT: current; P256, P384, RSA* */
    time_t now;                 /* 0: time(2); also stamps the audit rows */
    ms_ca_rotate_fn on_rotated; /* NULL, or told of each certificate */
    void *arg;                  /* for on_rotated */
} ms_ca_rotate_options;

#define MS_CA_ROTATE_OPTIONS_VERSION 1
#define MS_CA_ROTATE_OPTIONS_INIT                                              \
    {                                                                          \
        MS_CA_ROTATE_OPTIONS_VERSION, 0, 0, NULL, MS_CA_KEY_DEFAULT,           \
            MS_CA_KEY_DEFAULT, MS_CA_KEY_DEFAULT, 0, NULL, NULL                \
    }

/*
 * Rotates what opt asks for in the data directory dir (made by
 * ms_ca_init_dir()), as described at the top. Returns 0, MS_EINVAL (bad
 * options: version, no or unknown bits, level, key types; a current key
 * of a type the item does not allow), the returns of ms_ca_open() for the
 * directory before and after (MS_EBADSIG: wrong passphrase; MS_EPOLICY:
 * a passphrase for insecure keys or none for encrypted ones), of the
 * configuration loader (MS_EINVAL, MS_EIO) and of the store (MS_ETEMP,
 * MS_EIO), MS_EIO (files), MS_ENOMEM, MS_ERR.
 */
int ms_ca_rotate(const char *dir, const ms_ca_rotate_options *opt,
                 ms_error *err);

#endif
