/* services/common/http_error.c - ms_status -> HTTP status (see .h). */
#include "http_error.h"

#include <mailseal/error.h>

int
ms_http_error_status(int code, const char **public_msg)
{
    switch (code) {
    case MS_EINVAL:
    case MS_EMALFORMED:
        *public_msg = "malformed request";
        return 400;
    case MS_EBADSIG:
    case MS_EUNTRUSTED:
    case MS_EREVOKED:
        *public_msg = "signature or certificate not accepted";
        return 400;
    case MS_EPOLICY:
        *public_msg = "refused by policy";
        return 403;
    case MS_ENOTFOUND:
        *public_msg = "not found";
        return 404;
    case MS_ETOOBIG:
        *public_msg = "request too large";
        return 413;
    case MS_ELIMIT:
        *public_msg = "too many requests, retry later";
        return 429;
    case MS_ETEMP:
        *public_msg = "temporarily unavailable, retry later";
        return 503;
    default:
        *public_msg = "internal error";
        return 500;
    }
}
