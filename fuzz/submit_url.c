/*
 * fuzz/submit_url.c - ms_submit_config_parse_url() on the input as a relay
 * URL, and ms_submit_config_set() on it as "key=value". What parses must
 * print (ms_submit_config_url) and parse back to the same config.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "fuzz.h"
#include "mail/submit.h"

static void
round_trip(const ms_submit_config *c)
{
    char url[MS_SUBMIT_MAX_URL + 16];
    ms_submit_config again;
    ms_error err;

    if (c->mode == MS_SUBMIT_UNSET)
        return;
    if (ms_submit_config_url(url, sizeof(url), c) != 0)
        ms_fuzz_die("cannot print a parsed relay URL", NULL);
    ms_submit_config_init(&again);
    again.starttls = c->starttls;
    memcpy(again.user, c->user, sizeof(c->user));
    memcpy(again.password_file, c->password_file, sizeof(c->password_file));
    memcpy(again.ca_file, c->ca_file, sizeof(c->ca_file));
    again.timeout_s = c->timeout_s;
    if (ms_submit_config_parse_url(&again, url, &err) != 0)
        ms_fuzz_die("printed relay URL does not parse back", &err);
    if (memcmp(&again, c, sizeof(again)) != 0)
        ms_fuzz_die("printed relay URL parses to another config", NULL);
    (void)ms_submit_config_check(c, &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_submit_config c;
    ms_error err;
    char *text, *eq;

    if (size > MS_FUZZ_MAX_INPUT || (text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL ends the string early: fine */
    ms_submit_config_init(&c);
    if (ms_submit_config_parse_url(&c, text, &err) == 0)
        round_trip(&c);
    ms_submit_config_init(&c);
    if ((eq = strchr(text, '=')) != NULL) {
        *eq = '\0';
        if (ms_submit_config_set(&c, text, eq + 1, &err) == 0)
            round_trip(&c);
    }
    free(text);
    ERR_clear_error();
    return 0;
}
