/*
 * fuzz/config_parse.c - ms_daemon_config_parse() on the input as a config
 * file; what parses is printed (-T) and must parse back (or be refused only
 * for length, since redaction can lengthen a line).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "config/daemon.h"
#include "fuzz.h"

static void
round_trip(const ms_daemon_config *c)
{
    ms_daemon_config *again = NULL;
    ms_error err;
    ms_buf out;
    int rc;

    ms_buf_init(&out, 0);
    if (ms_daemon_config_format(&out, c) != 0)
        ms_fuzz_die("cannot format a parsed config", NULL);
    rc = ms_daemon_config_parse(&again, (const char *)out.data, out.len, "-T",
                                "/fuzz", &err);
    if (rc != 0 && rc != MS_ETOOBIG)
        ms_fuzz_die("printed config does not parse back", &err);
    ms_daemon_config_free(again);
    ms_buf_cleanup(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_daemon_config *c = NULL;
    ms_error err;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    /* The parser takes a length; the bytes need no terminator. */
    if (ms_daemon_config_parse(&c, (const char *)data, size, "fuzz", "/fuzz",
                               &err) == 0) {
        round_trip(c);
        ms_daemon_config_free(c);
    }
    ERR_clear_error();
    return 0;
}
