/*
 * config/config.h - a table-driven `key = value` parser (Postfix main.cf
 * style) with typed values, defaults, redacted printing and per-key
 * comparison for reloads.
 *
 * Syntax: one `key = value` per line; blank lines and lines whose first
 * non-blank character is `#` are ignored (a `#` later in a line is part of
 * the value); whitespace around keys and values is trimmed; a line ending
 * in CR LF is accepted. The text is at most MS_CONFIG_MAX_FILE bytes, a
 * line at most MS_CONFIG_MAX_LINE. Unknown keys, repeated keys and bad
 * values are errors naming `name:line`.
 *
 * A program describes its settings with an array of ms_config_key, each
 * naming the type, the default (in config syntax, parsed like a file value)
 * and the offset of the field in the program's own struct ("the config").
 * Field types: STRING char * (NULL when empty), BOOL bool, INT, SIZE and
 * DURATION long long, LISTEN ms_config_listen, WORDS ms_config_words, ENUM
 * int (index into choices).
 *
 * Ownership: strings and word lists in a config are owned by it and freed
 * by ms_config_release(). Thread safety: the functions keep no state; a
 * config is safe to read from several threads once parsed.
 */
#ifndef MS_CONFIG_CONFIG_H
#define MS_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#define MS_CONFIG_MAX_FILE  ((size_t)64 * 1024) /* bytes in a config file */
#define MS_CONFIG_MAX_LINE  1024u               /* bytes in one line */
#define MS_CONFIG_MAX_WORDS 64u                 /* words in one list value */

typedef enum ms_config_type {
    MS_CONFIG_STRING,   /* any text; empty means unset (NULL) */
    MS_CONFIG_BOOL,     /* yes | no */
    MS_CONFIG_INT,      /* decimal digits, within [min, max] */
    MS_CONFIG_SIZE,     /* bytes: N, Nk, Nm, Ng (powers of 1024) */
    MS_CONFIG_DURATION, /* seconds: N, Ns, Nm, Nh, Nd */
    MS_CONFIG_LISTEN,   /* 127.0.0.1:8025 or [::1]:8025 (numeric only) */
    MS_CONFIG_WORDS,    /* words separated by blanks or commas */
    MS_CONFIG_ENUM      /* one of choices */
} ms_config_type;

/* A change is applied by SIGHUP (otherwise it needs a restart). */
#define MS_CONFIG_F_RELOAD 0x1u
/* The value is never printed (ms_config_format shows "(secret)"). */
#define MS_CONFIG_F_SECRET 0x2u
/* A URL or libpq string: its password is replaced by "****" in print. */
#define MS_CONFIG_F_URL 0x4u

/* A listening address: numeric host and port. */
typedef struct ms_config_listen {
    char host[48]; /* "127.0.0.1", "::1" (no brackets) */
    unsigned port; /* 0..65535; 0 = any free port */
    bool ipv6;     /* host is an IPv6 address */
    bool loopback; /* 127.0.0.0/8 or ::1 */
} ms_config_listen;

/* A list of words; v[n] is NULL. */
typedef struct ms_config_words {
    char **v;
    size_t n;
} ms_config_words;

typedef struct ms_config_key {
    const char *name;
    ms_config_type type;
    const char *def;            /* default, in config syntax */
    long long min, max;         /* INT, SIZE, DURATION; WORDS: max count */
    const char *const *choices; /* ENUM, WORDS (NULL: any word) */
    size_t offset;              /* offsetof() the field in the config */
    unsigned flags;             /* MS_CONFIG_F_* */
    const char *help;           /* one line for -T and the manual */
    /* STRING: extra check of a non-empty value (NULL: none); fills err. */
    int (*check)(const char *value, ms_error *err);
} ms_config_key;

/*
 * Sets every key of cfg (zeroed storage) to its default. MS_EINVAL when a
 * default does not parse (a bug in the table), MS_ENOMEM.
 */
int ms_config_defaults(void *cfg, const ms_config_key *keys, size_t nkeys,
                       ms_error *err);

/*
 * Applies the text (len bytes, need not be NUL-terminated) to cfg, which
 * holds the defaults. name (a file name) prefixes error messages as
 * "name:line: ...". Errors: MS_ETOOBIG (file or line too long), MS_EINVAL
 * (syntax, unknown or repeated key, bad value), MS_ENOMEM. On error cfg
 * holds a mix of old and new values: release it.
 */
int ms_config_parse(void *cfg, const ms_config_key *keys, size_t nkeys,
                    const char *text, size_t len, const char *name,
                    ms_error *err);

/* Frees the strings and lists of cfg and zeroes their fields. */
void ms_config_release(void *cfg, const ms_config_key *keys, size_t nkeys);

/*
 * Appends `key = value` lines for every key to out, in table order, with
 * secrets redacted (see MS_CONFIG_F_SECRET, MS_CONFIG_F_URL). MS_ENOMEM,
 * MS_ETOOBIG (out's cap).
 */
int ms_config_format(ms_buf *out, const void *cfg, const ms_config_key *keys,
                     size_t nkeys);

/* Whether key k has the same value in configs a and b. */
bool ms_config_equal(const void *a, const void *b, const ms_config_key *k);

/* Copies the value of key k from src into dst (replacing dst's). MS_ENOMEM. */
int ms_config_copy(void *dst, const void *src, const ms_config_key *k);

/* Whether list w holds word. */
bool ms_config_words_has(const ms_config_words *w, const char *word);

/* Parses a listen value ("127.0.0.1:8025", "[::1]:0"). MS_EINVAL. */
int ms_config_parse_listen(ms_config_listen *out, const char *s, ms_error *err);

#endif
