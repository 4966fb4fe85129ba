/* util/file.c - reading whole files and streams into capped buffers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/file.h"

int
ms_stream_read(ms_buf *out, FILE *fp, size_t max, ms_error *err)
{
    unsigned char chunk[65536];
    size_t n;
    int rc;

    ms_buf_reset(out);
    out->max = max;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if ((rc = ms_buf_append(out, chunk, n)) != 0) {
            ms_wipe(chunk, sizeof(chunk));
            if (rc == MS_ETOOBIG)
                return ms_error_set(err, rc, "input over %zu bytes", max);
            return ms_error_set(err, rc, "out of memory");
        }
    }
    ms_wipe(chunk, sizeof(chunk));
    if (ferror(fp))
        return ms_error_set(err, MS_EIO, "read error: %s", strerror(errno));
    return 0;
}

int
ms_file_read(ms_buf *out, const char *path, size_t max, ms_error *err)
{
    FILE *fp;
    int rc;

    if ((fp = fopen(path, "rb")) == NULL)
        return ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
    rc = ms_stream_read(out, fp, max, err);
    if (fclose(fp) != 0 && rc == 0)
        rc = ms_error_set(err, MS_EIO, "%s: %s", path, strerror(errno));
    if (rc != 0 && err != NULL && strncmp(err->msg, path, strlen(path)) != 0) {
        char tmp[sizeof(err->msg)];
        size_t n;

        /* Prefix the path; a message cut at the end is acceptable. */
        n = strlen(path) < sizeof(tmp) / 2 ? strlen(path) : sizeof(tmp) / 2;
        memcpy(tmp, path, n);
        tmp[n] = '\0';
        if (n + 2 < sizeof(tmp)) {
            memcpy(tmp + n, ": ", 3);
            n += 2;
            memcpy(tmp + n, err->msg, strnlen(err->msg, sizeof(tmp) - n - 1));
            tmp[n + strnlen(err->msg, sizeof(tmp) - n - 1)] = '\0';
        }
        memcpy(err->msg, tmp, sizeof(tmp));
    }
    return rc;
}
