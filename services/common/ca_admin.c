/* services/common/ca_admin.c - issue/revoke helpers (see ca_admin.h). */
#include "ca_admin.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/issue.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

/* RFC 5280 5.3.1; index = CRLReason, NULL = not a reason (7). */
static const char *const reasons[] = {
    "unspecified",     "keyCompromise",
    "cACompromise",    "affiliationChanged",
    "superseded",      "cessationOfOperation",
    "certificateHold", NULL,
    "removeFromCRL",   "privilegeWithdrawn",
    "aACompromise",
};
#define NREASONS ((int)(sizeof(reasons) / sizeof(reasons[0])))

int
ms_service_reason_parse(int *out, const char *s, ms_error *err)
{
    size_t n = strlen(s);

    for (int i = 0; i < NREASONS; i++) {
        if (reasons[i] != NULL && strcasecmp(s, reasons[i]) == 0 && i != 8) {
            *out = i;
            return 0;
        }
    }
    /* A number 0..10 other than 7 (8, removeFromCRL, is not a revocation). */
    if (n >= 1 && n <= 2 && strspn(s, "0123456789") == n) {
        int v = s[0] - '0';

        if (n == 2)
            v = v * 10 + (s[1] - '0');
        if (v < NREASONS && v != 7 && v != 8) {
            *out = v;
            return 0;
        }
    }
    return ms_error_set(err, MS_EINVAL,
                        "unknown reason (use unspecified, keyCompromise, "
                        "affiliationChanged, superseded, "
                        "cessationOfOperation, certificateHold, "
                        "privilegeWithdrawn or a number)");
}

const char *
ms_service_reason_name(int reason)
{
    if (reason < 0 || reason >= NREASONS || reasons[reason] == NULL)
        return "unknown";
    return reasons[reason];
}

int
ms_service_use_parse(ms_lint_use *out, const char *s, ms_error *err)
{
    if (strcmp(s, "signing") == 0)
        *out = MS_LINT_SIGNING;
    else if (strcmp(s, "encryption") == 0)
        *out = MS_LINT_ENCRYPTION;
    else
        return ms_error_set(err, MS_EINVAL,
                            "use must be signing or encryption");
    return 0;
}

int
ms_service_find_level(int *level_out, ms_store *st, const char *serial_hex,
                      ms_error *err)
{
    char serial[MS_STORE_SERIAL_HEX_MAX + 2];
    ms_store_cert c;
    int rc;

    if ((rc = ms_ca_serial_canonical(serial, sizeof(serial), serial_hex,
                                     err)) != 0)
        return rc;
    for (int level = 1; level <= 4; level++) {
        ms_store_cert_init(&c);
        rc = ms_store_cert_get(st, ms_ca_name(level), serial, &c, err);
        ms_store_cert_cleanup(&c);
        if (rc == 0) {
            *level_out = level;
            return 0;
        }
        if (rc != MS_ENOTFOUND)
            return rc;
    }
    return ms_error_set(err, MS_ENOTFOUND,
                        "no certificate with serial %s was issued here",
                        serial);
}

int
ms_service_cert_pem(ms_buf *pem, char **serial, const unsigned char *der,
                    size_t len, ms_error *err)
{
    const unsigned char *p = der;
    X509 *x = NULL;
    BIO *bio = NULL;
    char *data;
    long n;
    int rc = 0;

    if (len > INT_MAX || (x = d2i_X509(NULL, &p, (long)len)) == NULL ||
        p != der + len) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED, "not a DER certificate");
        goto out;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(bio, x) ||
        (n = BIO_get_mem_data(bio, &data)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot write PEM");
        goto out;
    }
    if ((rc = ms_buf_append(pem, data, (size_t)n)) != 0) {
        rc = ms_error_set(err, rc, "certificate too large");
        goto out;
    }
    if (serial != NULL && (*serial = ms_x509_serial_hex(x)) == NULL)
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
out:
    BIO_free(bio);
    X509_free(x);
    return rc;
}
