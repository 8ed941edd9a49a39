/* The metrics registry: name validation, values, the exact exposition text, escaping of hostile
 * label values, histogram buckets, the series bound, float formatting, process metrics. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libapi/metrics.h"
#include "obs/obs_internal.h"
#include "util/alloc.h"

#define V(...) ((const char *const[]){__VA_ARGS__})
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static api_metrics *reg;

static void setup(void) { cr_assert_eq(api_metrics_new(&reg), 0); }
static void teardown(void) {
  api_metrics_free(reg);
  reg = NULL;
}

static char *render(void) {
  char *text;
  size_t len;
  cr_assert_eq(api_metrics_render(reg, &text, &len), 0);
  cr_assert_eq(strlen(text), len);
  return text;
}

/* The sample line that starts with prefix (a series name and its labels, then a space): its
 * value as text, or NULL. */
static const char *sample(const char *text, const char *prefix, char *out, size_t outlen) {
  size_t n = strlen(prefix);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, prefix, n) == 0 && p[n] == ' ') {
      const char *v = p + n + 1, *e = strchr(v, '\n');
      snprintf(out, outlen, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
      return out;
    }
  }
  return NULL;
}

static double sample_num(const char *text, const char *prefix) {
  char buf[64];
  cr_assert_not_null(sample(text, prefix, buf, sizeof(buf)), "no sample %s in:\n%s", prefix, text);
  return strtod(buf, NULL);
}

static size_t count_lines(const char *text, const char *prefix) {
  size_t n = 0, len = strlen(prefix);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, prefix, len) == 0) n++;
  return n;
}

static double zero(void *ud) { return 0; }

TestSuite(metrics, .init = setup, .fini = teardown);

/* ---- validation ---- */

static void refuse_counter(const api_metric_opts *o, int want, const char *what) {
  api_counter *c = (api_counter *)1;
  int rc = api_counter_new(reg, o, &c);
  cr_assert_eq(rc, want, "%s: rc %d, wanted %d", what, rc, want);
  cr_assert_null(c, "%s: *out must be NULL on error", what);
  cr_assert_neq(api_last_error()[0], '\0', "%s: no message", what);
}

Test(metrics, metric_names) {
  const char *bad[] = {"", "1abc", "a-b", "a b", "__reserved", "é", "a\nb", "x{}", NULL};
  for (size_t i = 0; bad[i]; i++) refuse_counter(API_METRIC(.name = bad[i]), API_EINVAL, bad[i]);
  refuse_counter(API_METRIC(.name = NULL), API_EINVAL, "NULL name");
  const char *good[] = {"a", "_a", ":a", "a:b_c9", "A_Z", "_", NULL};
  for (size_t i = 0; good[i]; i++) {
    api_counter *c;
    cr_assert_eq(api_counter_new(reg, API_METRIC(.name = good[i]), &c), 0, "%s: %s", good[i],
                 api_last_error());
    cr_assert_not_null(c);
  }
}

Test(metrics, label_names) {
  const char *bad[] = {"", "1a", "a:b", "a-b", "__x", "le x", NULL};
  for (size_t i = 0; bad[i]; i++) {
    refuse_counter(API_METRIC(.name = "m", .labels = L("ok", bad[i])), API_EINVAL, bad[i]);
    cr_assert(strstr(api_last_error(), "label"), "%s", api_last_error());
  }
  refuse_counter(API_METRIC(.name = "m", .labels = L("a", "b", "a")), API_EINVAL, "duplicate");
  const char *many[API_METRICS_MAX_LABELS + 2];
  char names[API_METRICS_MAX_LABELS + 1][8];
  for (int i = 0; i <= API_METRICS_MAX_LABELS; i++) {
    snprintf(names[i], sizeof(names[i]), "l%d", i);
    many[i] = names[i];
  }
  many[API_METRICS_MAX_LABELS + 1] = NULL;
  refuse_counter(API_METRIC(.name = "m", .labels = many), API_EINVAL, "17 labels");
  many[API_METRICS_MAX_LABELS] = NULL;
  api_counter *c;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "m", .labels = many), &c), 0, "%s",
               api_last_error());
  /* "le" is fine on a counter, not on a histogram. */
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "m2", .labels = L("le")), &c), 0);
  api_histogram *h = (api_histogram *)1;
  cr_assert_eq(api_histogram_new(reg, API_METRIC(.name = "h", .labels = L("le")), &h), API_EINVAL);
  cr_assert_null(h);
}

