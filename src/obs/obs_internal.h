/* The metrics registry's internals, shared by metrics.c (creation, recording), render.c
 * (exposition) and process.c (process metrics). */
#ifndef API_OBS_INTERNAL_H
#define API_OBS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "libapi/metrics.h"
#include "util/buf.h"

typedef enum api__mkind {
  API__M_COUNTER,
  API__M_GAUGE,
  API__M_HISTOGRAM,
  API__M_CALLBACK_COUNTER,
  API__M_CALLBACK_GAUGE,
} api__mkind;

typedef struct api__metric api__metric;

/* Hot values get cache lines of their own (series and metrics are allocated line-aligned), so
 * that threads recording on one series do not slow down lookups, which read only the metadata. */
#define API__LINE 64

/* Room for a number formatted by api__metrics_fmt(), NUL included. */
#define API__FMT_SIZE 40

/* One series. Values are atomics, read and written relaxed: nothing else is published through
 * them. Memory: the struct, then the label values (pointers and copies), then, line-aligned, the
 * histogram's bucket counts. */
struct api_series {
  /* Read by lookups and records; written before the series is published. */
  api__metric *metric;
  uint64_t hash;
  const char **values;       /* nlabels copies */
  _Atomic uint64_t *buckets; /* histogram: nbuckets + 1 counts, not cumulative; else NULL */
  api_series *next;          /* creation order, under the metric's lock */
  void *raw;                 /* the allocation to free */
  /* Written by records. */
  _Alignas(API__LINE) _Atomic uint64_t ival; /* counter: integral part */
  _Atomic uint64_t bits; /* counter: fractional part; gauge: value; histogram: sum (double bits) */
};

struct api__metric {
  /* Read by lookups and records; set at creation. */
  api__mkind kind;
  size_t nlabels;
  size_t nbuckets; /* histograms: bounds, +Inf not included */
  double *bounds;
  size_t max_series;
  size_t max_value_len;
  /* The series table: open addressing, linear probing, a power of two >= 2 * max_series slots,
   * so it never fills. Slots go from NULL to a series once, under mu (release store); lookups
   * read them with acquire loads and take no lock. */
  _Atomic(api_series *) *slots;
  size_t mask;
  api_series *single; /* the only series of a metric without labels */
  api_metrics *registry;
  _Atomic size_t nseries; /* read without the lock to refuse quickly once the bound is reached */

  /* Creation and rendering only. */
  char (*le)[API__FMT_SIZE]; /* histograms: the bounds as text, then "+Inf" */
  char *name;
  char *help;
  char **labels;
  api_metric_read_fn read;
  void *user_data;
  api__metric *next; /* registration order, under the registry's lock */
  void *raw;         /* the allocation to free */

  /* Written when series are created or records dropped. */
  _Alignas(API__LINE) pthread_mutex_t mu; /* series creation and the creation-order list */
  _Atomic uint64_t dropped;               /* records that went to no series */
  api_series *first, *last;               /* creation order */
};

struct api_metrics {
  pthread_mutex_t mu; /* the metric list; creation and rendering */
  api__metric *first, *last;
  uint64_t seed; /* per-registry hash key, so colliding label values cannot be precomputed */
};

/* Create a metric of any kind (the public constructors and process.c). */
int api__metrics_add(api_metrics *m, api__mkind kind, const api_metric_opts *opts,
                     api__metric **out);

/* Format v in a form Prometheus parses: integers exactly, others in the shortest of 15..17
 * significant digits that reads back to the same double, "+Inf", "-Inf", "NaN", whatever the
 * LC_NUMERIC locale. NUL-terminates out; returns the length. */
size_t api__metrics_fmt(char out[API__FMT_SIZE], double v);

/* The length of the valid UTF-8 sequence at s (n > 0 bytes available), 0 if there is none. */
size_t api__utf8_seq(const unsigned char *s, size_t n);

/* Whether m has a callback metric called name that reads with read. */
bool api__metrics_has_callback(api_metrics *m, const char *name, api_metric_read_fn read);

/* Records dropped across the registry's metrics (tests). */
uint64_t api__metrics_dropped(api_metrics *m);

static inline double api__bits_double(uint64_t u) {
  union {
    uint64_t u;
    double d;
  } x = {.u = u};
  return x.d;
}

static inline uint64_t api__double_bits(double d) {
  union {
    double d;
    uint64_t u;
  } x = {.d = d};
  return x.u;
}

#endif
