/*
 * fuzz/profile_p12.c - ms_profile_import_p12() on the input as a PKCS#12
 * (password "fuzz") into a throw-away profile directory made once. Whatever
 * the input, the call returns a status and leaves no OpenSSL error behind.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "profile/profile.h"

static ms_profile *the_profile;
static char dir[256];

/* The directory holds only what the imports wrote: removed at exit. */
static void
cleanup(void)
{
    char cmd[300];

    ms_profile_free(the_profile);
    the_profile = NULL;
    if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) < (int)sizeof(cmd))
        (void)system(cmd); /* best effort: a temporary directory */
}

static ms_profile *
profile(void)
{
    const char *tmp = getenv("TMPDIR");
    ms_error err;

    if (the_profile != NULL)
        return the_profile;
    (void)ms_fuzz_ctx(); /* initialises the library */
    (void)snprintf(dir, sizeof(dir), "%s/ms-fuzz-p12-XXXXXX",
                   tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        ms_fuzz_die("cannot make a temporary directory", NULL);
    if (ms_profile_open(&the_profile, dir, 0, &err) != 0)
        ms_fuzz_die("cannot open the profile", &err);
    (void)atexit(cleanup); /* without it only a directory is left */
    return the_profile;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_profile *p = profile();
    ms_error err;

    if (size > MS_FUZZ_MAX_INPUT)
        return 0;
    (void)ms_profile_import_p12(p, data, size, "fuzz", NULL, NULL, &err);
    if (ERR_peek_error() != 0)
        ms_fuzz_die("OpenSSL error queue not empty", NULL);
    return 0;
}
