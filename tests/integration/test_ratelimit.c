/* The rate-limiting middleware through the in-process client: the limit is hit at exactly the
 * configured count, 429 is the standard error body with Retry-After, RateLimit-* fields are right
 * and survive error responses, refill follows the (overridden) clock, keys are separated by route,
 * API key, user and address (IPv6 by prefix), skip/allow lists, costs, phases, several limiters,
 * asynchronous and failing stores, the key bound under a flood, and bad options. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libapi/api.h"
#include "support/client.h"
#include "util/alloc.h"

static _Atomic unsigned long long now;
static atomic_int handled;

static unsigned long long test_clock(void *user_data) {
  (void)user_data;
  return atomic_load(&now);
}

static int h_ok(api_req *req, api_res *res, void *user_data) {
  (void)req;
  (void)user_data;
  atomic_fetch_add(&handled, 1);
  return api_res_text(res, 200, "ok");
}

static int h_bad(api_req *req, api_res *res, void *user_data) {
  (void)req;
  (void)res;
  (void)user_data;
  return API_EBADREQ;
}

typedef struct fixture {
  api_app *app;
  api_test *t;
} fixture;

/* An app with routes /a, /b, /items/:id, /bad (400) and the limiter on the app. */
static fixture start(const api_rate_limit_options *opts) {
  fixture f;
  atomic_store(&now, 1000000);
  atomic_store(&handled, 0);
  cr_assert_eq(api_app_new(&f.app, NULL), 0);
  cr_assert_eq(api_app_get(f.app, "/a", h_ok, NULL), 0);
  cr_assert_eq(api_app_get(f.app, "/b", h_ok, NULL), 0);
  cr_assert_eq(api_app_post(f.app, "/a", h_ok, NULL), 0);
  cr_assert_eq(api_app_get(f.app, "/items/:id", h_ok, NULL), 0);
  cr_assert_eq(api_app_get(f.app, "/bad", h_bad, NULL), 0);
  if (opts) {
    api_middleware mw;
    cr_assert_eq(api_mw_rate_limit(f.app, opts, &mw), 0, "%s", api_last_error());
    cr_assert_eq(api_app_use(f.app, &mw), 0);
  }
  return f;
}

static void start_test(fixture *f) { cr_assert_eq(api_test_new(&f->t, f->app), 0); }

static void stop(fixture *f) {
  api_test_free(f->t);
  api_app_free(f->app);
}

/* Send a request, return its response (the caller frees it). */
static api_test_res *send(fixture *f, const char *method, const char *target, const char *addr,
                          const char *const *headers) {
  api_test_res *r;
  cr_assert_eq(api_test_request(f->t,
                                API_TEST_REQ(.method = method, .target = target,
                                             .client_addr = addr, .headers = headers),
                                &r),
               0);
  return r;
}

static int status_of(fixture *f, const char *target, const char *addr, const char *const *hdrs) {
  api_test_res *r = send(f, "GET", target, addr, hdrs);
  int s = api_test_res_status(r);
  api_test_res_free(r);
  return s;
}

static long header_num(const api_test_res *r, const char *name) {
  const char *v = api_test_res_header(r, name);
  cr_assert_not_null(v, "no %s", name);
  char *end;
  long n = strtol(v, &end, 10);
  cr_assert(*v && !*end, "%s: %s is not a number", name, v);
  return n;
}

