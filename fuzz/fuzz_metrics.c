/*
 * Metrics fuzzer: the input's NUL-separated pieces are label values, recorded in pairs into a
 * counter with a small series bound and singly into a histogram; the rendered text must keep every
 * sample on one line, read back to exactly the accepted values, and hold no more series than the
 * bound. Each 8-byte run of the input is also formatted as a double and must read back the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libapi/metrics.h"
#include "obs/obs_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SERIES 8
#define MAX_TOKENS 64

/* Undo the label value escaping from p (after the opening quote) into out; the end (the closing
 * quote), or NULL if the text is not what the format allows. */
static const char *unescape(const char *p, char *out, size_t cap) {
  size_t n = 0;
  for (; *p != '"'; p++) {
    if (*p == '\0' || *p == '\n' || n + 1 >= cap) return NULL;
    char c = *p;
    if (c == '\\') {
      p++;
      if (*p == 'n')
        c = '\n';
      else if (*p == '\\' || *p == '"')
        c = *p;
      else
        return NULL;
    }
    out[n++] = c;
  }
  out[n] = '\0';
  return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t bits;
    memcpy(&bits, data + i, 8);
    double v = api__bits_double(bits);
    char buf[API__FMT_SIZE];
    size_t n = api__metrics_fmt(buf, v);
    if (n != strlen(buf) || n >= sizeof(buf)) abort();
    if (v == v && strtod(buf, NULL) != v) abort();
  }

  char *copy = malloc(size + 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  copy[size] = '\0';
  const char *tok[MAX_TOKENS];
  size_t ntok = 0;
  for (size_t i = 0; i <= size && ntok < MAX_TOKENS; i += strlen(copy + i) + 1)
    tok[ntok++] = copy + i;

  api_metrics *m;
  api_counter *c;
  api_histogram *h;
  if (api_metrics_new(&m) ||
      api_counter_new(m,
                      API_METRIC(.name = "c", .labels = (const char *[]){"a", "b", NULL},
                                 .max_series = MAX_SERIES, .max_value_len = 32),
                      &c) ||
      api_histogram_new(m, API_METRIC(.name = "h", .labels = (const char *[]){"a", NULL}), &h))
    abort();
  int accepted[MAX_TOKENS] = {0};
  for (size_t i = 0; i + 1 < ntok; i += 2) {
    int rc = api_counter_inc(c, (const char *const[]){tok[i], tok[i + 1]});
    if (rc == 0) accepted[i] = 1;
    api_histogram_observe(h, (const char *const[]){tok[i]}, (double)i);
  }
  char *text;
  size_t len;
  if (api_metrics_render(m, &text, &len) || strlen(text) != len) abort();
  size_t series = 0;
  for (const char *p = text; *p;) {
    const char *e = strchr(p, '\n');
    if (!e) abort(); /* every line ends */
    if (strncmp(p, "c{a=\"", 5) == 0) {
      char a[64], b[64];
      const char *q = unescape(p + 5, a, sizeof(a));
      if (!q || strncmp(q, "\",b=\"", 5) != 0) abort();
      q = unescape(q + 5, b, sizeof(b));
      if (!q || strncmp(q, "\"} ", 3) != 0 || q > e) abort();
      int found = 0;
      for (size_t i = 0; i + 1 < ntok && !found; i += 2)
        found = accepted[i] && strcmp(tok[i], a) == 0 && strcmp(tok[i + 1], b) == 0;
      if (!found) abort(); /* a sample that was never recorded */
      series++;
    } else if (*p != '#' && strncmp(p, "h_", 2) != 0 &&
               strncmp(p, "libapi_metrics_series_dropped_total{", 36) != 0) {
      abort(); /* an injected line */
    }
    p = e + 1;
  }
  if (series > MAX_SERIES) abort();
  api_metrics_text_free(text);
  api_metrics_free(m);
  free(copy);
  return 0;
}
