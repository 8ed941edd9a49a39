/* Request metrics scraped the way Prometheus does, and the health endpoints — bounded labels
 * under hostile paths and methods, readiness failing once shutdown begins. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

static int ok(api_req *req, api_res *res, void *ud) { return api_res_text(res, 200, "ok"); }
static int conflict(api_req *req, api_res *res, void *ud) { return API_ECONFLICT; }

static api_app *app;
static api_test *t;

static void setup(void) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_metrics(app, NULL, &mw), 0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_app_get(app, "/users/:id", ok, NULL), 0);
  cr_assert_eq(api_app_post(app, "/users", conflict, NULL), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void teardown(void) {
  api_test_free(t);
  api_app_free(app);
}

/* The scrape, NUL-terminated (free it). */
static char *scrape(void) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/metrics", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_header(r, "Content-Type"), API_METRICS_CONTENT_TYPE);
  char *text = strdup(api_test_res_body(r, NULL));
  api_test_res_free(r);
  return text;
}

/* The value of the sample line starting with prefix (exactly "name{labels} "), or -1. */
static double sample(const char *text, const char *prefix) {
  size_t n = strlen(prefix);
  for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
    if (strncmp(l, prefix, n) == 0 && l[n] == ' ') return strtod(l + n + 1, NULL);
  return -1;
}

static void get(const char *target, int status) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, target, &r), 0);
  cr_assert_eq(api_test_res_status(r), status, "%s", target);
  api_test_res_free(r);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 60);

Test(metrics, requests_are_counted_by_method_route_and_status) {
  get("/users/1", 200);
  get("/users/2", 200);
  api_test_res *r;
  cr_assert_eq(
      api_test_request(t, API_TEST_REQ(.method = "POST", .target = "/users", .json = "{}"), &r), 0);
  api_test_res_free(r);
  get("/nope", 404);
  usleep(20000); /* on_response of the last request runs after its bytes left */
  char *m = scrape();
  cr_assert_eq(sample(m, "http_requests_total{method=\"GET\",route=\"/users/:id\",status=\"200\"}"),
               2, "%s", m);
  cr_assert_eq(sample(m, "http_requests_total{method=\"POST\",route=\"/users\",status=\"409\"}"),
               1);
  cr_assert_eq(sample(m, "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"),
               1);
  cr_assert_eq(
      sample(m, "http_request_duration_seconds_count{method=\"GET\",route=\"/users/:id\"}"), 2);
  cr_assert_eq(sample(m, "http_requests_in_flight"), 1, "the scrape itself is in flight");
  cr_assert_geq(sample(m, "http_connections_open"), 1);
  cr_assert_gt(sample(m, "http_received_bytes_total"), 100);
  cr_assert_gt(sample(m, "http_sent_bytes_total"), 100);
  cr_assert_eq(sample(m, "libapi_log_dropped_total"), 0);
  cr_assert_gt(sample(m, "process_resident_memory_bytes"), 0);
  free(m);
}

Test(metrics, hostile_paths_and_methods_keep_labels_bounded) {
  char target[64];
  for (int i = 0; i < 300; i++) {
    snprintf(target, sizeof(target), "/random/%d/%x", i, i * 7919);
    get(target, 404);
  }
  const char *methods[] = {"BREW", "X-EVIL", "get", "PROPFIND"};
  for (size_t i = 0; i < 4; i++) {
    api_test_res *r;
    cr_assert_eq(api_test_request(t, API_TEST_REQ(.method = methods[i], .target = "/users/1"), &r),
                 0);
    cr_assert_eq(api_test_res_status(r), 405);
    api_test_res_free(r);
  }
  usleep(20000);
  char *m = scrape();
  cr_assert_null(strstr(m, "/random/"), "raw paths never become labels");
  cr_assert_null(strstr(m, "BREW"));
  cr_assert_eq(sample(m, "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"),
               300);
  cr_assert_eq(
      sample(m, "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"405\"}"), 4);
  cr_assert_eq(sample(m, "http_requests_in_flight"), 1);
  free(m);
}

