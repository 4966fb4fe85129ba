/*
 * services/directory/addr.c - the exact address of a directory lookup
 * (dir.h).
 */
#include <string.h>

#include "dir.h" /* relative: fuzz/dir_addr.c builds this file too */
#include "mime/addr.h"
#include "util/error.h"

/*
 * Characters a pattern, a wildcard, a regular expression or a list could
 * be made of, refused on top of ms_addr_normalise()'s rules (which allow
 * some of them in a local part). '_' and '+' stay allowed: everyday addresses use them and
 * lookups never use LIKE.
 */
static const char pattern_chars[] = "*?%[]^$|\\/,;:()<>\"{}";

int
ms_dir_addr_parse(char out[MS_DIR_ADDR_BUF], const char *in, ms_error *err)
{
    int rc;

    if ((rc = ms_addr_normalise(out, MS_DIR_ADDR_BUF, in, err)) != 0)
        return rc;
    if (strpbrk(out, pattern_chars) != NULL) {
        out[0] = '\0';
        return ms_error_set(err, MS_EINVAL,
                            "exact addresses only: no wildcard, pattern "
                            "or special characters");
    }
    return 0;
}
