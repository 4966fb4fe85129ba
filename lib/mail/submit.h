/*
 * mail/submit.h - hand a finished message to the mail system: SMTP
 * submission to a relay with libcurl, or, with no relay configured, a .eml
 * file in a spool directory (the embedded default, so a laptop needs no
 * mail server). Used by mailseald (challenge mails, invitations) and by the
 * `mailseal send` agent.
 *
 * Configuration: ms_submit_config is caller storage holding only fixed-size
 * fields (no heap, nothing to free). Make one with ms_submit_config_init()
 * and then ms_submit_config_parse_url() / ms_submit_config_set() from the
 * program's `key = value` settings; ms_submit_config_check() tells whether
 * the whole is consistent (ms_submit_send() checks again).
 *
 *   relay    = smtp://HOST[:PORT][/EHLO-NAME]    port 25 by default
 *              smtps://HOST[:PORT][/EHLO-NAME]   implicit TLS, port 465
 *              spool:/ABSOLUTE/DIR               write .eml files there
 *   starttls = none | opportunistic | required  (smtp:// only; default
 *              required, or none for a loopback HOST: localhost,
 *              127.0.0.0/8, [::1])
 *   user          = AUTH user name (needs password_file)
 *   password_file = file holding the AUTH password: a regular file owned by
 *                   the current user, no group/other access (chmod 600)
 *   ca_file       = PEM file of the CAs trusted for the relay's certificate
 *                   (default: the system store); the relay's name is always
 *                   checked against its certificate
 *   timeout       = seconds (1..3600, default 60) for the connection, each
 *                   server reply and any stall; a whole submission takes at
 *                   most ten times that.
 * HOST is a DNS name (ASCII, A-labels for IDN), an IPv4 address or a
 * bracketed IPv6 address; URLs carry no user, password, query or fragment
 * (secrets are never inline). A password is sent only over TLS (smtps or
 * starttls = required) or to a loopback relay; anything else is refused.
 *
 * Message bytes: LF and CRLF line ends are both accepted; a bare LF is sent
 * as CRLF (SMTP allows nothing else, and a bare LF before a dot is the SMTP
 * smuggling trick). A bare CR or a NUL byte is refused (MS_EMALFORMED).
 * libcurl does the SMTP dot-stuffing (a line starting with "." gains a
 * second one on the wire, removed again by the server) and adds the final
 * CRLF "." CRLF, so callers pass the plain message. CURLOPT_CRLF is not used:
 * it would turn CRLF into CR CR LF. libcurl 7.88 sends no BODY=8BITMIME;
 * relays accept 8-bit text without it in practice.
 *
 * Spool: each message becomes SPOOL/<unix time>-<24 hex digits>.eml, mode
 * 0600: written under <name>.tmp (O_EXCL), fsync'd, linked to its name
 * (link(2), unlike rename(2), never replaces a file), the temp name
 * removed and the directory fsync'd. The directory is made (0700) when
 * missing; its parent must exist. The message bytes are stored exactly as
 * given; the envelope is not kept there (readers go by the To/Cc header).
 *
 * Delivery is all or nothing: if the relay refuses any recipient, the
 * message is sent to none (libcurl stops before DATA).
 *
 * Secrets: the password is read for each submission, handed to libcurl
 * (which keeps its own copy until the call's handle is cleaned up; libcurl
 * frees it without wiping, a limitation of libcurl), and our copy is wiped.
 * It never reaches an ms_error; protocol traces are not kept.
 *
 * Thread safety: a config is read-only once made; ms_submit_send() may run
 * on several threads at once with the same config (one libcurl handle per
 * call). The program must have called ms_library_init() (curl_global_init)
 * before the first ms_submit_send().
 */
#ifndef MS_MAIL_SUBMIT_H
#define MS_MAIL_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/error.h>

#define MS_SUBMIT_MAX_URL         512u  /* bytes in a relay URL */
#define MS_SUBMIT_MAX_HOST        253u  /* bytes in a host or EHLO name */
#define MS_SUBMIT_MAX_PATH        1024u /* bytes in a spool, password, CA path */
#define MS_SUBMIT_MAX_USER        256u  /* bytes in an AUTH user name */
#define MS_SUBMIT_MAX_VALUE       1024u /* bytes in any value given to _set() */
#define MS_SUBMIT_MAX_ADDR        254u  /* bytes in an envelope address */
#define MS_SUBMIT_MAX_RCPT        1000u /* recipients of one submission */
#define MS_SUBMIT_MAX_MESSAGE     ((size_t)64 * 1024 * 1024) /* message bytes */
#define MS_SUBMIT_TIMEOUT_DEFAULT 60L                        /* seconds */

typedef enum ms_submit_mode {
    MS_SUBMIT_UNSET = 0, /* nothing configured yet: ms_submit_send refuses */
    MS_SUBMIT_SPOOL,     /* spool:/dir */
    MS_SUBMIT_SMTP,      /* smtp://, optionally STARTTLS */
    MS_SUBMIT_SMTPS      /* smtps://, TLS from the first byte */
} ms_submit_mode;

