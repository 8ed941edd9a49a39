/* Per-request bump allocator: many small allocations, one release. Not thread-safe: an arena is
 * used by one thread at a time (the request's worker, or the thread holding a suspended request).
 */
#ifndef API_UTIL_ARENA_H
#define API_UTIL_ARENA_H

#include <stddef.h>

typedef struct api__arena_chunk api__arena_chunk;

typedef struct api__arena {
  char *ptr;                /* next free byte of the current chunk */
  char *end;                /* end of the current chunk */
  api__arena_chunk *chunks; /* newest first; the last one is `first` when it was given */
  api__arena_chunk *first;  /* caller-supplied first chunk, kept by api__arena_reset() */
  size_t total;             /* bytes obtained from malloc, for accounting */
} api__arena;

/* Bytes a caller-supplied first chunk must reserve for bookkeeping. */
#define API__ARENA_OVERHEAD 32

/* Start an arena. first/first_size may give a caller-owned first block (NULL, 0 for none). */
void api__arena_init(api__arena *a, void *first, size_t first_size);
/* size bytes aligned to max_align_t, or NULL when out of memory. size 0 gives a valid pointer. */
void *api__arena_alloc(api__arena *a, size_t size);
/* Copies of a string (n bytes, plus a NUL) in the arena; NULL when out of memory. */
char *api__arena_strndup(api__arena *a, const char *s, size_t n);
char *api__arena_strdup(api__arena *a, const char *s);
/* Free every malloc'd chunk; the arena is empty and usable again (the first block is kept). */
void api__arena_reset(api__arena *a);

#endif
