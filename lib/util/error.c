/* util/error.c - the error record. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "util/error.h"

const char *
ms_status_name(int code)
{
    static const char *const names[] = {
        "MS_OK",         "MS_ERR",        "MS_ENOMEM",     "MS_EINVAL",
        "MS_ETOOBIG",    "MS_EMALFORMED", "MS_ENOTFOUND",  "MS_EBADSIG",
        "MS_EUNTRUSTED", "MS_EREVOKED",   "MS_EPOLICY",    "MS_ETEMP",
        "MS_EIO",        "MS_ELIMIT",
    };

    if (code > 0 || -code >= (int)(sizeof(names) / sizeof(names[0])))
        return "MS_UNKNOWN";
    return names[-code];
}

void
ms_error_clear(ms_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}

int
ms_error_set_at(ms_error *err, int code, const char *func, int line,
                const char *fmt, ...)
{
    va_list ap;
    unsigned long e;

    e = ERR_peek_error();
    if (err != NULL) {
        char msg[sizeof(err->msg)];

        /* Format first: the arguments may point into err itself. */
        va_start(ap, fmt);
        /* Truncation of an over-long message is acceptable. */
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        memset(err, 0, sizeof(*err));
        err->code = code;
        memcpy(err->msg, msg, sizeof(msg));
        (void)snprintf(err->origin, sizeof(err->origin), "%s:%d", func, line);
        if (e != 0)
            ERR_error_string_n(e, err->ossl, sizeof(err->ossl));
    }
    ERR_clear_error();
    return code;
}
