/*
 * services/directory/dir.h - the pure parts of the directory module
 * (services/directory/routes.c): the address of a lookup path, checked
 * and normalised, and per-minute limits keyed by client address or API
 * key id (on lib/util/ratelimit.h).
 *
 * Ownership: outputs are caller storage; a limiter is owned by its
 * creator (ms_dir_rate_free). Thread safety: ms_dir_addr_parse() is
 * stateless; ms_dir_rate_take() may be called from any thread.
 */
#ifndef MS_SERVICES_DIRECTORY_DIR_H
#define MS_SERVICES_DIRECTORY_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mailseal/error.h>

/* Longest mailbox (RFC 5321 path) and the buffer holding it. */
#define MS_DIR_ADDR_MAX 254
#define MS_DIR_ADDR_BUF (MS_DIR_ADDR_MAX + 1)

/*
 * Checks one address (as the percent-decoded path segment or a JSON
 * string gives it) and writes its normalised form (ASCII lower case,
 * blanks around it trimmed) to out. Exact addresses only: wildcard,
 * prefix or pattern characters (* ? % [ ] ^ $ | \ / , ; : ( ) < > " { }),
 * blanks inside, control or non-ASCII bytes, no or
 * several '@', an empty local part, a domain that is not dot-separated
 * labels of letters, digits and '-' are MS_EINVAL (err says why).
 */
int ms_dir_addr_parse(char out[MS_DIR_ADDR_BUF], const char *in, ms_error *err);

typedef struct ms_dir_rate ms_dir_rate;

/* A limiter remembering up to slots keys (the least recently used
 * forgotten first). */
int ms_dir_rate_new(ms_dir_rate **out, size_t slots, ms_error *err);
void ms_dir_rate_free(ms_dir_rate *r);

/*
 * Takes one request for key (1..320 bytes) from its bucket of per_min
 * requests a minute (refilled continuously, burst per_min) at now; a key
 * the limiter refuses, or per_min < 1, is never allowed. True when allowed; else *retry_after = seconds until
 * one request is available (>= 1).
 */
bool ms_dir_rate_take(ms_dir_rate *r, const char *key, long per_min, time_t now,
                      long *retry_after);

#endif
