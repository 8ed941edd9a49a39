/* Request metrics for Prometheus, and the app's metrics registry. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/app_internal.h"
#include "core/error_internal.h"
#include "libapi/api.h"
#include "net/net.h"
#include "util/alloc.h"

typedef struct mx {
  api_app *app;
  api_counter *requests;
  api_histogram *duration;
  api_series *in_flight;
} mx;

static const char in_flight_key = 0; /* api_req_local: on_request counted this request */

api_metrics *api_app_metrics(api_app *app) {
  if (!app->metrics && api_metrics_new(&app->metrics) != 0) app->metrics = NULL;
  return app->metrics;
}

/* A bounded method label: the standard methods as they are, anything else "OTHER". */
static const char *method_label(const char *m) {
  static const char *const known[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                      "PATCH", "OPTIONS", "TRACE", "CONNECT"};
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (strcmp(m, known[i]) == 0) return known[i];
  return "OTHER";
}

static int on_request(api_req *req, api_res *res, void *ud) {
  mx *m = ud;
  if (api_req_set_local(req, &in_flight_key, m) == 0) api_series_inc(m->in_flight);
  return API_NEXT;
}

static int on_response(api_req *req, api_res *res, void *ud) {
  mx *m = ud;
  if (api_req_local(req, &in_flight_key)) api_series_sub(m->in_flight, 1);
  const char *route = api_req_route(req);
  const char *method = method_label(api_req_method(req));
  int code = api_res_get_status(res); /* 100..599: three digits */
  char status[4] = {(char)('0' + code / 100), (char)('0' + code / 10 % 10), (char)('0' + code % 10),
                    '\0'};
  api_counter_inc(m->requests, (const char *[]){method, route ? route : "unmatched", status});
  api_histogram_observe(m->duration, (const char *[]){method, route ? route : "unmatched"},
                        (double)api_req_elapsed_ns(req) / 1e9);
  return API_NEXT;
}

static int serve(api_req *req, api_res *res, void *ud) {
  mx *m = ud;
  char *text;
  size_t len;
  int rc = api_metrics_render(api_app_metrics(m->app), &text, &len);
  if (rc) return rc;
  rc = api_res_body(res, API_METRICS_CONTENT_TYPE, text, len);
  api_metrics_text_free(text);
  if (!rc) rc = api_res_header(res, "Cache-Control", "no-store");
  return rc;
}

static double read_stat(const api_app *app, size_t offset) {
  return app->server ? (double)api__server_stat(app->server, offset) : NAN;
}
static double read_conns(void *ud) { return read_stat(ud, offsetof(api__worker, stat_conns)); }
static double read_in(void *ud) { return read_stat(ud, offsetof(api__worker, stat_bytes_in)); }
static double read_out(void *ud) { return read_stat(ud, offsetof(api__worker, stat_bytes_out)); }
static double read_dropped(void *ud) {
  api_app *app = ud;
  return app->logger ? (double)api_logger_dropped(app->logger) : 0;
}

static void mx_free(void *p) { api__free(p); }

int api_mw_metrics(api_app *app, const api_metrics_options *opts, api_middleware *out) {
  api_metrics_options o = {0};
  if (opts) memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
  const char *path = o.path ? o.path : "/metrics";
  api_metrics *reg = api_app_metrics(app);
  if (!reg) return API_ENOMEM;
  mx *m = api__calloc(1, sizeof(*m));
  if (!m) return API_ENOMEM;
  m->app = app;
  int rc = api_app_on_free(app, mx_free, m);
  if (rc) return rc;
  api_gauge *in_flight;
  rc = api_counter_new(reg,
                       API_METRIC(.name = "http_requests_total", .help = "HTTP requests answered.",
                                  .labels = (const char *[]){"method", "route", "status", NULL}),
                       &m->requests);
  if (!rc)
    rc = api_histogram_new(
        reg,
        API_METRIC(.name = "http_request_duration_seconds",
                   .help = "Time from the request's first byte to its response being written.",
                   .labels = (const char *[]){"method", "route", NULL}, .buckets = o.buckets,
                   .nbuckets = o.nbuckets),
        &m->duration);
  if (!rc)
    rc = api_gauge_new(reg,
                       API_METRIC(.name = "http_requests_in_flight",
                                  .help = "Requests received and not yet answered."),
                       &in_flight);
  if (!rc) rc = api_gauge_series(in_flight, NULL, &m->in_flight);
  if (!rc)
    rc = api_metrics_callback(
        reg, API_METRIC_GAUGE,
        API_METRIC(.name = "http_connections_open", .help = "Open client connections.",
                   .read = read_conns, .user_data = app));
  if (!rc)
    rc = api_metrics_callback(
        reg, API_METRIC_COUNTER,
        API_METRIC(.name = "http_received_bytes_total", .help = "Bytes read from clients.",
                   .read = read_in, .user_data = app));
  if (!rc)
    rc = api_metrics_callback(
        reg, API_METRIC_COUNTER,
        API_METRIC(.name = "http_sent_bytes_total", .help = "Bytes written to clients.",
                   .read = read_out, .user_data = app));
  if (!rc)
    rc = api_metrics_callback(
        reg, API_METRIC_COUNTER,
        API_METRIC(.name = "libapi_log_dropped_total",
                   .help = "Log lines dropped because a thread's log buffer was full.",
                   .read = read_dropped, .user_data = app));
  if (!rc && !o.no_process_metrics) rc = api_metrics_add_process(reg);
  if (!rc && *path)
    rc = api_app_route(app, API_ROUTE(.method = "GET", .path = path, .handler = serve,
                                      .user_data = m, .summary = "Prometheus metrics"));
  if (rc) return rc;
  *out = (api_middleware){.size = sizeof(*out),
                          .name = "metrics",
                          .on_request = on_request,
                          .on_response = on_response,
                          .user_data = m};
  return 0;
}