Test(ratelimit, limit_hit_exactly_with_headers_and_error_body) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 3, .window_ms = 60000, .now_ms = test_clock));
  start_test(&f);
  for (long i = 0; i < 3; i++) {
    api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
    cr_assert_eq(api_test_res_status(r), 200, "request %ld", i);
    cr_assert_eq(header_num(r, "RateLimit-Limit"), 3);
    cr_assert_eq(header_num(r, "RateLimit-Remaining"), 2 - i);
    cr_assert_eq(header_num(r, "RateLimit-Reset"), 20 * (i + 1)); /* one token per 20 s */
    cr_assert_str_eq(api_test_res_header(r, "RateLimit-Policy"), "3;w=60");
    cr_assert_null(api_test_res_header(r, "Retry-After"));
    api_test_res_free(r);
  }
  api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "Retry-After"), 20);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 0);
  cr_assert_eq(header_num(r, "RateLimit-Limit"), 3);
  cr_assert_eq(header_num(r, "RateLimit-Reset"), 60);
  cr_assert_null(api_test_res_header_n(r, "Retry-After", 1), "one Retry-After only");
  cr_assert(strstr(api_test_res_header(r, "Content-Type"), "application/json"));
  json_t *body = api_test_res_json(r);
  cr_assert_not_null(body);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "error"), "code")),
                   "RATE_LIMITED");
  const char *rid = json_string_value(json_object_get(body, "request_id"));
  cr_assert(rid && *rid, "the error body has a request_id");
  api_test_res_free(r);
  cr_assert_eq(atomic_load(&handled), 3, "the handler does not run for a refused request");
  stop(&f);
}

Test(ratelimit, refill_follows_the_clock) {
  fixture f = start(
      API_RATE_LIMIT_OPTIONS(.limit = 2, .window_ms = 10000, .burst = 4, .now_ms = test_clock));
  start_test(&f);
  for (int i = 0; i < 4; i++) cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "Retry-After"), 5); /* 2 per 10 s: a token every 5 s */
  cr_assert_eq(header_num(r, "RateLimit-Limit"), 4);
  cr_assert_str_eq(api_test_res_header(r, "RateLimit-Policy"), "2;w=10;burst=4");
  api_test_res_free(r);
  atomic_fetch_add(&now, 4999);
  r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "Retry-After"), 1, "1 ms left rounds up to 1 s, never 0");
  api_test_res_free(r);
  atomic_fetch_add(&now, 1);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  atomic_fetch_add(&now, 20000); /* full again, and no more than the burst */
  for (int i = 0; i < 4; i++) cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  stop(&f);
}

Test(ratelimit, sliding_window) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.algorithm = API_RATE_SLIDING_WINDOW, .limit = 4,
                                           .window_ms = 10000, .now_ms = test_clock));
  atomic_store(&now, 100000); /* a window boundary */
  start_test(&f);
  for (int i = 0; i < 4; i++) cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  atomic_store(&now, 102000);
  api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "RateLimit-Reset"), 8);
  /* next window at +8 s, then a quarter of the previous 4 must slide out: +2.5 s -> 11 s */
  cr_assert_eq(header_num(r, "Retry-After"), 11);
  api_test_res_free(r);
  atomic_store(&now, 112499);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  atomic_store(&now, 112500);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  stop(&f);
}

Test(ratelimit, per_route_separation) {
  fixture f =
      start(API_RATE_LIMIT_OPTIONS(.limit = 2, .key_by = API_RATE_KEY_ADDR | API_RATE_KEY_ROUTE,
                                   .now_ms = test_clock));
  start_test(&f);
  for (int i = 0; i < 2; i++) cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  cr_assert_eq(status_of(&f, "/b", NULL, NULL), 200, "another route has its own quota");
  api_test_res *r = send(&f, "POST", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200, "another method on the route too");
  api_test_res_free(r);
  /* per route pattern, not per path: /items/1 and /items/2 share */
  cr_assert_eq(status_of(&f, "/items/1", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/items/2", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/items/3", NULL, NULL), 429);
  cr_assert_eq(status_of(&f, "/a", "192.0.2.9", NULL), 200, "and per address");
  /* unrouted paths share one key, and the 404 carries the fields */
  r = send(&f, "GET", "/nope1", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 404);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 1);
  api_test_res_free(r);
  cr_assert_eq(status_of(&f, "/nope2", NULL, NULL), 404);
  cr_assert_eq(status_of(&f, "/nope3", NULL, NULL), 429);
  stop(&f);
}

