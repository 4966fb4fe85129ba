/* util/file.h - reading whole files and streams into capped buffers. */
#ifndef MS_UTIL_FILE_H
#define MS_UTIL_FILE_H

#include <stdio.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

/* Reads path (at most max bytes) into out. MS_EIO, MS_ETOOBIG, MS_ENOMEM. */
int ms_file_read(ms_buf *out, const char *path, size_t max, ms_error *err);
/* Reads fp to its end (at most max bytes). */
int ms_stream_read(ms_buf *out, FILE *fp, size_t max, ms_error *err);

#endif
