/*
 * mime/addr.c - the From address: our own strict RFC 5322 (3.4) parser for
 * exactly one mailbox, with RFC 6532 UTF-8 and IDNA A-label domains.
 *
 * The value is checked as text first (length, UTF-8, control characters),
 * then read once from left to right, one token at a time. Comments nest at
 * most COMMENT_DEPTH deep and nothing recurses, so time and stack stay
 * linear in the (capped) value and nothing is allocated until the addr-spec
 * is built. Obsolete syntax (routes, CFWS inside a dot-atom, a local-part
 * of several words) is refused; a phrase may hold '.' after its first word
 * ("John Q. Public"), as most mail does. RFC 2047 encoded-words are atoms
 * of the display name and never decoded: the display name is not returned.
 *
 * The normal form (ms_addr_normalise) is a separate, much narrower check
 * of a bare address: one pass over at most MS_ADDR_NORM_INPUT_MAX bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <idn2.h>

#include "mime/addr.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/str.h"

#define FROM_MAX      ((size_t)64 * 1024) /* bytes in an unfolded From value */
#define COMMENT_DEPTH 8           /* nested comments, "(a (b))" is 2 */

static const char why_empty[] = "the From field is empty";
static const char why_parse[] = "the From field cannot be parsed";
static const char why_list[] =
    "the From field does not hold exactly one mailbox";
static const char why_group[] = "the From field is a group";
static const char why_spec[] = "the From address is not a valid addr-spec";

/* Token kinds; the specials < > @ , : ; . are their own character. */
enum { TK_END = 0, TK_ATOM = 256, TK_QUOTED, TK_LITERAL };

typedef struct token {
    int kind;
    const char *start; /* as written, quotes or brackets included */
    size_t len;
    bool blank_before; /* blanks or comments came right before it */
    bool plain;        /* printable ASCII only, no tab: fit for an addr-spec */
} token;

typedef struct lexer {
    const char *p; /* the first byte not read */
    token cur;     /* the current token */
} lexer;

/* A run of words and dots: a display-name or a local-part. */
typedef struct run {
    const char *start; /* first byte of the first token */
    const char *end;   /* one past the last token */
    bool empty;        /* no token at all */
    bool phrase;       /* a word first, then words and dots */
    bool local;        /* one dot-atom-text, or one quoted-string */
    bool plain;        /* every token plain */
} run;

/* The addr-spec found, pointing into the value. */
typedef struct mailbox {
    const char *local;
    size_t local_len;
    const char *domain;
    size_t domain_len;
    bool local_plain;
    bool literal; /* the domain is a domain-literal */
} mailbox;

static bool
is_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c >= 0x80)
        return true; /* UTF-8 is atext too (RFC 6532) */
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5322 dtext: printable ASCII but '[', ']' and '\'. */
static bool
is_dtext(unsigned char c)
{
    return (c >= 33 && c <= 90) || (c >= 94 && c <= 126);
}

/*
 * Length of the UTF-8 character at p (1 to 4), 0 if invalid: overlong,
 * surrogate, above U+10FFFF or cut short. *cp is its code point.
 */
static size_t
utf8_char(const unsigned char *p, unsigned long *cp)
{
    unsigned long v;
    unsigned long min;
    size_t n;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        v = p[0] & 0x1fUL;
        min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        v = p[0] & 0x0fUL;
        min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        v = p[0] & 0x07UL;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        v = v << 6 | (p[i] & 0x3fUL);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/*
 * Why value is no acceptable From text, or NULL: at most FROM_MAX bytes of
 * UTF-8 without C0 controls (HTAB aside), DEL or C1 controls.
 */
static const char *
check_text(const char *value)
{
    const unsigned char *p = (const unsigned char *)value;
    unsigned long cp;
    size_t n;

    if (strnlen(value, FROM_MAX + 1) > FROM_MAX)
        return "the From field is too long";
    for (; *p != '\0'; p += n) {
        if ((n = utf8_char(p, &cp)) == 0)
            return "the From field is not valid UTF-8";
        if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f))
            return why_parse;
    }
    return NULL;
}

/*
 * Skips blanks and comments (nested, with quoted-pairs). False on a comment
 * left open or nested deeper than COMMENT_DEPTH. A stray ')' is left for
 * the caller, which refuses it.
 */
