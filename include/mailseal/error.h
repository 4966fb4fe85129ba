/*
 * mailseal/error.h - status codes and the error record.
 *
 * Every fallible ms_ call returns 0 or a negative ms_status and, when the
 * caller passed a non-NULL ms_error, fills it with the code, a one-line
 * message, the origin and the first OpenSSL error. The ms_error is caller
 * storage: no cleanup is needed. Thread safety: none needed, no globals.
 */
#ifndef MAILSEAL_ERROR_H
#define MAILSEAL_ERROR_H

#include <mailseal/export.h>

typedef enum ms_status {
    MS_OK = 0,
    MS_ERR = -1,        /* generic failure */
    MS_ENOMEM = -2,     /* out of memory */
    MS_EINVAL = -3,     /* invalid argument or usage */
    MS_ETOOBIG = -4,    /* over a configured limit */
    MS_EMALFORMED = -5, /* input cannot be parsed */
    MS_ENOTFOUND = -6,  /* no such object (e.g. no matching recipient) */
    MS_EBADSIG = -7,    /* signature, digest or authentication tag bad */
    MS_EUNTRUSTED = -8, /* no chain to a trust anchor */
    MS_EREVOKED = -9,   /* certificate revoked */
    MS_EPOLICY = -10,   /* refused by policy */
    MS_ETEMP = -11,     /* temporary failure, retry later */
    MS_EIO = -12,       /* I/O error */
    MS_ELIMIT = -13     /* rate limit reached, retry after a delay */
} ms_status;

typedef struct ms_error {
    int code;          /* an ms_status */
    char msg[256];     /* one line, no secrets */
    char origin[64];   /* function:line inside libmailseal */
    char ossl[256];    /* first OpenSSL error, "" when none */
} ms_error;

/* The fixed name of a status ("MS_EBADSIG"); never NULL. */
MS_EXPORT const char *ms_status_name(int code);

/* Clears err (no-op on NULL). */
MS_EXPORT void ms_error_clear(ms_error *err);

#endif
