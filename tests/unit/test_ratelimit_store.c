/* Rate limiting below the middleware: SipHash, the two algorithms' arithmetic (checked against
 * brute force), and the in-memory store: separation of keys, long keys, the memory bound under a
 * flood of distinct keys, LRU eviction, lazy expiry, exact counts under threads, bad arguments
 * and allocation failure. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/api.h"
#include "mw/ratelimit_internal.h"
#include "util/alloc.h"
#include "util/siphash.h"

/* ---- SipHash-2-4: the reference vectors (key 00..0f, message 00..len-1) ---- */

Test(siphash, reference_vectors) {
  unsigned char key[16], msg[64];
  for (int i = 0; i < 16; i++) key[i] = (unsigned char)i;
  for (int i = 0; i < 64; i++) msg[i] = (unsigned char)i;
  uint64_t k0 = 0, k1 = 0;
  for (int i = 7; i >= 0; i--) {
    k0 = (k0 << 8) | key[i];
    k1 = (k1 << 8) | key[i + 8];
  }
  cr_assert_eq(api__siphash24(k0, k1, msg, 0), 0x726fdb47dd0e0e31ULL);
  cr_assert_eq(api__siphash24(k0, k1, msg, 15), 0xa129ca6149be45e5ULL);
  /* every length hashes differently and the key matters */
  for (size_t n = 1; n < 64; n++)
    cr_assert_neq(api__siphash24(k0, k1, msg, n), api__siphash24(k0, k1, msg, n - 1));
  cr_assert_neq(api__siphash24(k0, k1 ^ 1, msg, 15), 0xa129ca6149be45e5ULL);
}

/* ---- the algorithms ---- */

static api_rate_params bucket(uint64_t limit, uint64_t window, uint64_t burst) {
  return (api_rate_params){API_RATE_TOKEN_BUCKET, limit, window, burst};
}
static api_rate_params window(uint64_t limit, uint64_t w) {
  return (api_rate_params){API_RATE_SLIDING_WINDOW, limit, w, 0};
}

Test(rate_algo, bucket_exact_limit_and_refill) {
  api_rate_params p = bucket(10, 1000, 10); /* 10 per second, burst 10: one token per 100 ms */
  api__rate_cell c = {0};
  api_rate_result r;
  for (int i = 0; i < 10; i++) {
    api__rate_apply(&c, &p, 1, 5000, &r);
    cr_assert_eq(r.allowed, 1, "request %d", i);
    cr_assert_eq(r.remaining, (unsigned long long)(9 - i));
    cr_assert_eq(r.limit, 10);
  }
  api__rate_apply(&c, &p, 1, 5000, &r);
  cr_assert_eq(r.allowed, 0);
  cr_assert_eq(r.retry_after_ms, 100);
  cr_assert_eq(r.reset_ms, 1000);
  api__rate_apply(&c, &p, 1, 5099, &r); /* 99 ms: not a whole token yet */
  cr_assert_eq(r.allowed, 0);
  cr_assert_eq(r.retry_after_ms, 1);
  api__rate_apply(&c, &p, 1, 5100, &r);
  cr_assert_eq(r.allowed, 1);
  cr_assert_eq(r.remaining, 0);
  /* a long pause fills the bucket but never beyond the burst */
  uint64_t expires = api__rate_apply(&c, &p, 1, 1000000000000ULL, &r);
  cr_assert_eq(r.allowed, 1);
  cr_assert_eq(r.remaining, 9);
  cr_assert_eq(expires, 1000000000000ULL + 100);
}

