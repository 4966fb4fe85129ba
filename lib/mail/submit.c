/* mail/submit.c - SMTP submission with libcurl, or a .eml spool file. */
#include "mail/submit.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "ca/keys.h"
#include "util/error.h"
#include "util/str.h"

#define REPLY_MAX 120 /* bytes of the relay's reply kept for messages */

/* ---- the config ---- */

void
ms_submit_config_init(ms_submit_config *c)
{
    MS_ASSERT(c != NULL);
    memset(c, 0, sizeof(*c));
    c->timeout_s = MS_SUBMIT_TIMEOUT_DEFAULT;
}

static bool
is_alnum(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9');
}

/* A DNS name (LDH labels of 1..63, at most MS_SUBMIT_MAX_HOST bytes). */
static bool
dns_name_ok(const char *s, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > MS_SUBMIT_MAX_HOST)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum(ch) || (ch == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

/* Text without control characters (bytes >= 0x80 allowed), or empty. */
static bool
text_ok(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

/* Host of an authority: "[v6]" or a DNS name / IPv4; *p moves past it. */
static int
parse_host(ms_submit_config *t, const char **p, ms_error *err)
{
    const char *s = *p;
    size_t n;

    if (*s == '[') {
        char v6[64];
        unsigned char bin[16];
        const char *end = strchr(s, ']');

        n = end != NULL ? (size_t)(end - s - 1) : 0;
        if (end == NULL || n == 0 || n >= sizeof(v6))
            return ms_error_set(err, MS_EINVAL, "relay URL: bad IPv6 address");
        memcpy(v6, s + 1, n);
        v6[n] = '\0';
        if (inet_pton(AF_INET6, v6, bin) != 1)
            return ms_error_set(err, MS_EINVAL, "relay URL: bad IPv6 address");
        n += 2;
    } else {
        n = strcspn(s, ":/");
        if (!dns_name_ok(s, n))
            return ms_error_set(err, MS_EINVAL,
                                "relay URL: the host must be a DNS name "
                                "(ASCII), an IPv4 or a [IPv6] address");
    }
    memcpy(t->host, s, n);
    t->host[n] = '\0';
    *p = s + n;
    return 0;
}

/* ":port" (optional) and "/ehlo" (optional) up to the end of the URL. */
static int
parse_port_path(ms_submit_config *t, const char *s, ms_error *err)
{
    if (*s == ':') {
        unsigned long port = 0;
        size_t n = 0;

        for (s++; *s >= '0' && *s <= '9' && n < 6; s++, n++)
            port = port * 10 + (unsigned long)(*s - '0');
        if (n == 0 || n > 5 || port == 0 || port > 65535)
            return ms_error_set(err, MS_EINVAL,
                                "relay URL: the port must be 1..65535");
        t->port = (unsigned)port;
    }
    if (*s == '\0')
        return 0;
    if (*s != '/')
        return ms_error_set(err, MS_EINVAL,
                            "relay URL: unexpected text after the host "
                            "(no query, fragment or user part allowed)");
    s++;
    if (*s != '\0' && !dns_name_ok(s, strlen(s)))
        return ms_error_set(err, MS_EINVAL,
                            "relay URL: the path must be the EHLO name, "
                            "a DNS name");
    memcpy(t->ehlo, s, strlen(s) + 1);
    return 0;
}

static int
parse_smtp(ms_submit_config *t, const char *rest, ms_error *err)
{
    size_t auth = strcspn(rest, "/");
    int rc;

    if (memchr(rest, '@', auth) != NULL)
        return ms_error_set(err, MS_EINVAL,
                            "relay URL: no user or password in the URL (use "
                            "user and password_file)");
    if ((rc = parse_host(t, &rest, err)) != 0)
        return rc;
    t->ehlo[0] = '\0';
    return parse_port_path(t, rest, err);
}

static int
parse_spool(ms_submit_config *t, const char *path, ms_error *err)
{
    size_t n = strlen(path);

    if (path[0] != '/')
        return ms_error_set(err, MS_EINVAL,
                            "spool URL: the directory must be an absolute "
                            "path (spool:/dir)");
    if (n > MS_SUBMIT_MAX_PATH)
        return ms_error_set(err, MS_EINVAL, "spool URL: path over %u bytes",
                            MS_SUBMIT_MAX_PATH);
    if (!text_ok(path))
        return ms_error_set(err, MS_EINVAL,
                            "spool URL: control character in the path");
    while (n > 1 && path[n - 1] == '/')
        n--;
    memcpy(t->spool_dir, path, n);
    t->spool_dir[n] = '\0';
    t->host[0] = '\0';
    t->ehlo[0] = '\0';
    t->port = 0;
    return 0;
}

static bool
has_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);

    return strnlen(s, n) == n && ms_ascii_casebytes(s, n, prefix, n);
}

