/* The metrics registry under load and under memory failure: exact totals from concurrent
 * recording and concurrent series creation, and clean errors without leaks when an allocation
 * fails during creation, series insertion or rendering. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/metrics.h"
#include "obs/obs_internal.h"
#include "util/alloc.h"

#define V(...) ((const char *const[]){__VA_ARGS__})
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define THREADS 4
#define PER_THREAD 100000

typedef struct {
  api_counter *c;
  api_gauge *g;
  api_histogram *h;
  api_series *sc;
  int id;
  pthread_barrier_t *start;
} worker_arg;

static void *record(void *p) {
  worker_arg *a = p;
  static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
  pthread_barrier_wait(a->start);
  for (int i = 0; i < PER_THREAD; i++) {
    cr_assert_eq(api_series_inc(a->sc), 0);
    cr_assert_eq(api_counter_inc(a->c, V(methods[i % 4], "/users/:id")), 0);
    cr_assert_eq(api_gauge_add(a->g, NULL, (i & 1) ? 3 : -1), 0);
    cr_assert_eq(api_histogram_observe(a->h, V("/x"), (i % 3) * 0.5), 0);
  }
  return NULL;
}

Test(metrics_threads, exact_totals) {
  api_metrics *m;
  api_counter *c, *total;
  api_gauge *g;
  api_histogram *h;
  cr_assert_eq(api_metrics_new(&m), 0);
  cr_assert_eq(api_counter_new(m, API_METRIC(.name = "total"), &total), 0);
  cr_assert_eq(api_counter_new(m, API_METRIC(.name = "req", .labels = L("method", "route")), &c),
               0);
  cr_assert_eq(api_gauge_new(m, API_METRIC(.name = "g"), &g), 0);
  cr_assert_eq(api_histogram_new(m,
                                 API_METRIC(.name = "h", .labels = L("route"),
                                            .buckets = (const double[]){0.5}, .nbuckets = 1),
                                 &h),
               0);
  api_series *sc;
  cr_assert_eq(api_counter_series(total, NULL, &sc), 0);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, THREADS);
  pthread_t t[THREADS];
  worker_arg args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (worker_arg){.c = c, .g = g, .h = h, .sc = sc, .id = i, .start = &start};
    cr_assert_eq(pthread_create(&t[i], NULL, record, &args[i]), 0);
  }
  /* Render while they record: it must not disturb them (totals are checked below). */
  for (int i = 0; i < 20; i++) {
    char *text;
    cr_assert_eq(api_metrics_render(m, &text, NULL), 0);
    api_metrics_text_free(text);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&start);
  const double n = (double)THREADS * PER_THREAD;
  cr_assert_eq(api_series_value(sc), n);
  api_series *s;
  static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(api_counter_series(c, V(methods[i], "/users/:id"), &s), 0);
    cr_assert_eq(api_series_value(s), n / 4, "%s", methods[i]);
  }
  cr_assert_eq(api_gauge_series(g, NULL, &s), 0);
  cr_assert_eq(api_series_value(s), n / 2 * 3 - n / 2);
  char *text;
  cr_assert_eq(api_metrics_render(m, &text, NULL), 0);
  /* i % 3: 0 and 0.5 land in le="0.5", 1.0 in +Inf. */
  int zeros = (PER_THREAD + 2) / 3, halves = (PER_THREAD + 1) / 3, ones = PER_THREAD / 3;
  /* The sum: halves * 0.5 + ones * 1.0 per thread, exact in a double. */
  double sum = THREADS * (halves * 0.5 + ones * 1.0);
  char sumline[64];
  snprintf(sumline, sizeof(sumline), "h_sum{route=\"/x\"} %.17g\n", sum);
  cr_assert_not_null(strstr(text, sumline), "%s not in\n%s", sumline, text);
  char bucket[128];
  snprintf(bucket, sizeof(bucket), "h_bucket{route=\"/x\",le=\"0.5\"} %d\n",
           THREADS * (zeros + halves));
  cr_assert_not_null(strstr(text, bucket), "%s", text);
  snprintf(bucket, sizeof(bucket), "h_count{route=\"/x\"} %d\n", THREADS * PER_THREAD);
  cr_assert_not_null(strstr(text, bucket), "%s", text);
  api_metrics_text_free(text);
  api_metrics_free(m);
}