static bool
skip_cfws(lexer *lx, bool *skipped)
{
    const char *p = lx->p;
    unsigned depth = 0;

    for (;; p++) {
        if (*p == '\0') {
            if (depth > 0)
                return false;
            break;
        }
        if (*p == '(') {
            if (++depth > COMMENT_DEPTH)
                return false;
        } else if (*p == ')') {
            if (depth == 0)
                break;
            depth--;
        } else if (*p == '\\' && depth > 0) {
            if (p[1] == '\0')
                return false;
            p++; /* a quoted-pair: the next byte is ctext */
        } else if (depth == 0 && *p != ' ' && *p != '\t') {
            break;
        }
    }
    *skipped = p != lx->p;
    lx->p = p;
    return true;
}

/* Length of the quoted-string at s (its opening '"'), 0 if left open. */
static size_t
lex_quoted(const char *s, bool *plain)
{
    const unsigned char *p = (const unsigned char *)s + 1;

    for (;; p++) {
        if (*p == '\0')
            return 0;
        if (*p == '"')
            break;
        if (*p == '\\') {
            if (p[1] == '\0')
                return 0;
            p++;
        }
        if (*p == '\t' || *p >= 0x80)
            *plain = false;
    }
    return (size_t)((const char *)p + 1 - s);
}

/* Length of the domain-literal at s (its '['), 0 if empty or invalid. */
static size_t
lex_literal(const char *s)
{
    const char *p = s + 1;

    while (is_dtext((unsigned char)*p))
        p++;
    if (*p != ']' || p == s + 1)
        return 0; /* no FWS, quoted-pairs or UTF-8 inside */
    return (size_t)(p + 1 - s);
}

/* Reads the next token into lx->cur; false on a lexical error. */
static bool
lex_next(lexer *lx)
{
    token *t = &lx->cur;
    const char *s;

    if (!skip_cfws(lx, &t->blank_before))
        return false;
    s = lx->p;
    t->start = s;
    t->plain = true;
    t->len = 1;
    if (*s == '\0') {
        t->kind = TK_END;
        t->len = 0;
    } else if (is_atext((unsigned char)*s)) {
        t->kind = TK_ATOM;
        while (is_atext((unsigned char)s[t->len]))
            t->len++;
        for (size_t i = 0; i < t->len; i++)
            t->plain &= (unsigned char)s[i] < 0x80;
    } else if (*s == '"') {
        t->kind = TK_QUOTED;
        if ((t->len = lex_quoted(s, &t->plain)) == 0)
            return false;
    } else if (*s == '[') {
        t->kind = TK_LITERAL;
        if ((t->len = lex_literal(s)) == 0)
            return false;
    } else if (strchr("<>@,:;.", *s) != NULL) {
        t->kind = (unsigned char)*s;
    } else {
        return false; /* a stray ')', ']' or '\' */
    }
    lx->p = s + t->len;
    return true;
}

/*
 * Reads words and dots up to the first other token, which is left in
 * lx->cur, and says whether they make a phrase (obs-phrase: a word, then
 * words, dots and CFWS) and whether a local-part (dot-atom-text without
 * CFWS inside, or a single quoted-string).
 */
static bool
read_run(lexer *lx, run *r)
{
    int prev = TK_END;
    const token *t = &lx->cur;

    r->start = t->start;
    r->end = t->start;
    r->phrase = t->kind != '.';
    r->local = t->kind != '.';
    r->plain = true;
    while (t->kind == TK_ATOM || t->kind == TK_QUOTED || t->kind == '.') {
        if (prev != TK_END &&
            (t->blank_before || prev == TK_QUOTED || t->kind == TK_QUOTED ||
             (t->kind == '.') == (prev == '.')))
            r->local = false;
        r->plain &= t->plain;
        r->end = t->start + t->len;
        prev = t->kind;
        if (!lex_next(lx))
            return false;
    }
    r->empty = prev == TK_END;
    if (prev == '.')
        r->local = false;
    return true;
}

