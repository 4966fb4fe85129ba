/*
 * fuzz/dir_addr.c - ms_dir_addr_parse() (services/directory/addr.c, the
 * address of a directory lookup path) on arbitrary input. What it accepts
 * must be normalised (parsing it again gives itself), lower case, free of
 * pattern characters and within MS_DIR_ADDR_MAX bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "../services/directory/addr.c"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[MS_DIR_ADDR_BUF], again[MS_DIR_ADDR_BUF];
    ms_error err;
    char *text;

    if (size > MS_FUZZ_MAX_INPUT || (text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL ends the string early: fine */
    if (ms_dir_addr_parse(out, text, &err) == 0) {
        if (strlen(out) > MS_DIR_ADDR_MAX || strpbrk(out, pattern_chars) ||
            strpbrk(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ \t"))
            ms_fuzz_die("accepted address is not normalised", NULL);
        if (ms_dir_addr_parse(again, out, &err) != 0 || strcmp(again, out) != 0)
            ms_fuzz_die("normalised address does not parse to itself", &err);
    }
    free(text);
    return 0;
}