int
ms_submit_config_parse_url(ms_submit_config *c, const char *url, ms_error *err)
{
    ms_submit_config t;
    int rc;

    MS_ASSERT(c != NULL && url != NULL);
    if (strnlen(url, MS_SUBMIT_MAX_URL + 1) > MS_SUBMIT_MAX_URL)
        return ms_error_set(err, MS_EINVAL, "relay URL over %u bytes",
                            MS_SUBMIT_MAX_URL);
    t = *c;
    if (has_prefix(url, "spool:")) {
        t.mode = MS_SUBMIT_SPOOL;
        rc = parse_spool(&t, url + 6, err);
    } else if (has_prefix(url, "smtp://")) {
        t.mode = MS_SUBMIT_SMTP;
        t.port = 25;
        rc = parse_smtp(&t, url + 7, err);
    } else if (has_prefix(url, "smtps://")) {
        t.mode = MS_SUBMIT_SMTPS;
        t.port = 465;
        rc = parse_smtp(&t, url + 8, err);
    } else {
        rc = ms_error_set(err, MS_EINVAL,
                          "relay URL must start with smtp://, smtps:// or "
                          "spool:");
    }
    if (rc == 0) {
        if (t.mode != MS_SUBMIT_SPOOL)
            t.spool_dir[0] = '\0';
        *c = t;
    }
    return rc;
}

int
ms_submit_url_check(const char *url, ms_error *err)
{
    ms_submit_config c;

    ms_submit_config_init(&c);
    return ms_submit_config_parse_url(&c, url, err);
}

/* Copies a path or name value (empty = unset) into dst of max bytes. */
static int
set_text(char *dst, size_t max, const char *key, const char *value,
         ms_error *err)
{
    size_t n = strlen(value);

    if (n > max)
        return ms_error_set(err, MS_EINVAL, "%s: over %zu bytes", key, max);
    if (!text_ok(value))
        return ms_error_set(err, MS_EINVAL, "%s: control character", key);
    memcpy(dst, value, n + 1);
    return 0;
}

/* "N", "Ns" or "Nm" within 1..3600 seconds. */
static int
set_timeout(ms_submit_config *c, const char *v, ms_error *err)
{
    long s = 0;
    size_t n = 0;

    for (; *v >= '0' && *v <= '9' && n < 5; v++, n++)
        s = s * 10 + (*v - '0');
    if (n > 0 && n < 5 && *v == 'm' && v[1] == '\0')
        s *= 60;
    else if (n == 0 || n >= 5 || (*v != '\0' && !(*v == 's' && v[1] == '\0')))
        s = 0;
    if (s < 1 || s > 3600)
        return ms_error_set(err, MS_EINVAL,
                            "timeout: want seconds 1..3600 (e.g. 60, 60s, 1m)");
    c->timeout_s = s;
    return 0;
}