Test(ratelimit, per_api_key_hostile_keys) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 2, .key_by = API_RATE_KEY_HEADER,
                                           .key_header = "X-API-Key", .now_ms = test_clock));
  start_test(&f);
  const char *k1[] = {"X-API-Key: key-one", NULL}, *k2[] = {"x-api-key: key-two", NULL};
  for (int i = 0; i < 2; i++) cr_assert_eq(status_of(&f, "/a", NULL, k1), 200);
  cr_assert_eq(status_of(&f, "/a", "192.0.2.1", k1), 429, "the key, not the address, counts");
  cr_assert_eq(status_of(&f, "/a", NULL, k2), 200);
  /* no key: limited by address instead, each address apart */
  for (int i = 0; i < 2; i++) cr_assert_eq(status_of(&f, "/a", "192.0.2.7", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "192.0.2.7", NULL), 429);
  cr_assert_eq(status_of(&f, "/a", "192.0.2.8", NULL), 200);
  /* very long keys (12 KB): one key; a different last byte is another key */
  size_t n = 12000;
  char *a = malloc(n + 32), *b = malloc(n + 32);
  strcpy(a, "X-API-Key: ");
  memset(a + 11, 'z', n);
  a[11 + n] = '\0';
  strcpy(b, a);
  b[10 + n] = 'y';
  const char *ha[] = {a, NULL}, *hb[] = {b, NULL};
  for (int i = 0; i < 2; i++) cr_assert_eq(status_of(&f, "/a", NULL, ha), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, ha), 429);
  cr_assert_eq(status_of(&f, "/a", NULL, hb), 200);
  free(a);
  free(b);
  stop(&f);
}

Test(ratelimit, ipv6_prefix_and_ipv4_grouping) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 2, .ipv6_prefix = 64, .ipv4_prefix = 24,
                                           .now_ms = test_clock));
  start_test(&f);
  cr_assert_eq(status_of(&f, "/a", "2001:db8:1:2::1", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "2001:db8:1:2:ffff:eeee:dddd:cccc", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "2001:db8:1:2::99", NULL), 429, "same /64");
  cr_assert_eq(status_of(&f, "/a", "2001:db8:1:3::1", NULL), 200, "another /64");
  cr_assert_eq(status_of(&f, "/a", "198.51.100.1", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "::ffff:198.51.100.200", NULL), 200, "mapped = IPv4");
  cr_assert_eq(status_of(&f, "/a", "198.51.100.77", NULL), 429, "same /24");
  cr_assert_eq(status_of(&f, "/a", "198.51.101.1", NULL), 200);
  stop(&f);

  /* the default groups nothing: every IPv6 address is its own key */
  f = start(API_RATE_LIMIT_OPTIONS(.limit = 1, .now_ms = test_clock));
  start_test(&f);
  cr_assert_eq(status_of(&f, "/a", "2001:db8::1", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "2001:db8::2", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "2001:db8::1", NULL), 429);
  stop(&f);
}

/* The user key: X-User, skipped for X-Admin, failing for X-Bad, overflowing for X-Overflow. */
static int user_key(api_req *req, char *buf, size_t len, void *user_data) {
  (void)user_data;
  if (api_req_header(req, "X-Admin")) return API_RATE_SKIP;
  if (api_req_header(req, "X-Bad")) return API_EFORBIDDEN;
  if (api_req_header(req, "X-Overflow")) {
    memset(buf, 'x', len); /* no NUL: a bug the limiter must not read past */
    return 0;
  }
  const char *u = api_req_header(req, "X-User");
  if (!u) return API_EUNAUTHORIZED;
  snprintf(buf, len, "%s", u);
  return 0;
}

