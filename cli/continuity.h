/*
 * continuity.h - key continuity: what `mailseal open` remembers about each
 * correspondent (the signing certificate's fingerprint, its issuing CA and
 * the identity level) and when a change is worth a warning.
 *
 * A record is made or updated only from a message whose verdict is
 * validated, mailbox-validated or signed (the chain reached an anchor and
 * the From address is the certificate's). A new certificate from the same
 * CA at the same or a higher level is a renewal and silent; a new CA, a
 * lower level, or an unsigned (or failing) message from a correspondent
 * with a record is warned about. The new certificate then becomes the
 * record (each change is reported once); a failing message changes nothing.
 * docs/verdicts.md, "Key continuity", says the same for users.
 *
 * Thread safety: none needed (one command, one thread).
 */
#ifndef MS_CLI_CONTINUITY_H
#define MS_CLI_CONTINUITY_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include <mailseal/verify.h>

#include "profile/profile.h"

typedef enum cli_cont_status {
    CLI_CONT_NONE = 0, /* nothing to compare: no record, no trusted signer */
    CLI_CONT_NEW,      /* first message from this correspondent */
    CLI_CONT_SAME,     /* the certificate seen before */
    CLI_CONT_RENEWED,  /* a new certificate, same CA, same or higher level */
    CLI_CONT_NEW_CA,   /* a certificate from another CA (warning) */
    CLI_CONT_LOWER,    /* a lower identity level than before (warning) */
    CLI_CONT_UNSIGNED  /* no trusted signature from a known signer (warning) */
} cli_cont_status;

typedef struct cli_continuity {
    cli_cont_status status;
    char address[MS_PROFILE_ADDR_MAX + 1];
    bool has_prev, has_cur;
    ms_profile_seen prev; /* the record before this message */
    ms_profile_seen cur;  /* what this message shows */
    char warning[1024];   /* "" when silent */
} cli_continuity;

/* The comparison alone: prev and cur may be NULL (none). */
cli_cont_status cli_continuity_judge(const ms_profile_seen *prev,
                                     const ms_profile_seen *cur);
/* True for the statuses that warn. */
bool cli_continuity_warns(cli_cont_status s);
/* "none", "new", "same", "renewed", "new-ca", "lower-level", "unsigned". */
const char *cli_continuity_name(cli_cont_status s);

/*
 * Compares what r says about its sender with the profile's record, fills
 * out (status and warning text) and updates the record. Returns 0 or a
 * negative status (err filled): a damaged record, I/O.
 */
int cli_continuity_check(cli_continuity *out, ms_profile *p, const ms_result *r,
                         time_t now, ms_error *err);

/* The "continuity" member of open --json (a new reference; NULL on OOM). */
json_t *cli_continuity_json(const cli_continuity *c);

#endif
