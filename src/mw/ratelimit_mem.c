/*
 * The in-memory rate-limit store: shards, each a chained hash table under its own mutex, with an
 * LRU list threaded through its entries. Keys are hashed with SipHash-2-4 under a random key, so
 * clients cannot aim keys at one chain; each shard holds at most cap entries, evicting its least
 * recently used one when full, so memory has a fixed bound whatever keys arrive. Expired entries
 * (indistinguishable from fresh keys) are dropped two at a time from the LRU end on every take.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "core/error_internal.h"
#include "mw/ratelimit_internal.h"
#include "util/alloc.h"
#include "util/siphash.h"

enum {
  DIGEST_LEN = 32,    /* SHA-256 */
  MIN_BUCKETS = 16,   /* per shard, to start with; doubled as the shard fills */
  SWEEP_PER_TAKE = 2, /* expired entries looked at from the LRU end on each take */
  DEFAULT_SHARDS = 16,
  MAX_SHARDS = 1024,
  DEFAULT_MAX_KEY_LEN = 64,
};

typedef struct entry {
  struct entry *hnext;         /* hash chain */
  struct entry *newer, *older; /* LRU list */
  uint64_t hash;
  uint64_t expires; /* from then on the entry is a fresh key and may go */
  api__rate_cell cell;
  uint8_t key_len;
  uint8_t key_cap; /* bytes allocated for key, so an evicted entry can be reused */
  bool digest;     /* key holds the SHA-256 of a longer key */
  unsigned char key[];
} entry;

typedef struct shard {
  pthread_mutex_t lock;
  entry **buckets;
  size_t nbuckets; /* a power of two */
  size_t count;
  entry *newest, *oldest;
  char pad[64]; /* keep neighbouring shards' locks off one cache line */
} shard;

typedef struct mem_store {
  api_rate_store base;
  uint64_t k0, k1;
  unsigned nshards; /* a power of two */
  size_t cap;       /* entries per shard */
  size_t max_buckets;
  size_t max_key_len;
  shard *shards;
} mem_store;

static int mem_take(api_rate_store *base, const api_rate_take *t, api_rate_result *r);
static void mem_free(api_rate_store *base);