Test(metrics, options_and_buckets) {
  api_histogram *h;
  struct {
    const double *b;
    size_t n;
    const char *what;
  } bad[] = {
      {(const double[]){1, 0.5}, 2, "decreasing"}, {(const double[]){1, 1}, 2, "equal"},
      {(const double[]){0.1, NAN}, 2, "NaN"},      {(const double[]){0.1, INFINITY}, 2, "+Inf"},
      {(const double[]){-INFINITY, 0}, 2, "-Inf"}, {(const double[]){1}, 0, "none"},
      {NULL, 3, "nbuckets without buckets"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = api_histogram_new(
        reg, API_METRIC(.name = "h", .buckets = bad[i].b, .nbuckets = bad[i].n), &h);
    cr_assert_eq(rc, API_EINVAL, "%s: %d", bad[i].what, rc);
  }
  double many[API_METRICS_MAX_BUCKETS + 1];
  for (int i = 0; i <= API_METRICS_MAX_BUCKETS; i++) many[i] = i;
  cr_assert_eq(
      api_histogram_new(
          reg, API_METRIC(.name = "h", .buckets = many, .nbuckets = API_METRICS_MAX_BUCKETS + 1),
          &h),
      API_EINVAL);
  cr_assert_eq(
      api_histogram_new(
          reg, API_METRIC(.name = "h", .buckets = many, .nbuckets = API_METRICS_MAX_BUCKETS), &h),
      0);
  refuse_counter(API_METRIC(.name = "m", .max_series = API_METRICS_MAX_SERIES + 1), API_EINVAL,
                 "max_series");
  refuse_counter(API_METRIC(.name = "m", .max_value_len = API_METRICS_MAX_VALUE_LEN + 1),
                 API_EINVAL, "max_value_len");
  refuse_counter(API_METRIC(.name = "m", .help = "bad \xff utf-8"), API_EINVAL, "help");
  refuse_counter(&(api_metric_opts){.name = "m"}, API_EINVAL, "no size");
  refuse_counter(API_METRIC(.name = "m", .buckets = many, .nbuckets = 2), API_EINVAL, "buckets");
  refuse_counter(NULL, API_EINVAL, "NULL opts");
  refuse_counter(API_METRIC(.name = "m", .read = zero), API_EINVAL, "read");
  cr_assert_eq(api_metrics_callback(reg, API_METRIC_GAUGE, API_METRIC(.name = "cb")), API_EINVAL);
  cr_assert_eq(api_metrics_callback(reg, 7, API_METRIC(.name = "cb")), API_EINVAL);
  /* No registry. */
  api_counter *c = (api_counter *)1;
  cr_assert_eq(api_counter_new(NULL, API_METRIC(.name = "m"), &c), API_EINVAL);
  cr_assert_null(c);
  char *text = (char *)1;
  cr_assert_eq(api_metrics_render(NULL, &text, NULL), API_EINVAL);
  cr_assert_null(text);
  cr_assert_eq(api_metrics_add_process(NULL), API_EINVAL);
  api_metrics_free(NULL);
  api_metrics_text_free(NULL);
  /* Nothing refused shows up. */
  text = render();
  cr_assert_eq(count_lines(text, "# TYPE h "), 1);
  cr_assert_eq(count_lines(text, "# TYPE "), 2, "%s", text);
  api_metrics_text_free(text);
}

static double seven(void *ud) { return 7; }

Test(metrics, duplicate_names) {
  api_counter *c;
  api_histogram *h;
  api_gauge *g;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "a"), &c), 0);
  refuse_counter(API_METRIC(.name = "a"), API_EEXIST, "same name");
  cr_assert(strstr(api_last_error(), "a"));
  cr_assert_eq(api_gauge_new(reg, API_METRIC(.name = "a"), &g), API_EEXIST);
  cr_assert_eq(api_histogram_new(reg, API_METRIC(.name = "lat"), &h), 0);
  refuse_counter(API_METRIC(.name = "lat_count"), API_EEXIST, "histogram _count");
  refuse_counter(API_METRIC(.name = "lat_bucket"), API_EEXIST, "histogram _bucket");
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "x_sum"), &c), 0);
  cr_assert_eq(api_histogram_new(reg, API_METRIC(.name = "x"), &h), API_EEXIST);
  refuse_counter(API_METRIC(.name = "libapi_metrics_series_dropped_total"), API_EEXIST, "ours");
  cr_assert_eq(api_metrics_callback(reg, API_METRIC_GAUGE, API_METRIC(.name = "a", .read = seven)),
               API_EEXIST);
  /* Nothing refused shows up. */
  char *text = render();
  cr_assert_eq(count_lines(text, "# TYPE a "), 1);
  cr_assert_eq(count_lines(text, "# TYPE "), 4, "%s", text);
  api_metrics_text_free(text);
}