Test(ratelimit, per_user_key_callback) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 1, .key_by = API_RATE_KEY_USER,
                                           .key_fn = user_key, .now_ms = test_clock));
  start_test(&f);
  const char *ann[] = {"X-User: ann", NULL}, *bob[] = {"X-User: bob", NULL};
  cr_assert_eq(status_of(&f, "/a", NULL, ann), 200);
  cr_assert_eq(status_of(&f, "/a", "192.0.2.3", ann), 429, "per user, whatever the address");
  cr_assert_eq(status_of(&f, "/a", NULL, bob), 200);
  const char *admin[] = {"X-User: ann", "X-Admin: 1", NULL};
  api_test_res *r = send(&f, "GET", "/a", NULL, admin);
  cr_assert_eq(api_test_res_status(r), 200, "skipped");
  cr_assert_null(api_test_res_header(r, "RateLimit-Remaining"), "skipped: no fields");
  api_test_res_free(r);
  const char *bad[] = {"X-Bad: 1", NULL}, *over[] = {"X-Overflow: 1", NULL};
  cr_assert_eq(status_of(&f, "/a", NULL, bad), 403);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 401);
  cr_assert_eq(status_of(&f, "/a", NULL, over), 500);
  stop(&f);
}

static int skip_health(api_req *req, void *user_data) {
  (void)user_data;
  return strcmp(api_req_path(req), "/b") == 0;
}

Test(ratelimit, skip_predicate_and_allow_list) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 1, .skip = skip_health, .now_ms = test_clock,
                                           .allow = (const char *[]){"10.0.0.0/8", "::1",
                                                                     "2001:db8:aa::/48", NULL}));
  start_test(&f);
  for (int i = 0; i < 3; i++) cr_assert_eq(status_of(&f, "/b", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(status_of(&f, "/a", "10.200.3.4", NULL), 200);
    cr_assert_eq(status_of(&f, "/a", "::1", NULL), 200);
    cr_assert_eq(status_of(&f, "/a", "2001:db8:aa:ffff::1", NULL), 200);
  }
  cr_assert_eq(status_of(&f, "/a", "11.0.0.1", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "11.0.0.1", NULL), 429);
  cr_assert_eq(status_of(&f, "/a", "2001:db8:ab::1", NULL), 200);
  cr_assert_eq(status_of(&f, "/a", "2001:db8:ab::1", NULL), 429);
  stop(&f);
}

static unsigned post_costs_more(api_req *req, void *user_data) {
  (void)user_data;
  if (strcmp(api_req_path(req), "/b") == 0) return 0; /* free */
  return strcmp(api_req_method(req), "POST") == 0 ? 3 : 1;
}

Test(ratelimit, cost_per_request) {
  fixture f =
      start(API_RATE_LIMIT_OPTIONS(.limit = 4, .cost_fn = post_costs_more, .now_ms = test_clock));
  start_test(&f);
  api_test_res *r = send(&f, "POST", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 1);
  api_test_res_free(r);
  r = send(&f, "POST", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "Retry-After"), 30); /* 2 more tokens at 4 per minute */
  api_test_res_free(r);
  for (int i = 0; i < 5; i++) cr_assert_eq(status_of(&f, "/b", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  stop(&f);
}

Test(ratelimit, fields_survive_error_responses) {
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 5, .now_ms = test_clock));
  start_test(&f);
  api_test_res *r = send(&f, "GET", "/bad", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 4);
  api_test_res_free(r);
  r = send(&f, "DELETE", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 405);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 3);
  api_test_res_free(r);
  r = send(&f, "GET", "/a?x=%zz", NULL, NULL); /* a malformed query: counted, then 400 */
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 2);
  api_test_res_free(r);
  stop(&f);
}

static int done_early(api_req *req, api_res *res, void *user_data) {
  (void)user_data;
  if (strcmp(api_req_path(req), "/b") == 0) return api_res_text(res, 202, "cached"), API_DONE;
  return API_NEXT;
}

