/* util/alloc.c - hookable allocation and checked size arithmetic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static _Thread_local size_t fail_at;
static _Thread_local size_t count;

static bool
should_fail(void)
{
    count++;
    return fail_at != 0 && count == fail_at;
}

size_t
ms_alloc_fail_at(size_t nth)
{
    size_t n = count;

    count = 0;
    fail_at = nth;
    return n;
}

void *
ms_malloc(size_t n)
{
    if (should_fail())
        return NULL;
    return malloc(n == 0 ? 1 : n);
}

void *
ms_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
}

void *
ms_realloc(void *p, size_t n)
{
    if (should_fail())
        return NULL;
    return realloc(p, n == 0 ? 1 : n);
}

void
ms_free(void *p)
{
    free(p);
}

char *
ms_strndup(const char *s, size_t n)
{
    char *d;

    if ((d = ms_malloc(n + 1)) == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
ms_strdup(const char *s)
{
    return ms_strndup(s, strlen(s));
}

bool
ms_size_add(size_t *out, size_t a, size_t b)
{
    if (a > SIZE_MAX - b)
        return false;
    *out = a + b;
    return true;
}

bool
ms_size_mul(size_t *out, size_t a, size_t b)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}