Test(rate_algo, bucket_burst_above_rate_and_cost) {
  api_rate_params p = bucket(1, 1000, 5); /* 1 per second, 5 at once */
  api__rate_cell c = {0};
  api_rate_result r;
  api__rate_apply(&c, &p, 3, 0, &r);
  cr_assert(r.allowed);
  cr_assert_eq(r.remaining, 2);
  cr_assert_eq(r.limit, 5);
  api__rate_apply(&c, &p, 3, 0, &r);
  cr_assert_not(r.allowed);
  cr_assert_eq(r.retry_after_ms, 1000);
  cr_assert_eq(r.remaining, 2, "a refused request takes nothing");
  api__rate_apply(&c, &p, 6, 0, &r); /* above the burst: never; retry points at a full bucket */
  cr_assert_not(r.allowed);
  cr_assert_eq(r.retry_after_ms, 3000);
}

Test(rate_algo, window_exact_limit_and_weighting) {
  api_rate_params p = window(10, 1000);
  api__rate_cell c = {0};
  api_rate_result r;
  for (int i = 0; i < 10; i++) {
    api__rate_apply(&c, &p, 1, 2000 + (uint64_t)i, &r);
    cr_assert(r.allowed, "request %d", i);
    cr_assert_eq(r.remaining, (unsigned long long)(9 - i));
  }
  api__rate_apply(&c, &p, 1, 2500, &r);
  cr_assert_not(r.allowed);
  cr_assert_eq(r.reset_ms, 500);
  cr_assert_eq(r.retry_after_ms, 500 + 100); /* next window, once 10% of prev has slid out */
  /* at 3100 the previous window still weighs 10 * 0.9 = 9: one more fits, then none */
  api__rate_apply(&c, &p, 1, 3100, &r);
  cr_assert(r.allowed);
  cr_assert_eq(r.remaining, 0);
  api__rate_apply(&c, &p, 1, 3100, &r);
  cr_assert_not(r.allowed);
  /* two windows later everything is forgotten */
  uint64_t expires = api__rate_apply(&c, &p, 1, 5000, &r);
  cr_assert(r.allowed);
  cr_assert_eq(r.remaining, 9);
  cr_assert_eq(expires, 7000);
}

/* retry_after_ms is the earliest time the same request would pass: check it by brute force on
 * random states for both algorithms. */
static void check_retry(api_rate_params p, unsigned seed) {
  srand(seed);
  for (int round = 0; round < 300; round++) {
    api__rate_cell c = {0};
    api_rate_result r;
    uint64_t now = 100000 + (uint64_t)(rand() % 5000);
    int n = rand() % 40;
    for (int i = 0; i < n; i++) {
      now += (uint64_t)(rand() % 300);
      api__rate_apply(&c, &p, 1 + (unsigned)(rand() % 3), now, &r);
    }
    unsigned cost = 1 + (unsigned)(rand() % 3);
    api__rate_cell probe = c;
    api__rate_apply(&probe, &p, cost, now, &r);
    if (r.allowed) continue;
    uint64_t t = r.retry_after_ms;
    cr_assert_gt(t, 0);
    probe = c;
    api__rate_apply(&probe, &p, cost, now + t, &r);
    cr_assert(r.allowed, "seed %u round %d: not allowed after retry_after %llu", seed, round,
              (unsigned long long)t);
    probe = c;
    api__rate_apply(&probe, &p, cost, now + t - 1, &r);
    cr_assert_not(r.allowed, "seed %u round %d: allowed before retry_after %llu", seed, round,
                  (unsigned long long)t);
  }
}

Test(rate_algo, retry_after_is_the_earliest_time) {
  for (unsigned s = 1; s <= 5; s++) {
    check_retry(bucket(7, 1000, 12), s);
    check_retry(bucket(3, 700, 3), s);
    check_retry(window(10, 1000), s);
    check_retry(window(4, 333), s);
  }
}