Test(ratelimit, pre_handler_phase_and_one_count_per_request) {
  fixture f = start(NULL);
  api_middleware rl;
  cr_assert_eq(api_mw_rate_limit(f.app,
                                 API_RATE_LIMIT_OPTIONS(.limit = 2, .phase = API_RATE_PRE_HANDLER,
                                                        .now_ms = test_clock),
                                 &rl),
               0);
  cr_assert_eq(api_app_use(f.app, &rl), 0);
  cr_assert_eq(api_app_use(f.app, &rl), 0); /* twice: still counted once */
  cr_assert_eq(api_app_use(f.app, API_MIDDLEWARE(.on_request = done_early)), 0);
  start_test(&f);
  /* answered in on_request, before pre_handler: never counted */
  for (int i = 0; i < 4; i++) cr_assert_eq(status_of(&f, "/b", NULL, NULL), 202);
  api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 1);
  api_test_res_free(r);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 200);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 429);
  stop(&f);
}

Test(ratelimit, several_limiters_report_the_tightest) {
  fixture f = start(NULL);
  api_middleware global, strict;
  cr_assert_eq(
      api_mw_rate_limit(f.app, API_RATE_LIMIT_OPTIONS(.limit = 5, .now_ms = test_clock), &global),
      0);
  cr_assert_eq(
      api_mw_rate_limit(f.app, API_RATE_LIMIT_OPTIONS(.limit = 2, .now_ms = test_clock), &strict),
      0);
  cr_assert_eq(api_app_use(f.app, &global), 0);
  cr_assert_eq(
      api_app_route(f.app, API_ROUTE(.method = "GET", .path = "/strict", .handler = h_ok,
                                     .middleware = (const api_middleware *[]){&strict, NULL})),
      0);
  start_test(&f);
  api_test_res *r = send(&f, "GET", "/strict", NULL, NULL);
  cr_assert_eq(header_num(r, "RateLimit-Limit"), 2);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 1);
  api_test_res_free(r);
  r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(header_num(r, "RateLimit-Limit"), 5);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 3);
  api_test_res_free(r);
  cr_assert_eq(status_of(&f, "/strict", NULL, NULL), 200);
  r = send(&f, "GET", "/strict", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "RateLimit-Limit"), 2, "the limiter that refused reports");
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 0);
  cr_assert_not_null(api_test_res_header(r, "Retry-After"));
  cr_assert_null(api_test_res_header_n(r, "RateLimit-Limit", 1));
  api_test_res_free(r);
  /* the global one counted the refused request too (it ran first): 5 of 5 used now */
  r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_eq(header_num(r, "RateLimit-Remaining"), 0);
  api_test_res_free(r);
  r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "RateLimit-Limit"), 5);
  api_test_res_free(r);
  stop(&f);
}

/* ---- stores of the app's own ---- */

/* An asynchronous store: answers from another thread, after a delay, through an in-memory one. */
typedef struct async_store {
  api_rate_store base;
  api_rate_store *inner;
} async_store;

typedef struct async_job {
  async_store *s;
  unsigned char key[2048];
  size_t key_len;
  unsigned cost;
  unsigned long long now;
  api_rate_params params;
  api_rate_done_fn done;
  void *done_data;
} async_job;

static void *async_answer(void *arg) {
  async_job *j = arg;
  usleep(20000);
  api_rate_take t = {.size = sizeof(t),
                     .key = j->key,
                     .key_len = j->key_len,
                     .cost = j->cost,
                     .now_ms = j->now,
                     .params = &j->params};
  api_rate_result r;
  int rc = j->s->inner->take(j->s->inner, &t, &r);
  j->done(j->done_data, rc, rc ? NULL : &r);
  free(j);
  return NULL;
}

static int async_take(api_rate_store *base, const api_rate_take *t, api_rate_result *r) {
  (void)r;
  cr_assert_not_null(t->done, "the limiter accepts asynchronous answers");
  async_job *j = calloc(1, sizeof(*j));
  cr_assert_leq(t->key_len, sizeof(j->key));
  *j = (async_job){.s = (async_store *)base,
                   .key_len = t->key_len,
                   .cost = t->cost,
                   .now = t->now_ms,
                   .params = *t->params,
                   .done = t->done,
                   .done_data = t->done_data};
  memcpy(j->key, t->key, t->key_len);
  pthread_t th;
  pthread_create(&th, NULL, async_answer, j);
  pthread_detach(th);
  return API_ASYNC;
}