/* ---- values and the exact text ---- */

static double conns(void *ud) { return *(double *)ud; }

Test(metrics, exposition_exact) {
  api_counter *req;
  api_gauge *temp;
  api_histogram *lat;
  double open = 7;
  cr_assert_eq(api_counter_new(reg,
                               API_METRIC(.name = "http_requests_total", .help = "Requests served.",
                                          .labels = L("method", "route", "status")),
                               &req),
               0);
  cr_assert_eq(api_gauge_new(reg,
                             API_METRIC(.name = "temp_celsius",
                                        .help = "A gauge\\with a backslash and\na newline."),
                             &temp),
               0);
  cr_assert_eq(api_histogram_new(
                   reg,
                   API_METRIC(.name = "latency_seconds", .help = "Latency.", .labels = L("route"),
                              .buckets = (const double[]){0.125, 0.5, 1}, .nbuckets = 3),
                   &lat),
               0);
  cr_assert_eq(api_metrics_callback(reg, API_METRIC_GAUGE,
                                    API_METRIC(.name = "open_connections", .help = "Open.",
                                               .read = conns, .user_data = &open)),
               0);
  cr_assert_eq(api_counter_inc(req, V("GET", "/users/:id", "200")), 0);
  cr_assert_eq(api_counter_add(req, V("POST", "/users", "201"), 2.5), 0);
  cr_assert_eq(api_counter_inc(req, V("GET", "/users/:id", "200")), 0);
  cr_assert_eq(api_gauge_set(temp, NULL, 3), 0);
  cr_assert_eq(api_gauge_sub(temp, NULL, 4.5), 0);
  /* 0.125 is on a bound: le is inclusive. */
  const double obs[] = {0.25, 0.125, 0.75, 3};
  for (size_t i = 0; i < 4; i++) cr_assert_eq(api_histogram_observe(lat, V("/a"), obs[i]), 0);
  open = 9;
  static const char want[] =
      "# HELP http_requests_total Requests served.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"GET\",route=\"/users/:id\",status=\"200\"} 2\n"
      "http_requests_total{method=\"POST\",route=\"/users\",status=\"201\"} 2.5\n"
      "# HELP temp_celsius A gauge\\\\with a backslash and\\na newline.\n"
      "# TYPE temp_celsius gauge\n"
      "temp_celsius -1.5\n"
      "# HELP latency_seconds Latency.\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{route=\"/a\",le=\"0.125\"} 1\n"
      "latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 2\n"
      "latency_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
      "latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
      "latency_seconds_sum{route=\"/a\"} 4.125\n"
      "latency_seconds_count{route=\"/a\"} 4\n"
      "# HELP open_connections Open.\n"
      "# TYPE open_connections gauge\n"
      "open_connections 9\n"
      "# HELP libapi_metrics_series_dropped_total Records that went to no series: the metric's "
      "series bound was reached, or a label value was missing, too long or not UTF-8, or memory "
      "ran out.\n"
      "# TYPE libapi_metrics_series_dropped_total counter\n"
      "libapi_metrics_series_dropped_total{metric=\"http_requests_total\"} 0\n"
      "libapi_metrics_series_dropped_total{metric=\"latency_seconds\"} 0\n";
  char *text = render();
  cr_assert_str_eq(text, want);
  api_metrics_text_free(text);
}

