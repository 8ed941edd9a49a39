/* The metrics registry: creation, validation, the lock-free series table and recording. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/error_internal.h"
#include "obs/obs_internal.h"
#include "util/alloc.h"

static const double default_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NDEFAULT (sizeof(default_buckets) / sizeof(default_buckets[0]))
#define DROPPED_NAME "libapi_metrics_series_dropped_total"

const double *api_metrics_default_buckets(size_t *n) {
  if (n) *n = NDEFAULT;
  return default_buckets;
}

/* ---- names ---- */

static bool valid_name(const char *s, bool colon) {
  if (!s || !*s || (s[0] == '_' && s[1] == '_')) return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
              (p != s && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

/* The names a family occupies in the exposition: name, and name_bucket/_sum/_count for
 * histograms. Writes up to 4 into out (each < 300 bytes). */
static size_t family_names(const char *name, bool histogram, char out[4][300]) {
  snprintf(out[0], 300, "%s", name);
  if (!histogram) return 1;
  snprintf(out[1], 300, "%s_bucket", name);
  snprintf(out[2], 300, "%s_sum", name);
  snprintf(out[3], 300, "%s_count", name);
  return 4;
}

/* Under the registry lock: does a family named name (a histogram if histogram) clash? */
static bool name_taken(const api_metrics *m, const char *name, bool histogram) {
  char mine[4][300], theirs[4][300];
  size_t nm = family_names(name, histogram, mine);
  if (strcmp(name, DROPPED_NAME) == 0) return true;
  for (size_t i = 0; i < nm; i++)
    if (strcmp(mine[i], DROPPED_NAME) == 0) return true;
  for (const api__metric *x = m->first; x; x = x->next) {
    size_t nt = family_names(x->name, x->kind == API__M_HISTOGRAM, theirs);
    for (size_t i = 0; i < nm; i++)
      for (size_t j = 0; j < nt; j++)
        if (strcmp(mine[i], theirs[j]) == 0) return true;
  }
  return false;
}

size_t api__utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t k = 1; k < len; k++) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

/* Prometheus refuses a scrape with a label value or help text that is not UTF-8. */
static bool valid_utf8(const unsigned char *s, size_t n) {
  for (size_t i = 0, k; i < n; i += k)
    if (!(k = api__utf8_seq(s + i, n - i))) return false;
  return true;
}

/* ---- hashing ---- */

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

/* The last len (< 8) bytes at p as a word, without a byte loop: two overlapping loads. */
static inline uint64_t load_tail(const unsigned char *p, size_t len) {
  if (len >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + len - 4, 4);
    return (uint64_t)lo | ((uint64_t)hi << 32);
  }
  if (len == 0) return 0;
  return (uint64_t)p[0] | ((uint64_t)p[len / 2] << 8) | ((uint64_t)p[len - 1] << 16);
}

/* A keyed hash of the label values (lens[i] bytes each): a multiply and a shift per 8 bytes, the
 * length folded in per value, a full mix at the end. Not cryptographic: the seed keeps an attacker
 * from precomputing collisions, and the series bound caps the damage of any. */
static uint64_t hash_values(uint64_t seed, size_t n, const char *const *values,
                            const size_t *lens) {
  const uint64_t k = 0x9e3779b97f4a7c15ULL;
  uint64_t h = seed;
  for (size_t i = 0; i < n; i++) {
    const unsigned char *p = (const unsigned char *)values[i];
    size_t len = lens[i];
    for (; len >= 8; p += 8, len -= 8) {
      uint64_t w;
      memcpy(&w, p, 8);
      h = (h ^ w) * k;
      h ^= h >> 29;
    }
    h = (h ^ load_tail(p, len) ^ ((uint64_t)lens[i] << 56)) * k;
    h ^= h >> 29;
  }
  return mix(h ^ n);
}

static uint64_t make_seed(api_metrics *m) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)m;
  }
  return mix(s) | 1;
}