static void async_free(api_rate_store *base) {
  async_store *s = (async_store *)base;
  api_rate_store_free(s->inner);
  free(s);
}

Test(ratelimit, asynchronous_store) {
  async_store *s = calloc(1, sizeof(*s));
  s->base =
      (api_rate_store){.size = sizeof(api_rate_store), .take = async_take, .free = async_free};
  cr_assert_eq(api_rate_store_mem_new(&s->inner, NULL), 0);
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 2, .store = &s->base, .now_ms = test_clock));
  start_test(&f);
  for (int i = 0; i < 2; i++) {
    api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
    cr_assert_eq(api_test_res_status(r), 200);
    cr_assert_eq(header_num(r, "RateLimit-Remaining"), 1 - i);
    api_test_res_free(r);
  }
  api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
  cr_assert_eq(api_test_res_status(r), 429);
  cr_assert_eq(header_num(r, "Retry-After"), 30);
  api_test_res_free(r);
  cr_assert_eq(atomic_load(&handled), 2);
  stop(&f);
  api_rate_store_free(&s->base); /* borrowed by the limiter: the app is gone, free it now */
}

static int broken_take(api_rate_store *base, const api_rate_take *t, api_rate_result *r) {
  (void)base;
  (void)t;
  (void)r;
  return API_EUNAVAILABLE;
}

Test(ratelimit, failing_store_open_or_closed) {
  api_rate_store broken = {.size = sizeof(broken), .take = broken_take};
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 1, .store = &broken));
  start_test(&f);
  for (int i = 0; i < 3; i++) {
    api_test_res *r = send(&f, "GET", "/a", NULL, NULL);
    cr_assert_eq(api_test_res_status(r), 200, "fail open by default");
    cr_assert_null(api_test_res_header(r, "RateLimit-Remaining"));
    api_test_res_free(r);
  }
  stop(&f);
  f = start(API_RATE_LIMIT_OPTIONS(.limit = 1, .store = &broken, .fail_closed = 1));
  start_test(&f);
  cr_assert_eq(status_of(&f, "/a", NULL, NULL), 503);
  stop(&f);
}

Test(ratelimit, a_flood_of_keys_keeps_the_store_bounded, .timeout = 120) {
  api_rate_store *s;
  cr_assert_eq(api_rate_store_mem_new(&s, API_RATE_MEM_OPTIONS(.max_keys = 64, .shards = 4)), 0);
  fixture f = start(API_RATE_LIMIT_OPTIONS(.limit = 1, .store = s, .key_by = API_RATE_KEY_HEADER,
                                           .key_header = "X-API-Key", .now_ms = test_clock));
  start_test(&f);
  char h[64];
  for (int i = 0; i < 2000; i++) {
    snprintf(h, sizeof(h), "X-API-Key: spoofed-%d", i);
    const char *hdrs[] = {h, NULL};
    cr_assert_eq(status_of(&f, "/a", NULL, hdrs), 200);
    cr_assert_leq(api_rate_store_mem_count(s), 64);
  }
  cr_assert_geq(api_rate_store_mem_count(s), 32);
  stop(&f);
  api_rate_store_free(s);
}

