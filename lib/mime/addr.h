/*
 * mime/addr.h - the From address: exactly one mailbox, or a reason why not.
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

#endif