Test(metrics, empty_registry_and_unlabelled_defaults) {
  char *text = render();
  cr_assert_str_eq(text,
                   "# HELP libapi_metrics_series_dropped_total Records that went to no series: the "
                   "metric's series bound was reached, or a label value was missing, too long or "
                   "not UTF-8, or memory ran out.\n"
                   "# TYPE libapi_metrics_series_dropped_total counter\n");
  api_metrics_text_free(text);
  /* A metric without labels has its one series from the start, at zero; a labelled one has none. */
  api_counter *c;
  api_histogram *h;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "c", .labels = L("x")), &c), 0);
  cr_assert_eq(api_histogram_new(reg, API_METRIC(.name = "h"), &h), 0);
  text = render();
  cr_assert_eq(count_lines(text, "c{"), 0);
  cr_assert_eq(count_lines(text, "h_bucket{le="), 15, "default buckets + Inf:\n%s", text);
  cr_assert_eq(sample_num(text, "h_bucket{le=\"0.0005\"}"), 0);
  cr_assert_eq(sample_num(text, "h_bucket{le=\"10\"}"), 0);
  cr_assert_eq(sample_num(text, "h_count"), 0);
  cr_assert_eq(sample_num(text, "h_sum"), 0);
  api_metrics_text_free(text);
  size_t n;
  const double *b = api_metrics_default_buckets(&n);
  cr_assert_eq(n, 14);
  cr_assert_eq(b[0], 0.0005);
  cr_assert_eq(b[n - 1], 10);
}

