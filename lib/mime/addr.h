/*
 * mime/addr.h - mail addresses: the From of a message (exactly one mailbox,
 * or a reason why not) and the one normal form of an address that the
 * whole project stores, compares and looks up.
 *
 * The From value is read by our own strict RFC 5322 (3.4) parser, no GMime:
 * one name-addr or addr-spec, RFC 6532 UTF-8 in display names, comments
 * nested at most 8 deep, no obsolete syntax (routes, CFWS inside dot-atoms).
 * Nothing is kept between calls; all functions are thread-safe.
 */
#ifndef MS_MIME_ADDR_H
#define MS_MIME_ADDR_H

#include <mailseal/error.h>

#include "mime/mime.h"

#define MS_ADDR_MAX 1024

/* RFC 5321 (4.5.3.1): local-part, domain, and a whole path without <>. */
#define MS_ADDR_LOCAL_MAX  64
#define MS_ADDR_DOMAIN_MAX 255
#define MS_ADDR_NORM_MAX   254
/* Longest input ms_addr_normalise() reads, blanks to trim included. */
#define MS_ADDR_NORM_INPUT_MAX 1024

/*
 * Parses one unfolded From value (no CR or LF, at most 64 KiB, UTF-8, no
 * control characters but HTAB). On success *out (ms_free) is the addr-spec:
 * the local-part as written (a quoted one keeps its quotes), the domain as
 * written or, when it holds UTF-8, in IDNA A-label form; never the display
 * name, and at most MS_ADDR_MAX bytes. On failure returns MS_EMALFORMED
 * (MS_ENOMEM when out of memory), *out is NULL and *why says what is wrong
 * (static text): empty, too long, not valid UTF-8, cannot be parsed, does
 * not hold exactly one mailbox, is a group, not a valid addr-spec.
 */
int ms_addr_parse_from(char **out, const char *value, const char **why);

/* The From of the message's top-level header (one field, one mailbox). */
int ms_mime_from(char **out, const ms_mime *m, const char **why);

/* Called by ms_addr_parse_list() with each addr-spec (borrowed for the
 * call); a non-zero return stops the walk and is returned. */
typedef int (*ms_addr_list_fn)(const char *addr, void *arg);

/*
 * Parses one unfolded address-list value (To, Cc, Bcc, or a sendmail
 * recipient argument): mailboxes and groups ("Team: a@x, b@y;") separated
 * by commas; empty elements and empty groups are allowed, an empty value
 * holds no address. Each mailbox is read as strictly as by
 * ms_addr_parse_from() and fn gets its addr-spec, in order. Returns 0,
 * fn's status, MS_EMALFORMED (with *why, static text; fn may have been
 * called for the addresses before the fault) or MS_ENOMEM.
 */
int ms_addr_parse_list(const char *value, ms_addr_list_fn fn, void *arg,
                       const char **why);

/* Case-insensitive comparison of two addr-specs (ASCII). */
bool ms_addr_equal(const char *a, const char *b);

/*
 * Writes to out (n bytes, NUL included) the normal form of the mail
 * address in: the one form mailboxes are stored, compared (exactly, with
 * strcmp) and looked up in, everywhere (validation, kms, directory,
 * profiles, rate limits). The rules:
 *   - blanks (SP, HTAB, CR, LF) before and after are trimmed;
 *   - ASCII only: an IDNA domain must come in A-label form ("xn--"), a
 *     UTF-8 local part (RFC 6531) is refused;
 *   - exactly one '@', with a local part of 1..MS_ADDR_LOCAL_MAX bytes
 *     and a domain of 1..MS_ADDR_DOMAIN_MAX, MS_ADDR_NORM_MAX in all;
 *   - the local part is a dot-atom (RFC 5322 atext and '.', no leading,
 *     trailing or doubled '.') without '*', '%', '?' (wildcards of
 *     globs, SQL LIKE and URLs) and '/' (a path separator, as addresses
 *     name files and URL path segments); quoted strings, blanks, control
 *     characters, '\' and the other specials are refused;
 *   - the domain is letters, digits, '-' and '.': labels of 1..63 bytes
 *     neither starting nor ending with '-'; no leading, trailing or
 *     doubled '.', no domain literal ("[192.0.2.1]"); a single label
 *     ("localhost") is accepted;
 *   - ASCII letters are folded to lower case in the local part as well
 *     as the domain (RFC 5321 leaves the local part's case to the
 *     receiving host; every mail system we meet ignores it).
 * So the result holds nothing a prefix, wildcard or pattern query could
 * read as anything but itself. Reads at most MS_ADDR_NORM_INPUT_MAX bytes
 * of in. Returns 0 or MS_EINVAL (in NULL, not an address by these rules,
 * out too small: the message says which rule, never echoing in); on
 * failure out is "". A caller that must refuse addresses not already
 * normal (kms) compares the result with its input.
 */
int ms_addr_normalise(char *out, size_t n, const char *in, ms_error *err);

#endif
