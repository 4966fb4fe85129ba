/*
 * services/directory/addr.c - the exact address of a directory lookup
 * (dir.h).
 */
#include <string.h>

#include "dir.h" /* relative: fuzz/dir_addr.c builds this file too */
#include "kms/escrow.h"
#include "util/error.h"

/*
 * Characters a pattern, a wildcard, a regular expression or a list could
 * be made of. '_' and '+' stay allowed: everyday addresses use them and
 * lookups never use LIKE.
 */
static const char pattern_chars[] = "*?%[]^$|\\/,;:()<>\"{}";

static bool
label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-';
}

static int
domain_check(const char *d, ms_error *err)
{
    const char *start = d; /* of the current label */

    if (*d == '\0')
        return ms_error_set(err, MS_EINVAL, "the address has no domain");
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t label = (size_t)(p - start);

            if (label == 0 || label > 63 || *start == '-' || p[-1] == '-')
                return ms_error_set(err, MS_EINVAL,
                                    "the domain is not a host name");
            if (*p == '\0')
                return 0;
            start = p + 1;
        } else if (!label_char(*p)) {
            return ms_error_set(err, MS_EINVAL,
                                "the domain is not a host name");
        }
    }
}

static int
local_check(const char *s, size_t n, ms_error *err)
{
    if (n == 0 || n > 64)
        return ms_error_set(err, MS_EINVAL, "the local part is empty or long");
    if (s[0] == '.' || s[n - 1] == '.')
        return ms_error_set(err, MS_EINVAL,
                            "the local part starts or ends "
                            "with a dot");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= 0x20 || c >= 0x7f || strchr(pattern_chars, c) != NULL)
            return ms_error_set(err, MS_EINVAL,
                                "exact addresses only: no wildcard, pattern "
                                "or special characters");
        if (c == '.' && s[i + 1] == '.')
            return ms_error_set(err, MS_EINVAL, "two dots in the local part");
    }
    return 0;
}

int
ms_dir_addr_parse(char out[MS_DIR_ADDR_BUF], const char *in, ms_error *err)
{
    char tmp[MS_DIR_ADDR_BUF];
    const char *at;
    size_t n;
    int rc;

    out[0] = '\0';
    if (in == NULL)
        return ms_error_set(err, MS_EINVAL, "no address");
    while (*in == ' ' || *in == '\t')
        in++;
    n = strnlen(in, MS_DIR_ADDR_MAX + 64);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n < 3 || n > MS_DIR_ADDR_MAX)
        return ms_error_set(err, MS_EINVAL, "the address must be 3..%d bytes",
                            MS_DIR_ADDR_MAX);
    memcpy(tmp, in, n);
    tmp[n] = '\0';
    if ((at = strchr(tmp, '@')) == NULL || strchr(at + 1, '@') != NULL)
        return ms_error_set(err, MS_EINVAL,
                            "the address needs exactly one '@'");
    if ((rc = local_check(tmp, (size_t)(at - tmp), err)) != 0 ||
        (rc = domain_check(at + 1, err)) != 0)
        return rc;
    return ms_kms_mailbox_normalise(out, MS_DIR_ADDR_BUF, tmp, err);
}
