/* api_schema_validate_text(): parse + validate with the document in a per-thread arena.
 *
 * jansson allocates every value, key and hash table separately and its allocator hook
 * (json_set_alloc_funcs) is process-global. libapi installs a pair of functions once that behave
 * exactly like malloc/free, except on a thread that is inside the parse window of this function:
 * there, allocations come from that thread's arena, and frees of arena memory do nothing. The
 * parsed document is never freed value by value: the arena is rewound afterwards. Validation runs
 * outside the window, so error params (json_pack) are ordinary heap values owned by the result. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "schema/schema_internal.h"
#include "util/json.h"

#define FIRST_CHUNK (64 * 1024)
#define ALIGN 16

typedef struct chunk {
  struct chunk *next;
  size_t size;
  size_t pad; /* keeps data 16-byte aligned */
  size_t pad2;
  char data[];
} chunk;

typedef struct tl_arena {
  chunk *head; /* current chunk, newest first */
  chunk *first;
  char *ptr, *end;
  int active;
} tl_arena;

/* initial-exec: no __tls_get_addr call on every jansson allocation from the shared library */
static _Thread_local tl_arena arena __attribute__((tls_model("initial-exec")));
static pthread_key_t arena_key;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static bool in_arena(const tl_arena *a, const void *p) {
  for (const chunk *c = a->head; c; c = c->next)
    if ((const char *)p >= c->data && (const char *)p < c->data + c->size) return true;
  return false;
}

static void *arena_alloc_slow(tl_arena *a, size_t n) {
  size_t size = a->head ? a->head->size * 2 : FIRST_CHUNK;
  while (size < n) size *= 2;
  chunk *c = malloc(sizeof(chunk) + size);
  if (!c) return NULL;
  c->size = size;
  c->next = a->head;
  a->head = c;
  if (!a->first) a->first = c;
  a->ptr = c->data + n;
  a->end = c->data + size;
  return c->data;
}

static void *hook_malloc(size_t n) {
  tl_arena *a = &arena;
  if (!a->active) return malloc(n);
  n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  if ((size_t)(a->end - a->ptr) >= n && a->ptr) {
    void *p = a->ptr;
    a->ptr += n;
    return p;
  }
  return arena_alloc_slow(a, n);
}

static void hook_free(void *p) {
  if (!p) return;
  tl_arena *a = &arena;
  if (a->head && in_arena(a, p)) return;
  free(p);
}

/* Rewind: keep the first chunk, free the others. */
static void arena_rewind(tl_arena *a) {
  chunk *c = a->head;
  while (c && c != a->first) {
    chunk *next = c->next;
    free(c);
    c = next;
  }
  a->head = a->first;
  if (a->first) {
    a->ptr = a->first->data;
    a->end = a->first->data + a->first->size;
  }
}

static void arena_destroy(void *unused) {
  (void)unused;
  tl_arena *a = &arena;
  arena_rewind(a);
  free(a->first);
  memset(a, 0, sizeof(*a));
}

static bool arena_usable;

/* Install the hooks only over jansson's default allocator: objects made before by another
 * allocator could not be freed correctly by free(). Without them, documents go on the heap. */
static void install(void) {
  json_malloc_t m;
  json_free_t f;
  json_get_alloc_funcs(&m, &f);
  if (m != malloc || f != free) return;
  if (pthread_key_create(&arena_key, arena_destroy)) return;
  json_set_alloc_funcs(hook_malloc, hook_free);
  arena_usable = true;
}

static int parse_failure(const api__json_error *jerr) {
  if (jerr->enomem) return api__fail(API_ENOMEM, "out of memory");
  return api__fail(API_EBADJSON, "invalid JSON at line %d, column %d (byte %zu): %s", jerr->line,
                   jerr->column, jerr->offset, jerr->message);
}

int api_schema_validate_text(const api_schema *schema, const char *json_text, size_t len,
                             api_schema_result *res) {
  if (!schema || !json_text)
    return api__fail(API_EINVAL, "api_schema_validate_text: NULL argument");
  pthread_once(&install_once, install);
  tl_arena *a = &arena;
  if (!arena_usable) {
    api__json_error jerr;
    json_t *doc = api__json_parse(json_text, len, API__JSON_ALLOW_NUL, &jerr);
    if (!doc) {
      if (res && res->size >= sizeof(size_t)) api__result_reset(res);
      return parse_failure(&jerr);
    }
    int rc = api_schema_validate(schema, doc, res);
    json_decref(doc);
    return rc;
  }
  if (a->active) return api__fail(API_ESTATE, "api_schema_validate_text: re-entered");
  if (!a->first) pthread_setspecific(arena_key, a);
  api__json_error jerr;
  a->active = 1;
  json_t *doc = api__json_parse(json_text, len, API__JSON_ALLOW_NUL, &jerr);
  a->active = 0;
  int rc;
  if (!doc) {
    rc = parse_failure(&jerr);
    if (res && res->size >= sizeof(size_t)) api__result_reset(res);
  } else {
    rc = api_schema_validate(schema, doc, res);
  }
  /* The document lives entirely in the arena: no json_decref, just rewind. */
  arena_rewind(a);
  return rc;
}
