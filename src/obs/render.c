/* The Prometheus text exposition format 0.0.4. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "obs/obs_internal.h"
#include "util/alloc.h"

#define APPEND(b, lit) api__buf_append((b), (lit), sizeof(lit) - 1)

static bool append_str(api__buf *b, const char *s) { return api__buf_append(b, s, strlen(s)); }

static bool append_u64(api__buf *b, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
  return api__buf_append(b, tmp, (size_t)n);
}

size_t api__metrics_fmt(char out[API__FMT_SIZE], double v) {
  if (isnan(v)) return (size_t)snprintf(out, API__FMT_SIZE, "NaN");
  if (isinf(v)) return (size_t)snprintf(out, API__FMT_SIZE, "%s", v > 0 ? "+Inf" : "-Inf");
  int n = 0;
  if (v == 0) {
    n = snprintf(out, API__FMT_SIZE, "%s", signbit(v) ? "-0" : "0");
  } else if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
    n = snprintf(out, API__FMT_SIZE, "%.0f", v);
  } else {
    /* The shortest of 15, 16 or 17 significant digits that reads back exactly. The check runs
     * before the decimal point is fixed below, so it works in any LC_NUMERIC locale. */
    for (int prec = 15; prec <= 17; prec++) {
      n = snprintf(out, API__FMT_SIZE, "%.*g", prec, v);
      if (strtod(out, NULL) == v) break;
    }
  }
  for (int i = 0; i < n; i++)
    if (out[i] != '-' && out[i] != '+' && out[i] != 'e' && (out[i] < '0' || out[i] > '9'))
      out[i] = '.'; /* a locale's decimal comma */
  return (size_t)n;
}

static bool append_double(api__buf *b, double v) {
  char tmp[API__FMT_SIZE];
  size_t n = api__metrics_fmt(tmp, v);
  return api__buf_append(b, tmp, n);
}

/* Escape for a label value (quote true: \\, \" and \n) or a HELP line (\\ and \n). */
static bool append_escaped(api__buf *b, const char *s, bool quote) {
  const char *run = s;
  for (const char *p = s;; p++) {
    char c = *p;
    const char *esc = NULL;
    if (c == '\\')
      esc = "\\\\";
    else if (c == '\n')
      esc = "\\n";
    else if (c == '"' && quote)
      esc = "\\\"";
    else if (c != '\0')
      continue;
    if (!api__buf_append(b, run, (size_t)(p - run))) return false;
    if (!esc) return true;
    if (!api__buf_append(b, esc, 2)) return false;
    run = p + 1;
  }
}

/* l1="v1",l2="v2" (nothing for a metric without labels). */
static bool append_label_pairs(api__buf *b, const api__metric *x, const api_series *s) {
  for (size_t i = 0; i < x->nlabels; i++) {
    if (i && !APPEND(b, ",")) return false;
    if (!append_str(b, x->labels[i]) || !APPEND(b, "=\"") ||
        !append_escaped(b, s->values[i], true) || !APPEND(b, "\""))
      return false;
  }
  return true;
}

/* {l1="v1",...} or nothing for a metric without labels. */
static bool append_labels(api__buf *b, const api__metric *x, const api_series *s) {
  if (!x->nlabels) return true;
  return APPEND(b, "{") && append_label_pairs(b, x, s) && APPEND(b, "}");
}

static bool append_header(api__buf *b, const char *name, const char *help, const char *type) {
  return APPEND(b, "# HELP ") && append_str(b, name) && APPEND(b, " ") &&
         append_escaped(b, help, false) && APPEND(b, "\n# TYPE ") && append_str(b, name) &&
         APPEND(b, " ") && append_str(b, type) && APPEND(b, "\n");
}

static bool render_counter(api__buf *b, const api__metric *x, api_series *s) {
  uint64_t i = atomic_load_explicit(&s->ival, memory_order_relaxed);
  uint64_t bits = atomic_load_explicit(&s->bits, memory_order_relaxed);
  if (!append_str(b, x->name) || !append_labels(b, x, s) || !APPEND(b, " ")) return false;
  bool ok = bits == 0 ? append_u64(b, i) : append_double(b, (double)i + api__bits_double(bits));
  return ok && APPEND(b, "\n");
}

static bool render_gauge(api__buf *b, const api__metric *x, api_series *s) {
  double v = api__bits_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
  return append_str(b, x->name) && append_labels(b, x, s) && APPEND(b, " ") &&
         append_double(b, v) && APPEND(b, "\n");
}

