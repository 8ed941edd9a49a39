/* Metrics and readiness served by a real server: handlers on two workers record into one registry
 * (by label values and by series handle) while clients on several connections hit it, including
 * with hostile paths used as label values; /metrics shows exact totals and bounded series; /ready
 * runs the checks on the offload pool and answers 200 or 503 with the JSON body. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/client.h"

#define V(...) ((const char *const[]){__VA_ARGS__})

static api_metrics *metrics;
static api_counter *requests, *raw_paths;
static api_histogram *latency;
static api_series *pings;
static api_health *health;
static int ready_flag = 1;

static int record(api_req *req, int status) {
  char code[8];
  snprintf(code, sizeof(code), "%d", status);
  const char *route = api_req_route(req);
  api_counter_inc(requests, V(api_req_method(req), route ? route : "(none)", code));
  api_histogram_observe(latency, V(route ? route : "(none)"), 0.003);
  /* A raw path as a label value: what the series bound is for. */
  api_counter_inc(raw_paths, V(api_req_path(req)));
  return 0;
}

static int user(api_req *req, api_res *res, void *ud) {
  record(req, 200);
  return api_res_text(res, 200, api_req_param(req, "id"));
}

static int ping(api_req *req, api_res *res, void *ud) {
  api_series_inc(pings);
  record(req, 204);
  return api_res_status(res, 204);
}

static int metrics_handler(api_req *req, api_res *res, void *ud) {
  char *text;
  size_t len;
  int rc = api_metrics_render(metrics, &text, &len);
  if (rc) return rc;
  rc = api_res_body(res, API_METRICS_CONTENT_TYPE, text, len);
  api_metrics_text_free(text);
  return rc;
}

typedef struct {
  int status, rc;
  char *body;
  size_t len;
} ready_ctx;

static void ready_work(void *ud) {
  ready_ctx *c = ud;
  c->rc = api_health_run(health, &c->status, &c->body, &c->len);
}

static int ready_done(api_req *req, api_res *res, void *ud) {
  ready_ctx *c = ud;
  if (c->rc) return c->rc;
  int rc = api_res_status(res, c->status);
  if (!rc) rc = api_res_body(res, "application/json", c->body, c->len);
  api_metrics_text_free(c->body);
  return rc;
}

static int ready(api_req *req, api_res *res, void *ud) {
  ready_ctx *c = api_req_alloc(req, sizeof(*c));
  if (!c) return API_ENOMEM;
  *c = (ready_ctx){0};
  return api_offload(req, ready_work, ready_done, c);
}

static int flag_check(char *msg, size_t size, void *ud) {
  if (__atomic_load_n((int *)ud, __ATOMIC_SEQ_CST)) return 0;
  snprintf(msg, size, "flag \"down\"");
  return -1;
}

static api_app *app;
static api_server *srv;
static int port;

static void setup(void) {
  cr_assert_eq(api_metrics_new(&metrics), 0);
  cr_assert_eq(
      api_counter_new(metrics,
                      API_METRIC(.name = "http_requests_total", .help = "Requests.",
                                 .labels = (const char *[]){"method", "route", "status", NULL}),
                      &requests),
      0);
  cr_assert_eq(
      api_counter_new(metrics,
                      API_METRIC(.name = "raw_paths_total", .help = "Paths.",
                                 .labels = (const char *[]){"path", NULL}, .max_series = 50),
                      &raw_paths),
      0);
  cr_assert_eq(api_histogram_new(metrics,
                                 API_METRIC(.name = "latency_seconds", .help = "Latency.",
                                            .labels = (const char *[]){"route", NULL}),
                                 &latency),
               0);
  api_counter *c;
  cr_assert_eq(api_counter_new(metrics, API_METRIC(.name = "pings_total", .help = "Pings."), &c),
               0);
  cr_assert_eq(api_counter_series(c, NULL, &pings), 0);
  cr_assert_eq(api_health_new(&health), 0);
  cr_assert_eq(api_health_add(health, API_HEALTH_CHECK(.name = "flag", .fn = flag_check,
                                                       .user_data = &ready_flag)),
               0);
  api_config cfg = tc_config(2);
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/users/:id", user, NULL), 0);
  cr_assert_eq(api_app_get(app, "/ping", ping, NULL), 0);
  cr_assert_eq(api_app_get(app, "/metrics", metrics_handler, NULL), 0);
  cr_assert_eq(api_app_get(app, "/ready", ready, NULL), 0);
  srv = tc_start(app);
  cr_assert_not_null(srv);
  port = api_server_port(srv);
}

static void teardown(void) {
  tc_stop(srv, app);
  api_health_free(health);
  api_metrics_free(metrics);
}