/* size zeroed bytes at a cache-line boundary; *raw gets the pointer to free. */
static void *calloc_lines(size_t size, void **raw) {
  char *p = api__calloc(1, size + API__LINE - 1);
  *raw = p;
  return p ? (void *)(((uintptr_t)p + API__LINE - 1) & ~(uintptr_t)(API__LINE - 1)) : NULL;
}

/* ---- the registry ---- */

int api_metrics_new(api_metrics **out) {
  *out = NULL;
  api_metrics *m = api__calloc(1, sizeof(*m));
  if (!m) return api__fail(API_ENOMEM, "metrics: out of memory");
  pthread_mutex_init(&m->mu, NULL);
  m->seed = make_seed(m);
  *out = m;
  return 0;
}

static void metric_free(api__metric *x) {
  if (!x) return;
  api_series *s = x->first;
  while (s) {
    api_series *next = s->next;
    api__free(s->raw);
    s = next;
  }
  if (x->labels)
    for (size_t i = 0; i < x->nlabels; i++) api__free(x->labels[i]);
  api__free(x->labels);
  api__free((void *)x->slots);
  api__free(x->bounds);
  api__free(x->le);
  api__free(x->name);
  api__free(x->help);
  pthread_mutex_destroy(&x->mu);
  api__free(x->raw);
}

void api_metrics_free(api_metrics *m) {
  if (!m) return;
  api__metric *x = m->first;
  while (x) {
    api__metric *next = x->next;
    metric_free(x);
    x = next;
  }
  pthread_mutex_destroy(&m->mu);
  api__free(m);
}

static int check_opts(const api_metric_opts *o, api__mkind kind, size_t *nlabels) {
  if (!o || o->size < offsetof(api_metric_opts, user_data) + sizeof(void *))
    return api__fail(API_EINVAL, "metric: options missing or built without API_METRIC()");
  const char *name = o->name ? o->name : "(null)";
  if (!valid_name(o->name, true) || strlen(o->name) > 200)
    return api__fail(API_EINVAL, "metric %.200s: invalid name", name);
  if (o->help && !valid_utf8((const unsigned char *)o->help, strlen(o->help)))
    return api__fail(API_EINVAL, "metric %s: help text is not UTF-8", name);
  size_t n = 0;
  if (o->labels) {
    for (; o->labels[n]; n++) {
      const char *l = o->labels[n];
      if (n == API_METRICS_MAX_LABELS)
        return api__fail(API_EINVAL, "metric %s: more than %d labels", name,
                         API_METRICS_MAX_LABELS);
      if (!valid_name(l, false) || strlen(l) > 200)
        return api__fail(API_EINVAL, "metric %s: invalid label name \"%.200s\"", name, l);
      if (kind == API__M_HISTOGRAM && strcmp(l, "le") == 0)
        return api__fail(API_EINVAL, "metric %s: a histogram cannot have a label \"le\"", name);
      for (size_t j = 0; j < n; j++)
        if (strcmp(o->labels[j], l) == 0)
          return api__fail(API_EINVAL, "metric %s: duplicate label name \"%s\"", name, l);
    }
  }
  if (kind == API__M_HISTOGRAM && o->buckets) {
    if (o->nbuckets == 0 || o->nbuckets > API_METRICS_MAX_BUCKETS)
      return api__fail(API_EINVAL, "metric %s: 1 to %d bucket bounds", name,
                       API_METRICS_MAX_BUCKETS);
    for (size_t i = 0; i < o->nbuckets; i++) {
      if (!isfinite(o->buckets[i]))
        return api__fail(API_EINVAL, "metric %s: bucket bounds must be finite (+Inf is implicit)",
                         name);
      if (i > 0 && !(o->buckets[i] > o->buckets[i - 1]))
        return api__fail(API_EINVAL, "metric %s: bucket bounds must be strictly increasing", name);
    }
  } else if (kind == API__M_HISTOGRAM && o->nbuckets) {
    return api__fail(API_EINVAL, "metric %s: nbuckets without buckets", name);
  } else if (kind != API__M_HISTOGRAM && (o->buckets || o->nbuckets)) {
    return api__fail(API_EINVAL, "metric %s: buckets are for histograms", name);
  }
  if (o->max_series > API_METRICS_MAX_SERIES)
    return api__fail(API_EINVAL, "metric %s: max_series above %d", name, API_METRICS_MAX_SERIES);
  if (o->max_value_len > API_METRICS_MAX_VALUE_LEN)
    return api__fail(API_EINVAL, "metric %s: max_value_len above %d", name,
                     API_METRICS_MAX_VALUE_LEN);
  bool callback = kind == API__M_CALLBACK_COUNTER || kind == API__M_CALLBACK_GAUGE;
  if (callback && (!o->read || n))
    return api__fail(API_EINVAL, "metric %s: a callback metric needs a read function, no labels",
                     name);
  if (!callback && o->read)
    return api__fail(API_EINVAL, "metric %s: read is for api_metrics_callback() only", name);
  *nlabels = n;
  return 0;
}

