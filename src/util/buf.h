/* A growable byte buffer (malloc'd). */
#ifndef API_UTIL_BUF_H
#define API_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct api__buf {
  char *data;
  size_t len;
  size_t cap;
} api__buf;

/* Make room for `more` bytes after len. Returns false when out of memory (buf unchanged). */
bool api__buf_reserve(api__buf *b, size_t more);
void api__buf_free(api__buf *b);

static inline bool api__buf_append(api__buf *b, const void *p, size_t n) {
  if (b->cap - b->len < n && !api__buf_reserve(b, n)) return false;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return true;
}

#endif
