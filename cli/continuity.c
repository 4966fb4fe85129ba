/* continuity.c - key continuity of correspondents (see continuity.h). */
#include "continuity.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "mime/addr.h"
#include "policy/result.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

cli_cont_status
cli_continuity_judge(const ms_profile_seen *prev, const ms_profile_seen *cur)
{
    if (cur == NULL)
        return prev == NULL ? CLI_CONT_NONE : CLI_CONT_UNSIGNED;
    if (prev == NULL)
        return CLI_CONT_NEW;
    if (strcmp(prev->fingerprint, cur->fingerprint) == 0 &&
        cur->level >= prev->level)
        return CLI_CONT_SAME;
    if (strcmp(prev->issuer, cur->issuer) != 0)
        return CLI_CONT_NEW_CA;
    if (cur->level < prev->level)
        return CLI_CONT_LOWER;
    return CLI_CONT_RENEWED;
}

bool
cli_continuity_warns(cli_cont_status s)
{
    return s == CLI_CONT_NEW_CA || s == CLI_CONT_LOWER ||
           s == CLI_CONT_UNSIGNED;
}

const char *
cli_continuity_name(cli_cont_status s)
{
    static const char *const names[] = {
        "none", "new", "same", "renewed", "new-ca", "lower-level", "unsigned"};

    return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "none";
}

/* "V3" or "no level" into a caller array of 16 bytes. */
static const char *
level_text(char out[16], int level)
{
    if (level >= 1 && level <= 4)
        (void)snprintf(out, 16, "V%d", level);
    else
        (void)snprintf(out, 16, "no level");
    return out;
}

static void
warning_text(cli_continuity *c)
{
    char since[32] = "?", lp[16], lc[16];
    const char *what;

    if (!cli_continuity_warns(c->status))
        return;
    (void)ms_time_format(since, sizeof(since), c->prev.first_seen);
    if (c->status == CLI_CONT_UNSIGNED) {
        (void)snprintf(c->warning, sizeof(c->warning),
                       "continuity: %s signed with %s from \"%s\" since %s; "
                       "this message has no trusted signature",
                       c->address, level_text(lp, c->prev.level),
                       c->prev.issuer, since);
        return;
    }
    what = c->status == CLI_CONT_NEW_CA
               ? (c->cur.level < c->prev.level ? "another CA and a lower level"
                                               : "another CA")
               : "a lower identity level";
    (void)snprintf(c->warning, sizeof(c->warning),
                   "continuity: %s changed to %s: now %s from \"%s\", before "
                   "%s from \"%s\" since %s",
                   c->address, what, level_text(lc, c->cur.level),
                   c->cur.issuer, level_text(lp, c->prev.level), c->prev.issuer,
                   since);
}

/* Fills c->cur from the signer of r; false when r has no trusted signer. */
static int
observe(cli_continuity *c, const ms_result *r, time_t now, ms_error *err)
{
    X509 *x = ms_result_get0_signer_cert(r);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *issuer;

    if (ms_result_verdict(r) > MS_VERDICT_SIGNED || x == NULL)
        return 0;
    if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
        return ms_error_set(err, MS_ERR, "cannot hash the signer certificate");
    for (unsigned i = 0; i < n; i++)
        (void)snprintf(c->cur.fingerprint + 2 * i, 3, "%02x", md[i]);
    if ((issuer = ms_x509_issuer_text(x)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    /* Control characters are replaced; a line break must not remain. */
    issuer[strcspn(issuer, "\r\n")] = '\0';
    (void)snprintf(c->cur.issuer, sizeof(c->cur.issuer), "%s", issuer);
    ms_free(issuer);
    c->cur.level = ms_result_level(r);
    c->cur.first_seen = now;
    c->cur.last_seen = now;
    c->has_cur = true;
    return 0;
}

int
cli_continuity_check(cli_continuity *c, ms_profile *p, const ms_result *r,
                     time_t now, ms_error *err)
{
    const char *from = ms_result_get0_from(r);
    int rc;

    memset(c, 0, sizeof(*c));
    if (from == NULL ||
        ms_addr_normalise(c->address, sizeof(c->address), from, NULL) != 0)
        return 0; /* no usable From: nobody to remember */
    rc = ms_profile_seen_get(&c->prev, p, c->address, err);
    if (rc == MS_ENOTFOUND)
        ms_error_clear(err);
    else if (rc != 0)
        return rc;
    c->has_prev = rc == 0;
    if ((rc = observe(c, r, now, err)) != 0)
        return rc;
    c->status = cli_continuity_judge(c->has_prev ? &c->prev : NULL,
                                     c->has_cur ? &c->cur : NULL);
    warning_text(c);
    if (!c->has_cur)
        return 0; /* an untrusted message never changes the record */
    if (c->status == CLI_CONT_SAME)
        c->cur.first_seen = c->prev.first_seen;
    return ms_profile_seen_put(p, c->address, &c->cur, err);
}

static json_t *
seen_json(const ms_profile_seen *s)
{
    char first[32] = "", last[32] = "", lv[16];

    (void)ms_time_format(first, sizeof(first), s->first_seen);
    (void)ms_time_format(last, sizeof(last), s->last_seen);
    return json_pack("{s:s,s:s,s:o,s:s,s:s}", "fingerprint", s->fingerprint,
                     "issuer", s->issuer, "level",
                     s->level >= 1 ? json_string(level_text(lv, s->level))
                                   : json_null(),
                     "first_seen", first, "last_seen", last);
}

json_t *
cli_continuity_json(const cli_continuity *c)
{
    return json_pack(
        "{s:s,s:o,s:o,s:o}", "status", cli_continuity_name(c->status),
        "warning",
        c->warning[0] != '\0' ? json_string(c->warning) : json_null(),
        "previous", c->has_prev ? seen_json(&c->prev) : json_null(), "address",
        c->address[0] != '\0' ? json_string(c->address) : json_null());
}