static size_t pow2_at_least(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

int api_rate_store_mem_new(api_rate_store **out, const api_rate_mem_options *opts) {
  if (!out) return api__fail(API_EINVAL, "api_rate_store_mem_new: out is NULL");
  *out = NULL;
  api_rate_mem_options o = {0};
  if (opts) memcpy(&o, opts, opts->size && opts->size < sizeof(o) ? opts->size : sizeof(o));
  size_t max_keys = o.max_keys ? o.max_keys : 100000;
  if (o.shards > MAX_SHARDS)
    return api__fail(API_EINVAL, "rate store: shards %u is above %u", o.shards, MAX_SHARDS);
  if (o.max_key_len && (o.max_key_len < DIGEST_LEN || o.max_key_len > 255))
    return api__fail(API_EINVAL, "rate store: max_key_len %zu is outside 32..255", o.max_key_len);
  unsigned nshards = (unsigned)pow2_at_least(o.shards ? o.shards : DEFAULT_SHARDS);
  while (nshards > 1 && nshards > max_keys) nshards >>= 1;

  mem_store *s = api__calloc(1, sizeof(*s));
  if (!s) return API_ENOMEM;
  s->base = (api_rate_store){.size = sizeof(api_rate_store), .take = mem_take, .free = mem_free};
  s->nshards = nshards;
  s->cap = max_keys / nshards;
  s->max_buckets = pow2_at_least(s->cap);
  s->max_key_len = o.max_key_len ? o.max_key_len : DEFAULT_MAX_KEY_LEN;
  uint64_t seed[2];
  if (getrandom(seed, sizeof(seed), 0) != sizeof(seed) &&
      RAND_bytes((unsigned char *)seed, sizeof(seed)) != 1) {
    api__free(s);
    return api__fail(API_ESYS, "rate store: no random seed for the key hash");
  }
  s->k0 = seed[0];
  s->k1 = seed[1];
  s->shards = api__calloc(nshards, sizeof(shard));
  if (!s->shards) {
    api__free(s);
    return API_ENOMEM;
  }
  for (unsigned i = 0; i < nshards; i++) {
    shard *sh = &s->shards[i];
    sh->nbuckets = MIN_BUCKETS < s->max_buckets ? MIN_BUCKETS : s->max_buckets;
    sh->buckets = api__calloc(sh->nbuckets, sizeof(entry *));
    if (!sh->buckets || pthread_mutex_init(&sh->lock, NULL) != 0) {
      api__free(sh->buckets);
      sh->buckets = NULL;
      s->nshards = i;
      mem_free(&s->base);
      return API_ENOMEM;
    }
  }
  *out = &s->base;
  return 0;
}

static void mem_free(api_rate_store *base) {
  mem_store *s = (mem_store *)base;
  for (unsigned i = 0; i < s->nshards; i++) {
    shard *sh = &s->shards[i];
    for (entry *e = sh->newest, *next; e; e = next) {
      next = e->older;
      api__free(e);
    }
    api__free(sh->buckets);
    pthread_mutex_destroy(&sh->lock);
  }
  api__free(s->shards);
  api__free(s);
}

void api_rate_store_free(api_rate_store *store) {
  if (store && store->free) store->free(store);
}

size_t api_rate_store_mem_count(api_rate_store *store) {
  if (!store || store->take != mem_take) return 0;
  mem_store *s = (mem_store *)store;
  size_t n = 0;
  for (unsigned i = 0; i < s->nshards; i++) {
    pthread_mutex_lock(&s->shards[i].lock);
    n += s->shards[i].count;
    pthread_mutex_unlock(&s->shards[i].lock);
  }
  return n;
}

/* ---- one shard, under its lock ---- */

static void lru_unlink(shard *sh, entry *e) {
  if (e->newer)
    e->newer->older = e->older;
  else
    sh->newest = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    sh->oldest = e->newer;
}

static void lru_push(shard *sh, entry *e) {
  e->newer = NULL;
  e->older = sh->newest;
  if (sh->newest) sh->newest->newer = e;
  sh->newest = e;
  if (!sh->oldest) sh->oldest = e;
}

/* Take e out of the shard; the caller frees or reuses it. */
static entry *unlink_entry(shard *sh, entry *e) {
  entry **p = &sh->buckets[e->hash & (sh->nbuckets - 1)];
  while (*p != e) p = &(*p)->hnext;
  *p = e->hnext;
  lru_unlink(sh, e);
  sh->count--;
  return e;
}

static void drop(shard *sh, entry *e) { api__free(unlink_entry(sh, e)); }

/* Double the table (up to max): chains stay short as the shard fills. Failure keeps the old one,
 * which still works, with longer chains. */
static void grow(shard *sh, size_t max) {
  if (sh->count <= sh->nbuckets || sh->nbuckets >= max) return;
  size_t n = sh->nbuckets * 2;
  entry **b = api__calloc(n, sizeof(*b));
  if (!b) return;
  for (size_t i = 0; i < sh->nbuckets; i++) {
    for (entry *e = sh->buckets[i], *next; e; e = next) {
      next = e->hnext;
      entry **slot = &b[e->hash & (n - 1)];
      e->hnext = *slot;
      *slot = e;
    }
  }
  api__free(sh->buckets);
  sh->buckets = b;
  sh->nbuckets = n;
}

static int mem_take(api_rate_store *base, const api_rate_take *t, api_rate_result *r) {
  mem_store *s = (mem_store *)base;
  if (!t || !r || !t->params || (!t->key && t->key_len) || !t->cost) return API_EINVAL;
  const api_rate_params *p = t->params;
  if ((p->algorithm != API_RATE_TOKEN_BUCKET && p->algorithm != API_RATE_SLIDING_WINDOW) ||
      !p->limit || p->limit > API__RATE_MAX_LIMIT || !p->window_ms ||
      p->window_ms > API__RATE_MAX_WINDOW_MS ||
      (p->algorithm == API_RATE_TOKEN_BUCKET && (!p->burst || p->burst > API__RATE_MAX_LIMIT)))
    return API_EINVAL;
  const unsigned char *key = t->key;
  size_t key_len = t->key_len;
  unsigned char digest[DIGEST_LEN];
  bool is_digest = key_len > s->max_key_len;
  if (is_digest) {
    /* a long key is kept as its digest: memory per key stays bounded, and SHA-256 keeps two
     * different long keys from sharing one quota */
    if (EVP_Digest(key, key_len, digest, NULL, EVP_sha256(), NULL) != 1) return API_EINTERNAL;
    key = digest;
    key_len = DIGEST_LEN;
  }
  uint64_t h = api__siphash24(s->k0, s->k1, key ? (const void *)key : "", key_len);
  if (is_digest) h = ~h; /* keeps a digest apart from the same 32 bytes sent as a key */
  shard *sh = &s->shards[(h >> 40) & (s->nshards - 1)];

  pthread_mutex_lock(&sh->lock);
  entry *e = sh->buckets[h & (sh->nbuckets - 1)];
  while (e && !(e->hash == h && e->key_len == key_len && e->digest == is_digest &&
                memcmp(e->key, key, key_len) == 0))
    e = e->hnext;
  if (e) {
    lru_unlink(sh, e);
    lru_push(sh, e);
  } else {
    /* full: the least recently used goes, and its memory serves the new key when it fits (a
     * flood of new keys then allocates nothing) */
    entry *old = sh->count >= s->cap ? unlink_entry(sh, sh->oldest) : NULL;
    size_t cap = key_len;
    if (old && old->key_cap >= key_len) {
      e = old;
      cap = old->key_cap;
    } else {
      api__free(old);
      /* keys of one store tend to have one length: round up a little so reuse is likely */
      cap = key_len < 48 ? 48 : key_len;
      e = api__malloc(sizeof(*e) + cap);
      if (!e) {
        pthread_mutex_unlock(&sh->lock);
        return API_ENOMEM;
      }
    }
    *e = (entry){
        .hash = h, .key_len = (uint8_t)key_len, .key_cap = (uint8_t)cap, .digest = is_digest};
    if (key_len) memcpy(e->key, key, key_len);
    entry **slot = &sh->buckets[h & (sh->nbuckets - 1)];
    e->hnext = *slot;
    *slot = e;
    lru_push(sh, e);
    sh->count++;
    grow(sh, s->max_buckets);
  }
  e->expires = api__rate_apply(&e->cell, t->params, t->cost, t->now_ms, r);
  /* lazy cleanup: the oldest entries, if they have expired (never the one just used) */
  for (int i = 0; i < SWEEP_PER_TAKE && sh->oldest && sh->oldest != e; i++) {
    if (sh->oldest->expires > t->now_ms) break;
    drop(sh, sh->oldest);
  }
  pthread_mutex_unlock(&sh->lock);
  return 0;
}