Test(metrics, parser_errors_are_counted_too) {
  api_test_res *r;
  cr_assert_eq(api_test_request(t, API_TEST_REQ(.raw = "BAD\r\n\r\n"), &r), 0);
  cr_assert_eq(api_test_res_status(r), 400);
  api_test_res_free(r);
  usleep(20000);
  char *m = scrape();
  cr_assert_eq(
      sample(m, "http_requests_total{method=\"OTHER\",route=\"unmatched\",status=\"400\"}"), 1,
      "%s", m);
  cr_assert_eq(sample(m, "http_requests_in_flight"), 1, "not counted in, not counted out");
  free(m);
}

Test(metrics, user_metrics_share_the_registry_and_names_are_unique) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  api_counter *c;
  cr_assert_eq(api_counter_new(api_app_metrics(a),
                               API_METRIC(.name = "http_requests_total", .help = "mine"), &c),
               0);
  api_middleware mw;
  cr_assert_eq(api_mw_metrics(a, NULL, &mw), API_EEXIST);
  api_app_free(a);
}

/* ---- health ---- */

static int failing(char *msg, size_t n, void *ud) {
  snprintf(msg, n, "database \"down\"\n");
  return -1;
}
static int healthy(char *msg, size_t n, void *ud) { return 0; }

Test(health, live_ready_and_failing_checks) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_health_routes(a, NULL), 0);
  cr_assert_eq(api_health_add(api_app_health(a), API_HEALTH_CHECK(.name = "cache", .fn = healthy)),
               0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  api_test_res *r;
  cr_assert_eq(api_test_get(tt, "/healthz", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
  cr_assert_eq(api_test_get(tt, "/readyz", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(json_object_get(j, "checks"), "cache"), "status")),
                   "ok");
  api_test_res_free(r);
  api_test_free(tt);
  api_app_free(a);

  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_health_routes(a, API_HEALTH_OPTIONS(.ready_path = "/ready")), 0);
  cr_assert_eq(api_health_add(api_app_health(a), API_HEALTH_CHECK(.name = "db", .fn = failing)), 0);
  cr_assert_eq(api_test_new(&tt, a), 0);
  cr_assert_eq(api_test_get(tt, "/ready", &r), 0);
  cr_assert_eq(api_test_res_status(r), 503);
  j = api_test_res_json(r);
  cr_assert_not_null(j, "the failure reason is escaped into valid JSON");
  cr_assert_str_eq(json_string_value(json_object_get(
                       json_object_get(json_object_get(j, "checks"), "db"), "error")),
                   "database \"down\"\n");
  api_test_res_free(r);
  api_test_free(tt);
  api_app_free(a);
}

static void *finish_later(void *arg) {
  usleep(400000);
  api_req_resume(arg);
  return NULL;
}
static int slow(api_req *req, api_res *res, void *ud) {
  api_res_text(res, 200, "slow");
  pthread_t th;
  pthread_create(&th, NULL, finish_later, req);
  pthread_detach(th);
  return API_ASYNC;
}

Test(health, readiness_fails_as_soon_as_shutdown_begins) {
  api_app *a;
  api_config cfg = tc_config(1);
  cr_assert_eq(api_app_new(&a, &cfg), 0);
  cr_assert_eq(api_app_health_routes(a, NULL), 0);
  cr_assert_eq(api_app_get(a, "/slow", slow, NULL), 0);
  api_server *srv = tc_start(a);
  int port = api_server_port(srv);
  tc_conn *busy = tc_connect(port), *probe = tc_connect(port);
  cr_assert(busy && probe);
  tc_response r;
  cr_assert_eq(tc_send_str(probe, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(probe, &r, false), 0);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
  cr_assert_eq(tc_send_str(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  /* The probe's next request is half sent, so the shutdown does not close it as idle. */
  cr_assert_eq(tc_send_str(probe, "GET /readyz HTTP/1.1\r\n"), 0);
  usleep(50000);
  api_server_stop(srv);
  usleep(50000);
  cr_assert_eq(tc_send_str(probe, "Host: x\r\n\r\n"), 0);
  cr_assert_eq(tc_read(probe, &r, false), 0);
  cr_assert_eq(r.status, 503);
  cr_assert(strstr(r.body, "\"draining\":true"));
  tc_response_free(&r);
  cr_assert_eq(tc_read(busy, &r, false), 0, "the request in flight still completes");
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
  tc_close(busy);
  tc_close(probe);
  tc_stop(srv, a);
}
