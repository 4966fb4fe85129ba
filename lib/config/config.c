/* config/config.c - table-driven `key = value` parsing (see config.h). */
#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/error.h"

typedef char *cfg_string; /* lets CFIELD say "char *const *" */

#define FIELD(cfg, k, type) ((type *)(void *)((char *)(cfg) + (k)->offset))
#define CFIELD(cfg, k, type)                                                   \
    ((const type *)(const void *)((const char *)(cfg) + (k)->offset))

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Decimal digits only (no sign, no blanks) into *out, at most LLONG_MAX. */
static bool
parse_digits(long long *out, const char *s, size_t len)
{
    long long v = 0;

    if (len == 0 || len > 19)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (LLONG_MAX - (s[i] - '0')) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* A number with an optional unit letter; units maps letters to factors. */
static bool
parse_unit(long long *out, const char *s, const char *letters,
           const long long *factors)
{
    size_t len = strlen(s);
    long long mul = 1, v;
    const char *u;

    if (len > 1 && (s[len - 1] < '0' || s[len - 1] > '9')) {
        if ((u = strchr(letters, s[len - 1])) == NULL)
            return false;
        mul = factors[u - letters];
        len--;
    }
    if (!parse_digits(&v, s, len) || v > LLONG_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static int
set_number(void *cfg, const ms_config_key *k, const char *v, ms_error *err)
{
    static const long long sizes[] = {1024LL, 1024LL * 1024,
                                      1024LL * 1024 * 1024};
    static const long long secs[] = {1, 60, 3600, 86400};
    long long n;
    bool ok;

    if (k->type == MS_CONFIG_SIZE)
        ok = parse_unit(&n, v, "kmg", sizes);
    else if (k->type == MS_CONFIG_DURATION)
        ok = parse_unit(&n, v, "smhd", secs);
    else
        ok = parse_digits(&n, v, strlen(v));
    if (!ok)
        return ms_error_set(err, MS_EINVAL, "%s: not a %s", k->name,
                            k->type == MS_CONFIG_SIZE ? "size (N, Nk, Nm, Ng)"
                            : k->type == MS_CONFIG_DURATION
                                ? "duration (N, Ns, Nm, Nh, Nd)"
                                : "decimal number");
    if (n < k->min || n > k->max)
        return ms_error_set(err, MS_EINVAL,
                            "%s: %lld is out of range %lld..%lld", k->name, n,
                            k->min, k->max);
    *FIELD(cfg, k, long long) = n;
    return 0;
}

static bool
in_choices(const char *const *choices, const char *w, int *index)
{
    for (int i = 0; choices[i] != NULL; i++) {
        if (strcmp(choices[i], w) == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

static void
words_free(ms_config_words *w)
{
    for (size_t i = 0; i < w->n; i++)
        ms_free(w->v[i]);
    ms_free(w->v);
    w->v = NULL;
    w->n = 0;
}

/* Checks one word of a list: its characters, choices and repeats. */
static int
check_word(const ms_config_key *k, const ms_config_words *w, const char *word,
           ms_error *err)
{
    int idx;

    for (const char *p = word; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return ms_error_set(err, MS_EINVAL, "%s: bad character in a word",
                                k->name);
    }
    if (k->choices != NULL && !in_choices(k->choices, word, &idx))
        return ms_error_set(err, MS_EINVAL, "%s: unknown word '%.64s'", k->name,
                            word);
    if (ms_config_words_has(w, word))
        return ms_error_set(err, MS_EINVAL, "%s: '%.64s' is listed twice",
                            k->name, word);
    if (w->n >= (size_t)k->max || w->n >= MS_CONFIG_MAX_WORDS)
        return ms_error_set(err, MS_EINVAL, "%s: more than %lld words", k->name,
                            k->max);
    return 0;
}

static int
set_words(void *cfg, const ms_config_key *k, const char *v, ms_error *err)
{
    ms_config_words w = {NULL, 0};
    char **nv;
    int rc = 0;

    while (*v != '\0') {
        size_t n = strcspn(v, " \t,");
        char *word;

        if (n == 0) {
            v++;
            continue;
        }
        if ((word = ms_strndup(v, n)) == NULL) {
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = check_word(k, &w, word, err)) != 0) {
            ms_free(word);
            goto out;
        }
        if ((nv = ms_realloc(w.v, (w.n + 2) * sizeof(*nv))) == NULL) {
            ms_free(word);
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
            goto out;
        }
        w.v = nv;
        w.v[w.n++] = word;
        w.v[w.n] = NULL;
        v += n;
    }
    words_free(FIELD(cfg, k, ms_config_words));
    *FIELD(cfg, k, ms_config_words) = w;
    w.v = NULL; /* the config owns the list now */
    w.n = 0;
out:
    words_free(&w);
    return rc;
}

/* Parses "[v6]:port" or "v4:port" into host text and port text. */
static int
split_listen(char *host, size_t hostsz, long long *port, const char *s,
             ms_error *err)
{
    const char *colon, *h = s;
    size_t hlen;

    if (*s == '[') {
        const char *end = strchr(s, ']');

        if (end == NULL || end[1] != ':')
            return ms_error_set(err, MS_EINVAL,
                                "expected [IPv6]:port, e.g. [::1]:8025");
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL || strchr(s, ':') != colon)
            return ms_error_set(err, MS_EINVAL,
                                "expected address:port, e.g. 127.0.0.1:8025 "
                                "or [::1]:8025");
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostsz)
        return ms_error_set(err, MS_EINVAL, "bad address");
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (!parse_digits(port, colon + 1, strlen(colon + 1)) || *port > 65535)
        return ms_error_set(err, MS_EINVAL, "bad port (0..65535)");
    return 0;
}

int
ms_config_parse_listen(ms_config_listen *out, const char *s, ms_error *err)
{
    char host[64];
    unsigned char a[16];
    long long port = 0;
    int rc;

    if ((rc = split_listen(host, sizeof(host), &port, s, err)) != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    if (s[0] != '[' && inet_pton(AF_INET, host, a) == 1) {
        out->loopback = a[0] == 127;
    } else if (inet_pton(AF_INET6, host, a) == 1 && s[0] == '[') {
        static const unsigned char one[16] = {[15] = 1};

        out->ipv6 = true;
        out->loopback = memcmp(a, one, sizeof(one)) == 0;
    } else {
        return ms_error_set(err, MS_EINVAL,
                            "'%.64s' is not a numeric IPv4 address or a "
                            "bracketed IPv6 address",
                            host);
    }
    if (inet_ntop(out->ipv6 ? AF_INET6 : AF_INET, a, out->host,
                  sizeof(out->host)) == NULL)
        return ms_error_set(err, MS_EINVAL, "bad address");
    out->port = (unsigned)port;
    return 0;
}

static int
set_scalar(void *cfg, const ms_config_key *k, const char *v, ms_error *err)
{
    ms_config_listen l;
    ms_error e;
    int idx, rc;

    switch (k->type) {
    case MS_CONFIG_BOOL:
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
            return ms_error_set(err, MS_EINVAL, "%s: expected yes or no",
                                k->name);
        *FIELD(cfg, k, bool) = v[0] == 'y';
        return 0;
    case MS_CONFIG_LISTEN:
        if ((rc = ms_config_parse_listen(&l, v, &e)) != 0)
            return ms_error_set(err, rc, "%s: %s", k->name, e.msg);
        *FIELD(cfg, k, ms_config_listen) = l;
        return 0;
    case MS_CONFIG_ENUM:
        if (!in_choices(k->choices, v, &idx))
            return ms_error_set(err, MS_EINVAL, "%s: unknown value '%.64s'",
                                k->name, v);
        *FIELD(cfg, k, int) = idx;
        return 0;
    default:
        return set_number(cfg, k, v, err);
    }
}

/* Sets key k from the NUL-terminated, trimmed value v. */
static int
set_value(void *cfg, const ms_config_key *k, const char *v, ms_error *err)
{
    char *s;
    int rc;

    if (k->type == MS_CONFIG_WORDS)
        return set_words(cfg, k, v, err);
    if (k->type == MS_CONFIG_STRING) {
        s = NULL;
        if (*v != '\0' && k->check != NULL && (rc = k->check(v, err)) != 0)
            return rc;
        if (*v != '\0' && (s = ms_strdup(v)) == NULL)
            return ms_error_set(err, MS_ENOMEM, "out of memory");
        ms_free(*FIELD(cfg, k, char *));
        *FIELD(cfg, k, char *) = s;
        return 0;
    }
    if (*v == '\0')
        return ms_error_set(err, MS_EINVAL, "%s: empty value", k->name);
    return set_scalar(cfg, k, v, err);
}

int
ms_config_defaults(void *cfg, const ms_config_key *keys, size_t nkeys,
                   ms_error *err)
{
    int rc;

    for (size_t i = 0; i < nkeys; i++) {
        if ((rc = set_value(cfg, &keys[i], keys[i].def ? keys[i].def : "",
                            err)) != 0)
            return rc;
    }
    return 0;
}

static const ms_config_key *
find_key(const ms_config_key *keys, size_t nkeys, const char *name,
         size_t *index)
{
    for (size_t i = 0; i < nkeys; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            *index = i;
            return &keys[i];
        }
    }
    return NULL;
}

/*
 * Splits one line (trimmed, NUL-terminated, writable) into key and value.
 * Returns 1 for a blank or comment line, 0 for a setting, else an error.
 */
static int
split_line(char **key, char **val, char *line, ms_error *err)
{
    char *eq, *end;

    while (is_blank(*line))
        line++;
    end = line + strlen(line);
    while (end > line && is_blank(end[-1]))
        *--end = '\0';
    if (*line == '\0' || *line == '#')
        return 1;
    if ((eq = strchr(line, '=')) == NULL)
        return ms_error_set(err, MS_EINVAL, "expected key = value");
    *key = line;
    for (end = eq; end > line && is_blank(end[-1]); end--)
        ;
    *end = '\0';
    for (const char *p = line; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return ms_error_set(err, MS_EINVAL,
                                "bad key name (expected [a-z0-9_]+)");
    }
    if (*line == '\0')
        return ms_error_set(err, MS_EINVAL, "missing key before '='");
    for (eq++; is_blank(*eq); eq++)
        ;
    *val = eq;
    return 0;
}

static int
parse_line(void *cfg, const ms_config_key *keys, size_t nkeys, bool *seen,
           char *line, ms_error *err)
{
    const ms_config_key *k;
    char *key = line, *val = line;
    size_t idx = 0;
    int rc;

    if ((rc = split_line(&key, &val, line, err)) != 0)
        return rc == 1 ? 0 : rc;
    if ((k = find_key(keys, nkeys, key, &idx)) == NULL)
        return ms_error_set(err, MS_EINVAL, "unknown key '%.64s'", key);
    if (seen[idx])
        return ms_error_set(err, MS_EINVAL, "key '%s' is set twice", k->name);
    seen[idx] = true;
    return set_value(cfg, k, val, err);
}

int
ms_config_parse(void *cfg, const ms_config_key *keys, size_t nkeys,
                const char *text, size_t len, const char *name, ms_error *err)
{
    char line[MS_CONFIG_MAX_LINE + 1];
    bool *seen = NULL;
    size_t pos = 0, lineno = 0;
    int rc = 0;

    if (len > MS_CONFIG_MAX_FILE)
        return ms_error_set(err, MS_ETOOBIG, "%s: over %zu bytes", name,
                            MS_CONFIG_MAX_FILE);
    if (memchr(text, '\0', len) != NULL)
        return ms_error_set(err, MS_EINVAL, "%s: contains a NUL byte", name);
    if ((seen = ms_calloc(nkeys, sizeof(*seen))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

        lineno++;
        if (n > MS_CONFIG_MAX_LINE) {
            rc = ms_error_set(err, MS_ETOOBIG, "%s:%zu: line over %u bytes",
                              name, lineno, MS_CONFIG_MAX_LINE);
            goto out;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[n - 1] = '\0';
        pos += n + (nl != NULL);
        if ((rc = parse_line(cfg, keys, nkeys, seen, line, err)) != 0) {
            rc = ms_error_set(err, rc, "%s:%zu: %s", name, lineno,
                              err != NULL ? err->msg : "error");
            goto out;
        }
    }
out:
    ms_free(seen);
    return rc;
}

void
ms_config_release(void *cfg, const ms_config_key *keys, size_t nkeys)
{
    for (size_t i = 0; i < nkeys; i++) {
        const ms_config_key *k = &keys[i];

        if (k->type == MS_CONFIG_STRING) {
            ms_free(*FIELD(cfg, k, char *));
            *FIELD(cfg, k, char *) = NULL;
        } else if (k->type == MS_CONFIG_WORDS) {
            words_free(FIELD(cfg, k, ms_config_words));
        }
    }
}

bool
ms_config_words_has(const ms_config_words *w, const char *word)
{
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->v[i], word) == 0)
            return true;
    }
    return false;
}

/* Appends v with the password of a URL or a libpq string replaced. */
static int
put_redacted(ms_buf *out, const char *v)
{
    const char *scheme = strstr(v, "://"), *at, *colon, *pw;
    int rc;

    if (scheme != NULL && (at = strchr(scheme + 3, '@')) != NULL &&
        (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) != NULL) {
        if ((rc = ms_buf_append(out, v, (size_t)(colon + 1 - v))) != 0)
            return rc;
        if ((rc = ms_buf_puts(out, "****")) != 0)
            return rc;
        return ms_buf_puts(out, at);
    }
    if ((pw = strstr(v, "password=")) != NULL) {
        pw += strlen("password=");
        if ((rc = ms_buf_append(out, v, (size_t)(pw - v))) != 0)
            return rc;
        if ((rc = ms_buf_puts(out, "****")) != 0)
            return rc;
        return ms_buf_puts(out, pw + strcspn(pw, " \t"));
    }
    return ms_buf_puts(out, v);
}

static int
format_value(ms_buf *out, const void *cfg, const ms_config_key *k)
{
    const ms_config_words *w;
    const ms_config_listen *l;
    const char *s;
    int rc = 0;

    switch (k->type) {
    case MS_CONFIG_STRING:
        s = *CFIELD(cfg, k, cfg_string);
        if (s == NULL)
            return 0;
        if (k->flags & MS_CONFIG_F_SECRET)
            return ms_buf_puts(out, "(secret)");
        if (k->flags & MS_CONFIG_F_URL)
            return put_redacted(out, s);
        return ms_buf_puts(out, s);
    case MS_CONFIG_BOOL:
        return ms_buf_puts(out, *CFIELD(cfg, k, bool) ? "yes" : "no");
    case MS_CONFIG_LISTEN:
        l = CFIELD(cfg, k, ms_config_listen);
        return ms_buf_printf(out, l->ipv6 ? "[%s]:%u" : "%s:%u", l->host,
                             l->port);
    case MS_CONFIG_WORDS:
        w = CFIELD(cfg, k, ms_config_words);
        for (size_t i = 0; i < w->n && rc == 0; i++)
            rc = ms_buf_printf(out, "%s%s", i > 0 ? " " : "", w->v[i]);
        return rc;
    case MS_CONFIG_ENUM:
        return ms_buf_puts(out, k->choices[*CFIELD(cfg, k, int)]);
    default:
        return ms_buf_printf(out, "%lld", *CFIELD(cfg, k, long long));
    }
}

int
ms_config_format(ms_buf *out, const void *cfg, const ms_config_key *keys,
                 size_t nkeys)
{
    int rc;

    for (size_t i = 0; i < nkeys; i++) {
        if ((rc = ms_buf_printf(out, "%s = ", keys[i].name)) != 0)
            return rc;
        if ((rc = format_value(out, cfg, &keys[i])) != 0)
            return rc;
        if ((rc = ms_buf_puts(out, "\n")) != 0)
            return rc;
    }
    return 0;
}

static bool
str_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

bool
ms_config_equal(const void *a, const void *b, const ms_config_key *k)
{
    const ms_config_words *wa, *wb;
    const ms_config_listen *la, *lb;

    switch (k->type) {
    case MS_CONFIG_STRING:
        return str_equal(*CFIELD(a, k, cfg_string), *CFIELD(b, k, cfg_string));
    case MS_CONFIG_BOOL:
        return *CFIELD(a, k, bool) == *CFIELD(b, k, bool);
    case MS_CONFIG_LISTEN:
        la = CFIELD(a, k, ms_config_listen);
        lb = CFIELD(b, k, ms_config_listen);
        return la->port == lb->port && strcmp(la->host, lb->host) == 0;
    case MS_CONFIG_WORDS:
        wa = CFIELD(a, k, ms_config_words);
        wb = CFIELD(b, k, ms_config_words);
        if (wa->n != wb->n)
            return false;
        for (size_t i = 0; i < wa->n; i++) {
            if (strcmp(wa->v[i], wb->v[i]) != 0)
                return false;
        }
        return true;
    case MS_CONFIG_ENUM:
        return *CFIELD(a, k, int) == *CFIELD(b, k, int);
    default:
        return *CFIELD(a, k, long long) == *CFIELD(b, k, long long);
    }
}

int
ms_config_copy(void *dst, const void *src, const ms_config_key *k)
{
    ms_buf text;
    int rc;

    /* Strings and lists round-trip through their text form. */
    if (k->type == MS_CONFIG_STRING) {
        const char *s = *CFIELD(src, k, cfg_string);

        return set_value(dst, k, s != NULL ? s : "", NULL);
    }
    if (k->type != MS_CONFIG_WORDS) {
        memcpy((char *)dst + k->offset, (const char *)src + k->offset,
               k->type == MS_CONFIG_BOOL     ? sizeof(bool)
               : k->type == MS_CONFIG_LISTEN ? sizeof(ms_config_listen)
               : k->type == MS_CONFIG_ENUM   ? sizeof(int)
                                             : sizeof(long long));
        return 0;
    }
    ms_buf_init(&text, 0);
    if ((rc = format_value(&text, src, k)) == 0)
        rc =
            set_words(dst, k, text.data != NULL ? (char *)text.data : "", NULL);
    ms_buf_cleanup(&text);
    return rc;
}
