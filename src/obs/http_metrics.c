/* The standard HTTP metrics with normalized label values (see http_metrics.h). */
#include "obs/http_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char *const methods[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                      "PATCH", "OPTIONS", "TRACE", "CONNECT"};

const char *api__http_metrics_method(const char *method) {
  if (method)
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
      if (strcmp(method, methods[i]) == 0) return methods[i];
  return "OTHER";
}

/* "100".."599", built once; no formatting per request. */
static char statuses[500][4];
static pthread_once_t statuses_once = PTHREAD_ONCE_INIT;

static void build_statuses(void) {
  for (int i = 0; i < 500; i++) snprintf(statuses[i], sizeof(statuses[i]), "%d", 100 + i);
}

static const char *status_value(int status) {
  if (status < 100 || status > 599) return "other";
  pthread_once(&statuses_once, build_statuses);
  return statuses[status - 100];
}

int api__http_metrics_init(api__http_metrics *hm, api_metrics *m) {
  memset(hm, 0, sizeof(*hm));
  api_counter *in, *out;
  int rc;
  if ((rc = api_counter_new(
           m,
           API_METRIC(.name = "http_requests_total",
                      .help = "HTTP requests answered, by method, route "
                              "pattern and status.",
                      .labels = (const char *[]){"method", "route", "status", NULL}),
           &hm->requests)) ||
      (rc = api_histogram_new(m,
                              API_METRIC(.name = "http_request_duration_seconds",
                                         .help = "Time from a request's first byte to the end of "
                                                 "its response, in seconds.",
                                         .labels = (const char *[]){"method", "route", NULL}),
                              &hm->duration)) ||
      (rc = api_counter_new(
           m, API_METRIC(.name = "http_request_bytes_total", .help = "Request body bytes read."),
           &in)) ||
      (rc = api_counter_new(
           m, API_METRIC(.name = "http_response_bytes_total", .help = "Response body bytes sent."),
           &out)) ||
      (rc = api_counter_series(in, NULL, &hm->bytes_in)) ||
      (rc = api_counter_series(out, NULL, &hm->bytes_out))) {
    memset(hm, 0, sizeof(*hm));
    return rc;
  }
  return 0;
}

void api__http_metrics_record(const api__http_metrics *hm, const char *method, const char *route,
                              int status, double seconds, uint64_t bytes_in, uint64_t bytes_out) {
  const char *m = api__http_metrics_method(method);
  const char *r = route ? route : "(unmatched)";
  api_counter_inc(hm->requests, (const char *const[]){m, r, status_value(status)});
  if (seconds >= 0) api_histogram_observe(hm->duration, (const char *const[]){m, r}, seconds);
  if (bytes_in) api_series_add(hm->bytes_in, (double)bytes_in);
  if (bytes_out) api_series_add(hm->bytes_out, (double)bytes_out);
}
