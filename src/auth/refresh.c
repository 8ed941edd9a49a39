/*
 * Refresh tokens: opaque, random, stored hashed, rotated on every use. A token used a second time
 * means two parties hold it (a thief, or a client that lost the answer); since the server cannot
 * tell which is which, the whole family (every token descended from that login) is revoked.
 * The in-memory store is a chained hash table under one mutex, bounded in records.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "auth/authmw_internal.h"
#include "core/error_internal.h"
#include "util/alloc.h"
#include "util/b64url.h"

#define TOKEN_BYTES 32
#define TOKEN_CHARS 43 /* base64url of 32 bytes */
#define DEFAULT_TTL (14LL * 86400)
#define DEFAULT_FAMILY_TTL (90LL * 86400)

static bool store_ok(const api_refresh_store *s) {
  return s && s->size >= sizeof(*s) && s->insert && s->consume && s->lookup && s->revoke_family &&
         s->remove;
}

static bool opts_ok(const api_refresh_options *o) {
  return !o || (o->size >= sizeof(*o) && o->ttl >= 0 && o->family_ttl >= 0 && o->now >= 0);
}

static long long now_of(const api_refresh_options *o) {
  return o && o->now ? o->now : (long long)time(NULL);
}

/* Hash of a token the client sent; -1 when it cannot be one of ours. */
static int token_hash(unsigned char out[API_REFRESH_HASH_LEN], const char *token) {
  if (strlen(token) != TOKEN_CHARS) return -1;
  unsigned char raw[TOKEN_BYTES + 2];
  if (api__b64url_decode(raw, token, TOKEN_CHARS) != TOKEN_BYTES) return -1;
  return EVP_Digest(token, TOKEN_CHARS, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

/* A new token into *out and its record (hash and expiry set) into rec. */
static int mint(api_refresh_record *rec, char **out) {
  unsigned char raw[TOKEN_BYTES];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return API_ESYS;
  char *tok = api__malloc(TOKEN_CHARS + 1);
  if (!tok) return API_ENOMEM;
  api__b64url_encode(tok, raw, sizeof(raw));
  OPENSSL_cleanse(raw, sizeof(raw));
  if (EVP_Digest(tok, TOKEN_CHARS, rec->hash, NULL, EVP_sha256(), NULL) != 1) {
    api_auth_string_free(tok);
    return API_EINTERNAL;
  }
  *out = tok;
  return 0;
}

static int put(const api_refresh_store *store, api_refresh_record *rec, long long now,
               const api_refresh_options *o, char **out) {
  long long ttl = o && o->ttl ? o->ttl : DEFAULT_TTL;
  rec->expires_at = now + ttl < rec->family_expires_at ? now + ttl : rec->family_expires_at;
  char *tok;
  int rc = mint(rec, &tok);
  if (rc) return rc;
  if ((rc = store->insert(store->ctx, rec)) != 0) {
    api_auth_string_free(tok);
    return rc;
  }
  *out = tok;
  return 0;
}

int api_refresh_issue(const api_refresh_store *store, const char *subject,
                      const api_refresh_options *opts, char **out) {
  if (!store_ok(store) || !subject || !out || !opts_ok(opts))
    return api__fail(API_EINVAL, "api_refresh_issue: NULL argument, bad store or options");
  size_t n = strlen(subject);
  if (n == 0 || n >= API_REFRESH_SUBJECT_MAX)
    return api__fail(API_EINVAL, "api_refresh_issue: subject empty or too long");
  api_refresh_record rec = {0};
  memcpy(rec.subject, subject, n + 1);
  if (RAND_bytes(rec.family, sizeof(rec.family)) != 1) return API_ESYS;
  long long now = now_of(opts);
  rec.family_expires_at = now + (opts && opts->family_ttl ? opts->family_ttl : DEFAULT_FAMILY_TTL);
  return put(store, &rec, now, opts, out);
}

int api_refresh_rotate(const api_refresh_store *store, const char *token,
                       const api_refresh_options *opts, char **out, char *subject_out) {
  if (!store_ok(store) || !token || !out || !opts_ok(opts))
    return api__fail(API_EINVAL, "api_refresh_rotate: NULL argument, bad store or options");
  unsigned char h[API_REFRESH_HASH_LEN];
  if (token_hash(h, token) != 0) return API_EUNAUTHORIZED;
  long long now = now_of(opts);
  /* The new token is stored before the old one is consumed: whoever reuses the old token does so
   * after the winner's consume, so the family revocation it triggers also removes the winner's
   * new token, whatever the interleaving. */
  api_refresh_record old, rec;
  int rc = store->lookup(store->ctx, h, &old);
  if (rc == API_ENOTFOUND) return API_EUNAUTHORIZED;
  if (rc) return rc;
  if (now >= old.family_expires_at || now >= old.expires_at) return API_EUNAUTHORIZED;
  rec = old;
  rec.subject[API_REFRESH_SUBJECT_MAX - 1] = '\0';
  char *tok;
  if ((rc = put(store, &rec, now, opts, &tok)) != 0) return rc;
  rc = store->consume(store->ctx, h, now, &old);
  if (rc == 0) {
    if (subject_out) memcpy(subject_out, rec.subject, strlen(rec.subject) + 1);
    *out = tok;
    return 0;
  }
  api_auth_string_free(tok);
  int r2 = store->remove(store->ctx, rec.hash);
  if (rc == API_ECONFLICT) r2 = store->revoke_family(store->ctx, old.family);
  if (rc == API_ECONFLICT || rc == API_ENOTFOUND) return r2 ? r2 : API_EUNAUTHORIZED;
  return rc;
}

int api_refresh_revoke(const api_refresh_store *store, const char *token, int family) {
  if (!store_ok(store) || !token)
    return api__fail(API_EINVAL, "api_refresh_revoke: NULL argument or bad store");
  unsigned char h[API_REFRESH_HASH_LEN];
  if (token_hash(h, token) != 0) return 0;
  if (!family) return store->remove(store->ctx, h);
  api_refresh_record rec;
  int rc = store->lookup(store->ctx, h, &rec);
  if (rc == API_ENOTFOUND) return 0;
  if (rc) return rc;
  return store->revoke_family(store->ctx, rec.family);
}

/* ---- the in-memory store ---- */

typedef struct entry {
  struct entry *next;
  api_refresh_record rec;
  bool used;
} entry;

struct api_refresh_memstore {
  pthread_mutex_t lock;
  entry **buckets;
  size_t nbuckets; /* a power of two */
  size_t count, max;
};

static size_t bucket_of(const api_refresh_memstore *ms, const unsigned char *hash) {
  size_t v;
  memcpy(&v, hash, sizeof(v)); /* the hash is uniform: its first bytes are a fine index */
  return v & (ms->nbuckets - 1);
}

static entry **slot_of(api_refresh_memstore *ms, const unsigned char *hash) {
  entry **p = &ms->buckets[bucket_of(ms, hash)];
  while (*p && memcmp((*p)->rec.hash, hash, API_REFRESH_HASH_LEN) != 0) p = &(*p)->next;
  return p;
}

static void unlink_entry(api_refresh_memstore *ms, entry **p) {
  entry *e = *p;
  *p = e->next;
  OPENSSL_cleanse(e, sizeof(*e));
  api__free(e);
  ms->count--;
}

/* Removes entries for which drop() says so; returns how many. */
static size_t sweep(api_refresh_memstore *ms, bool (*drop)(const entry *, const void *),
                    const void *arg) {
  size_t n = 0;
  for (size_t b = 0; b < ms->nbuckets; b++) {
    entry **p = &ms->buckets[b];
    while (*p) {
      if (drop(*p, arg)) {
        unlink_entry(ms, p);
        n++;
      } else {
        p = &(*p)->next;
      }
    }
  }
  return n;
}

static bool expired(const entry *e, const void *now) {
  return e->rec.expires_at <= *(const long long *)now;
}
static bool in_family(const entry *e, const void *family) {
  return memcmp(e->rec.family, family, API_REFRESH_FAMILY_LEN) == 0;
}

/* Drops the used entry that expires first. */
static bool drop_oldest_used(api_refresh_memstore *ms) {
  entry **best = NULL;
  for (size_t b = 0; b < ms->nbuckets; b++)
    for (entry **p = &ms->buckets[b]; *p; p = &(*p)->next)
      if ((*p)->used && (!best || (*p)->rec.expires_at < (*best)->rec.expires_at)) best = p;
  if (!best) return false;
  unlink_entry(ms, best);
  return true;
}

static int ms_insert(void *ctx, const api_refresh_record *rec) {
  api_refresh_memstore *ms = ctx;
  entry *e = api__malloc(sizeof(*e));
  if (!e) return API_ENOMEM;
  e->rec = *rec;
  e->used = false;
  pthread_mutex_lock(&ms->lock);
  int rc = 0;
  if (ms->count >= ms->max) {
    long long now = (long long)time(NULL);
    if (sweep(ms, expired, &now) == 0 && !drop_oldest_used(ms)) rc = API_EUNAVAILABLE;
  }
  entry **p = rc ? NULL : slot_of(ms, rec->hash);
  if (p && *p) rc = API_EEXIST;
  if (!rc) {
    e->next = NULL;
    *p = e;
    ms->count++;
  }
  pthread_mutex_unlock(&ms->lock);
  if (rc) api__free(e);
  return rc;
}

static int ms_consume(void *ctx, const unsigned char *hash, long long now,
                      api_refresh_record *out) {
  api_refresh_memstore *ms = ctx;
  pthread_mutex_lock(&ms->lock);
  int rc;
  entry **p = slot_of(ms, hash);
  if (!*p) {
    rc = API_ENOTFOUND;
  } else if ((*p)->rec.expires_at <= now) {
    unlink_entry(ms, p);
    rc = API_ENOTFOUND;
  } else {
    *out = (*p)->rec;
    rc = (*p)->used ? API_ECONFLICT : 0;
    (*p)->used = true;
  }
  pthread_mutex_unlock(&ms->lock);
  return rc;
}

static int ms_lookup(void *ctx, const unsigned char *hash, api_refresh_record *out) {
  api_refresh_memstore *ms = ctx;
  pthread_mutex_lock(&ms->lock);
  entry **p = slot_of(ms, hash);
  int rc = *p ? 0 : API_ENOTFOUND;
  if (*p) *out = (*p)->rec;
  pthread_mutex_unlock(&ms->lock);
  return rc;
}

static int ms_revoke_family(void *ctx, const unsigned char *family) {
  api_refresh_memstore *ms = ctx;
  pthread_mutex_lock(&ms->lock);
  sweep(ms, in_family, family);
  pthread_mutex_unlock(&ms->lock);
  return 0;
}

static int ms_remove(void *ctx, const unsigned char *hash) {
  api_refresh_memstore *ms = ctx;
  pthread_mutex_lock(&ms->lock);
  entry **p = slot_of(ms, hash);
  if (*p) unlink_entry(ms, p);
  pthread_mutex_unlock(&ms->lock);
  return 0;
}

int api_refresh_memstore_new(api_refresh_memstore **out, size_t max_records) {
  if (!out) return api__fail(API_EINVAL, "api_refresh_memstore_new: NULL out");
  if (max_records == 0) max_records = 100000;
  api_refresh_memstore *ms = api__calloc(1, sizeof(*ms));
  if (!ms) return API_ENOMEM;
  ms->max = max_records;
  ms->nbuckets = 16;
  while (ms->nbuckets < max_records && ms->nbuckets < ((size_t)1 << 20)) ms->nbuckets <<= 1;
  if (!(ms->buckets = api__calloc(ms->nbuckets, sizeof(*ms->buckets)))) {
    api__free(ms);
    return API_ENOMEM;
  }
  pthread_mutex_init(&ms->lock, NULL);
  *out = ms;
  return 0;
}

void api_refresh_memstore_store(api_refresh_memstore *ms, api_refresh_store *out) {
  if (!out) return;
  *out = (api_refresh_store){.size = sizeof(*out),
                             .insert = ms_insert,
                             .consume = ms_consume,
                             .lookup = ms_lookup,
                             .revoke_family = ms_revoke_family,
                             .remove = ms_remove,
                             .ctx = ms};
}

size_t api_refresh_memstore_count(api_refresh_memstore *ms) {
  if (!ms) return 0;
  pthread_mutex_lock(&ms->lock);
  size_t n = ms->count;
  pthread_mutex_unlock(&ms->lock);
  return n;
}

static bool all(const entry *e, const void *arg) {
  (void)e;
  (void)arg;
  return true;
}

void api_refresh_memstore_free(api_refresh_memstore *ms) {
  if (!ms) return;
  sweep(ms, all, NULL);
  pthread_mutex_destroy(&ms->lock);
  api__free(ms->buckets);
  api__free(ms);
}