TestSuite(metrics_http, .init = setup, .fini = teardown, .timeout = 120);

#define CLIENTS 4
#define PER_CLIENT 150

static void *client(void *arg) {
  int id = (int)(long)arg;
  tc_conn *c = tc_connect(port);
  cr_assert_not_null(c);
  char req[256];
  for (int i = 0; i < PER_CLIENT; i++) {
    const char *kinds[] = {"/ping", "/users/%d-%d", "/nothing/%d/%d"};
    char path[64];
    snprintf(path, sizeof(path), kinds[i % 3], id, i);
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    cr_assert_eq(tc_send_str(c, req), 0);
    tc_response r;
    cr_assert_eq(tc_read(c, &r, false), 0);
    cr_assert_eq(r.status, i % 3 == 0 ? 204 : i % 3 == 1 ? 200 : 404);
    tc_response_free(&r);
  }
  tc_close(c);
  return NULL;
}

static char *scrape(void) {
  tc_response r;
  cr_assert_eq(
      tc_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(tc_header(&r, "content-type"), API_METRICS_CONTENT_TYPE);
  return r.body; /* malloc'd */
}

static long value(const char *text, const char *series) {
  char key[256];
  snprintf(key, sizeof(key), "\n%s ", series);
  const char *p = strstr(text, key);
  cr_assert_not_null(p, "no %s in\n%s", series, text);
  return strtol(p + strlen(key), NULL, 10);
}

Test(metrics_http, totals_across_workers_and_bounded_paths) {
  pthread_t t[CLIENTS];
  for (long i = 0; i < CLIENTS; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, client, (void *)i), 0);
  for (int i = 0; i < CLIENTS; i++) pthread_join(t[i], NULL);
  char *text = scrape();
  const long each = CLIENTS * PER_CLIENT / 3;
  cr_assert_eq(value(text, "http_requests_total{method=\"GET\",route=\"/ping\",status=\"204\"}"),
               each);
  cr_assert_eq(
      value(text, "http_requests_total{method=\"GET\",route=\"/users/:id\",status=\"200\"}"), each);
  cr_assert_eq(value(text, "pings_total"), each);
  cr_assert_eq(value(text, "latency_seconds_count{route=\"/users/:id\"}"), each);
  cr_assert_eq(value(text, "latency_seconds_bucket{route=\"/ping\",le=\"0.005\"}"), each);
  cr_assert_eq(value(text, "latency_seconds_bucket{route=\"/ping\",le=\"0.0025\"}"), 0);
  /* 404s never reach a handler here: the pipeline will record them; nothing else did. */
  cr_assert_null(strstr(text, "(none)"));
  /* Raw paths: /ping (a series from each client's first request) and 200 distinct /users/...
   * paths, of which 49 fit under the bound of 50; the other users paths' records are dropped. */
  size_t lines = 0;
  for (const char *p = text; (p = strstr(p, "\nraw_paths_total{")); p++) lines++;
  cr_assert_eq(lines, 50);
  cr_assert_eq(value(text, "libapi_metrics_series_dropped_total{metric=\"raw_paths_total\"}"),
               each - 49);
  free(text);
}

Test(metrics_http, hostile_path_values_stay_escaped) {
  tc_response r;
  cr_assert_eq(
      tc_exchange(port, "GET /users/%22%7D%201%0Aevil%209 HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "\"} 1\nevil 9", "the parameter is percent-decoded");
  tc_response_free(&r);
  char *text = scrape();
  /* The raw path stays percent-encoded; the decoded parameter was never a label. Either way no
   * line starts with "evil". */
  cr_assert_null(strstr(text, "\nevil"));
  cr_assert_not_null(strstr(text, "raw_paths_total{path=\"/users/%22%7D%201%0Aevil%209\"} 1\n"),
                     "%s", text);
  free(text);
}

Test(metrics_http, readiness) {
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
  json_decref(j);
  tc_response_free(&r);
  __atomic_store_n(&ready_flag, 0, __ATOMIC_SEQ_CST);
  cr_assert_eq(tc_exchange(port, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 503);
  j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "fail");
  json_t *flag = json_object_get(json_object_get(j, "checks"), "flag");
  cr_assert_str_eq(json_string_value(json_object_get(flag, "error")), "flag \"down\"");
  json_decref(j);
  tc_response_free(&r);
  __atomic_store_n(&ready_flag, 1, __ATOMIC_SEQ_CST);
  api_health_set_draining(health, 1);
  cr_assert_eq(tc_exchange(port, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 503);
  cr_assert_str_eq(r.body, "{\"status\":\"fail\",\"draining\":true,\"checks\":{}}");
  tc_response_free(&r);
}