typedef enum ms_submit_tls {
    MS_SUBMIT_TLS_DEFAULT = 0, /* required, none for a loopback relay */
    MS_SUBMIT_TLS_NONE,
    MS_SUBMIT_TLS_OPPORTUNISTIC, /* STARTTLS when offered (then verified) */
    MS_SUBMIT_TLS_REQUIRED       /* no STARTTLS offered: nothing is sent */
} ms_submit_tls;

/* Fields are set through the functions below; callers only read them. */
typedef struct ms_submit_config {
    ms_submit_mode mode;
    char host[MS_SUBMIT_MAX_HOST + 1]; /* as in the URL (IPv6 in brackets) */
    unsigned port;
    char ehlo[MS_SUBMIT_MAX_HOST + 1]; /* "" = libcurl's default name */
    char spool_dir[MS_SUBMIT_MAX_PATH + 1];
    ms_submit_tls starttls;
    char user[MS_SUBMIT_MAX_USER + 1];
    char password_file[MS_SUBMIT_MAX_PATH + 1];
    char ca_file[MS_SUBMIT_MAX_PATH + 1];
    long timeout_s;
} ms_submit_config;

/* An empty config (mode UNSET, default timeout). */
void ms_submit_config_init(ms_submit_config *c);

/*
 * Sets the destination from url (see the grammar above): mode, host, port
 * and EHLO name, or the spool directory. Returns 0, or MS_EINVAL (with a
 * message saying what is wrong; the URL itself is not echoed as it may be
 * garbage) and leaves c unchanged. At most MS_SUBMIT_MAX_URL bytes.
 */
int ms_submit_config_parse_url(ms_submit_config *c, const char *url,
                               ms_error *err);

/*
 * Sets one setting by name: "relay" (as ms_submit_config_parse_url),
 * "starttls", "user", "password_file", "ca_file", "timeout". Returns 0, or
 * MS_EINVAL for an unknown key or a bad value (c unchanged).
 */
int ms_submit_config_set(ms_submit_config *c, const char *key,
                         const char *value, ms_error *err);

/*
 * Checks the settings fit together: a destination is set; user and
 * password_file come together; starttls, user and ca_file only with a
 * relay; starttls only with smtp://; a password only over TLS or to a
 * loopback relay. Returns 0, MS_EINVAL or MS_EPOLICY (password in clear).
 */
int ms_submit_config_check(const ms_submit_config *c, ms_error *err);

/*
 * The canonical URL of the destination ("smtp://host:port[/ehlo]",
 * "smtps://...", "spool:/dir") into out. Returns 0, MS_EINVAL (mode unset)
 * or MS_ETOOBIG (outlen too small; out is then "").
 */
int ms_submit_config_url(char *out, size_t outlen, const ms_submit_config *c);

/* For ms_config_key.check: 0 when url parses as a relay URL, else MS_EINVAL. */
int ms_submit_url_check(const char *url, ms_error *err);

/*
 * Submits msg (len bytes, a whole RFC 5322 message) from envelope_from
 * ("" for the null sender <>) to the nrcpt addresses in rcpts. Addresses
 * are bare (no angle brackets), at most MS_SUBMIT_MAX_ADDR bytes, with no
 * blank, control character, DEL, '<' or '>' (bytes >= 0x80 pass, for
 * UTF-8), and a local part and a domain around the last '@' (so a quoted
 * local part holding a blank is refused). 1 <= nrcpt <= MS_SUBMIT_MAX_RCPT;
 * 0 < len <= MS_SUBMIT_MAX_MESSAGE.
 *
 * Returns 0 when the relay accepted the message for every recipient (or the
 * spool file is durably written), else:
 *   MS_EINVAL      bad argument or config (nothing was sent)
 *   MS_ETOOBIG     message over MS_SUBMIT_MAX_MESSAGE
 *   MS_EMALFORMED  a bare CR or NUL in the message
 *   MS_ETEMP       not delivered, try again later: the relay cannot be
 *                  reached, timed out, answered 4xx, broke TLS or the
 *                  certificate check, or (starttls = required) does not
 *                  offer STARTTLS. The caller keeps the message and retries;
 *                  nothing may be dropped.
 *   MS_EPOLICY     the relay refused for good (5xx): the message, the
 *                  sender, a recipient (named in the message), or the AUTH
 *                  credentials; or the password file is not private
 *   MS_EIO         the spool file or the password file cannot be written
 *                  or read
 *   MS_ENOMEM
 * The error message names the relay (host:port), the refused recipient when
 * there is one and the relay's reply line (sanitised).
 */
int ms_submit_send(const ms_submit_config *c, const char *envelope_from,
                   const char *const *rcpts, size_t nrcpt,
                   const unsigned char *msg, size_t len, ms_error *err);

#endif