Test(metrics, refused_values_and_types) {
  api_counter *c;
  api_gauge *g;
  api_histogram *h;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "c", .labels = L("k")), &c), 0);
  cr_assert_eq(api_gauge_new(reg, API_METRIC(.name = "g", .labels = L("k")), &g), 0);
  cr_assert_eq(api_histogram_new(reg, API_METRIC(.name = "h", .labels = L("k")), &h), 0);
  /* A refused number creates no series. */
  cr_assert_eq(api_counter_add(c, V("neg"), -1), API_EINVAL);
  cr_assert_eq(api_counter_add(c, V("nan"), NAN), API_EINVAL);
  cr_assert_eq(api_counter_add(c, V("inf"), INFINITY), API_EINVAL);
  cr_assert_eq(api_gauge_add(g, V("nan"), NAN), API_EINVAL);
  cr_assert_eq(api_histogram_observe(h, V("nan"), NAN), API_EINVAL);
  char *text = render();
  cr_assert_eq(count_lines(text, "c{"), 0, "%s", text);
  cr_assert_eq(count_lines(text, "g{"), 0);
  cr_assert_eq(count_lines(text, "h_"), 0);
  api_metrics_text_free(text);
  /* A series refuses operations of another type. */
  api_series *sc, *sg, *sh;
  cr_assert_eq(api_counter_series(c, V("x"), &sc), 0);
  cr_assert_eq(api_gauge_series(g, V("x"), &sg), 0);
  cr_assert_eq(api_histogram_series(h, V("x"), &sh), 0);
  cr_assert_eq(api_series_set(sc, 1), API_EINVAL);
  cr_assert_eq(api_series_sub(sc, 1), API_EINVAL);
  cr_assert_eq(api_series_observe(sc, 1), API_EINVAL);
  cr_assert_eq(api_series_add(sc, -0.5), API_EINVAL);
  cr_assert_eq(api_series_observe(sg, 1), API_EINVAL);
  cr_assert_eq(api_series_inc(sh), API_EINVAL);
  cr_assert_eq(api_series_add(sh, 1), API_EINVAL);
  cr_assert_eq(api_series_set(sh, 1), API_EINVAL);
  cr_assert_eq(api_series_inc(NULL), API_EINVAL);
  cr_assert_eq(api_series_observe(NULL, 1), API_EINVAL);
  cr_assert(isnan(api_series_value(NULL)));
  /* A handle of one kind passed as another (a cast) is refused, not misused. */
  cr_assert_eq(api_counter_inc((api_counter *)g, V("x")), API_EINVAL);
  api_series *s = (api_series *)1;
  cr_assert_eq(api_gauge_series((api_gauge *)h, V("x"), &s), API_EINVAL);
  cr_assert_null(s);
  cr_assert_eq(api_series_value(sc), 0);
  cr_assert_eq(api_series_value(sh), 0);
  /* Gauges take any value, NaN and infinities included. */
  cr_assert_eq(api_gauge_set(g, V("x"), NAN), 0);
  cr_assert_eq(api_gauge_set(g, V("y"), -INFINITY), 0);
  text = render();
  cr_assert_not_null(strstr(text, "g{k=\"x\"} NaN\n"), "%s", text);
  cr_assert_not_null(strstr(text, "g{k=\"y\"} -Inf\n"));
  api_metrics_text_free(text);
}

Test(metrics, counter_integral_and_fractional_parts) {
  api_counter *c;
  api_series *s;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "bytes_total"), &c), 0);
  cr_assert_eq(api_counter_series(c, NULL, &s), 0);
  cr_assert_eq(api_series_add(s, 1e6), 0);
  cr_assert_eq(api_series_add(s, 0.25), 0);
  cr_assert_eq(api_series_inc(s), 0);
  cr_assert_eq(api_series_add(s, 0), 0);
  cr_assert_eq(api_series_value(s), 1000001.25);
  /* Beyond 2^53 increments go to the double part, and the sum is still right to a double. */
  cr_assert_eq(api_series_add(s, 1e17), 0);
  cr_assert_eq(api_series_value(s), 1e17 + 1000001.25);
  char *text = render();
  cr_assert_eq(sample_num(text, "bytes_total"), 1e17 + 1000001.25, "%s", text);
  api_metrics_text_free(text);
}

/* ---- escaping ---- */

/* Undo the exposition's label value escaping; returns the end of the value (its closing quote). */
static const char *unescape(const char *p, char *out) {
  while (*p != '"') {
    cr_assert_neq(*p, '\0');
    cr_assert_neq(*p, '\n', "raw newline inside a label value");
    if (*p == '\\') {
      p++;
      cr_assert(*p == '\\' || *p == '"' || *p == 'n', "bad escape \\%c", *p);
      *out++ = *p == 'n' ? '\n' : *p;
    } else {
      *out++ = *p;
    }
    p++;
  }
  *out = '\0';
  return p;
}

