#include "util/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

struct api__arena_chunk {
  api__arena_chunk *next;
  size_t size;
  alignas(max_align_t) char data[];
};

_Static_assert(sizeof(api__arena_chunk) <= API__ARENA_OVERHEAD, "arena chunk header too large");

enum { CHUNK_MIN = 4096 - sizeof(api__arena_chunk) - 16 };

static void use_chunk(api__arena *a, api__arena_chunk *c) {
  c->next = a->chunks;
  a->chunks = c;
  a->ptr = c->data;
  a->end = c->data + c->size;
}

void api__arena_init(api__arena *a, void *first, size_t first_size) {
  memset(a, 0, sizeof(*a));
  if (first && first_size > sizeof(api__arena_chunk)) {
    api__arena_chunk *c = first;
    c->size = first_size - sizeof(api__arena_chunk);
    a->first = c;
    use_chunk(a, c);
  }
}

void *api__arena_alloc(api__arena *a, size_t size) {
  const size_t align = alignof(max_align_t);
  size_t pad = (size_t)(-(uintptr_t)a->ptr) & (align - 1);
  if (a->ptr && (size_t)(a->end - a->ptr) >= pad && (size_t)(a->end - a->ptr) - pad >= size) {
    void *p = a->ptr + pad;
    a->ptr += pad + size;
    return p;
  }
  size_t want = size > CHUNK_MIN ? size : CHUNK_MIN;
  if (want > SIZE_MAX - sizeof(api__arena_chunk)) return NULL;
  api__arena_chunk *c = api__malloc(sizeof(*c) + want);
  if (!c) return NULL;
  c->size = want;
  a->total += sizeof(*c) + want;
  if (size > CHUNK_MIN && a->chunks) {
    /* A large block gets a chunk of its own behind the current one, so the current chunk's free
     * space is not abandoned. */
    c->next = a->chunks->next;
    a->chunks->next = c;
    return c->data;
  }
  use_chunk(a, c);
  a->ptr += size;
  return c->data;
}

char *api__arena_strndup(api__arena *a, const char *s, size_t n) {
  char *p = api__arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *api__arena_strdup(api__arena *a, const char *s) {
  return api__arena_strndup(a, s, strlen(s));
}

void api__arena_reset(api__arena *a) {
  api__arena_chunk *c = a->chunks;
  while (c) {
    api__arena_chunk *next = c->next;
    if (c != a->first) api__free(c);
    c = next;
  }
  a->chunks = NULL;
  a->ptr = a->end = NULL;
  a->total = 0;
  if (a->first) use_chunk(a, a->first);
}