typedef struct {
  api_counter *c;
  int offset;
  int distinct;
  pthread_barrier_t *start;
} create_arg;

/* Every thread records the same values, in a different order: each series is created once. */
static void *create(void *p) {
  create_arg *a = p;
  char v[32];
  pthread_barrier_wait(a->start);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < a->distinct; i++) {
      snprintf(v, sizeof(v), "v%d", (i * 7 + a->offset) % a->distinct);
      int rc = api_counter_inc(a->c, V(v));
      cr_assert(rc == 0 || rc == API_EUNAVAILABLE, "rc %d", rc);
    }
  }
  return NULL;
}

static void race(int distinct, size_t bound) {
  api_metrics *m;
  api_counter *c;
  cr_assert_eq(api_metrics_new(&m), 0);
  cr_assert_eq(
      api_counter_new(m, API_METRIC(.name = "c", .labels = L("v"), .max_series = bound), &c), 0);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, THREADS);
  pthread_t t[THREADS];
  create_arg args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (create_arg){.c = c, .offset = i * 13, .distinct = distinct, .start = &start};
    cr_assert_eq(pthread_create(&t[i], NULL, create, &args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&start);
  size_t created = 0;
  double total = 0;
  char v[32];
  for (int i = 0; i < distinct; i++) {
    snprintf(v, sizeof(v), "v%d", i);
    api_series *s;
    if (api_counter_series(c, V(v), &s) == 0) {
      created++;
      total += api_series_value(s);
      if (distinct <= (int)bound) cr_assert_eq(api_series_value(s), THREADS * 3, "%s", v);
    }
  }
  size_t want = (size_t)distinct < bound ? (size_t)distinct : bound;
  cr_assert_eq(created, want);
  char *text;
  cr_assert_eq(api_metrics_render(m, &text, NULL), 0);
  size_t lines = 0;
  for (const char *p = text; (p = strstr(p, "\nc{")); p++) lines++;
  cr_assert_eq(lines, want, "each series once in the text");
  api_metrics_text_free(text);
  /* Every record went to a series or to the drop counter (the lookups above add the misses). */
  uint64_t dropped = api__metrics_dropped(m);
  cr_assert_eq(total + (double)dropped, (double)THREADS * 3 * distinct + (double)(distinct - want));
  api_metrics_free(m);
}

Test(metrics_threads, concurrent_creation) { race(500, 1000); }
Test(metrics_threads, concurrent_creation_at_the_bound) { race(2000, 300); }

/* ---- allocation failure ---- */