Test(metrics, hostile_label_values) {
  static const char *hostile[] = {
      "a\"b", "c\\d",         "e\nf",         "\\\"",          "\"} 1\nfake_metric 9\n",
      "\\n",  "\r\t\x01\x7f", "ünïcödé ✓",    "{le=\"+Inf\"}", "",
      "\\",   "trailing\\",   "# HELP x y\n", "\n\n\n",        NULL};
  api_counter *c;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "evil", .labels = L("v", "w")), &c), 0);
  size_t n = 0;
  for (; hostile[n]; n++) cr_assert_eq(api_counter_add(c, V(hostile[n], "x"), (double)n + 1), 0);
  char *text = render();
  /* Every line is a comment or a sample of a known family: nothing was injected. */
  size_t samples = 0;
  for (const char *p = text; *p;) {
    const char *e = strchr(p, '\n');
    cr_assert_not_null(e, "unterminated line");
    if (strncmp(p, "evil{v=\"", 8) == 0) {
      char val[256];
      const char *q = unescape(p + 8, val);
      cr_assert_lt((size_t)(q - p), (size_t)(e - p), "value runs past its line");
      cr_assert_eq(strncmp(q, "\",w=\"x\"} ", 9), 0, "after the value: %.20s", q);
      double v = strtod(q + 9, NULL);
      cr_assert_str_eq(val, hostile[(size_t)v - 1], "value %g read back wrong", v);
      samples++;
    } else {
      cr_assert(*p == '#' || strncmp(p, "libapi_metrics_series_dropped_total{", 36) == 0,
                "unexpected line: %.*s", (int)(e - p), p);
    }
    p = e + 1;
  }
  cr_assert_eq(samples, n);
  api_metrics_text_free(text);
}

/* ---- histograms ---- */

Test(metrics, histogram_buckets_cumulate) {
  api_histogram *h;
  double bounds[40];
  for (int i = 0; i < 40; i++) bounds[i] = (i + 1) * 0.25; /* > 16: the binary search */
  cr_assert_eq(
      api_histogram_new(
          reg, API_METRIC(.name = "h", .labels = L("k"), .buckets = bounds, .nbuckets = 40), &h),
      0);
  api_series *s;
  cr_assert_eq(api_histogram_series(h, V("a"), &s), 0);
  /* Observe every bound, a value just above each, some below the first and above the last. */
  unsigned want[41] = {0};
  double sum = 0;
  srand(7);
  for (int i = 0; i < 5000; i++) {
    double v = (rand() % 4400) / 400.0 - 0.5; /* -0.5 .. 10.5, many exactly on a bound */
    cr_assert_eq(api_series_observe(s, v), 0);
    size_t b = 0;
    while (b < 40 && v > bounds[b]) b++;
    want[b]++;
    sum += v;
  }
  cr_assert_eq(api_series_observe(s, INFINITY), 0);
  want[40]++;
  char *text = render();
  unsigned cum = 0;
  for (int i = 0; i <= 40; i++) {
    cum += want[i];
    char key[64], le[API__FMT_SIZE];
    api__metrics_fmt(le, i < 40 ? bounds[i] : INFINITY);
    snprintf(key, sizeof(key), "h_bucket{k=\"a\",le=\"%s\"}", le);
    cr_assert_eq(sample_num(text, key), cum, "%s", key);
  }
  cr_assert_eq(sample_num(text, "h_count{k=\"a\"}"), 5001);
  cr_assert(isinf(sample_num(text, "h_sum{k=\"a\"}")));
  cr_assert_eq(api_series_value(s), 5001);
  api_metrics_text_free(text);
  /* Without the infinity the sum is exact to the double. */
  api_series *s2;
  cr_assert_eq(api_histogram_series(h, V("b"), &s2), 0);
  cr_assert_eq(api_histogram_observe(h, V("b"), 0.5), 0);
  cr_assert_eq(api_histogram_observe(h, V("b"), -2), 0);
  text = render();
  cr_assert_eq(sample_num(text, "h_sum{k=\"b\"}"), -1.5);
  cr_assert_eq(sample_num(text, "h_bucket{k=\"b\",le=\"0.25\"}"), 1);
  cr_assert_eq(sample_num(text, "h_bucket{k=\"b\",le=\"0.5\"}"), 2);
  cr_assert_eq(sample_num(text, "h_bucket{k=\"b\",le=\"+Inf\"}"), 2);
  (void)sum;
  api_metrics_text_free(text);
}