/* The domain after the '@' in lx->cur; leaves the token after it. */
static const char *
parse_domain(lexer *lx, mailbox *mb)
{
    const char *start;
    const char *end;

    if (!lex_next(lx))
        return why_parse;
    start = lx->cur.start;
    end = start + lx->cur.len;
    mb->literal = lx->cur.kind == TK_LITERAL;
    if (lx->cur.kind != TK_ATOM && !mb->literal)
        return why_parse;
    if (!lex_next(lx))
        return why_parse;
    while (!mb->literal && lx->cur.kind == '.' && !lx->cur.blank_before) {
        if (!lex_next(lx) || lx->cur.kind != TK_ATOM || lx->cur.blank_before)
            return why_parse;
        end = lx->cur.start + lx->cur.len;
        if (!lex_next(lx))
            return why_parse;
    }
    if (lx->cur.kind == '.')
        return why_parse; /* CFWS inside the domain, or a dot after it */
    mb->domain = start;
    mb->domain_len = (size_t)(end - start);
    return NULL;
}

/* The addr-spec after a local-part run r, lx->cur being its '@'. */
static const char *
parse_addr_spec(lexer *lx, const run *r, mailbox *mb)
{
    if (r->empty || !r->local)
        return why_parse;
    mb->local = r->start;
    mb->local_len = (size_t)(r->end - r->start);
    mb->local_plain = r->plain;
    return parse_domain(lx, mb);
}

/* The angle-addr at lx->cur ('<'); leaves the token after its '>'. */
static const char *
parse_angle(lexer *lx, mailbox *mb)
{
    const char *why;
    run r;

    if (!lex_next(lx) || !read_run(lx, &r))
        return why_parse;
    if (lx->cur.kind != '@')
        return why_parse;
    if ((why = parse_addr_spec(lx, &r, mb)) != NULL)
        return why; /* an obsolete route "<@a,@b:x@y>" lands here too */
    if (lx->cur.kind != '>' || !lex_next(lx))
        return why_parse;
    return NULL;
}

/* The one mailbox the value must be, with nothing after it. */
static const char *
parse_mailbox(lexer *lx, mailbox *mb)
{
    const char *why;
    run r;

    if (!lex_next(lx) || !read_run(lx, &r))
        return why_parse;
    switch (lx->cur.kind) {
    case '<':
        why = r.empty || r.phrase ? parse_angle(lx, mb) : why_parse;
        break;
    case '@':
        why = parse_addr_spec(lx, &r, mb);
        break;
    case ':':
        return r.empty || !r.phrase ? why_parse : why_group;
    case ',':
        return why_list;
    case TK_END:
        return r.empty ? why_empty : why_parse;
    default:
        return why_parse;
    }
    if (why != NULL)
        return why;
    if (lx->cur.kind == ',')
        return why_list;
    return lx->cur.kind == TK_END ? NULL : why_parse;
}

static bool
has_8bit(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return true;
    }
    return false;
}

/*
 * *out = "local@domain", the domain in A-label form when it holds UTF-8
 * (U-labels, IDNA2008 with UTS #46 non-transitional mapping).
 */
static int
make_addr(char **out, const mailbox *mb, const char **why)
{
    char *udomain = NULL;
    char *adomain = NULL; /* from libidn2: idn2_free() */
    const char *domain = mb->domain;
    size_t dlen = mb->domain_len;
    size_t len;
    int rc = MS_EMALFORMED;

    *why = why_spec;
    if (!mb->local_plain || mb->local_len + 1 + dlen > MS_ADDR_MAX)
        goto out; /* UTF-8 or a tab in the local-part; too long */
    if (has_8bit(domain, dlen)) {
        if ((udomain = ms_strndup(domain, dlen)) == NULL) {
            rc = MS_ENOMEM;
            goto out;
        }
        if (idn2_to_ascii_8z(udomain, &adomain,
                             IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) !=
            IDN2_OK)
            goto out;
        domain = adomain;
        dlen = strlen(adomain);
    }
    if (!mb->literal && memchr(domain, '.', dlen) == NULL &&
        !ms_ascii_casebytes(domain, dlen, "localhost", 9))
        goto out; /* no top-level domain */
    if ((len = mb->local_len + 1 + dlen) > MS_ADDR_MAX)
        goto out;
    if ((*out = ms_malloc(len + 1)) == NULL) {
        rc = MS_ENOMEM;
        goto out;
    }
    memcpy(*out, mb->local, mb->local_len);
    (*out)[mb->local_len] = '@';
    memcpy(*out + mb->local_len + 1, domain, dlen);
    (*out)[len] = '\0';
    rc = 0;
    *why = NULL;
out:
    if (rc == MS_ENOMEM)
        *why = "out of memory";
    idn2_free(adomain);
    ms_free(udomain);
    return rc;
}

