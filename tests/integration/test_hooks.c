/* Hooks: order across app, groups and route; every phase's return codes; errors and parser
 * failures through on_send/on_response exactly once; suspension; route timeouts and body limits.
 * Driven through the in-process client (libapi/test.h), which is tested here as well. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "support/client.h"

/* What the hooks saw, written on the worker thread, read by the test after the response. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static char trace[4096];
static int last_status;
static size_t last_wire_bytes;
static int responses;

static void note(const char *what) {
  pthread_mutex_lock(&trace_lock);
  if (trace[0]) strncat(trace, " ", sizeof(trace) - strlen(trace) - 1);
  strncat(trace, what, sizeof(trace) - strlen(trace) - 1);
  pthread_mutex_unlock(&trace_lock);
}

static void reset(void) {
  pthread_mutex_lock(&trace_lock);
  trace[0] = '\0';
  responses = 0;
  last_status = 0;
  pthread_mutex_unlock(&trace_lock);
}

/* on_response runs after the bytes were handed over, so the test may read the trace a moment
 * after its response arrived: wait for it. */
static const char *trace_after_response(void) {
  for (int i = 0; i < 500; i++) {
    pthread_mutex_lock(&trace_lock);
    int n = responses;
    pthread_mutex_unlock(&trace_lock);
    if (n) break;
    usleep(2000);
  }
  usleep(5000);
  return trace;
}

typedef struct tag {
  const char *name;
  int on_request_rc; /* what on_request returns */
  int pre_rc;
} tag;

static int h_req(api_req *req, api_res *res, void *ud) {
  const tag *t = ud;
  char b[64];
  snprintf(b, sizeof(b), "%s.req", t->name);
  note(b);
  if (t->on_request_rc == API_DONE) api_res_text(res, 202, "from hook");
  return t->on_request_rc;
}
static int h_pre(api_req *req, api_res *res, void *ud) {
  const tag *t = ud;
  char b[64];
  snprintf(b, sizeof(b), "%s.pre", t->name);
  note(b);
  return t->pre_rc;
}
static int h_err(api_req *req, api_res *res, void *ud) {
  char b[64];
  snprintf(b, sizeof(b), "%s.err%d", ((const tag *)ud)->name, api_res_get_status(res));
  note(b);
  return API_NEXT;
}
static int h_send(api_req *req, api_res *res, void *ud) {
  char b[64];
  snprintf(b, sizeof(b), "%s.send", ((const tag *)ud)->name);
  note(b);
  return API_NEXT;
}
static int h_resp(api_req *req, api_res *res, void *ud) {
  char b[64];
  snprintf(b, sizeof(b), "%s.resp", ((const tag *)ud)->name);
  note(b);
  pthread_mutex_lock(&trace_lock);
  responses++;
  last_status = api_res_get_status(res);
  last_wire_bytes = api_res_wire_bytes(res);
  pthread_mutex_unlock(&trace_lock);
  return API_NEXT;
}

#define TAGGED(t)                                                                                 \
  API_MIDDLEWARE(.name = (t)->name, .on_request = h_req, .pre_handler = h_pre, .on_error = h_err, \
                 .on_send = h_send, .on_response = h_resp, .user_data = (t))

/* Only the app's middleware counts responses, or the count would depend on the chain. */
static int h_resp_quiet(api_req *req, api_res *res, void *ud) {
  char b[64];
  snprintf(b, sizeof(b), "%s.resp", ((const tag *)ud)->name);
  note(b);
  return API_NEXT;
}
#define TAGGED_QUIET(t)                                                                           \
  API_MIDDLEWARE(.name = (t)->name, .on_request = h_req, .pre_handler = h_pre, .on_error = h_err, \
                 .on_send = h_send, .on_response = h_resp_quiet, .user_data = (t))

static int handler_ok(api_req *req, api_res *res, void *ud) {
  note("handler");
  return api_res_text(res, 200, "ok");
}
static int handler_fail(api_req *req, api_res *res, void *ud) {
  note("handler");
  return API_ECONFLICT;
}
static int handler_silent(api_req *req, api_res *res, void *ud) { return API_NEXT; }

static tag t_app = {.name = "app"}, t_outer = {.name = "outer"}, t_inner = {.name = "inner"},
           t_route = {.name = "route"};
static tag t_app2 = {.name = "app2"};

static api_app *app;
static api_test *t;