static int
set_starttls(ms_submit_config *c, const char *v, ms_error *err)
{
    if (ms_ascii_caseeq(v, "none"))
        c->starttls = MS_SUBMIT_TLS_NONE;
    else if (ms_ascii_caseeq(v, "opportunistic"))
        c->starttls = MS_SUBMIT_TLS_OPPORTUNISTIC;
    else if (ms_ascii_caseeq(v, "required"))
        c->starttls = MS_SUBMIT_TLS_REQUIRED;
    else
        return ms_error_set(err, MS_EINVAL,
                            "starttls: want none, opportunistic or required");
    return 0;
}

int
ms_submit_config_set(ms_submit_config *c, const char *key, const char *value,
                     ms_error *err)
{
    MS_ASSERT(c != NULL && key != NULL && value != NULL);
    if (strnlen(value, MS_SUBMIT_MAX_VALUE + 1) > MS_SUBMIT_MAX_VALUE)
        return ms_error_set(err, MS_EINVAL, "value over %u bytes",
                            MS_SUBMIT_MAX_VALUE);
    if (strcmp(key, "relay") == 0)
        return ms_submit_config_parse_url(c, value, err);
    if (strcmp(key, "starttls") == 0)
        return set_starttls(c, value, err);
    if (strcmp(key, "user") == 0)
        return set_text(c->user, MS_SUBMIT_MAX_USER, key, value, err);
    if (strcmp(key, "password_file") == 0)
        return set_text(c->password_file, MS_SUBMIT_MAX_PATH, key, value, err);
    if (strcmp(key, "ca_file") == 0)
        return set_text(c->ca_file, MS_SUBMIT_MAX_PATH, key, value, err);
    if (strcmp(key, "timeout") == 0)
        return set_timeout(c, value, err);
    return ms_error_set(err, MS_EINVAL,
                        "unknown submission setting (want relay, starttls, "
                        "user, password_file, ca_file or timeout)");
}

/* localhost, 127.0.0.0/8 or [::1]: the traffic never leaves the machine. */
static bool
host_is_loopback(const char *host)
{
    unsigned char v4[4];

    if (ms_ascii_caseeq(host, "localhost") || strcmp(host, "[::1]") == 0)
        return true;
    return inet_pton(AF_INET, host, v4) == 1 && v4[0] == 127;
}

static ms_submit_tls
effective_tls(const ms_submit_config *c)
{
    if (c->mode != MS_SUBMIT_SMTP || c->starttls != MS_SUBMIT_TLS_DEFAULT)
        return c->starttls;
    return host_is_loopback(c->host) ? MS_SUBMIT_TLS_NONE
                                     : MS_SUBMIT_TLS_REQUIRED;
}

int
ms_submit_config_check(const ms_submit_config *c, ms_error *err)
{
    bool tls;

    MS_ASSERT(c != NULL);
    if (c->mode == MS_SUBMIT_UNSET)
        return ms_error_set(err, MS_EINVAL,
                            "no relay or spool directory configured");
    if (c->mode == MS_SUBMIT_SPOOL &&
        (c->user[0] != '\0' || c->password_file[0] != '\0' ||
         c->ca_file[0] != '\0' || c->starttls != MS_SUBMIT_TLS_DEFAULT))
        return ms_error_set(err, MS_EINVAL,
                            "starttls, user, password_file and ca_file need "
                            "an smtp:// or smtps:// relay, not a spool");
    if ((c->user[0] != '\0') != (c->password_file[0] != '\0'))
        return ms_error_set(err, MS_EINVAL,
                            "user and password_file go together");
    if (c->mode == MS_SUBMIT_SMTPS && c->starttls != MS_SUBMIT_TLS_DEFAULT)
        return ms_error_set(err, MS_EINVAL,
                            "starttls applies to smtp:// only (smtps:// is "
                            "TLS from the first byte)");
    if (c->timeout_s < 1 || c->timeout_s > 3600)
        return ms_error_set(err, MS_EINVAL, "timeout out of 1..3600 s");
    tls = c->mode == MS_SUBMIT_SMTPS ||
          effective_tls(c) == MS_SUBMIT_TLS_REQUIRED;
    if (c->password_file[0] != '\0' && !tls && !host_is_loopback(c->host))
        return ms_error_set(err, MS_EPOLICY,
                            "refusing to send the AUTH password in clear to "
                            "%s: use smtps:// or starttls = required",
                            c->host);
    return 0;
}

