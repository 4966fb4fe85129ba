/*
 * mail/outgoing.h - a message handed to `mailseal send` as to sendmail(8):
 * reading it (with or without the lone-dot end), the envelope recipients
 * (from the command line and, with -t, from To/Cc/Bcc), and the header
 * fixes made before signing: Bcc fields removed, From, Date and
 * Message-ID added when missing.
 *
 * Ownership: ms_rcpt_list is caller storage (init/cleanup) owning its
 * strings; buffers are the caller's. Thread safety: no shared state; one
 * list or buffer per thread.
 */
#ifndef MS_MAIL_OUTGOING_H
#define MS_MAIL_OUTGOING_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

/*
 * Bytes of a message read by `send`: the signed and encrypted result (about
 * twice as large, base64 twice) must fit ms_submit_send()'s 64 MiB.
 */
#define MS_OUTGOING_MAX_MESSAGE ((size_t)32 * 1024 * 1024)
#define MS_OUTGOING_MAX_RCPT    1000u /* envelope recipients */
#define MS_OUTGOING_MAX_NAME    256u  /* bytes of a -F display name */

/*
 * Reads a message from fd into out (up to out->max bytes): to the end of
 * the input, or with dot_ends (sendmail without -i) up to a line holding
 * only "." (LF or CRLF), which is not part of the message; whatever follows
 * it is not read. MS_ETOOBIG (input over out->max), MS_EIO, MS_ENOMEM.
 */
int ms_outgoing_read(ms_buf *out, int fd, bool dot_ends, ms_error *err);

/* Envelope recipients: addr-specs, each once (compared ignoring case). */
typedef struct ms_rcpt_list {
    char **addr;
    size_t n;
    size_t cap;
} ms_rcpt_list;

void ms_rcpt_list_init(ms_rcpt_list *l);
void ms_rcpt_list_cleanup(ms_rcpt_list *l);
/*
 * Adds every address of value, an address list (see ms_addr_parse_list();
 * "bob@example.org", "Bob <bob@example.org>, carol@example.net"), skipping
 * ones present. what names the source in errors ("To", "argument").
 * MS_EMALFORMED, MS_ETOOBIG (over MS_OUTGOING_MAX_RCPT), MS_ENOMEM.
 */
int ms_rcpt_list_add(ms_rcpt_list *l, const char *value, const char *what,
                     ms_error *err);

typedef struct ms_outgoing_options {
    bool rcpt_from_headers; /* -t: add To, Cc and Bcc to the recipients */
    const char *from_addr;  /* From to add when there is none (required) */
    const char *from_name;  /* its display name (-F), or NULL */
} ms_outgoing_options;

/*
 * out = msg with every Bcc field removed and From (from the options), Date
 * (the context's clock, UTC) and Message-ID (random, at from_addr's
 * domain) added at the end of the header when absent, in the line ends
 * the message uses; the body is copied unchanged. With rcpt_from_headers
 * the addresses of To, Cc and Bcc are added to rcpts. *from_out (ms_free;
 * may be NULL) = the From addr-spec of out, or NULL when its From is not
 * exactly one readable mailbox. MS_EMALFORMED (a header that cannot be
 * parsed, named in err), MS_ETOOBIG, MS_EINVAL (bad options), MS_ENOMEM.
 */
int ms_outgoing_prepare(ms_buf *out, ms_rcpt_list *rcpts, char **from_out,
                        const ms_ctx *ctx, const void *msg, size_t len,
                        const ms_outgoing_options *o, ms_error *err);

#endif
