/* metrics: Prometheus metrics and a readiness endpoint — a counter and a latency histogram per
 * route recorded from handlers, /metrics rendered on demand, /ready run on the offload pool. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <libapi/api.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static api_metrics *metrics;
static api_counter *requests;
static api_histogram *latency;
static api_health *health;
static atomic_long jobs_queued;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Until the request pipeline records metrics itself, a handler records its own. Label values are
 * the route pattern, never the raw path, so that the number of series stays bounded. */
static void record(api_req *req, int status, double started) {
  char code[8];
  snprintf(code, sizeof(code), "%d", status);
  const char *route = api_req_route(req) ? api_req_route(req) : "(none)";
  api_counter_inc(requests, (const char *[]){api_req_method(req), route, code});
  api_histogram_observe(latency, (const char *[]){api_req_method(req), route}, now() - started);
}

/* GET /users/:id -> {"data":{"id":"..."}} */
static int user_handler(api_req *req, api_res *res, void *user_data) {
  double started = now();
  int rc = api_res_data(res, 200, json_pack("{s:s}", "id", api_req_param(req, "id")), NULL);
  record(req, rc ? 500 : 200, started);
  atomic_fetch_add(&jobs_queued, 1);
  return rc;
}

/* GET /metrics: the Prometheus text format. */
static int metrics_handler(api_req *req, api_res *res, void *user_data) {
  char *text;
  size_t len;
  int rc = api_metrics_render(metrics, &text, &len);
  if (rc) return rc;
  rc = api_res_body(res, API_METRICS_CONTENT_TYPE, text, len);
  api_metrics_text_free(text);
  return rc;
}

/* GET /ready: the checks may block, so they run on the offload pool. */
typedef struct {
  int status;
  char *body;
  size_t len;
  int rc;
} ready_ctx;

static void ready_work(void *user_data) {
  ready_ctx *c = user_data;
  c->rc = api_health_run(health, &c->status, &c->body, &c->len);
}

static int ready_done(api_req *req, api_res *res, void *user_data) {
  ready_ctx *c = user_data;
  if (c->rc) return c->rc;
  int rc = api_res_status(res, c->status);
  if (!rc) rc = api_res_body(res, "application/json", c->body, c->len);
  api_metrics_text_free(c->body);
  return rc;
}

static int ready_handler(api_req *req, api_res *res, void *user_data) {
  ready_ctx *c = api_req_alloc(req, sizeof(*c));
  if (!c) return API_ENOMEM;
  *c = (ready_ctx){0};
  return api_offload(req, ready_work, ready_done, c);
}

/* A check: "queue" fails while more than 1000 jobs are queued. */
static int queue_check(char *msg, size_t size, void *user_data) {
  long n = atomic_load(&jobs_queued);
  if (n <= 1000) return 0;
  snprintf(msg, size, "%ld jobs queued", n);
  return -1;
}

static double queued(void *user_data) { return (double)atomic_load(&jobs_queued); }

int main(void) {
  api_app *app = NULL;
  int rc = 1;
  if (api_metrics_new(&metrics) || api_health_new(&health) ||
      api_counter_new(metrics,
                      API_METRIC(.name = "http_requests_total", .help = "Requests served.",
                                 .labels = (const char *[]){"method", "route", "status", NULL}),
                      &requests) ||
      api_histogram_new(
          metrics,
          API_METRIC(.name = "http_request_duration_seconds", .help = "Time spent in the handler.",
                     .labels = (const char *[]){"method", "route", NULL}),
          &latency) ||
      api_metrics_callback(
          metrics, API_METRIC_GAUGE,
          API_METRIC(.name = "jobs_queued", .help = "Jobs waiting.", .read = queued)) ||
      api_metrics_add_process(metrics) ||
      api_health_add(health,
                     API_HEALTH_CHECK(.name = "queue", .fn = queue_check, .timeout_ms = 200)) ||
      api_app_new(&app, NULL) || api_app_get(app, "/users/:id", user_handler, NULL) ||
      api_app_get(app, "/metrics", metrics_handler, NULL) ||
      api_app_get(app, "/ready", ready_handler, NULL)) {
    fprintf(stderr, "metrics: %s\n", api_last_error());
    goto out;
  }
  rc = api_app_run(app) ? 1 : 0; /* until SIGINT or SIGTERM */
out:
  api_app_free(app);
  api_health_free(health);
  api_metrics_free(metrics);
  return rc;
}