/* ---- the series bound ---- */

Test(metrics, series_bound_holds_under_random_values) {
  api_counter *c;
  api_histogram *h;
  cr_assert_eq(
      api_counter_new(
          reg, API_METRIC(.name = "req_total", .labels = L("path", "status"), .max_series = 10),
          &c),
      0);
  cr_assert_eq(api_histogram_new(reg, API_METRIC(.name = "lat", .labels = L("path")), &h), 0);
  api_series *kept;
  cr_assert_eq(api_counter_series(c, V("/kept", "200"), &kept), 0);
  char path[64], status[8];
  int refused = 0;
  for (int i = 0; i < 20000; i++) {
    snprintf(path, sizeof(path), "/random/%d/%08x", i, (unsigned)rand());
    snprintf(status, sizeof(status), "%d", 100 + i % 900);
    int rc = api_counter_inc(c, V(path, status));
    if (rc) {
      cr_assert_eq(rc, API_EUNAVAILABLE);
      refused++;
    }
    if (i < 1500) api_histogram_observe(h, V(path), 0.1);
  }
  cr_assert_eq(refused, 20000 - 9);
  /* A lookup past the bound gives no handle, and counts once. */
  api_series *s = (api_series *)1;
  cr_assert_eq(api_counter_series(c, V("/new", "1"), &s), API_EUNAVAILABLE);
  cr_assert_null(s);
  cr_assert_eq(api_series_inc(s), API_EINVAL);
  /* Existing series still work, by handle and by values. */
  cr_assert_eq(api_series_inc(kept), 0);
  cr_assert_eq(api_counter_inc(c, V("/kept", "200")), 0);
  cr_assert_eq(api_series_value(kept), 2);
  char *text = render();
  cr_assert_eq(count_lines(text, "req_total{"), 10);
  cr_assert_eq(count_lines(text, "lat_count{"), 1000, "default bound");
  cr_assert_eq(sample_num(text, "libapi_metrics_series_dropped_total{metric=\"req_total\"}"),
               20000 - 9 + 1);
  cr_assert_eq(sample_num(text, "libapi_metrics_series_dropped_total{metric=\"lat\"}"), 500);
  cr_assert_eq(api__metrics_dropped(reg), 20000 - 9 + 1 + 500);
  api_metrics_text_free(text);
}

Test(metrics, label_value_length_and_encoding) {
  api_counter *c, *c2;
  cr_assert_eq(api_counter_new(reg, API_METRIC(.name = "c", .labels = L("a", "b")), &c), 0);
  cr_assert_eq(
      api_counter_new(reg, API_METRIC(.name = "c2", .labels = L("a"), .max_value_len = 4), &c2), 0);
  char v[API_METRICS_DEFAULT_MAX_VALUE_LEN + 2];
  memset(v, 'x', sizeof(v) - 1);
  v[sizeof(v) - 1] = '\0';
  cr_assert_eq(api_counter_inc(c, V("ok", v)), API_EINVAL, "129 bytes");
  v[API_METRICS_DEFAULT_MAX_VALUE_LEN] = '\0';
  cr_assert_eq(api_counter_inc(c, V("ok", v)), 0, "128 bytes");
  cr_assert_eq(api_counter_inc(c2, V("abcde")), API_EINVAL);
  cr_assert_eq(api_counter_inc(c2, V("abcd")), 0);
  cr_assert_eq(api_counter_inc(c, V("ok", NULL)), API_EINVAL);
  cr_assert_eq(api_counter_inc(c, NULL), API_EINVAL);
  /* Not UTF-8: overlong, surrogate, truncated, stray continuation, above U+10FFFF. */
  const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80",     "ab\xe2\x82",
                       "\x80",     "\xf4\x90\x80\x80", "\xff"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(api_counter_inc(c, V("ok", bad[i])), API_EINVAL, "bad[%zu]", i);
  cr_assert_eq(api_counter_inc(c, V("ok", "\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9")), 0);
  char *text = render();
  cr_assert_eq(count_lines(text, "c{"), 2, "%s", text);
  cr_assert_eq(sample_num(text, "libapi_metrics_series_dropped_total{metric=\"c\"}"), 3 + 6);
  cr_assert_eq(sample_num(text, "libapi_metrics_series_dropped_total{metric=\"c2\"}"), 1);
  api_metrics_text_free(text);
}