/* The label pairs are escaped once into scratch, then copied into each of the series' lines. */
static bool render_histogram(api__buf *b, const api__metric *x, api_series *s, api__buf *scratch) {
  scratch->len = 0;
  if (!append_label_pairs(scratch, x, s) || (x->nlabels && !APPEND(scratch, ","))) return false;
  size_t name_len = strlen(x->name);
  uint64_t total = 0;
  for (size_t i = 0; i <= x->nbuckets; i++) {
    total += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    if (!api__buf_append(b, x->name, name_len) || !APPEND(b, "_bucket{") ||
        !api__buf_append(b, scratch->data, scratch->len) || !APPEND(b, "le=\"") ||
        !append_str(b, x->le[i]) || !APPEND(b, "\"} ") || !append_u64(b, total) || !APPEND(b, "\n"))
      return false;
  }
  if (x->nlabels) scratch->len--; /* the trailing comma */
  const char *open = x->nlabels ? "{" : "", *close = x->nlabels ? "}" : "";
  double sum = api__bits_double(atomic_load_explicit(&s->bits, memory_order_relaxed));
  return api__buf_append(b, x->name, name_len) && APPEND(b, "_sum") && append_str(b, open) &&
         api__buf_append(b, scratch->data, scratch->len) && append_str(b, close) &&
         APPEND(b, " ") && append_double(b, sum) && APPEND(b, "\n") &&
         api__buf_append(b, x->name, name_len) && APPEND(b, "_count") && append_str(b, open) &&
         api__buf_append(b, scratch->data, scratch->len) && append_str(b, close) &&
         APPEND(b, " ") && append_u64(b, total) && APPEND(b, "\n");
}

static const char *type_name(api__mkind k) {
  switch (k) {
    case API__M_COUNTER:
    case API__M_CALLBACK_COUNTER:
      return "counter";
    case API__M_HISTOGRAM:
      return "histogram";
    default:
      return "gauge";
  }
}

static bool render_metric(api__buf *b, api__metric *x, api__buf *scratch) {
  if (!append_header(b, x->name, x->help, type_name(x->kind))) return false;
  if (x->kind == API__M_CALLBACK_COUNTER || x->kind == API__M_CALLBACK_GAUGE) {
    double v = x->read(x->user_data);
    return append_str(b, x->name) && APPEND(b, " ") && append_double(b, v) && APPEND(b, "\n");
  }
  bool ok = true;
  pthread_mutex_lock(&x->mu);
  for (api_series *s = x->first; s && ok; s = s->next) {
    if (x->kind == API__M_COUNTER)
      ok = render_counter(b, x, s);
    else if (x->kind == API__M_GAUGE)
      ok = render_gauge(b, x, s);
    else
      ok = render_histogram(b, x, s, scratch);
  }
  pthread_mutex_unlock(&x->mu);
  return ok;
}

static bool render_dropped(api__buf *b, api_metrics *m) {
  if (!append_header(b, "libapi_metrics_series_dropped_total",
                     "Records that went to no series: the metric's series bound was reached, or a "
                     "label value was missing, too long or not UTF-8, or memory ran out.",
                     "counter"))
    return false;
  for (api__metric *x = m->first; x; x = x->next) {
    if (!x->nlabels) continue;
    if (!APPEND(b, "libapi_metrics_series_dropped_total{metric=\"") || !append_str(b, x->name) ||
        !APPEND(b, "\"} ") || !append_u64(b, atomic_load(&x->dropped)) || !APPEND(b, "\n"))
      return false;
  }
  return true;
}

int api_metrics_render(api_metrics *m, char **out, size_t *len) {
  *out = NULL;
  if (len) *len = 0;
  if (!m) return api__fail(API_EINVAL, "metrics: no registry");
  api__buf b = {0}, scratch = {0};
  bool ok = api__buf_reserve(&b, 4096) && api__buf_reserve(&scratch, 256);
  pthread_mutex_lock(&m->mu);
  for (api__metric *x = m->first; x && ok; x = x->next) ok = render_metric(&b, x, &scratch);
  ok = ok && render_dropped(&b, m);
  pthread_mutex_unlock(&m->mu);
  api__buf_free(&scratch);
  if (!ok || !api__buf_append(&b, "", 1)) {
    api__buf_free(&b);
    return api__fail(API_ENOMEM, "metrics: out of memory while rendering");
  }
  *out = b.data;
  if (len) *len = b.len - 1;
  return 0;
}

void api_metrics_text_free(char *text) { api__free(text); }