static api_series *series_alloc(api__metric *x, const char *const *values, const size_t *lens,
                                uint64_t hash) {
  size_t size = sizeof(api_series) + x->nlabels * sizeof(char *);
  for (size_t i = 0; i < x->nlabels; i++) size += lens[i] + 1;
  size_t nb = x->kind == API__M_HISTOGRAM ? x->nbuckets + 1 : 0;
  size_t bucket_off = (size + API__LINE - 1) & ~(size_t)(API__LINE - 1);
  if (nb) size = bucket_off + nb * sizeof(uint64_t);
  size = (size + API__LINE - 1) & ~(size_t)(API__LINE - 1); /* nothing else on the last line */
  void *raw;
  api_series *s = calloc_lines(size, &raw);
  if (!s) return NULL;
  s->raw = raw;
  s->metric = x;
  s->hash = hash;
  if (nb) s->buckets = (_Atomic uint64_t *)((char *)s + bucket_off);
  s->values = (const char **)(s + 1);
  char *p = (char *)(s->values + x->nlabels);
  for (size_t i = 0; i < x->nlabels; i++) {
    memcpy(p, values[i], lens[i]);
    p[lens[i]] = '\0';
    s->values[i] = p;
    p += lens[i] + 1;
  }
  return s;
}

static void series_link(api__metric *x, api_series *s) {
  if (x->last)
    x->last->next = s;
  else
    x->first = s;
  x->last = s;
}

int api__metrics_add(api_metrics *m, api__mkind kind, const api_metric_opts *opts,
                     api__metric **out) {
  *out = NULL;
  if (!m) return api__fail(API_EINVAL, "metric: no registry");
  size_t nlabels = 0;
  int rc = check_opts(opts, kind, &nlabels);
  if (rc) return rc;
  bool histogram = kind == API__M_HISTOGRAM;
  void *raw;
  api__metric *x = calloc_lines(sizeof(*x), &raw);
  if (!x) return api__fail(API_ENOMEM, "metric %s: out of memory", opts->name);
  x->raw = raw;
  pthread_mutex_init(&x->mu, NULL);
  x->kind = kind;
  x->registry = m;
  x->nlabels = nlabels;
  x->max_series =
      nlabels ? (opts->max_series ? opts->max_series : API_METRICS_DEFAULT_MAX_SERIES) : 1;
  x->max_value_len = opts->max_value_len ? opts->max_value_len : API_METRICS_DEFAULT_MAX_VALUE_LEN;
  x->read = opts->read;
  x->user_data = opts->user_data;
  x->name = api__strdup(opts->name);
  x->help = api__strdup(opts->help ? opts->help : "");
  if (!x->name || !x->help) goto nomem;
  if (nlabels) {
    x->labels = api__calloc(nlabels, sizeof(char *));
    if (!x->labels) goto nomem;
    for (size_t i = 0; i < nlabels; i++)
      if (!(x->labels[i] = api__strdup(opts->labels[i]))) goto nomem;
  }
  if (histogram) {
    const double *b = opts->buckets ? opts->buckets : default_buckets;
    x->nbuckets = opts->buckets ? opts->nbuckets : NDEFAULT;
    x->bounds = api__malloc(x->nbuckets * sizeof(double));
    if (!x->bounds) goto nomem;
    memcpy(x->bounds, b, x->nbuckets * sizeof(double));
    x->le = api__malloc((x->nbuckets + 1) * sizeof(*x->le));
    if (!x->le) goto nomem;
    for (size_t i = 0; i <= x->nbuckets; i++)
      api__metrics_fmt(x->le[i], i < x->nbuckets ? x->bounds[i] : INFINITY);
  }
  if (kind != API__M_CALLBACK_COUNTER && kind != API__M_CALLBACK_GAUGE) {
    if (nlabels) {
      size_t cap = 4;
      while (cap < 2 * x->max_series) cap *= 2;
      x->slots = api__calloc(cap, sizeof(*x->slots));
      if (!x->slots) goto nomem;
      x->mask = cap - 1;
    } else {
      x->single = series_alloc(x, NULL, NULL, 0);
      if (!x->single) goto nomem;
      series_link(x, x->single);
      atomic_store(&x->nseries, 1);
    }
  }

  pthread_mutex_lock(&m->mu);
  if (name_taken(m, x->name, histogram)) {
    pthread_mutex_unlock(&m->mu);
    rc = api__fail(API_EEXIST, "metric %s: name already used in this registry", opts->name);
    metric_free(x);
    return rc;
  }
  if (m->last)
    m->last->next = x;
  else
    m->first = x;
  m->last = x;
  pthread_mutex_unlock(&m->mu);
  *out = x;
  return 0;
nomem:
  metric_free(x);
  return api__fail(API_ENOMEM, "metric %s: out of memory", opts->name);
}

