#include "util/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_after = -1;
static atomic_bool fail_once;

static int should_fail(void) {
  long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
  if (n < 0) return 0;
  if (atomic_fetch_sub_explicit(&fail_after, 1, memory_order_relaxed) != 0) return 0;
  if (!atomic_load(&fail_once)) atomic_store(&fail_after, 0); /* and every one after */
  return 1;
}

void api__alloc_fail_after(long n) {
  atomic_store(&fail_once, false);
  atomic_store(&fail_after, n);
}

void api__alloc_fail_nth(long n) {
  atomic_store(&fail_once, true);
  atomic_store(&fail_after, n);
}

void *api__malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
void *api__calloc(size_t n, size_t size) { return should_fail() ? NULL : calloc(n, size); }
void *api__realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }
void api__free(void *p) { free(p); }

char *api__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = api__malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}
