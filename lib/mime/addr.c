/* mime/addr.c - the From address, parsed by GMime and checked strictly. */
#include <string.h>

#include <gmime/gmime.h>

#include "mime/addr.h"
#include "util/alloc.h"
#include "util/str.h"

static void
addr_warning(gint64 offset, GMimeParserWarning errcode, const gchar *item,
             gpointer user_data)
{
    bool *bad = user_data;

    (void)offset;
    (void)item;
    if (errcode == GMIME_WARN_INVALID_ADDRESS_LIST ||
        errcode >= GMIME_CRIT_INVALID_HEADER_NAME)
        *bad = true;
}

static bool
plausible_addr(const char *a)
{
    const char *at = strrchr(a, '@');

    if (at == NULL || at == a || at[1] == '\0' || strlen(a) > MS_ADDR_MAX)
        return false;
    for (const char *p = a; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',')
            return false;
    }
    return strchr(at + 1, '.') != NULL || strcmp(at + 1, "localhost") == 0;
}

/*
 * Why value is not shaped like one mailbox, or NULL when it may be one.
 * Outside quoted strings, domain literals and comments: no ',' (a list),
 * no ':' or ';' before any '<' (a group), at most one "<...>" with no '@'
 * before it and exactly one '@' and no ',' inside it (exactly one '@' in
 * a bare addr-spec), nothing but blanks and comments after it, no stray
 * ')' or backslash, '[' only right after the '@'. Inside comments no
 * backslash, '"', '<', '>', ',', ';', ':', '[' or ']' (an '@' is fine);
 * inside domain literals only letters, digits, '.', ':' and '-'. An
 * addr-spec, bare or in "<...>", may be quoted only from its start. No
 * control characters but tab. Nothing may be left open at the end. GMime 3.2.13 leaks memory on values breaking these rules
 * ("a@b.example>", "G:@:x", "A <a,b@c.example>"), so they never reach it.
 */
/* What a domain literal may hold: IPv4, IPv6 and tagged addresses. */
#define LITERAL_CHARS                                                          \
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.:-"

static const char *
mailbox_shape(const char *v)
{
    static const char bad[] = "the From field cannot be parsed";
    enum { PHRASE, ANGLE, AFTER } where = PHRASE;
    bool at = false; /* an '@' in the current part */
    char in = 0;     /* '"' quoted string, '[' domain literal, 0 neither */
    unsigned comment = 0;
    char prev = 0; /* the last character outside comments and blanks */
    bool late_quote = false; /* a quoted string not at the very start */

    for (; *v != '\0'; prev = comment > 0 || *v == ' ' || *v == '\t' ||
                               *v == ')' ? prev : *v,
                        v++) {
        if ((unsigned char)*v < 0x20 ? *v != '\t' : *v == 0x7f) {
            return bad; /* control characters */
        } else if (comment > 0 && strchr("\\\"<>,;:[]", *v) != NULL) {
            return bad; /* no quoting or address syntax in comments */
        } else if (*v == '\\' && in == '"') {
            if (v[1] == '\0')
                return bad;
            v++;
        } else if (in == '[') {
            if (*v == ']')
                in = 0;
            else if (strchr(LITERAL_CHARS, *v) == NULL)
                return bad; /* IPv4, IPv6 or a tagged literal only */
        } else if (in != 0) {
            if (*v == '"')
                in = 0;
        } else if (*v == '(') {
            comment++;
        } else if (comment > 0) {
            if (*v == ')')
                comment--;
        } else if (*v == ')' || *v == '\\') {
            return bad;
        } else if (*v == ',') {
            return where == ANGLE
                       ? bad
                       : "the From field does not hold exactly one mailbox";
        } else if (where == AFTER) {
            if (*v != ' ' && *v != '\t')
                return bad;
        } else if (*v == '[' || *v == ']') {
            if (*v == ']' || prev != '@')
                return bad; /* a domain literal only right after '@' */
            in = '[';
        } else if (*v == '"') {
            if (where == ANGLE && prev != '<')
                return bad; /* quoted only as the whole local-part */
            late_quote |= prev != 0;
            in = '"';
        } else if (*v == '@') {
            if (at)
                return bad;
            at = true;
        } else if ((*v == ':' || *v == ';') && where == PHRASE) {
            return "the From field is a group";
        } else if (*v == '<') {
            if (where != PHRASE || at)
                return bad;
            where = ANGLE;
        } else if (*v == '>') {
            if (where != ANGLE || !at)
                return bad;
            where = AFTER;
        }
    }
    if (where == ANGLE || in != 0 || comment != 0)
        return bad;
    /* Without "<...>" the value is an addr-spec: quoted only up front. */
    return where == PHRASE && late_quote ? bad : NULL;
}

int
ms_addr_parse_from(char **out, const char *value, const char **why)
{
    GMimeParserOptions *opts = NULL;
    InternetAddressList *list = NULL;
    InternetAddress *ia;
    const char *a;
    bool bad = false;
    int rc = MS_EMALFORMED;

    *out = NULL;
    if (value == NULL || value[0] == '\0') {
        *why = "the From field is empty";
        return MS_EMALFORMED;
    }
    if (strlen(value) > 64 * 1024) {
        *why = "the From field is too long";
        return MS_EMALFORMED;
    }
    /* Raw 8-bit text must be UTF-8 (RFC 6532); GMime's fallback for
     * other bytes leaks like the shapes mailbox_shape() refuses. */
    if (!g_utf8_validate(value, -1, NULL)) {
        *why = "the From field is not valid UTF-8";
        return MS_EMALFORMED;
    }
    if ((*why = mailbox_shape(value)) != NULL)
        return MS_EMALFORMED;
    opts = g_mime_parser_options_new();
    g_mime_parser_options_set_address_compliance_mode(
        opts, GMIME_RFC_COMPLIANCE_STRICT);
    g_mime_parser_options_set_warning_callback(opts, addr_warning, &bad);
    list = internet_address_list_parse(opts, value);
    if (list == NULL || bad) {
        *why = "the From field cannot be parsed";
        goto out;
    }
    if (internet_address_list_length(list) != 1) {
        *why = "the From field does not hold exactly one mailbox";
        goto out;
    }
    ia = internet_address_list_get_address(list, 0);
    if (!INTERNET_ADDRESS_IS_MAILBOX(ia)) {
        *why = "the From field is a group";
        goto out;
    }
    a = internet_address_mailbox_get_idn_addr(INTERNET_ADDRESS_MAILBOX(ia));
    if (a == NULL || !plausible_addr(a)) {
        *why = "the From address is not a valid addr-spec";
        goto out;
    }
    if ((*out = ms_strdup(a)) == NULL) {
        *why = "out of memory";
        rc = MS_ENOMEM;
        goto out;
    }
    rc = 0;
out:
    if (list != NULL)
        g_object_unref(list);
    g_mime_parser_options_free(opts);
    return rc;
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
    ms_buf_init(&v, 64 * 1024);
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