Test(ratelimit, bad_options) {
  api_app *app;
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  struct {
    const api_rate_limit_options *o;
    const char *needle;
  } cases[] = {
      {API_RATE_LIMIT_OPTIONS(.algorithm = (api_rate_algo)9), "algorithm"},
      {API_RATE_LIMIT_OPTIONS(.limit = 2000000000ULL), "limit"},
      {API_RATE_LIMIT_OPTIONS(.window_ms = 2000000000ULL), "window_ms"},
      {API_RATE_LIMIT_OPTIONS(.burst = 2000000000ULL), "burst"},
      {API_RATE_LIMIT_OPTIONS(.key_by = 1 << 9), "key_by"},
      {API_RATE_LIMIT_OPTIONS(.key_by = API_RATE_KEY_HEADER), "key_header"},
      {API_RATE_LIMIT_OPTIONS(.key_by = API_RATE_KEY_HEADER, .key_header = "X Key"), "key_header"},
      {API_RATE_LIMIT_OPTIONS(.key_header = "X-Key"), "key_header"},
      {API_RATE_LIMIT_OPTIONS(.key_by = API_RATE_KEY_USER), "key_fn"},
      {API_RATE_LIMIT_OPTIONS(.key_fn = user_key), "key_fn"},
      {API_RATE_LIMIT_OPTIONS(.ipv4_prefix = 33), "ipv4_prefix"},
      {API_RATE_LIMIT_OPTIONS(.ipv6_prefix = 129), "ipv6_prefix"},
      {API_RATE_LIMIT_OPTIONS(.phase = (api_rate_phase)5), "phase"},
      {API_RATE_LIMIT_OPTIONS(.limit = 3, .cost = 4), "cost"},
      {API_RATE_LIMIT_OPTIONS(.allow = (const char *[]){"10.0.0.0/8", "10.0.0.0/33", NULL}),
       "10.0.0.0/33"},
      {API_RATE_LIMIT_OPTIONS(.allow = (const char *[]){"not-an-address", NULL}), "allow"},
      {API_RATE_LIMIT_OPTIONS(.allow = (const char *[]){"::1/", NULL}), "allow"},
      {API_RATE_LIMIT_OPTIONS(.allow = (const char *[]){"::1/-1", NULL}), "allow"},
      {API_RATE_LIMIT_OPTIONS(.name = "0123456789012345678901234567890123456789012345678901234567"
                                      "89012345678"),
       "name"},
      {API_RATE_LIMIT_OPTIONS(.store = &(api_rate_store){.size = sizeof(api_rate_store)}), "store"},
      {API_RATE_LIMIT_OPTIONS(.max_keys = 1, .limit = 1), NULL}, /* fine */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = api_mw_rate_limit(app, cases[i].o, &mw);
    if (!cases[i].needle) {
      cr_assert_eq(rc, 0, "case %zu: %s", i, api_last_error());
      continue;
    }
    cr_assert_eq(rc, API_EINVAL, "case %zu", i);
    cr_assert(strstr(api_last_error(), cases[i].needle), "case %zu: %s", i, api_last_error());
  }
  cr_assert_eq(api_mw_rate_limit(app, NULL, NULL), API_EINVAL);
  cr_assert_eq(api_mw_rate_limit(NULL, NULL, &mw), API_EINVAL);
  cr_assert_eq(api_mw_rate_limit(app, NULL, &mw), 0, "all defaults");
  api_app_free(app);
}

/* A real server with two workers and four client threads over loopback: the workers share the
 * store, and exactly `limit` requests pass. */
typedef struct client {
  int port;
  int ok, limited, other;
} client;

static void *client_run(void *arg) {
  client *c = arg;
  for (int i = 0; i < 60; i++) {
    tc_response r;
    if (tc_exchange(c->port, "GET /a HTTP/1.1\r\nHost: x\r\nX-API-Key: shared\r\n\r\n", &r)) {
      c->other++;
      continue;
    }
    if (r.status == 200)
      c->ok++;
    else if (r.status == 429 && tc_header(&r, "Retry-After"))
      c->limited++;
    else
      c->other++;
    tc_response_free(&r);
  }
  return NULL;
}