static void build(void) {
  reset();
  t_app.on_request_rc = t_app.pre_rc = API_NEXT;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_group *outer, *inner;
  cr_assert_eq(api_app_use(app, TAGGED(&t_app)), 0);
  cr_assert_eq(api_app_group(app, "/v1", &outer), 0);
  cr_assert_eq(api_group_group(outer, "/in", &inner), 0);
  cr_assert_eq(
      api_group_route(
          inner, API_ROUTE(.method = "GET", .path = "/ok", .handler = handler_ok,
                           .middleware = (const api_middleware *[]){TAGGED_QUIET(&t_route), NULL})),
      0);
  cr_assert_eq(
      api_group_route(inner, API_ROUTE(.method = "GET", .path = "/fail", .handler = handler_fail)),
      0);
  cr_assert_eq(api_app_get(app, "/silent", handler_silent, NULL), 0);
  cr_assert_eq(api_app_route(app, API_ROUTE(.method = "POST", .path = "/small",
                                            .handler = handler_ok, .max_body = 10)),
               0);
  /* Registered after the routes and on the outer group after the inner one: chains are built
   * when the server starts, in registration order within each level. */
  cr_assert_eq(api_group_use(inner, TAGGED_QUIET(&t_inner)), 0);
  cr_assert_eq(api_group_use(outer, TAGGED_QUIET(&t_outer)), 0);
  cr_assert_eq(api_app_use(app, API_MIDDLEWARE(.on_request = h_req, .user_data = &t_app2)), 0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void teardown_all(void) {
  api_test_free(t);
  api_app_free(app);
  t = NULL;
  app = NULL;
}

TestSuite(hooks, .init = build, .fini = teardown_all, .timeout = 30);

Test(hooks, phases_run_app_then_groups_outside_in_then_route) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/v1/in/ok", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_body(r, NULL), "ok");
  cr_assert_str_eq(trace_after_response(),
                   "app.req app2.req outer.req inner.req route.req app.pre outer.pre inner.pre "
                   "route.pre handler app.send outer.send inner.send route.send app.resp "
                   "outer.resp inner.resp route.resp");
  api_test_res_free(r);
}

Test(hooks, not_found_runs_the_apps_hooks_once_each) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/nowhere", &r), 0);
  cr_assert_eq(api_test_res_status(r), 404);
  cr_assert_str_eq(trace_after_response(), "app.req app2.req app.pre app.err404 app.send app.resp");
  cr_assert_eq(responses, 1);
  cr_assert_eq(last_status, 404);
  api_test_res_free(r);
}

Test(hooks, method_not_allowed_keeps_allow_through_the_error_path) {
  api_test_res *r;
  cr_assert_eq(api_test_request(t, API_TEST_REQ(.method = "DELETE", .target = "/v1/in/ok"), &r), 0);
  cr_assert_eq(api_test_res_status(r), 405);
  cr_assert_str_eq(api_test_res_header(r, "Allow"), "GET, HEAD, OPTIONS");
  cr_assert_str_eq(trace_after_response(), "app.req app2.req app.pre app.err405 app.send app.resp");
  api_test_res_free(r);
}

Test(hooks, handler_error_goes_through_on_error_of_its_chain) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/v1/in/fail", &r), 0);
  cr_assert_eq(api_test_res_status(r), 409);
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "CONFLICT");
  cr_assert_str_eq(trace_after_response(),
                   "app.req app2.req outer.req inner.req app.pre outer.pre inner.pre handler "
                   "app.err409 outer.err409 inner.err409 app.send outer.send inner.send app.resp "
                   "outer.resp inner.resp");
  api_test_res_free(r);
}

Test(hooks, malformed_request_passes_on_send_and_on_response_once) {
  api_test_res *r;
  cr_assert_eq(api_test_request(t,
                                API_TEST_REQ(.raw = "GET /v1/in/ok HTTP/1.1\r\nHost: x\r\nBad "
                                                    "Header: y\r\n\r\n"),
                                &r),
               0);
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert_str_eq(trace_after_response(), "app.send app.resp");
  cr_assert_eq(responses, 1);
  api_test_res_free(r);
}

Test(hooks, oversized_body_for_the_route_is_413_through_on_send) {
  api_test_res *r;
  cr_assert_eq(
      api_test_request(t, API_TEST_REQ(.method = "POST", .target = "/small", .body = "12345678901"),
                       &r),
      0);
  cr_assert_eq(api_test_res_status(r), 413);
  cr_assert_str_eq(trace_after_response(), "app.send app.resp");
  api_test_res_free(r);
  reset();
  cr_assert_eq(api_test_request(
                   t, API_TEST_REQ(.method = "POST", .target = "/small", .body = "1234567890"), &r),
               0);
  cr_assert_eq(api_test_res_status(r), 200);
  api_test_res_free(r);
}

