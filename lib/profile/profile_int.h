/*
 * profile/profile_int.h - the internals of ms_profile, shared by the
 * profile modules (profile.c, keys.c, p12.c, seen.c) only.
 */
#ifndef MS_PROFILE_PROFILE_INT_H
#define MS_PROFILE_PROFILE_INT_H

#include "profile/profile.h"

#define MS_PROFILE_ID_LEN 32 /* hex characters of a pair's id */

typedef struct ms_profile_pair {
    char id[MS_PROFILE_ID_LEN + 1];
    X509 *cert;
} ms_profile_pair;

struct ms_profile {
    char *dir;
    ms_profile_conf conf;
    ms_profile_pass_fn pass_fn;
    void *pass_arg;
    ms_buf pass; /* secret: the passphrase, once asked */
    bool have_pass;
    ms_profile_pair pairs[2][MS_PROFILE_MAX_PAIRS]; /* by ms_profile_kind */
    size_t npairs[2];
};

/* The subdirectory of kind ("sign", "enc"). */
const char *ms_profile_kind_dir(ms_profile_kind kind);
/* Lists the complete pairs of both kinds, current first (keys.c). */
int ms_profile_scan(ms_profile *p, ms_error *err);
/* Frees the listed pairs. */
void ms_profile_pairs_clear(ms_profile *p);
/* *out = dir/name (ms_free). MS_ENOMEM, MS_EINVAL (too long). */
int ms_profile_join(char **out, const ms_profile *p, const char *name,
                    ms_error *err);
/* The passphrase for the keys (asked once), or NULL when keys are plain. */
int ms_profile_passphrase(const char **out, ms_profile *p, bool confirm,
                          ms_error *err);
/* Lower-case hex of the first n bytes of the SHA-256 of x (2n+1 bytes). */
int ms_profile_cert_hex(char *out, size_t n, X509 *x, ms_error *err);

#endif
