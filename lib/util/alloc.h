/*
 * util/alloc.h - the only allocator of lib/ (hookable so tests can fail the
 * Nth allocation) and overflow-checked size arithmetic.
 */
#ifndef MS_UTIL_ALLOC_H
#define MS_UTIL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *ms_malloc(size_t n);
void *ms_calloc(size_t n, size_t size);
void *ms_realloc(void *p, size_t n);
void ms_free(void *p);
char *ms_strdup(const char *s);
char *ms_strndup(const char *s, size_t n);

/* *out = a + b (a * b); false on overflow. */
bool ms_size_add(size_t *out, size_t a, size_t b);
bool ms_size_mul(size_t *out, size_t a, size_t b);

/*
 * Test hook: the nth allocation from now on fails (0 disables). Returns
 * the number of allocations made since the last call.
 */
size_t ms_alloc_fail_at(size_t nth);

#endif