Test(hooks, wire_bytes_are_the_response_as_sent) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/v1/in/ok", &r), 0);
  trace_after_response();
  size_t raw_len;
  api_test_res_raw(r, &raw_len);
  cr_assert_eq(last_wire_bytes, raw_len);
  api_test_res_free(r);
}

Test(hooks, a_handler_that_sets_nothing_is_a_500) {
  api_test_res *r;
  cr_assert_eq(api_test_get(t, "/silent", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  api_test_res_free(r);
}

Test(hooks, registration_after_start_is_refused) {
  cr_assert_eq(api_app_use(app, TAGGED(&t_app)), API_ESTATE);
}

/* ---- return codes, on a small app of their own ---- */

typedef struct ctl {
  int req_rc, pre_rc, err_rc, send_rc;
  bool async_req; /* on_request suspends; a thread resumes with resume_rc */
  int resume_rc;
  bool rewrite_error;
  bool send_rewrites;
} ctl;

typedef struct resume_job {
  api_req *req;
  int rc;
  int delay_us;
} resume_job;

static void *resume_later(void *arg) {
  resume_job *j = arg;
  usleep((useconds_t)j->delay_us);
  api_req_resume_with(j->req, j->rc);
  return NULL;
}

static resume_job job;
static ctl done_ctl = {.pre_rc = API_DONE}, zero_ctl;
static int c_req(api_req *req, api_res *res, void *ud) {
  ctl *c = ud;
  note("req");
  if (c->async_req) {
    job = (resume_job){req, c->resume_rc, 20000};
    pthread_t th;
    pthread_create(&th, NULL, resume_later, &job);
    pthread_detach(th);
    return API_ASYNC;
  }
  if (c->req_rc == API_DONE) api_res_text(res, 203, "early");
  return c->req_rc;
}
static int c_pre(api_req *req, api_res *res, void *ud) {
  note("pre");
  return ((ctl *)ud)->pre_rc;
}
static int c_err(api_req *req, api_res *res, void *ud) {
  ctl *c = ud;
  note("err");
  if (c->rewrite_error) api_res_error(res, api_res_get_status(res), "CUSTOM", "rewritten", NULL);
  return c->err_rc;
}
static int c_send(api_req *req, api_res *res, void *ud) {
  ctl *c = ud;
  note("send");
  if (c->send_rewrites) api_res_header(res, "X-Sent", "1");
  return c->send_rc;
}
static unsigned long long last_elapsed_ns;
static int c_resp(api_req *req, api_res *res, void *ud) {
  note("resp");
  pthread_mutex_lock(&trace_lock);
  responses++;
  last_status = api_res_get_status(res);
  last_elapsed_ns = api_req_elapsed_ns(req);
  pthread_mutex_unlock(&trace_lock);
  return API_NEXT;
}

static int with_ctl(const ctl *c, const char *target, api_test_res **r) {
  reset();
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  static ctl cur;
  cur = *c;
  cr_assert_eq(
      api_app_use(a, API_MIDDLEWARE(.on_request = c_req, .pre_handler = c_pre, .on_error = c_err,
                                    .on_send = c_send, .on_response = c_resp, .user_data = &cur)),
      0);
  cr_assert_eq(api_app_get(a, "/x", handler_ok, NULL), 0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  int rc = api_test_get(tt, target, r);
  trace_after_response();
  api_test_free(tt);
  api_app_free(a);
  return rc;
}

Test(codes, done_from_on_request_skips_to_on_send) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.req_rc = API_DONE}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 203);
  cr_assert_str_eq(trace, "req send resp");
  api_test_res_free(r);
}

Test(codes, error_from_pre_handler_is_the_error_response) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.pre_rc = API_EFORBIDDEN}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 403);
  cr_assert_str_eq(trace, "req pre err send resp");
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "FORBIDDEN");
  cr_assert_not_null(json_object_get(j, "request_id"));
  api_test_res_free(r);
}

Test(codes, on_error_may_rewrite_the_error) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.pre_rc = API_EFORBIDDEN, .rewrite_error = true}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 403);
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "CUSTOM");
  api_test_res_free(r);
}

Test(codes, an_error_from_on_error_does_not_loop) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.pre_rc = API_EFORBIDDEN, .err_rc = API_ECONFLICT}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 409);
  cr_assert_str_eq(trace, "req pre err send resp");
  api_test_res_free(r);
}