static int add_public(api_metrics *m, api__mkind kind, const api_metric_opts *opts, void **out) {
  api__metric *x = NULL;
  int rc = api__metrics_add(m, kind, opts, &x);
  if (out) *out = x;
  return rc;
}

int api_counter_new(api_metrics *m, const api_metric_opts *opts, api_counter **out) {
  return add_public(m, API__M_COUNTER, opts, (void **)out);
}

int api_gauge_new(api_metrics *m, const api_metric_opts *opts, api_gauge **out) {
  return add_public(m, API__M_GAUGE, opts, (void **)out);
}

int api_histogram_new(api_metrics *m, const api_metric_opts *opts, api_histogram **out) {
  return add_public(m, API__M_HISTOGRAM, opts, (void **)out);
}

int api_metrics_callback(api_metrics *m, api_metric_type type, const api_metric_opts *opts) {
  api__mkind kind;
  if (type == API_METRIC_COUNTER)
    kind = API__M_CALLBACK_COUNTER;
  else if (type == API_METRIC_GAUGE)
    kind = API__M_CALLBACK_GAUGE;
  else
    return api__fail(API_EINVAL, "metric: callback type must be a counter or a gauge");
  return add_public(m, kind, opts, NULL);
}

bool api__metrics_has_callback(api_metrics *m, const char *name, api_metric_read_fn read) {
  bool found = false;
  pthread_mutex_lock(&m->mu);
  for (api__metric *x = m->first; x && !found; x = x->next)
    found = x->read == read && strcmp(x->name, name) == 0;
  pthread_mutex_unlock(&m->mu);
  return found;
}

uint64_t api__metrics_dropped(api_metrics *m) {
  uint64_t n = 0;
  pthread_mutex_lock(&m->mu);
  for (api__metric *x = m->first; x; x = x->next) n += atomic_load(&x->dropped);
  pthread_mutex_unlock(&m->mu);
  return n;
}

/* ---- finding series ---- */

static bool same_values(const api_series *s, size_t n, const char *const *values,
                        const size_t *lens) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(s->values[i], values[i], lens[i]) != 0 || s->values[i][lens[i]] != '\0')
      return false;
  return true;
}