int
ms_submit_config_url(char *out, size_t outlen, const ms_submit_config *c)
{
    int n;

    MS_ASSERT(out != NULL && c != NULL && outlen > 0);
    out[0] = '\0';
    if (c->mode == MS_SUBMIT_UNSET)
        return MS_EINVAL;
    if (c->mode == MS_SUBMIT_SPOOL)
        n = snprintf(out, outlen, "spool:%s", c->spool_dir);
    else
        n = snprintf(out, outlen, "%s://%s:%u%s%s",
                     c->mode == MS_SUBMIT_SMTPS ? "smtps" : "smtp", c->host,
                     c->port, c->ehlo[0] != '\0' ? "/" : "", c->ehlo);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return MS_ETOOBIG;
    }
    return 0;
}

/* ---- arguments ---- */

static int
check_addr(const char *a, const char *what, size_t idx, bool may_be_empty,
           ms_error *err)
{
    size_t n;
    const char *at;

    if (a == NULL)
        return ms_error_set(err, MS_EINVAL, "%s %zu is NULL", what, idx);
    n = strnlen(a, MS_SUBMIT_MAX_ADDR + 1);
    if (n > MS_SUBMIT_MAX_ADDR)
        return ms_error_set(err, MS_EINVAL, "%s %zu: over %u bytes", what, idx,
                            MS_SUBMIT_MAX_ADDR);
    if (n == 0)
        return may_be_empty
                   ? 0
                   : ms_error_set(err, MS_EINVAL, "%s %zu is empty", what, idx);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];

        if (ch <= ' ' || ch == 0x7f || ch == '<' || ch == '>')
            return ms_error_set(err, MS_EINVAL,
                                "%s %zu: blank, control character or angle "
                                "bracket in the address",
                                what, idx);
    }
    at = strrchr(a, '@');
    if (at == NULL || at == a || at[1] == '\0')
        return ms_error_set(err, MS_EINVAL, "%s %zu: not local@domain", what,
                            idx);
    return 0;
}

/* Refuses NUL and bare CR; *wire = the length once bare LFs become CRLF. */
static int
scan_message(const unsigned char *m, size_t len, size_t *wire, ms_error *err)
{
    size_t bare_lf = 0;

    for (size_t i = 0; i < len; i++) {
        if (m[i] == '\0')
            return ms_error_set(err, MS_EMALFORMED,
                                "message: NUL byte at offset %zu", i);
        if (m[i] == '\r' && (i + 1 == len || m[i + 1] != '\n'))
            return ms_error_set(err, MS_EMALFORMED,
                                "message: bare CR at offset %zu (SMTP allows "
                                "CR only before LF)",
                                i);
        if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
            bare_lf++;
    }
    *wire = len + bare_lf; /* len <= MS_SUBMIT_MAX_MESSAGE: no overflow */
    return 0;
}

static int
check_args(const char *from, const char *const *rcpts, size_t nrcpt,
           const unsigned char *msg, size_t len, size_t *wire, ms_error *err)
{
    int rc;

    if (nrcpt == 0 || rcpts == NULL)
        return ms_error_set(err, MS_EINVAL, "no recipient");
    if (nrcpt > MS_SUBMIT_MAX_RCPT)
        return ms_error_set(err, MS_EINVAL, "%zu recipients, over %u", nrcpt,
                            MS_SUBMIT_MAX_RCPT);
    if ((rc = check_addr(from, "sender", 0, true, err)) != 0)
        return rc;
    for (size_t i = 0; i < nrcpt; i++)
        if ((rc = check_addr(rcpts[i], "recipient", i + 1, false, err)) != 0)
            return rc;
    if (msg == NULL || len == 0)
        return ms_error_set(err, MS_EINVAL, "empty message");
    if (len > MS_SUBMIT_MAX_MESSAGE)
        return ms_error_set(err, MS_ETOOBIG, "message over %zu bytes",
                            MS_SUBMIT_MAX_MESSAGE);
    return scan_message(msg, len, wire, err);
}