int
ms_addr_parse_from(char **out, const char *value, const char **why)
{
    lexer lx;
    mailbox mb;

    *out = NULL;
    if (value == NULL || value[0] == '\0') {
        *why = why_empty;
        return MS_EMALFORMED;
    }
    if ((*why = check_text(value)) != NULL)
        return MS_EMALFORMED;
    memset(&lx, 0, sizeof(lx));
    memset(&mb, 0, sizeof(mb));
    lx.p = value;
    if ((*why = parse_mailbox(&lx, &mb)) != NULL)
        return MS_EMALFORMED;
    return make_addr(out, &mb, why);
}

int
ms_mime_from(char **out, const ms_mime *m, const char **why)
{
    ms_buf v;
    size_t n;
    int rc;

    *out = NULL;
    n = ms_mime_header_count(m, &m->parts[0], "From");
    if (n == 0) {
        *why = "the message has no From field";
        return MS_EMALFORMED;
    }
    if (n > 1) {
        *why = "the message has more than one From field";
        return MS_EMALFORMED;
    }
    ms_buf_init(&v, FROM_MAX);
    if ((rc = ms_mime_header(&v, m, &m->parts[0], "From")) != 0) {
        *why = rc == MS_ETOOBIG ? "the From field is too long"
                                : "the From field cannot be read";
        ms_buf_cleanup(&v);
        return rc == MS_ENOMEM ? rc : MS_EMALFORMED;
    }
    rc = ms_addr_parse_from(out, (const char *)v.data, why);
    ms_buf_cleanup(&v);
    return rc;
}

bool
ms_addr_equal(const char *a, const char *b)
{
    return ms_ascii_caseeq(a, b);
}

static const char why_list_parse[] = "the address list cannot be parsed";

/* One mailbox of an address list: lx->cur is its first token. */
static int
list_mailbox(lexer *lx, mailbox *mb, bool *group_start, const char **why)
{
    run r;

    *group_start = false;
    memset(mb, 0, sizeof(*mb));
    if (!read_run(lx, &r))
        return MS_EMALFORMED;
    switch (lx->cur.kind) {
    case ':':
        if (r.empty || !r.phrase || !lex_next(lx))
            return MS_EMALFORMED;
        *group_start = true;
        return 0;
    case '<':
        *why = r.empty || r.phrase ? parse_angle(lx, mb) : why_parse;
        break;
    case '@':
        *why = parse_addr_spec(lx, &r, mb);
        break;
    default:
        return MS_EMALFORMED;
    }
    return *why == NULL ? 0 : MS_EMALFORMED;
}

/* After a mailbox: a ',' (skipped), the end, or a ';' closing a group. */
static bool
list_separator(lexer *lx, bool *in_group)
{
    if (lx->cur.kind == TK_END)
        return true;
    if (lx->cur.kind == ';' && *in_group) {
        *in_group = false;
        return lex_next(lx) &&
               (lx->cur.kind == ',' || lx->cur.kind == TK_END);
    }
    return lx->cur.kind == ',';
}

int
ms_addr_parse_list(const char *value, ms_addr_list_fn fn, void *arg,
                   const char **why)
{
    lexer lx;
    mailbox mb;
    bool in_group = false, group_start;
    char *addr = NULL;
    int rc = 0;

    *why = NULL;
    if (value == NULL)
        return 0;
    if ((*why = check_text(value)) != NULL)
        return MS_EMALFORMED;
    memset(&lx, 0, sizeof(lx));
    lx.p = value;
    if (!lex_next(&lx))
        goto bad;
    while (lx.cur.kind != TK_END) {
        if (lx.cur.kind == ',' || (lx.cur.kind == ';' && in_group)) {
            in_group = in_group && lx.cur.kind != ';';
            if (!lex_next(&lx))
                goto bad;
            continue;
        }
        if (list_mailbox(&lx, &mb, &group_start, why) != 0)
            goto bad;
        if (group_start) {
            if (in_group)
                goto bad; /* groups do not nest */
            in_group = true;
            continue;
        }
        if ((rc = make_addr(&addr, &mb, why)) != 0) {
            if (rc == MS_ENOMEM)
                return rc;
            *why = "the address list holds an invalid address";
            return MS_EMALFORMED;
        }
        rc = fn(addr, arg);
        ms_free(addr);
        addr = NULL;
        if (rc != 0)
            return rc;
        if (!list_separator(&lx, &in_group))
            goto bad;
    }
    if (!in_group)
        return 0;
bad:
    *why = why_list_parse;
    return MS_EMALFORMED;
}