/* Build a small registry; returns 0 or the first error, freeing what it built on error. */
static int build(api_metrics **out) {
  api_metrics *m;
  api_counter *c;
  api_histogram *h;
  api_gauge *g;
  int rc = api_metrics_new(&m);
  if (rc) return rc;
  if ((rc = api_counter_new(m, API_METRIC(.name = "c", .help = "help", .labels = L("a", "b")),
                            &c)) ||
      (rc = api_gauge_new(m, API_METRIC(.name = "g"), &g)) ||
      (rc = api_histogram_new(m, API_METRIC(.name = "h", .labels = L("r")), &h)) ||
      (rc = api_metrics_add_process(m))) {
    api_metrics_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

Test(metrics_threads, allocation_failure_during_creation) {
  int failures = 0;
  for (long n = 0;; n++) {
    api_metrics *m = NULL;
    api__alloc_fail_after(n);
    int rc = build(&m);
    api__alloc_fail_after(-1);
    if (rc == 0) {
      api_metrics_free(m);
      break;
    }
    cr_assert_eq(rc, API_ENOMEM, "n=%ld: rc %d", n, rc);
    cr_assert_neq(api_last_error()[0], '\0');
    failures++;
    cr_assert_lt(n, 1000);
  }
  cr_assert_gt(failures, 5);
  /* Only one allocation failing: the same, and a retry of the failed step succeeds. */
  for (long n = 0;; n++) {
    api_metrics *m = NULL;
    api__alloc_fail_nth(n);
    int rc = build(&m);
    api__alloc_fail_nth(-1);
    if (rc == 0) {
      api_metrics_free(m);
      if (n > 60) break;
      continue;
    }
    cr_assert_eq(rc, API_ENOMEM);
  }
}

Test(metrics_threads, allocation_failure_during_series_insertion) {
  api_metrics *m;
  api_counter *c;
  api_histogram *h;
  cr_assert_eq(api_metrics_new(&m), 0);
  cr_assert_eq(api_counter_new(m, API_METRIC(.name = "c", .labels = L("k")), &c), 0);
  cr_assert_eq(api_histogram_new(m, API_METRIC(.name = "h", .labels = L("k")), &h), 0);
  cr_assert_eq(api_counter_inc(c, V("old")), 0);
  api__alloc_fail_after(0);
  api_series *s = (api_series *)1;
  cr_assert_eq(api_counter_series(c, V("new"), &s), API_ENOMEM);
  cr_assert_null(s);
  cr_assert_eq(api_counter_inc(c, V("new")), API_ENOMEM);
  cr_assert_eq(api_histogram_observe(h, V("new"), 1), API_ENOMEM);
  /* Existing series need no memory. */
  cr_assert_eq(api_counter_inc(c, V("old")), 0);
  api__alloc_fail_after(-1);
  cr_assert_eq(api__metrics_dropped(m), 3);
  cr_assert_eq(api_counter_inc(c, V("new")), 0);
  cr_assert_eq(api_counter_series(c, V("new"), &s), 0);
  cr_assert_eq(api_series_value(s), 1);
  cr_assert_eq(api_counter_series(c, V("old"), &s), 0);
  cr_assert_eq(api_series_value(s), 2);
  char *text;
  cr_assert_eq(api_metrics_render(m, &text, NULL), 0);
  cr_assert_not_null(strstr(text, "c{k=\"old\"} 2\nc{k=\"new\"} 1\n"), "%s", text);
  cr_assert_not_null(strstr(text, "libapi_metrics_series_dropped_total{metric=\"c\"} 2\n"));
  cr_assert_not_null(strstr(text, "libapi_metrics_series_dropped_total{metric=\"h\"} 1\n"));
  api_metrics_text_free(text);
  api_metrics_free(m);
}

Test(metrics_threads, allocation_failure_during_render) {
  api_metrics *m;
  cr_assert_eq(build(&m), 0);
  api_counter *c;
  cr_assert_eq(api_counter_new(m, API_METRIC(.name = "many", .labels = L("k")), &c), 0);
  char v[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(v, sizeof(v), "%d", i);
    cr_assert_eq(api_counter_inc(c, V(v)), 0);
  }
  char *good;
  size_t good_len;
  cr_assert_eq(api_metrics_render(m, &good, &good_len), 0);
  int failures = 0;
  for (long n = 0;; n++) {
    char *text = (char *)1;
    size_t len = 1;
    api__alloc_fail_after(n);
    int rc = api_metrics_render(m, &text, &len);
    api__alloc_fail_after(-1);
    if (rc == 0) {
      /* The same text apart from the process metrics' values. */
      cr_assert_eq(strncmp(text, good, 200), 0);
      cr_assert_not_null(strstr(text, "many{k=\"999\"} 1\n"));
      api_metrics_text_free(text);
      break;
    }
    cr_assert_eq(rc, API_ENOMEM);
    cr_assert_null(text);
    cr_assert_eq(len, 0);
    failures++;
  }
  cr_assert_gt(failures, 2, "the buffer grows a few times");
  api_metrics_text_free(good);
  api_metrics_free(m);
}
