/*
 * x509/info.h - what a certificate says: identity level, mailboxes, names,
 * usage. Returned strings are heap copies (ms_free) made safe for display.
 */
#ifndef MS_X509_INFO_H
#define MS_X509_INFO_H

#include <stdbool.h>
#include <time.h>

#include <openssl/x509.h>

/* Our private arc (DESIGN.md): .1.{1,2,3,4} for V1..V4. */
#define MS_OID_ARC "2.25.70987990664227431197429845594075621128"

/* 1..4 from the certificate policies (lowest wins), 0 when none. */
int ms_x509_level(X509 *x);
/* The same, counting only the CA/Browser Forum OIDs (for chains to a
 * public root: our private arc means something only under our own CA). */
int ms_x509_level_public(X509 *x);
/* True when SAN holds an rfc822Name equal (case-insensitively) to addr. */
bool ms_x509_has_email(X509 *x, const char *addr);
/* The SAN rfc822Name equal to addr (case-insensitively), or NULL. */
char *ms_x509_matching_email(X509 *x, const char *addr);
/* True when SAN holds a usable rfc822Name (no allocation). */
bool ms_x509_has_any_email(X509 *x);
/* The first SAN rfc822Name, or NULL. */
char *ms_x509_first_email(X509 *x);
/* Subject attribute nid as UTF-8 (control characters replaced), or NULL. */
char *ms_x509_subject_text(X509 *x, int nid);
/* Serial number in hex (lower case), or NULL. */
char *ms_x509_serial_hex(X509 *x);
/* Issuer as an RFC 2253 string, or NULL. */
char *ms_x509_issuer_text(X509 *x);
/* keyUsage/EKU allow signing mail; *why says why not. */
bool ms_x509_can_sign_mail(X509 *x, const char **why);
/* ASN1_TIME to seconds since the epoch; false when unreadable. */
bool ms_asn1_time_epoch(const ASN1_TIME *t, time_t *out);

#endif
