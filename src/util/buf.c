#include "util/buf.h"

#include <stdint.h>

#include "util/alloc.h"

bool api__buf_reserve(api__buf *b, size_t more) {
  if (b->cap - b->len >= more) return true;
  if (more > SIZE_MAX / 2 - b->len) return false;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < more) cap *= 2;
  char *p = api__realloc(b->data, cap);
  if (!p) return false;
  b->data = p;
  b->cap = cap;
  return true;
}

void api__buf_free(api__buf *b) {
  api__free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