Test(rate_algo, clock_going_back_and_extreme_values) {
  api_rate_params p = window(1000000000ULL, 1000000000ULL);
  api__rate_cell c = {0};
  api_rate_result r;
  api__rate_apply(&c, &p, 1000, 5000000000ULL, &r);
  cr_assert(r.allowed);
  api__rate_apply(&c, &p, 1, 4000000000ULL, &r); /* earlier: the newest window stays */
  cr_assert(r.allowed);
  cr_assert_eq(r.remaining, 1000000000ULL - 1001);
  p = bucket(1000000000ULL, 1000000000ULL, 1000000000ULL);
  c = (api__rate_cell){0};
  api__rate_apply(&c, &p, 4000000000U, 0, &r);
  cr_assert_not(r.allowed);
  api__rate_apply(&c, &p, 1000000000U, 0, &r);
  cr_assert(r.allowed);
  cr_assert_eq(r.remaining, 0);
  api__rate_apply(&c, &p, 1, UINT64_MAX / 2, &r);
  cr_assert(r.allowed);
  cr_assert_eq(r.remaining, 1000000000ULL - 1);
}

/* ---- the in-memory store ---- */

static int take(api_rate_store *s, const void *key, size_t len, const api_rate_params *p,
                unsigned cost, uint64_t now, api_rate_result *r) {
  api_rate_take t = {
      .size = sizeof(t), .key = key, .key_len = len, .cost = cost, .now_ms = now, .params = p};
  return s->take(s, &t, r);
}

static int take_str(api_rate_store *s, const char *key, const api_rate_params *p, uint64_t now) {
  api_rate_result r;
  int rc = take(s, key, strlen(key), p, 1, now, &r);
  cr_assert_eq(rc, 0);
  return r.allowed;
}

Test(rate_store, keys_are_separate) {
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, NULL), 0);
  api_rate_params p = bucket(3, 1000, 3);
  for (int i = 0; i < 3; i++) cr_assert(take_str(s, "alice", &p, 0));
  cr_assert_not(take_str(s, "alice", &p, 0));
  cr_assert(take_str(s, "alicf", &p, 0));
  cr_assert(take_str(s, "alic", &p, 0));
  cr_assert(take_str(s, "", &p, 0)); /* the empty key is a key */
  /* binary keys: embedded NULs are part of the key */
  api_rate_result r;
  cr_assert_eq(take(s, "a\0b", 3, &p, 1, 0, &r), 0);
  cr_assert(r.allowed);
  cr_assert_eq(take(s, "a\0c", 3, &p, 1, 0, &r), 0);
  cr_assert_eq(r.remaining, 2);
  cr_assert_eq(api_rate_store_mem_count(s), 6);
  api_rate_store_free(s);
}

Test(rate_store, long_keys_are_digested_and_distinct) {
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.max_key_len = 32)), 0);
  size_t n = 1 << 20;
  char *a = malloc(n), *b = malloc(n);
  memset(a, 'k', n);
  memcpy(b, a, n);
  b[n - 1] = 'j'; /* differs in the last byte only */
  api_rate_params p = bucket(2, 1000, 2);
  api_rate_result r;
  for (int i = 0; i < 2; i++) cr_assert_eq(take(s, a, n, &p, 1, 0, &r), 0);
  cr_assert_eq(take(s, a, n, &p, 1, 0, &r), 0);
  cr_assert_not(r.allowed, "the same long key is one key");
  cr_assert_eq(take(s, b, n, &p, 1, 0, &r), 0);
  cr_assert(r.allowed, "a long key differing at the end is another key");
  /* keys at the bound are kept raw, one above it is digested: both work */
  cr_assert_eq(take(s, a, 32, &p, 1, 0, &r), 0);
  cr_assert_eq(take(s, a, 33, &p, 1, 0, &r), 0);
  cr_assert(r.allowed);
  cr_assert_eq(api_rate_store_mem_count(s), 4);
  free(a);
  free(b);
  api_rate_store_free(s);
}