Test(codes, an_error_from_on_send_replaces_the_response_once) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.send_rc = API_EINTERNAL, .send_rewrites = true}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  cr_assert_null(api_test_res_header(r, "X-Sent"), "the error replaced the rewritten response");
  cr_assert_str_eq(trace, "req pre handler send resp");
  cr_assert_eq(last_status, 500);
  api_test_res_free(r);
}

Test(codes, on_send_changes_reach_the_client) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.send_rewrites = true}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_header(r, "X-Sent"), "1");
  api_test_res_free(r);
}

Test(codes, suspended_hook_resumes_into_the_handler) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.async_req = true, .resume_rc = API_NEXT}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(trace, "req pre handler send resp");
  /* The resume came 20 ms later: the request's clock runs from its first byte. */
  cr_assert_geq(last_elapsed_ns, 20000000ull, "%llu ns", last_elapsed_ns);
  cr_assert_lt(last_elapsed_ns, 5000000000ull);
  api_test_res_free(r);
}

Test(codes, suspended_hook_resumed_with_an_error) {
  api_test_res *r;
  cr_assert_eq(with_ctl(&(ctl){.async_req = true, .resume_rc = API_EUNAUTHORIZED}, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 401);
  cr_assert_str_eq(trace, "req err send resp");
  api_test_res_free(r);
}

Test(codes, done_without_a_response_is_a_500) {
  reset();
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_use(a, API_MIDDLEWARE(.pre_handler = c_pre, .user_data = &done_ctl)), 0);
  cr_assert_eq(api_app_get(a, "/x", handler_ok, NULL), 0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  api_test_res *r;
  cr_assert_eq(api_test_get(tt, "/x", &r), 0);
  cr_assert_eq(api_test_res_status(r), 500);
  api_test_res_free(r);
  api_test_free(tt);
  api_app_free(a);
}

Test(codes, middleware_without_hooks_is_refused) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_use(a, API_MIDDLEWARE(.name = "empty")), API_EINVAL);
  cr_assert_eq(api_app_use(a, NULL), API_EINVAL);
  api_app_free(a);
}

/* ---- route timeouts ---- */

static resume_job slow_job;
static int slow_handler(api_req *req, api_res *res, void *ud) {
  api_res_text(res, 200, "late");
  slow_job = (resume_job){req, API_NEXT, 400000};
  pthread_t th;
  pthread_create(&th, NULL, resume_later, &slow_job);
  pthread_detach(th);
  return API_ASYNC;
}

Test(timeouts, a_suspended_request_past_its_route_timeout_gets_504) {
  reset();
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_use(a, API_MIDDLEWARE(.on_response = c_resp, .user_data = &zero_ctl)), 0);
  cr_assert_eq(api_app_route(a, API_ROUTE(.method = "GET", .path = "/slow", .handler = slow_handler,
                                          .timeout_ms = 100)),
               0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  double t0 = tc_now();
  api_test_res *r;
  cr_assert_eq(api_test_get(tt, "/slow", &r), 0);
  double dt = tc_now() - t0;
  cr_assert_eq(api_test_res_status(r), 504);
  cr_assert_lt(dt, 0.35, "answered at the timeout, not when the work finished (%.3f s)", dt);
  cr_assert_geq(dt, 0.09);
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                   "TIMEOUT");
  cr_assert_str_eq(api_test_res_header(r, "Connection"), "close");
  api_test_res_free(r);
  /* on_response runs once, when the work has come back, and sees the 504. */
  usleep(450000);
  trace_after_response();
  cr_assert_eq(responses, 1);
  cr_assert_eq(last_status, 504);
  api_test_free(tt);
  api_app_free(a);
}

/* ---- the test client itself ---- */

static int echo_client(api_req *req, api_res *res, void *ud) {
  json_t *body = NULL;
  int rc = api_req_json(req, &body);
  if (rc) return rc;
  return api_res_json_new(res, 200,
                          json_pack("{s:s, s:s?, s:O}", "addr", api_req_client_addr(req), "hdr",
                                    api_req_header(req, "X-Test"), "body", body));
}