Test(ratelimit, workers_share_exact_counts_over_loopback, .timeout = 120) {
  api_config cfg = tc_config(2);
  api_app *app;
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/a", h_ok, NULL), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_rate_limit(
                   app,
                   API_RATE_LIMIT_OPTIONS(.limit = 100, .window_ms = 1000000000,
                                          .key_by = API_RATE_KEY_HEADER, .key_header = "X-API-Key"),
                   &mw),
               0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  client c[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    c[i] = (client){.port = api_server_port(srv)};
    pthread_create(&th[i], NULL, client_run, &c[i]);
  }
  int ok = 0, limited = 0, other = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    ok += c[i].ok;
    limited += c[i].limited;
    other += c[i].other;
  }
  tc_stop(srv, app);
  cr_assert_eq(other, 0);
  cr_assert_eq(ok, 100, "%d passed", ok);
  cr_assert_eq(limited, 140);
}

/* Every allocation in turn fails once, with a new API key each time (so the store allocates too):
 * the answer is 200 (a store that cannot allocate lets the request in, without fields) or 503, or
 * the connection closes; never a crash or a leak, and limiting works again afterwards. */
Test(ratelimit, allocation_failure_in_turn, .timeout = 120) {
  api_config cfg = tc_config(1);
  api_app *app;
  cr_assert_eq(api_app_new(&app, &cfg), 0);
  cr_assert_eq(api_app_get(app, "/a", h_ok, NULL), 0);
  api_middleware mw;
  cr_assert_eq(
      api_mw_rate_limit(app,
                        API_RATE_LIMIT_OPTIONS(.limit = 1, .window_ms = 1000000000,
                                               .key_by = API_RATE_KEY_HEADER | API_RATE_KEY_ROUTE,
                                               .key_header = "X-API-Key"),
                        &mw),
      0);
  cr_assert_eq(api_app_use(app, &mw), 0);
  api_server *srv = tc_start(app);
  cr_assert_not_null(srv);
  int port = api_server_port(srv), ok = 0, uncounted = 0;
  char req[128];
  for (long n = 0; n < 120; n++) {
    tc_conn *c = tc_connect(port);
    cr_assert_not_null(c);
    tc_response warm;
    cr_assert_eq(tc_send_str(c, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    cr_assert_eq(tc_read(c, &warm, false), 0);
    tc_response_free(&warm);
    snprintf(req, sizeof(req), "GET /a HTTP/1.1\r\nHost: x\r\nX-API-Key: k%ld\r\n\r\n", n);
    api__alloc_fail_nth(n);
    tc_send_str(c, req);
    tc_response r;
    if (tc_read(c, &r, false) == 0) {
      cr_assert(r.status == 200 || r.status == 503, "status %d after failure %ld", r.status, n);
      ok += r.status == 200;
      uncounted += r.status == 200 && !tc_header(&r, "RateLimit-Remaining");
      tc_response_free(&r);
    }
    api__alloc_fail_nth(-1);
    tc_close(c);
  }
  cr_assert_gt(ok, 50);
  /* the store's allocation failed: let in (fail open), without fields */
  cr_assert_gt(uncounted, 0, "some failures reach the store's allocations");
  cr_assert_lt(uncounted, 10);
  tc_response r;
  cr_assert_eq(tc_exchange(port, "GET /a HTTP/1.1\r\nHost: x\r\nX-API-Key: z\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 200);
  tc_response_free(&r);
  cr_assert_eq(tc_exchange(port, "GET /a HTTP/1.1\r\nHost: x\r\nX-API-Key: z\r\n\r\n", &r), 0);
  cr_assert_eq(r.status, 429);
  tc_response_free(&r);
  tc_stop(srv, app);
}

Test(ratelimit, constructor_allocation_failure) {
  for (long n = 0; n < 30; n++) {
    api_app *app;
    cr_assert_eq(api_app_new(&app, NULL), 0);
    api_middleware mw;
    api__alloc_fail_nth(n);
    int rc = api_mw_rate_limit(
        app,
        API_RATE_LIMIT_OPTIONS(.key_by = API_RATE_KEY_HEADER, .key_header = "X-API-Key",
                               .allow = (const char *[]){"::1", NULL}),
        &mw);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM, "failure %ld: %d", n, rc);
    api_app_free(app); /* frees the state when it was built; nothing leaks either way (ASan) */
  }
}