Test(rate_store, a_million_distinct_keys_stay_bounded, .timeout = 120) {
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.max_keys = 10000)), 0);
  api_rate_params p = window(5, 60000);
  char key[32];
  size_t most = 0;
  for (int i = 0; i < 1000000; i++) {
    int n = snprintf(key, sizeof(key), "spoofed-%d", i);
    api_rate_result r;
    cr_assert_eq(take(s, key, (size_t)n, &p, 1, 1000, &r), 0);
    cr_assert(r.allowed);
    if (i % 1000 == 0) {
      size_t c = api_rate_store_mem_count(s);
      if (c > most) most = c;
      cr_assert_leq(c, 10000, "after %d keys: %zu entries", i, c);
    }
  }
  size_t c = api_rate_store_mem_count(s);
  cr_assert_leq(c, 10000);
  cr_assert_geq(most, 9000, "the bound is used, not undershot wildly (%zu)", most);
  api_rate_store_free(s);
}

Test(rate_store, eviction_drops_the_least_recently_used) {
  /* one shard of 4 keys: which key goes is then fully determined */
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.max_keys = 4, .shards = 1)), 0);
  api_rate_params p = bucket(1, 60000, 1);
  const char *keys[] = {"k0", "k1", "k2", "k3"};
  for (int i = 0; i < 4; i++) cr_assert(take_str(s, keys[i], &p, 0));
  cr_assert_not(take_str(s, "k0", &p, 1)); /* k0 is now the most recently used */
  cr_assert(take_str(s, "k4", &p, 2));     /* evicts k1 */
  cr_assert_eq(api_rate_store_mem_count(s), 4);
  cr_assert_not(take_str(s, "k0", &p, 3), "k0 was kept");
  cr_assert(take_str(s, "k1", &p, 4), "k1 was evicted and starts afresh");
  cr_assert_eq(api_rate_store_mem_count(s), 4);
  api_rate_store_free(s);
}

Test(rate_store, expired_entries_are_cleaned_lazily) {
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.shards = 1)), 0);
  api_rate_params p = bucket(10, 1000, 10);
  char key[16];
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    take_str(s, key, &p, 0);
  }
  cr_assert_eq(api_rate_store_mem_count(s), 100);
  /* 100 ms later every bucket is full again: each take drops expired ones */
  for (int i = 0; i < 60; i++) take_str(s, "live", &p, 100 + (uint64_t)i);
  cr_assert_eq(api_rate_store_mem_count(s), 1, "%zu left", api_rate_store_mem_count(s));
  api_rate_store_free(s);
}

typedef struct hammer {
  api_rate_store *s;
  const api_rate_params *p;
  int iterations;
  int allowed;
  int id;
} hammer;

static void *hammer_run(void *arg) {
  hammer *h = arg;
  char key[32];
  for (int i = 0; i < h->iterations; i++) {
    api_rate_result r;
    /* one shared key and a few per-thread ones, interleaved */
    int n = i % 2 ? snprintf(key, sizeof(key), "shared")
                  : snprintf(key, sizeof(key), "t%d-%d", h->id, i % 16);
    if (take(h->s, key, (size_t)n, h->p, 1, 1000, &r) != 0) abort();
    if (i % 2 && r.allowed) h->allowed++;
  }
  return NULL;
}

Test(rate_store, threads_get_exact_counts, .timeout = 120) {
  api_rate_params algos[] = {bucket(5000, 60000, 5000), window(5000, 60000)};
  for (int a = 0; a < 2; a++) {
    api_rate_store *s;
    cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.shards = 4)), 0);
    enum { T = 8 };
    hammer h[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
      h[i] = (hammer){.s = s, .p = &algos[a], .iterations = 4000, .id = i};
      pthread_create(&th[i], NULL, hammer_run, &h[i]);
    }
    int total = 0;
    for (int i = 0; i < T; i++) {
      pthread_join(th[i], NULL);
      total += h[i].allowed;
    }
    /* 8 threads * 2000 takes of "shared" = 16000 attempts at the same instant: exactly 5000 */
    cr_assert_eq(total, 5000, "algorithm %d: %d allowed", a, total);
    cr_assert_eq(api_rate_store_mem_count(s), 1 + T * 8, "%zu", api_rate_store_mem_count(s));
    api_rate_store_free(s);
  }
}

