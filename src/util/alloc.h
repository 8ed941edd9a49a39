/* The library's allocator. Everything libapi allocates goes through these, so tests can make the
 * N-th allocation fail (api__alloc_fail_after) and check that nothing crashes or leaks. */
#ifndef API_UTIL_ALLOC_H
#define API_UTIL_ALLOC_H

#include <stddef.h>

void *api__malloc(size_t n);
void *api__calloc(size_t n, size_t size);
void *api__realloc(void *p, size_t n);
void api__free(void *p);
char *api__strdup(const char *s);

/* Test seams. api__alloc_fail_after(n): after n more successful allocations, every allocation
 * fails; api__alloc_fail_nth(n): only the allocation after n more successful ones fails. -1 turns
 * either off. */
void api__alloc_fail_after(long n);
void api__alloc_fail_nth(long n);

#endif