/* ---- number formatting ---- */

static const char *fmt(double v) {
  static char buf[API__FMT_SIZE];
  api__metrics_fmt(buf, v);
  return buf;
}

Test(metrics, number_format) {
  cr_assert_str_eq(fmt(0), "0");
  cr_assert_str_eq(fmt(-0.0), "-0");
  cr_assert_str_eq(fmt(1), "1");
  cr_assert_str_eq(fmt(-42), "-42");
  cr_assert_str_eq(fmt(0.1), "0.1");
  cr_assert_str_eq(fmt(0.0005), "0.0005");
  cr_assert_str_eq(fmt(2.5), "2.5");
  cr_assert_str_eq(fmt(1e-7), "1e-07");
  cr_assert_str_eq(fmt(9007199254740991.0), "9007199254740991");
  cr_assert_str_eq(fmt(INFINITY), "+Inf");
  cr_assert_str_eq(fmt(-INFINITY), "-Inf");
  cr_assert_str_eq(fmt(NAN), "NaN");
  cr_assert_str_eq(fmt(0.1 + 0.2), "0.30000000000000004");
  /* Everything reads back to the same double. */
  srand(11);
  for (int i = 0; i < 100000; i++) {
    uint64_t bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
    double v = api__bits_double(bits);
    if (!isfinite(v)) continue;
    const char *s = fmt(v);
    cr_assert_lt(strlen(s), (size_t)API__FMT_SIZE);
    cr_assert_eq(strtod(s, NULL), v, "%s", s);
    cr_assert_eq(strspn(s, "0123456789.e+-"), strlen(s), "%s", s);
  }
}

/* ---- process metrics ---- */

Test(metrics, process_metrics) {
  cr_assert_eq(api_metrics_add_process(reg), 0);
  cr_assert_eq(api_metrics_add_process(reg), 0, "a second call is harmless");
  char *text = render();
  cr_assert_gt(sample_num(text, "process_resident_memory_bytes"), 4096);
  cr_assert_gt(sample_num(text, "process_virtual_memory_bytes"),
               sample_num(text, "process_resident_memory_bytes"));
  double fds = sample_num(text, "process_open_fds");
  cr_assert_geq(fds, 3);
  cr_assert_lt(fds, sample_num(text, "process_max_fds") + 1);
  double start = sample_num(text, "process_start_time_seconds");
  double age = (double)time(NULL) - start;
  cr_assert(age > -600 && age < 600, "start %f", start);
  cr_assert_geq(sample_num(text, "process_cpu_seconds_total"), 0);
  cr_assert_eq(count_lines(text, "# TYPE process_cpu_seconds_total counter"), 1);
  cr_assert_eq(count_lines(text, "# TYPE process_"), 6);
  api_metrics_text_free(text);
  /* A user metric with one of the names makes it fail. */
  api_metrics *other;
  api_gauge *g;
  cr_assert_eq(api_metrics_new(&other), 0);
  cr_assert_eq(api_gauge_new(other, API_METRIC(.name = "process_open_fds"), &g), 0);
  cr_assert_eq(api_metrics_add_process(other), API_EEXIST);
  api_metrics_free(other);
}