Test(rate_store, bad_arguments) {
  api_rate_store *s = (void *)1;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.shards = 4096)), API_EINVAL);
  cr_assert_null(s);
  cr_assert(strstr(api_last_error(), "shards"));
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.max_key_len = 16)), API_EINVAL);
  cr_assert(strstr(api_last_error(), "max_key_len"));
  cr_assert_eq(api_rate_store_mem_new(NULL, NULL), API_EINVAL);
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.max_keys = 1)), 0);
  api_rate_result r;
  api_rate_params zero = bucket(0, 1000, 1), nowin = window(1, 0), big = window(2000000000, 1);
  api_rate_params nob = bucket(1, 1000, 0), alien = {(api_rate_algo)7, 1, 1, 1};
  cr_assert_eq(take(s, "k", 1, &zero, 1, 0, &r), API_EINVAL);
  cr_assert_eq(take(s, "k", 1, &nowin, 1, 0, &r), API_EINVAL);
  cr_assert_eq(take(s, "k", 1, &big, 1, 0, &r), API_EINVAL);
  cr_assert_eq(take(s, "k", 1, &nob, 1, 0, &r), API_EINVAL);
  cr_assert_eq(take(s, "k", 1, &alien, 1, 0, &r), API_EINVAL);
  api_rate_params ok = bucket(1, 1000, 1);
  cr_assert_eq(take(s, "k", 1, &ok, 0, 0, &r), API_EINVAL);
  cr_assert_eq(take(s, NULL, 1, &ok, 1, 0, &r), API_EINVAL);
  cr_assert_eq(take(s, NULL, 0, &ok, 1, 0, &r), 0);
  /* max_keys = 1: one key at a time */
  cr_assert_eq(take(s, "k", 1, &ok, 1, 0, &r), 0);
  cr_assert_eq(api_rate_store_mem_count(s), 1);
  api_rate_store_free(s);
  api_rate_store_free(NULL);
  cr_assert_eq(api_rate_store_mem_count(NULL), 0);
}

Test(rate_store, allocation_failure) {
  /* creation: every allocation in turn fails, nothing leaks (ASan checks) */
  for (long n = 0; n < 40; n++) {
    api_rate_store *s = NULL;
    api__alloc_fail_nth(n);
    int rc = api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.shards = 8));
    api__alloc_fail_nth(-1);
    if (rc == 0) {
      api_rate_store_free(s);
      continue;
    }
    cr_assert_eq(rc, API_ENOMEM);
    cr_assert_null(s);
  }
  /* take: a new key fails cleanly, and the store goes on working; growth failing is harmless */
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.shards = 1)), 0);
  api_rate_params p = bucket(1, 1000, 1);
  api_rate_result r;
  api__alloc_fail_nth(0);
  cr_assert_eq(take(s, "x", 1, &p, 1, 0, &r), API_ENOMEM);
  api__alloc_fail_nth(-1);
  cr_assert_eq(api_rate_store_mem_count(s), 0);
  char key[16];
  for (int i = 0; i < 200; i++) {
    snprintf(key, sizeof(key), "g%d", i);
    if (i == 16) api__alloc_fail_nth(1); /* the 17th entry's table growth fails */
    cr_assert_eq(take(s, key, strlen(key), &p, 1, 0, &r), 0);
    api__alloc_fail_nth(-1);
  }
  cr_assert_eq(api_rate_store_mem_count(s), 200);
  for (int i = 0; i < 200; i++) {
    snprintf(key, sizeof(key), "g%d", i);
    cr_assert_eq(take(s, key, strlen(key), &p, 1, 0, &r), 0);
    cr_assert_not(r.allowed, "key %s was found again", key);
  }
  api_rate_store_free(s);
}
