/*
 * The in-memory session store: a chained hash table of records, bounded in count and bytes, with
 * a least-recently-used list for eviction. One mutex guards it all.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libapi/session.h>

#include "core/error_internal.h"
#include "util/alloc.h"

typedef struct ent {
  char key[API_SESSION_ID_LEN + 1];
  char *data;
  size_t len;
  long long created, last_seen, expires;
  struct ent *hnext;       /* bucket chain */
  struct ent *prev, *next; /* LRU list, most recent first */
} ent;

struct api_session_memstore {
  pthread_mutex_t lock;
  ent **buckets;
  size_t mask, count, max_records, bytes, max_bytes;
  ent *head, *tail;
};

/* The middleware's keys are hashes already, but the store is public: mix every character. */
static size_t bucket_of(const api_session_memstore *ms, const char *key) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < API_SESSION_ID_LEN && key[i]; i++)
    h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
  h ^= h >> 29;
  return (size_t)h & ms->mask;
}

static void lru_unlink(api_session_memstore *ms, ent *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    ms->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    ms->tail = e->prev;
  e->prev = e->next = NULL;
}

static void lru_push(api_session_memstore *ms, ent *e) {
  e->prev = NULL;
  e->next = ms->head;
  if (ms->head) ms->head->prev = e;
  ms->head = e;
  if (!ms->tail) ms->tail = e;
}

static ent **find(api_session_memstore *ms, const char *key) {
  ent **pp = &ms->buckets[bucket_of(ms, key)];
  while (*pp && strcmp((*pp)->key, key)) pp = &(*pp)->hnext;
  return pp;
}

static void drop(api_session_memstore *ms, ent **pp) {
  ent *e = *pp;
  *pp = e->hnext;
  lru_unlink(ms, e);
  ms->count--;
  ms->bytes -= e->len;
  api__free(e->data);
  api__free(e);
}

static bool key_ok(const char *key) { return key && strlen(key) == API_SESSION_ID_LEN; }

static int ms_load(void *ud, const char *key, long long now, api_session_record *out) {
  api_session_memstore *ms = ud;
  if (!key_ok(key) || !out) return API_EINVAL;
  int rc = 0;
  pthread_mutex_lock(&ms->lock);
  ent **pp = find(ms, key);
  if (!*pp) {
    rc = API_ENOTFOUND;
  } else if (now >= (*pp)->expires) {
    drop(ms, pp);
    rc = API_ENOTFOUND;
  } else {
    ent *e = *pp;
    char *d = api__malloc(e->len + 1);
    if (!d) {
      rc = API_ENOMEM;
    } else {
      memcpy(d, e->data, e->len + 1);
      *out = (api_session_record){.data = d,
                                  .len = e->len,
                                  .created = e->created,
                                  .last_seen = e->last_seen,
                                  .expires = e->expires};
      lru_unlink(ms, e);
      lru_push(ms, e);
    }
  }
  pthread_mutex_unlock(&ms->lock);
  return rc;
}

static int ms_save(void *ud, const char *key, const api_session_record *rec) {
  api_session_memstore *ms = ud;
  if (!key_ok(key) || !rec || !rec->data) return API_EINVAL;
  if (rec->len > API_SESSION_MAX_DATA) return API_EINVAL;
  char *d = api__malloc(rec->len + 1);
  if (!d) return API_ENOMEM;
  memcpy(d, rec->data, rec->len);
  d[rec->len] = 0;
  pthread_mutex_lock(&ms->lock);
  ent **pp = find(ms, key);
  ent *e = *pp;
  bool fresh = !e;
  if (e) {
    ms->bytes -= e->len;
    api__free(e->data);
    lru_unlink(ms, e);
  } else {
    e = api__calloc(1, sizeof(*e));
    if (!e) {
      pthread_mutex_unlock(&ms->lock);
      api__free(d);
      return API_ENOMEM;
    }
    memcpy(e->key, key, API_SESSION_ID_LEN + 1);
    ms->count++;
  }
  e->data = d;
  e->len = rec->len;
  e->created = rec->created;
  e->last_seen = rec->last_seen;
  e->expires = rec->expires;
  ms->bytes += e->len;
  /* Make room: evict from the least recently used end, never the record being saved. */
  while ((ms->count > ms->max_records || ms->bytes > ms->max_bytes) && ms->tail) {
    ent *victim = ms->tail;
    drop(ms, find(ms, victim->key));
  }
  if (fresh) {
    ent **b = &ms->buckets[bucket_of(ms, key)];
    e->hnext = *b;
    *b = e;
  }
  lru_push(ms, e);
  pthread_mutex_unlock(&ms->lock);
  return 0;
}

static int ms_remove(void *ud, const char *key) {
  api_session_memstore *ms = ud;
  if (!key_ok(key)) return API_EINVAL;
  pthread_mutex_lock(&ms->lock);
  ent **pp = find(ms, key);
  if (*pp) drop(ms, pp);
  pthread_mutex_unlock(&ms->lock);
  return 0;
}

int api_session_memstore_new(api_session_memstore **out, size_t max_records, size_t max_bytes) {
  if (!out) return api__fail(API_EINVAL, "api_session_memstore_new: NULL out");
  if (!max_records) max_records = 100000;
  if (!max_bytes) max_bytes = (size_t)64 << 20;
  if (max_bytes < API_SESSION_MAX_DATA)
    return api__fail(API_EINVAL, "api_session_memstore_new: max_bytes below API_SESSION_MAX_DATA");
  if (max_records > ((size_t)1 << 26))
    return api__fail(API_EINVAL, "api_session_memstore_new: max_records over 2^26");
  api_session_memstore *ms = api__calloc(1, sizeof(*ms));
  if (!ms) return API_ENOMEM;
  size_t nb = 16;
  while (nb < max_records) nb <<= 1;
  if (!(ms->buckets = api__calloc(nb, sizeof(*ms->buckets)))) {
    api__free(ms);
    return API_ENOMEM;
  }
  ms->mask = nb - 1;
  ms->max_records = max_records;
  ms->max_bytes = max_bytes;
  pthread_mutex_init(&ms->lock, NULL);
  *out = ms;
  return 0;
}

void api_session_memstore_store(api_session_memstore *ms, api_session_store *out) {
  if (!out) return;
  *out = (api_session_store){
      .size = sizeof(*out), .load = ms_load, .save = ms_save, .remove = ms_remove, .user_data = ms};
}

size_t api_session_memstore_count(api_session_memstore *ms) {
  if (!ms) return 0;
  pthread_mutex_lock(&ms->lock);
  size_t n = ms->count;
  pthread_mutex_unlock(&ms->lock);
  return n;
}

void api_session_memstore_free(api_session_memstore *ms) {
  if (!ms) return;
  while (ms->head) drop(ms, find(ms, ms->head->key));
  api__free(ms->buckets);
  pthread_mutex_destroy(&ms->lock);
  api__free(ms);
}
