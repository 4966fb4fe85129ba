/*
 * fuzz/driver.c - replays corpora through a fuzz target without libFuzzer,
 * so a normal (gcc) or sanitizer build checks every committed input.
 *
 * Usage: fuzz-replay-<target> PATH...   (a PATH is a file or a directory,
 * whose regular files are replayed in name order; dot files are skipped).
 * Exits 0 when every input ran, 1 when a path cannot be read; a crash in
 * the target is the test failure.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
replay_file(const char *path, size_t *count)
{
    FILE *f;
    unsigned char *data;
    struct stat st;
    size_t n;

    if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
        perror(path);
        if (f != NULL)
            fclose(f);
        return 1;
    }
    /* One byte more, so an empty file still gets a valid pointer. */
    if ((data = malloc((size_t)st.st_size + 1)) == NULL) {
        fclose(f);
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    n = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f) || n != (size_t)st.st_size) {
        fprintf(stderr, "%s: read error\n", path);
        free(data);
        fclose(f);
        return 1;
    }
    fclose(f);
    (void)LLVMFuzzerTestOneInput(data, n);
    free(data);
    (*count)++;
    return 0;
}

static int
skip_dot(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static int
replay_path(const char *path, size_t *count)
{
    struct stat st;
    struct dirent **names;
    int n, rc = 0;

    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path, count);
    if ((n = scandir(path, &names, skip_dot, alphasort)) < 0) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
        char *full = malloc(len);
        struct stat fst;

        if (full == NULL) {
            rc = 1;
        } else {
            (void)snprintf(full, len, "%s/%s", path, names[i]->d_name);
            if (stat(full, &fst) == 0 && S_ISREG(fst.st_mode) &&
                replay_file(full, count) != 0)
                rc = 1;
            free(full);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i], &count) != 0)
            rc = 1;
    printf("%s: replayed %zu inputs\n", argv[0], count);
    if (count == 0) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        rc = 1;
    }
    return rc;
}