/* ---- the normal form ---- */

#define LABEL_MAX 63 /* bytes in a domain label (RFC 1035) */

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Why some byte of s (len bytes) can be in no normal address, or NULL. */
static const char *
check_bytes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 0x80)
            return "the address is not ASCII (give an IDNA domain in "
                   "A-label form)";
        if (c < 0x20 || c == 0x7f)
            return "the address holds a control character";
        if (c == ' ')
            return "the address holds a blank";
        if (c == '"')
            return "the address holds a quote (no quoted local parts)";
        if (c == '*' || c == '%' || c == '?')
            return "the address holds a wildcard ('*', '%' or '?')";
    }
    return NULL;
}

/* Why the local part s (len bytes) is not a normal one, or NULL. */
static const char *
check_local(const char *s, size_t len)
{
    if (len == 0)
        return "the address has no local part";
    if (len > MS_ADDR_LOCAL_MAX)
        return "the local part is longer than 64 bytes";
    if (s[0] == '.' || s[len - 1] == '.')
        return "the local part starts or ends with '.'";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.' && s[i + 1] == '.')
            return "the local part holds \"..\"";
        if (c != '.' && !is_alnum(c) && strchr("!#$&'+-=^_`{|}~", c) == NULL)
            return "the local part holds a character other than letters, "
                   "digits, '.' and !#$&'+-=^_`{|}~";
    }
    return NULL;
}

/* Why the domain s (len bytes) is not a normal one, or NULL. */
static const char *
check_domain(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0)
        return "the address has no domain";
    if (len > MS_ADDR_DOMAIN_MAX)
        return "the domain is longer than 255 bytes";
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)s[i] : '.';

        if (c == '.') {
            if (label == 0)
                return "the domain has an empty label (a leading, trailing "
                       "or doubled '.')";
            if (s[i - 1] == '-')
                return "a domain label ends with '-'";
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-')
            return "the domain holds a character other than letters, "
                   "digits, '-' and '.'";
        if (c == '-' && label == 0)
            return "a domain label starts with '-'";
        if (++label > LABEL_MAX)
            return "a domain label is longer than 63 bytes";
    }
    return NULL;
}

int
ms_addr_normalise(char *out, size_t n, const char *in, ms_error *err)
{
    const char *why;
    const char *at;
    size_t len;
    size_t local_len;

    MS_ASSERT(out != NULL && n > 0);
    out[0] = '\0';
    if (in == NULL)
        return ms_error_set(err, MS_EINVAL, "no address given");
    if ((len = strnlen(in, MS_ADDR_NORM_INPUT_MAX + 1)) >
        MS_ADDR_NORM_INPUT_MAX)
        return ms_error_set(err, MS_EINVAL,
                            "the address is longer than %d "
                            "bytes",
                            MS_ADDR_NORM_INPUT_MAX);
    while (len > 0 && is_blank(in[0])) {
        in++;
        len--;
    }
    while (len > 0 && is_blank(in[len - 1]))
        len--;
    if (len == 0)
        return ms_error_set(err, MS_EINVAL, "the address is empty");
    if (len > MS_ADDR_NORM_MAX)
        return ms_error_set(err, MS_EINVAL,
                            "the address is longer than %d "
                            "bytes",
                            MS_ADDR_NORM_MAX);
    if ((why = check_bytes(in, len)) != NULL)
        return ms_error_set(err, MS_EINVAL, "%s", why);
    if ((at = memchr(in, '@', len)) == NULL)
        return ms_error_set(err, MS_EINVAL, "the address has no '@'");
    local_len = (size_t)(at - in);
    if (memchr(at + 1, '@', len - local_len - 1) != NULL)
        return ms_error_set(err, MS_EINVAL,
                            "the address has more than one "
                            "'@'");
    if ((why = check_local(in, local_len)) != NULL ||
        (why = check_domain(at + 1, len - local_len - 1)) != NULL)
        return ms_error_set(err, MS_EINVAL, "%s", why);
    if (len >= n)
        return ms_error_set(err, MS_EINVAL, "no room for the address");
    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[len] = '\0';
    return 0;
}
