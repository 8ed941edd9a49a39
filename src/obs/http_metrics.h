/* The standard HTTP metrics, for the request pipeline: one call per finished request records it
 * with label values normalized so that a client cannot invent new series — methods outside the
 * registered set become "OTHER", statuses outside 100..599 become "other", and requests that
 * matched no route share the route value "(unmatched)". See docs/metrics.md. */
#ifndef API_OBS_HTTP_METRICS_H
#define API_OBS_HTTP_METRICS_H

#include <stdint.h>

#include "libapi/metrics.h"

typedef struct api__http_metrics {
  api_counter *requests;   /* http_requests_total{method,route,status} */
  api_histogram *duration; /* http_request_duration_seconds{method,route} */
  api_series *bytes_in;    /* http_request_bytes_total: request bodies */
  api_series *bytes_out;   /* http_response_bytes_total: response bodies */
} api__http_metrics;

/* Create the metrics in m. Returns 0, API_EEXIST (a name is taken) or API_ENOMEM (then the
 * metrics already created stay in m, unused). */
int api__http_metrics_init(api__http_metrics *hm, api_metrics *m);

/* Record one finished request: route is the matched pattern or NULL. Lock-free unless it is the
 * first request with these label values. Thread: any. */
void api__http_metrics_record(const api__http_metrics *hm, const char *method, const char *route,
                              int status, double seconds, uint64_t bytes_in, uint64_t bytes_out);

/* The label value used for method ("GET", ..., or "OTHER"); static. */
const char *api__http_metrics_method(const char *method);

#endif