Test(client, sends_headers_json_and_the_peer_address) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_post(a, "/echo", echo_client, NULL), 0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  api_test_res *r;
  cr_assert_eq(api_test_request(tt,
                                API_TEST_REQ(.method = "POST", .target = "/echo",
                                             .headers = (const char *[]){"X-Test: yes", NULL},
                                             .json = "{\"a\":[1,2]}", .client_addr = "10.1.2.3"),
                                &r),
               0);
  cr_assert_eq(api_test_res_status(r), 200);
  json_t *j = api_test_res_json(r);
  cr_assert_str_eq(json_string_value(json_object_get(j, "addr")), "10.1.2.3");
  cr_assert_str_eq(json_string_value(json_object_get(j, "hdr")), "yes");
  cr_assert_eq(
      json_integer_value(json_array_get(json_object_get(json_object_get(j, "body"), "a"), 1)), 2);
  api_test_res_free(r);
  /* HEAD: no body although Content-Length says otherwise. */
  cr_assert_eq(api_test_request(tt, API_TEST_REQ(.method = "HEAD", .target = "/echo"), &r), 0);
  cr_assert_eq(api_test_res_status(r), 405);
  api_test_res_free(r);
  cr_assert_eq(api_test_request(tt, API_TEST_REQ(.client_addr = "not-an-address"), &r), API_EINVAL);
  api_test_free(tt);
  api_app_free(a);
}

Test(client, an_app_with_a_bad_route_does_not_start) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  api_app_get(a, "/x/:a", handler_ok, NULL);
  api_app_get(a, "/x/:b", handler_ok, NULL);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), API_ESTATE);
  api_app_free(a);
}

/* ---- an on_send hook that suspends, on the parser's error path ---- */

static resume_job send_job;
static int send_async(api_req *req, api_res *res, void *ud) {
  note("send");
  send_job = (resume_job){req, API_NEXT, 400000};
  pthread_t th;
  pthread_create(&th, NULL, resume_later, &send_job);
  pthread_detach(th);
  return API_ASYNC;
}

Test(codes, a_suspended_on_send_on_a_parser_error_still_answers) {
  reset();
  api_app *a;
  cr_assert_eq(api_app_new(&a, API_CONFIG(.header_timeout_ms = 100)), 0);
  cr_assert_eq(api_app_use(a, API_MIDDLEWARE(.on_send = send_async, .on_response = c_resp,
                                             .user_data = &zero_ctl)),
               0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  api_test_res *r;
  /* Malformed: answered 400 through the suspended hook, longer than the head timeout. */
  cr_assert_eq(api_test_request(tt, API_TEST_REQ(.raw = "GET / HTTP/9.9\r\n\r\n"), &r), 0);
  cr_assert(api_test_res_status(r) == 400 || api_test_res_status(r) == 505);
  api_test_res_free(r);
  trace_after_response();
  cr_assert_str_eq(trace, "send resp");
  cr_assert_eq(responses, 1);
  api_test_free(tt);
  api_app_free(a);
}

/* ---- request locals and header removal, used by middleware to pass state and tidy up ---- */

static const char local_key = 0, other_key = 0;
static int set_local(api_req *req, api_res *res, void *ud) {
  static int value = 42;
  if (api_req_local(req, &local_key)) return API_EINTERNAL; /* a fresh request has none */
  api_req_set_local(req, &local_key, &value);
  api_req_set_local(req, &other_key, NULL);
  api_res_header(res, "X-Drop", "1");
  return API_NEXT;
}
static int read_local(api_req *req, api_res *res, void *ud) {
  int *v = api_req_local(req, &local_key);
  api_res_header_remove(res, "x-drop"); /* case-insensitive */
  api_res_header_remove(res, "X-Absent");
  api_res_header(res, "X-Keep", "1");
  return api_res_json_new(res, 200,
                          json_pack("{s:i, s:b}", "value", v ? *v : -1, "other",
                                    api_req_local(req, &other_key) == NULL));
}

Test(codes, request_locals_pass_state_and_headers_can_be_removed) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_app_use(a, API_MIDDLEWARE(.on_request = set_local)), 0);
  cr_assert_eq(api_app_get(a, "/x", read_local, NULL), 0);
  api_test *tt;
  cr_assert_eq(api_test_new(&tt, a), 0);
  for (int i = 0; i < 2; i++) { /* the second request must not see the first one's locals */
    api_test_res *r;
    cr_assert_eq(api_test_get(tt, "/x", &r), 0);
    cr_assert_eq(api_test_res_status(r), 200);
    json_t *j = api_test_res_json(r);
    cr_assert_eq(json_integer_value(json_object_get(j, "value")), 42);
    cr_assert(json_is_true(json_object_get(j, "other")));
    cr_assert_null(api_test_res_header(r, "X-Drop"));
    cr_assert_str_eq(api_test_res_header(r, "X-Keep"), "1");
    api_test_res_free(r);
  }
  api_test_free(tt);
  api_app_free(a);
}