/* ---- spool ---- */

/* The spool directory exists (made 0700 when missing) and is one. */
static int
spool_dir_ready(const char *dir, ms_error *err)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return ms_error_set(err, MS_EIO, "cannot create spool directory %s: %s",
                            dir, ms_ca_errtext(errno).text);
    if (stat(dir, &st) != 0)
        return ms_error_set(err, MS_EIO, "spool directory %s: %s", dir,
                            ms_ca_errtext(errno).text);
    if (!S_ISDIR(st.st_mode))
        return ms_error_set(err, MS_EIO,
                            "spool directory %s is not a directory", dir);
    return 0;
}

static int
spool_write(const ms_submit_config *c, const unsigned char *msg, size_t len,
            ms_error *err)
{
    char path[MS_SUBMIT_MAX_PATH + 64];
    unsigned char rnd[12];
    char hex[2 * sizeof(rnd) + 1];
    int fd = -1;
    int rc;
    int n;

    if ((rc = spool_dir_ready(c->spool_dir, err)) != 0)
        return rc;
    if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no random bytes for a name");
    for (size_t i = 0; i < sizeof(rnd); i++)
        (void)snprintf(hex + 2 * i, 3, "%02x", rnd[i]); /* fits: 2 + NUL */
    n = snprintf(path, sizeof(path), "%s/%lld-%s.eml", c->spool_dir,
                 (long long)time(NULL), hex);
    if (n < 0 || (size_t)n >= sizeof(path))
        return ms_error_set(err, MS_EIO, "spool path too long");
    /* Temp file in the same dir, O_EXCL, 0600, fsync, then link(2) (which,
     * unlike rename(2), never replaces a file) and unlink of the temp. */
    if ((rc = ms_ca_file_write(path, msg, len, 0600, err)) != 0)
        return rc;
    /* The new name must survive a crash too: sync the directory. */
    fd = open(c->spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        rc = ms_error_set(err, MS_EIO, "cannot sync spool directory %s: %s",
                          c->spool_dir, ms_ca_errtext(errno).text);
    if (fd >= 0)
        (void)close(fd); /* read-only descriptor */
    return rc;
}

/* ---- SMTP ---- */

/* The message as read by libcurl: bare LF goes out as CRLF. */
typedef struct upload {
    const unsigned char *p;
    size_t len;
    size_t pos;
    bool lf_due; /* CR of a bare LF sent, the LF itself not yet */
} upload;

static size_t
read_cb(char *out, size_t size, size_t n, void *arg)
{
    upload *u = arg;
    size_t room = size * n; /* libcurl's buffer size: no overflow */
    size_t w = 0;

    while (w < room && u->pos < u->len) {
        unsigned char ch = u->p[u->pos];

        if (ch == '\n' && !u->lf_due &&
            (u->pos == 0 || u->p[u->pos - 1] != '\r')) {
            out[w++] = '\r';
            u->lf_due = true;
            continue;
        }
        out[w++] = (char)ch;
        u->lf_due = false;
        u->pos++;
    }
    return w;
}

enum { CMD_NONE, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_OTHER };

/* What the protocol trace tells us: the last command and reply line
 * before libcurl gave up (it then sends QUIT, which ends the trace). */
typedef struct trace {
    int cmd;
    size_t nrcpt; /* RCPT commands sent so far */
    bool quit;    /* QUIT sent: the rest is the goodbye */
    char reply[REPLY_MAX + 1];
} trace;

static bool
is_cmd(const char *data, size_t size, const char *cmd)
{
    size_t n = strlen(cmd);

    return size >= n && ms_ascii_casebytes(data, n, cmd, n);
}

/* Records the last reply line (sanitised) and the kind of the last command;
 * command text is never copied (AUTH lines hold the password). */
static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    trace *t = arg;
    size_t n = 0;

    (void)h;
    if (t->quit)
        return 0;
    if (type == CURLINFO_HEADER_OUT) {
        if (is_cmd(data, size, "QUIT")) {
            t->quit = true;
        } else if (is_cmd(data, size, "RCPT TO:")) {
            t->cmd = CMD_RCPT;
            t->nrcpt++;
        } else if (is_cmd(data, size, "MAIL FROM:")) {
            t->cmd = CMD_MAIL;
        } else if (is_cmd(data, size, "DATA")) {
            t->cmd = CMD_DATA;
        } else {
            t->cmd = CMD_OTHER;
        }
    } else if (type == CURLINFO_HEADER_IN) {
        for (; n < size && n < REPLY_MAX; n++) {
            unsigned char ch = (unsigned char)data[n];

            if (ch == '\r' || ch == '\n')
                break;
            t->reply[n] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        t->reply[n] = '\0';
    }
    return 0;
}

typedef struct job {
    const ms_submit_config *c;
    const char *from;
    const char *const *rcpts;
    char where[MS_SUBMIT_MAX_HOST + 16]; /* host:port */
    trace t;
} job;

/* Maps a failed transfer to a status and a message naming what failed. */
static int
classify(const job *j, CURLcode cc, long code, const char *ebuf, ms_error *err)
{
    int st = code >= 500 && code < 600 ? MS_EPOLICY : MS_ETEMP;
    const char *reply = j->t.reply;

    if (cc == CURLE_OUT_OF_MEMORY)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (cc == CURLE_USE_SSL_FAILED)
        return ms_error_set(err, MS_ETEMP,
                            "relay %s does not offer STARTTLS and starttls = "
                            "required: nothing was sent",
                            j->where);
    if (cc == CURLE_LOGIN_DENIED)
        return ms_error_set(err,
                            code >= 400 && code < 500 ? MS_ETEMP : MS_EPOLICY,
                            "relay %s refused AUTH for user %s: %s", j->where,
                            j->c->user, code >= 400 ? reply : ebuf);
    if (code >= 400 && code < 600 && j->t.cmd == CMD_RCPT && j->t.nrcpt > 0)
        return ms_error_set(err, st, "relay %s %s recipient <%s>: %s", j->where,
                            st == MS_ETEMP ? "deferred" : "refused",
                            j->rcpts[j->t.nrcpt - 1], reply);
    if (code >= 400 && code < 600 && j->t.cmd == CMD_MAIL)
        return ms_error_set(err, st, "relay %s %s sender <%s>: %s", j->where,
                            st == MS_ETEMP ? "deferred" : "refused", j->from,
                            reply);
    if (code >= 400 && code < 600)
        return ms_error_set(err, st, "relay %s %s the message: %s", j->where,
                            st == MS_ETEMP ? "deferred" : "refused", reply);
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return ms_error_set(err, MS_ETEMP,
                            "relay %s: certificate check failed (%s); "
                            "ca_file names the CAs to trust",
                            j->where, ebuf);
    return ms_error_set(err, MS_ETEMP, "relay %s: %s", j->where, ebuf);
}

static long
tls_option(const ms_submit_config *c)
{
    if (c->mode == MS_SUBMIT_SMTPS)
        return (long)CURLUSESSL_ALL;
    switch (effective_tls(c)) {
    case MS_SUBMIT_TLS_NONE:
        return (long)CURLUSESSL_NONE;
    case MS_SUBMIT_TLS_OPPORTUNISTIC:
        return (long)CURLUSESSL_TRY;
    default:
        return (long)CURLUSESSL_ALL;
    }
}

/* Everything but the credentials; false when libcurl refuses an option. */
static bool
setup_handle(CURL *h, job *j, const char *url, struct curl_slist *rcpts,
             upload *u, size_t wire, char *ebuf)
{
    const ms_submit_config *c = j->c;
    long ms = c->timeout_s * 1000;

    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps") ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, c->timeout_s) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->timeout_s) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10 * ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USE_SSL, tls_option(c)) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_SSLVERSION,
                            (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
           (c->ca_file[0] == '\0' ||
            curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) == CURLE_OK) &&
           (j->from[0] == '\0' ||
            curl_easy_setopt(h, CURLOPT_MAIL_FROM, j->from) == CURLE_OK) &&
           curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_READDATA, u) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)wire) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_DEBUGDATA, &j->t) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_VERBOSE, 1L) == CURLE_OK;
}

