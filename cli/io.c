/* io.c - reading the message, writing results, mapping errors to exits. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cli_fail(const char *cmd, const ms_error *err)
{
    switch (err->code) {
    case MS_EINVAL:
    case MS_EIO:
        cli_error(cmd, "%s", err->msg);
        return EXIT_USAGE;
    default:
        cli_error(cmd, "%s", err->msg);
        return EXIT_VERDICT;
    }
}

int
cli_read_stdin(ms_buf *b, ms_ctx *ctx, const char *cmd)
{
    unsigned char chunk[65536];
    size_t n, max = ms_ctx_get0_limits(ctx)->max_message;
    int rc;

    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        if ((rc = ms_buf_append(b, chunk, n)) != 0) {
            if (rc == MS_ETOOBIG)
                cli_error(cmd, "input over %zu bytes", max);
            else
                cli_error(cmd, "out of memory");
            return rc == MS_ETOOBIG ? EXIT_VERDICT : EXIT_USAGE;
        }
    }
    if (ferror(stdin)) {
        cli_error(cmd, "cannot read standard input: %s", strerror(errno));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int
cli_write(const char *cmd, const char *path, const void *p, size_t n)
{
    FILE *fp = stdout;

    if (path != NULL && strcmp(path, "-") != 0 &&
        (fp = fopen(path, "wb")) == NULL) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    if ((n > 0 && fwrite(p, 1, n, fp) != n) || fflush(fp) != 0) {
        cli_error(cmd, "%s: write error: %s",
                  path != NULL ? path : "standard output", strerror(errno));
        if (fp != stdout)
            (void)fclose(fp); /* already failing */
        return EXIT_USAGE;
    }
    if (fp != stdout && fclose(fp) != 0) {
        cli_error(cmd, "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}
