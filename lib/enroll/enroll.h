/*
 * enroll/enroll.h - enrolling a device with mailseald: the client side of
 * the validate and kms modules (docs/api.md), for `mailseal enroll` and
 * `mailseal devices` and, later, the gateway.
 *
 * ms_enroll_run() does the whole enrollment of one device for one
 * mailbox, in memory, and installs the result in the profile only when
 * every step succeeded and checked out (fail closed):
 *   1. a P-256 signing key made here (it never leaves the device) and its
 *      CSR (empty subject, one requested subjectAltName: the mailbox);
 *   2. POST /v1/mailbox-validations -> id and poll token (memory only);
 *   3. the code: given, or asked through code_fn; an empty answer means
 *      "I followed the link": POST .../credential is polled (bounded);
 *   4. POST .../confirm -> the device credential (ms1_ token);
 *   5. GET /ca/chain.pem -> the CA certificates (root and V1..V4); the
 *      self-signed ones are the anchors everything below must chain to;
 *   6. POST /v1/certificates (the CSR, Bearer) -> the signing certificate
 *      and chain: checked (key is ours, names the mailbox, chains to the
 *      anchors for S/MIME signing at the context's time);
 *   7. POST /v1/keys/encryption with a fresh X25519 key: every envelope
 *      opened for its key id and the mailbox, each key checked against its
 *      certificate, each certificate checked as in 6 (S/MIME encryption);
 *   8. installs anchors, the signing pair, the encryption pairs (current
 *      first), the credential (file `credential`, 0600, atomic) and the
 *      settings address, server_url and device.
 * The anchors come from the server itself, over the URL the user gave
 * (trust on first use: give an https URL, or compare the root's
 * fingerprint, docs/api.md).
 *
 * Secrets: the signing key, the X25519 key and every PKCS#8 copy are
 * wiped (EVP_PKEY_free, secret ms_bufs); the poll token, code and device
 * token live in secret ms_bufs and never reach an error message.
 *
 * Ownership: callers own every argument. Thread safety: none of its own;
 * a profile and a context are used by one thread at a time.
 */
#ifndef MS_ENROLL_ENROLL_H
#define MS_ENROLL_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

#include "profile/profile.h"

#define MS_ENROLL_DEVICE_MAX 64          /* bytes in a device name */
#define MS_ENROLL_ID_MAX     128         /* bytes in a server id */
#define MS_ENROLL_CODE_MAX   128         /* bytes of a code as typed */
#define MS_ENROLL_TOKEN_MAX  256         /* bytes of a token */
#define MS_ENROLL_URL_MAX    2048        /* bytes in a URL */
#define MS_ENROLL_ANSWER_MAX (512 * 1024) /* bytes of one server answer */
#define MS_ENROLL_MAX_KEYS   32          /* encryption keys of a mailbox */
#define MS_ENROLL_CRED_FILE  "credential" /* in the profile directory */

/*
 * The code source: appends the code the user read from the mail sent to
 * address to out (a secret ms_buf); leaving it empty means the user
 * followed the link instead. Returns 0 or a negative status (err filled).
 */
typedef int (*ms_enroll_code_fn)(ms_buf *out, const char *address, void *arg,
                                 ms_error *err);

typedef struct ms_enroll_options {
    unsigned version;          /* 1 */
    const char *address;       /* the mailbox (normalised here) */
    const char *server_url;    /* mailseald's public URL, http(s) */
    const char *device;        /* 1..64 printable ASCII: the device label */
    const char *code;          /* the mailed code; NULL: code_fn */
    ms_enroll_code_fn code_fn; /* NULL (and no code): wait for the link */
    void *code_arg;
    unsigned poll_tries;    /* POST .../credential tries after the link */
    unsigned poll_interval; /* seconds between two tries */
} ms_enroll_options;

#define MS_ENROLL_OPTIONS_INIT {1, NULL, NULL, NULL, NULL, NULL, NULL, 120, 5}

typedef struct ms_enroll_result {
    char address[MS_PROFILE_ADDR_MAX + 1];  /* normalised */
    char device_id[MS_ENROLL_ID_MAX + 1];   /* the server's id of it */
    int level;                              /* of the signing certificate */
    time_t sign_not_after;                  /* signing certificate expiry */
    size_t nenc;                            /* encryption keys installed */
} ms_enroll_result;

/*
 * Enrolls this device (see the top of this file) and installs the result
 * in p. On failure nothing is installed. Returns 0; MS_EINVAL (bad
 * address, device name or URL); MS_EPOLICY (the profile belongs to
 * another address; the server refused: wrong code, validation used up or
 * expired, revalidate; an answer that does not check out: wrong key,
 * address or chain); MS_ETEMP (server unreachable, 5xx, 429: the message
 * says when to try again, or the link was not followed in time);
 * MS_EMALFORMED (an answer that cannot be read); MS_EBADSIG (an envelope
 * that does not open); MS_EIO, MS_ENOMEM; as ms_profile_add_pair().
 */
int ms_enroll_run(ms_enroll_result *out, const ms_ctx *ctx, ms_profile *p,
                  const ms_enroll_options *o, ms_error *err);

/* One device of the mailbox, as GET /v1/devices lists it (borrowed). */
typedef struct ms_enroll_device {
    const char *id;
    const char *name;
    const char *created;
    const char *revoked;     /* NULL while active */
    const char *const *serials; /* signing certificates, lower-case hex */
    size_t nserials;
    bool self;               /* this profile's device */
} ms_enroll_device;

typedef int (*ms_enroll_device_fn)(const ms_enroll_device *d, void *arg);

/*
 * Calls fn for each device of the profile's mailbox (GET /v1/devices with
 * the profile's credential); fn's non-zero return stops and is returned.
 * MS_ENOTFOUND (the profile is not enrolled), as ms_enroll_run().
 */
int ms_enroll_devices(const ms_ctx *ctx, ms_profile *p, ms_enroll_device_fn fn,
                      void *arg, ms_error *err);

/*
 * Revokes device id of the profile's mailbox (DELETE /v1/devices/{id}):
 * its credential and signing certificates. MS_ENOTFOUND (not enrolled, or
 * no such device of this mailbox), MS_EPOLICY (already revoked, our own
 * credential refused), as ms_enroll_run().
 */
int ms_enroll_revoke(const ms_ctx *ctx, ms_profile *p, const char *id,
                     ms_error *err);

#endif