static api_series *probe(api__metric *x, uint64_t h, const char *const *values,
                         const size_t *lens) {
  for (size_t i = (size_t)h & x->mask;; i = (i + 1) & x->mask) {
    api_series *s = atomic_load_explicit(&x->slots[i], memory_order_acquire);
    if (!s) return NULL;
    if (s->hash == h && same_values(s, x->nlabels, values, lens)) return s;
  }
}

static int drop(api__metric *x, int err) {
  atomic_fetch_add_explicit(&x->dropped, 1, memory_order_relaxed);
  return err;
}

/* The series for values, created if needed: the recording path. Lock-free when it exists. */
static int find_series(api__metric *x, const char *const *values, api_series **out) {
  *out = NULL;
  if (!x->nlabels) {
    *out = x->single;
    return 0;
  }
  if (!values) return drop(x, API_EINVAL);
  size_t lens[API_METRICS_MAX_LABELS];
  for (size_t i = 0; i < x->nlabels; i++) {
    if (!values[i]) return drop(x, API_EINVAL);
    lens[i] = strnlen(values[i], x->max_value_len + 1);
    if (lens[i] > x->max_value_len) return drop(x, API_EINVAL);
  }
  uint64_t h = hash_values(x->registry->seed, x->nlabels, values, lens);
  api_series *s = probe(x, h, values, lens);
  if (s) {
    *out = s;
    return 0;
  }
  /* Past the bound nothing is created: refuse without the lock, so a flood of new values does
   * not serialize the workers. */
  if (atomic_load_explicit(&x->nseries, memory_order_relaxed) >= x->max_series)
    return drop(x, API_EUNAVAILABLE);
  /* Only values that create a series are checked: one that is not UTF-8 never matches. */
  for (size_t k = 0; k < x->nlabels; k++)
    if (!valid_utf8((const unsigned char *)values[k], lens[k])) return drop(x, API_EINVAL);
  pthread_mutex_lock(&x->mu);
  int rc = 0;
  size_t i = (size_t)h & x->mask;
  for (;; i = (i + 1) & x->mask) {
    s = atomic_load_explicit(&x->slots[i], memory_order_relaxed);
    if (!s) break;
    if (s->hash == h && same_values(s, x->nlabels, values, lens)) goto done; /* lost a race */
  }
  if (atomic_load_explicit(&x->nseries, memory_order_relaxed) >= x->max_series) {
    rc = drop(x, API_EUNAVAILABLE);
    goto done;
  }
  s = series_alloc(x, values, lens, h);
  if (!s) {
    rc = drop(x, API_ENOMEM);
    goto done;
  }
  series_link(x, s);
  atomic_store_explicit(&x->nseries, atomic_load_explicit(&x->nseries, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  atomic_store_explicit(&x->slots[i], s, memory_order_release);
done:
  pthread_mutex_unlock(&x->mu);
  *out = rc ? NULL : s;
  return rc;
}

static int typed_series(api__metric *x, api__mkind kind, const char *const *values,
                        api_series **out) {
  *out = NULL;
  if (!x || x->kind != kind) return API_EINVAL;
  return find_series(x, values, out);
}

int api_counter_series(api_counter *c, const char *const *values, api_series **out) {
  return typed_series((api__metric *)c, API__M_COUNTER, values, out);
}

int api_gauge_series(api_gauge *g, const char *const *values, api_series **out) {
  return typed_series((api__metric *)g, API__M_GAUGE, values, out);
}

int api_histogram_series(api_histogram *h, const char *const *values, api_series **out) {
  return typed_series((api__metric *)h, API__M_HISTOGRAM, values, out);
}

/* ---- recording ---- */

static void add_double(_Atomic uint64_t *bits, double v) {
  uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(bits, &old,
                                                api__double_bits(api__bits_double(old) + v),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

int api_series_add(api_series *s, double v) {
  if (!s) return API_EINVAL;
  switch (s->metric->kind) {
    case API__M_COUNTER:
      if (!(v >= 0) || !isfinite(v)) return API_EINVAL;
      if (v < 9007199254740992.0 && v == (double)(uint64_t)v)
        atomic_fetch_add_explicit(&s->ival, (uint64_t)v, memory_order_relaxed);
      else
        add_double(&s->bits, v);
      return 0;
    case API__M_GAUGE:
      if (isnan(v)) return API_EINVAL;
      add_double(&s->bits, v);
      return 0;
    default:
      return API_EINVAL;
  }
}

int api_series_inc(api_series *s) {
  if (s && s->metric->kind == API__M_COUNTER) {
    atomic_fetch_add_explicit(&s->ival, 1, memory_order_relaxed);
    return 0;
  }
  return api_series_add(s, 1);
}

int api_series_sub(api_series *s, double v) {
  if (!s || s->metric->kind != API__M_GAUGE || isnan(v)) return API_EINVAL;
  add_double(&s->bits, -v);
  return 0;
}

int api_series_set(api_series *s, double v) {
  if (!s || s->metric->kind != API__M_GAUGE) return API_EINVAL;
  atomic_store_explicit(&s->bits, api__double_bits(v), memory_order_relaxed);
  return 0;
}

int api_series_observe(api_series *s, double v) {
  if (!s || s->metric->kind != API__M_HISTOGRAM || isnan(v)) return API_EINVAL;
  const api__metric *x = s->metric;
  size_t i = 0;
  if (x->nbuckets <= 16) {
    while (i < x->nbuckets && v > x->bounds[i]) i++;
  } else { /* the first bound >= v */
    size_t lo = 0, hi = x->nbuckets;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (v > x->bounds[mid])
        lo = mid + 1;
      else
        hi = mid;
    }
    i = lo;
  }
  atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
  add_double(&s->bits, v);
  return 0;
}

double api_series_value(const api_series *s) {
  if (!s) return NAN;
  api_series *w = (api_series *)s; /* atomic loads take non-const pointers in C11 */
  switch (s->metric->kind) {
    case API__M_COUNTER:
      return (double)atomic_load_explicit(&w->ival, memory_order_relaxed) +
             api__bits_double(atomic_load_explicit(&w->bits, memory_order_relaxed));
    case API__M_GAUGE:
      return api__bits_double(atomic_load_explicit(&w->bits, memory_order_relaxed));
    case API__M_HISTOGRAM: {
      uint64_t n = 0;
      for (size_t i = 0; i <= s->metric->nbuckets; i++)
        n += atomic_load_explicit(&w->buckets[i], memory_order_relaxed);
      return (double)n;
    }
    default:
      return NAN;
  }
}

/* ---- recording by label values ---- */

static int record(api__metric *x, api__mkind kind, const char *const *values, int op, double v) {
  if (!x || x->kind != kind) return API_EINVAL;
  /* Refuse a bad number before the lookup, so that it creates no series. */
  if (kind == API__M_COUNTER && (!(v >= 0) || !isfinite(v))) return API_EINVAL;
  if (kind != API__M_COUNTER && op != 's' && isnan(v)) return API_EINVAL;
  api_series *s;
  int rc = find_series(x, values, &s);
  if (rc) return rc;
  switch (op) {
    case 'a':
      return api_series_add(s, v);
    case 's':
      return api_series_set(s, v);
    default:
      return api_series_observe(s, v);
  }
}

int api_counter_inc(api_counter *c, const char *const *values) {
  return record((api__metric *)c, API__M_COUNTER, values, 'a', 1);
}

int api_counter_add(api_counter *c, const char *const *values, double v) {
  return record((api__metric *)c, API__M_COUNTER, values, 'a', v);
}

int api_gauge_set(api_gauge *g, const char *const *values, double v) {
  return record((api__metric *)g, API__M_GAUGE, values, 's', v);
}

int api_gauge_add(api_gauge *g, const char *const *values, double v) {
  return record((api__metric *)g, API__M_GAUGE, values, 'a', v);
}

int api_gauge_sub(api_gauge *g, const char *const *values, double v) {
  return record((api__metric *)g, API__M_GAUGE, values, 'a', -v);
}

int api_histogram_observe(api_histogram *h, const char *const *values, double v) {
  return record((api__metric *)h, API__M_HISTOGRAM, values, 'o', v);
}