/* Reads the password file and hands user and password to libcurl. */
static int
set_credentials(CURL *h, const ms_submit_config *c, ms_error *err)
{
    ms_buf pw;
    int rc;

    if (c->user[0] == '\0')
        return 0;
    ms_buf_init_secret(&pw, 0);
    if ((rc = ms_ca_passphrase_read(c->password_file, &pw, err)) == 0 &&
        (curl_easy_setopt(h, CURLOPT_USERNAME, c->user) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_PASSWORD, (const char *)pw.data) !=
             CURLE_OK))
        rc = ms_error_set(err, MS_ENOMEM, "cannot set the AUTH credentials");
    ms_buf_cleanup(&pw); /* wipes our copy; libcurl holds its own */
    return rc;
}

static int
smtp_send(const ms_submit_config *c, const char *from, const char *const *rcpts,
          size_t nrcpt, const unsigned char *msg, size_t len, size_t wire,
          ms_error *err)
{
    CURL *h = NULL;
    struct curl_slist *list = NULL;
    char url[MS_SUBMIT_MAX_URL + 16];
    char ebuf[CURL_ERROR_SIZE] = "";
    upload u = {msg, len, 0, false};
    job j = {c, from, rcpts, "", {CMD_NONE, 0, false, ""}};
    long code = 0;
    CURLcode cc;
    int rc = 0;

    (void)snprintf(j.where, sizeof(j.where), "%s:%u", c->host, c->port);
    if (ms_submit_config_url(url, sizeof(url), c) != 0)
        return ms_error_set(err, MS_EINVAL, "relay URL too long");
    for (size_t i = 0; i < nrcpt; i++) {
        struct curl_slist *next = curl_slist_append(list, rcpts[i]);

        if (next == NULL) {
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
            goto out;
        }
        list = next;
    }
    if ((h = curl_easy_init()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "cannot create an SMTP handle");
        goto out;
    }
    if (!setup_handle(h, &j, url, list, &u, wire, ebuf)) {
        rc = ms_error_set(err, MS_ERR, "cannot configure the SMTP transfer");
        goto out;
    }
    if ((rc = set_credentials(h, c, err)) != 0)
        goto out;
    if ((cc = curl_easy_perform(h)) != CURLE_OK) {
        if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
            code = 0;
        if (ebuf[0] == '\0')
            (void)snprintf(ebuf, sizeof(ebuf), "%s", curl_easy_strerror(cc));
        rc = classify(&j, cc, code, ebuf, err);
    }
out:
    curl_easy_cleanup(h);
    curl_slist_free_all(list);
    return rc;
}

int
ms_submit_send(const ms_submit_config *c, const char *envelope_from,
               const char *const *rcpts, size_t nrcpt, const unsigned char *msg,
               size_t len, ms_error *err)
{
    size_t wire = 0;
    int rc;

    MS_ASSERT(c != NULL);
    if ((rc = ms_submit_config_check(c, err)) != 0)
        return rc;
    if ((rc = check_args(envelope_from, rcpts, nrcpt, msg, len, &wire, err)) !=
        0)
        return rc;
    if (c->mode == MS_SUBMIT_SPOOL)
        return spool_write(c, msg, len, err);
    return smtp_send(c, envelope_from, rcpts, nrcpt, msg, len, wire, err);
}
