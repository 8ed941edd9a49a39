/* CORS middleware: option validation, origin matching against the tricks used to slip past
 * allow-lists, preflights (routed, router-answered, unknown paths, refused methods and headers),
 * and CORS fields on error responses. Driven through the in-process client. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/codec.h"
#include "support/client.h"
#include "util/alloc.h"

static api_app *app;
static api_test *t;

static int h_items(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  return api_res_text(res, 200, "items");
}
static int h_forbidden(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)res;
  (void)ud;
  return API_EFORBIDDEN;
}
static int h_options(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  return api_res_text(res, 200, "options handler ran");
}

static int h_vary(api_req *req, api_res *res, void *ud) {
  (void)req;
  (void)ud;
  api_res_header_add(res, "Vary", "Accept-Language");
  api_res_header_add(res, "Vary", "Cookie, origin");
  return api_res_text(res, 200, "varies");
}

static void start(const api_cors_options *o) {
  cr_assert_eq(api_app_new(&app, NULL), 0);
  api_middleware mw;
  cr_assert_eq(api_mw_cors(app, o, &mw), 0, "%s", api_last_error());
  cr_assert_eq(api_app_use(app, &mw), 0);
  cr_assert_eq(api_app_get(app, "/items", h_items, NULL), 0);
  cr_assert_eq(api_app_post(app, "/items", h_items, NULL), 0);
  cr_assert_eq(api_app_get(app, "/forbidden", h_forbidden, NULL), 0);
  cr_assert_eq(api_app_get(app, "/explicit", h_items, NULL), 0);
  cr_assert_eq(api_app_get(app, "/vary", h_vary, NULL), 0);
  cr_assert_eq(
      api_app_route(app, API_ROUTE(.method = "OPTIONS", .path = "/explicit", .handler = h_options)),
      0);
  cr_assert_eq(api_test_new(&t, app), 0);
}

static void stop(void) {
  api_test_free(t);
  api_app_free(app);
  t = NULL;
  app = NULL;
}

TestSuite(cors, .fini = stop, .timeout = 60);

static api_test_res *send(const char *method, const char *target, const char *const *headers) {
  api_test_res *r = NULL;
  cr_assert_eq(
      api_test_request(t, API_TEST_REQ(.method = method, .target = target, .headers = headers), &r),
      0, "%s %s", method, target);
  return r;
}

static api_test_res *get_from(const char *origin) {
  char h[8192];
  snprintf(h, sizeof(h), "Origin: %s", origin);
  return send("GET", "/items", (const char *[]){h, NULL});
}

static bool has_token(const api_test_res *r, const char *field, const char *token) {
  for (size_t i = 0; api_test_res_header_n(r, field, i); i++)
    if (api__header_has_token(api_test_res_header_n(r, field, i), token)) return true;
  return false;
}

/* No Access-Control-* field at all. */
static void assert_no_cors(const api_test_res *r, const char *what) {
  size_t len;
  const char *raw = api_test_res_raw(r, &len);
  cr_assert_null(strcasestr(raw, "\r\nAccess-Control-"), "%s: CORS fields in\n%s", what, raw);
}

static const char *const one[] = {"https://app.example.com", NULL};

/* ---- construction ---- */

static int build_with(const api_cors_options *o) {
  api_app *a;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  api_middleware mw = {0};
  int rc = api_mw_cors(a, o, &mw);
  if (rc == 0) cr_assert_not_null(mw.on_send);
  api_app_free(a);
  return rc;
}

Test(cors, bad_options_are_refused_with_a_message_naming_them) {
  api_app *a;
  api_middleware mw;
  cr_assert_eq(api_app_new(&a, NULL), 0);
  cr_assert_eq(api_mw_cors(a, NULL, &mw), API_EINVAL);
  cr_assert_eq(api_mw_cors(NULL, API_CORS_OPTIONS(.origins = one), &mw), API_EINVAL);
  cr_assert_eq(api_mw_cors(a, API_CORS_OPTIONS(.origins = one), NULL), API_EINVAL);
  api_app_free(a);

  cr_assert_eq(build_with(API_CORS_OPTIONS(.origins = NULL)), API_EINVAL);
  cr_assert(strstr(api_last_error(), "origins"));
  cr_assert_eq(build_with(API_CORS_OPTIONS(.origins = (const char *[]){NULL})), API_EINVAL);

  static const char *const bad[] = {"https://example.com/",
                                    "https://example.com/path",
                                    "https://user@example.com",
                                    "example.com",
                                    "https://",
                                    "https://*.",
                                    "https://a.*.com",
                                    "https://*example.com",
                                    "https://exa mple.com",
                                    "https://example.com:0",
                                    "https://example.com:65536",
                                    "https://example.com:08",
                                    "https://example.com:",
                                    "ftp//example.com",
                                    "https://[zz]",
                                    "https://*.[::1]",
                                    "https://*",
                                    "*.example.com",
                                    "https://a..b",
                                    "https://.example.com",
                                    "https://example.com.",
                                    "https://example.com?x",
                                    "https://example.com#x",
                                    "",
                                    " https://example.com",
                                    "1https://example.com",
                                    "https://exam\xc3\xa9ple.com"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_eq(build_with(API_CORS_OPTIONS(.origins = (const char *[]){bad[i], NULL})),
                 API_EINVAL, "origin \"%s\" accepted", bad[i]);
    cr_assert(strstr(api_last_error(), "origins"), "message: %s", api_last_error());
  }
  char long_origin[700] = "https://";
  memset(long_origin + 8, 'a', 600);
  cr_assert_eq(build_with(API_CORS_OPTIONS(.origins = (const char *[]){long_origin, NULL})),
               API_EINVAL);

  cr_assert_eq(
      build_with(API_CORS_OPTIONS(.origins = (const char *[]){"*", NULL}, .credentials = true)),
      API_EINVAL);
  cr_assert(strstr(api_last_error(), "credentials"), "message: %s", api_last_error());
  cr_assert_eq(
      build_with(API_CORS_OPTIONS(.origins = (const char *[]){"https://a.example", "*", NULL},
                                  .credentials = true)),
      API_EINVAL);
  cr_assert_eq(build_with(API_CORS_OPTIONS(.origins = one,
                                           .methods = (const char *[]){"GET", "P UT", NULL})),
               API_EINVAL);
  cr_assert(strstr(api_last_error(), "methods"));
  cr_assert_eq(build_with(API_CORS_OPTIONS(.origins = one, .methods = (const char *[]){NULL})),
               API_EINVAL);
  cr_assert_eq(
      build_with(API_CORS_OPTIONS(.origins = one,
                                  .allow_headers = (const char *[]){"X-Ok", "X:No", NULL})),
      API_EINVAL);
  cr_assert(strstr(api_last_error(), "allow_headers"));
  cr_assert_eq(
      build_with(API_CORS_OPTIONS(.origins = one, .expose_headers = (const char *[]){"", NULL})),
      API_EINVAL);
  cr_assert(strstr(api_last_error(), "expose_headers"));
  cr_assert_eq(build_with(&(api_cors_options){.size = 0, .origins = one}), API_EINVAL);

  /* What is fine: any case in the configuration, default ports, IPv6, patterns with ports. */
  cr_assert_eq(
      build_with(
          API_CORS_OPTIONS(.origins =
                               (const char *[]){"HTTPS://App.Example.COM:443", "http://[::1]:8080",
                                                "https://*.example.com:8443", "null", NULL},
                           .credentials = true)),
      0, "%s", api_last_error());
}

/* Every allocation of the constructor failing in turn: an error, never a crash or a leak (the
 * sanitizer build checks the leak). */
Test(cors, construction_survives_allocation_failure) {
  for (long n = 0; n < 64; n++) {
    api_app *a;
    cr_assert_eq(api_app_new(&a, NULL), 0);
    api_middleware mw;
    api__alloc_fail_nth(n);
    int rc = api_mw_cors(a,
                         API_CORS_OPTIONS(.origins = (const char *[]){"https://a.example",
                                                                      "https://*.b.example", NULL},
                                          .expose_headers = (const char *[]){"X-Total", NULL}),
                         &mw);
    api__alloc_fail_nth(-1);
    cr_assert(rc == 0 || rc == API_ENOMEM, "allocation %ld: %d", n, rc);
    api_app_free(a);
  }
}

/* ---- origins ---- */

Test(cors, an_exact_origin_is_echoed_with_vary) {
  start(API_CORS_OPTIONS(.origins = one));
  api_test_res *r = get_from("https://app.example.com");
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Credentials"));
  cr_assert_null(api_test_res_header(r, "Access-Control-Expose-Headers"));
  cr_assert(has_token(r, "Vary", "Origin"));
  api_test_res_free(r);

  /* No Origin: a same-origin or non-browser request, no CORS fields, but Vary all the same so
   * that a cache does not hand this answer to a cross-origin request. */
  r = send("GET", "/items", NULL);
  assert_no_cors(r, "no Origin");
  cr_assert(has_token(r, "Vary", "Origin"));
  api_test_res_free(r);
}

Test(cors, origin_tricks_get_no_cors_fields) {
  start(API_CORS_OPTIONS(.origins = one));
  char big[3000] = "https://";
  memset(big + 8, 'a', 2000);
  strcpy(big + 2008, ".app.example.com");
  const char *tricks[] = {"https://app.example.com.evil.net",
                          "https://evilapp.example.com",
                          "https://app.example.com.",
                          "https://app.example.com/",
                          "https://app.example.com/x",
                          "HTTPS://APP.EXAMPLE.COM",
                          "https://App.example.com",
                          "https://user@app.example.com",
                          "https://user:pw@app.example.com",
                          "https://app.example.com:443",
                          "https://app.example.com:8443",
                          "http://app.example.com",
                          "wss://app.example.com",
                          "https://app.example.com, https://app.example.com",
                          "https://app.example.com https://app.example.com",
                          "https://app.example.com%00",
                          "https://app.example.com\\@evil.net",
                          "null",
                          "*",
                          "https://*.example.com",
                          "//app.example.com",
                          "app.example.com",
                          big};
  for (size_t i = 0; i < sizeof(tricks) / sizeof(tricks[0]); i++) {
    api_test_res *r = get_from(tricks[i]);
    cr_assert_eq(api_test_res_status(r), 200, "%.60s", tricks[i]);
    assert_no_cors(r, tricks[i]);
    cr_assert(has_token(r, "Vary", "Origin"));
    api_test_res_free(r);
  }
  /* Two Origin fields, even both allowed: a browser never sends that. */
  api_test_res *r = send(
      "GET", "/items",
      (const char *[]){"Origin: https://app.example.com", "Origin: https://app.example.com", NULL});
  assert_no_cors(r, "two Origin fields");
  api_test_res_free(r);
  /* An empty Origin field. */
  r = send("GET", "/items", (const char *[]){"Origin:", NULL});
  assert_no_cors(r, "empty Origin");
  api_test_res_free(r);
}

Test(cors, configured_origins_are_normalised) {
  start(API_CORS_OPTIONS(.origins =
                             (const char *[]){"HTTPS://App.Example.COM:443",
                                              "http://localhost:8080", "http://[::1]:3000", NULL}));
  const char *ok[] = {"https://app.example.com", "http://localhost:8080", "http://[::1]:3000"};
  for (size_t i = 0; i < 3; i++) {
    api_test_res *r = get_from(ok[i]);
    cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"), ok[i]);
    api_test_res_free(r);
  }
  const char *no[] = {"http://localhost",       "http://localhost:80", "http://localhost:8081",
                      "https://localhost:8080", "http://[::1]",        "http://[::2]:3000",
                      "http://[::1]:3000/"};
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
    api_test_res *r = get_from(no[i]);
    assert_no_cors(r, no[i]);
    api_test_res_free(r);
  }
}

Test(cors, patterns_match_whole_labels_only) {
  start(API_CORS_OPTIONS(.origins = (const char *[]){"https://*.example.com",
                                                     "http://*.dev.example.org:8080", NULL}));
  const char *ok[] = {"https://a.example.com", "https://a.b.example.com",
                      "https://xn--bcher-kva.example.com", "https://a-b.example.com",
                      "http://x.dev.example.org:8080"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    api_test_res *r = get_from(ok[i]);
    cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"), ok[i], "%s", ok[i]);
    api_test_res_free(r);
  }
  const char *no[] = {"https://example.com",           "https://evilexample.com",
                      "https://example.com.evil.net",  "https://a.example.com.evil.net",
                      "https://.example.com",          "https://a..example.com",
                      "https://a.example.com.",        "http://a.example.com",
                      "https://a.example.com:8443",    "https://a.example.com:443",
                      "https://A.example.com",         "https://a.example.comx",
                      "https://a.examplexcom",         "https://[::1].example.com",
                      "https://a/.example.com",        "https://a@b.example.com",
                      "http://x.dev.example.org",      "http://dev.example.org:8080",
                      "http://x.dev.example.org:80800"};
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
    api_test_res *r = get_from(no[i]);
    assert_no_cors(r, no[i]);
    api_test_res_free(r);
  }
}

Test(cors, null_origin_only_when_listed) {
  start(API_CORS_OPTIONS(.origins = (const char *[]){"*", NULL}));
  api_test_res *r = get_from("null");
  assert_no_cors(r, "null with *");
  api_test_res_free(r);
  r = get_from("https://anything.example");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"), "*");
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Credentials"));
  api_test_res_free(r);
  stop();

  start(API_CORS_OPTIONS(.origins = (const char *[]){"null", NULL}));
  r = get_from("null");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"), "null");
  api_test_res_free(r);
  r = get_from("NULL");
  assert_no_cors(r, "NULL");
  api_test_res_free(r);
  r = get_from("https://app.example.com");
  assert_no_cors(r, "not listed");
  api_test_res_free(r);
}

Test(cors, credentials_and_exposed_headers) {
  start(API_CORS_OPTIONS(.origins = one, .credentials = true,
                         .expose_headers = (const char *[]){"X-Total-Count", "ETag", NULL}));
  api_test_res *r = get_from("https://app.example.com");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Credentials"), "true");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Expose-Headers"), "X-Total-Count, ETag");
  api_test_res_free(r);
  r = get_from("https://other.example.com");
  assert_no_cors(r, "other origin");
  api_test_res_free(r);
}

Test(cors, error_responses_carry_the_fields) {
  start(API_CORS_OPTIONS(.origins = one, .credentials = true));
  const char *h[] = {"Origin: https://app.example.com", NULL};
  api_test_res *r = send("GET", "/forbidden", h);
  cr_assert_eq(api_test_res_status(r), 403);
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Credentials"), "true");
  api_test_res_free(r);
  r = send("DELETE", "/items", h);
  cr_assert_eq(api_test_res_status(r), 405);
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  api_test_res_free(r);
  /* A request the parser refuses also passes on_send. */
  api_test_request(t,
                   API_TEST_REQ(.raw = "GET /items HTTP/1.1\r\nHost: x\r\nOrigin: "
                                       "https://app.example.com\r\nBad Header: x\r\n\r\n"),
                   &r);
  cr_assert_eq(api_test_res_status(r), 400);
  cr_assert(has_token(r, "Vary", "Origin"));
  api_test_res_free(r);
}

/* ---- preflights ---- */

static api_test_res *preflight(const char *target, const char *origin, const char *method,
                               const char *headers) {
  char o[600], m[200], h[20000];
  snprintf(o, sizeof(o), "Origin: %s", origin);
  snprintf(m, sizeof(m), "Access-Control-Request-Method: %s", method);
  snprintf(h, sizeof(h), "Access-Control-Request-Headers: %s", headers ? headers : "");
  return send("OPTIONS", target, (const char *[]){o, m, headers ? h : NULL, NULL});
}

static void assert_preflight_vary(const api_test_res *r) {
  cr_assert(has_token(r, "Vary", "Origin"));
  cr_assert(has_token(r, "Vary", "Access-Control-Request-Method"));
  cr_assert(has_token(r, "Vary", "Access-Control-Request-Headers"));
}

Test(cors, preflight_on_a_routed_path_is_answered_without_the_handler) {
  start(API_CORS_OPTIONS(.origins = one, .credentials = true,
                         .allow_headers = (const char *[]){"Content-Type", "X-Api-Key", NULL}));
  api_test_res *r =
      preflight("/explicit", "https://app.example.com", "PUT", "x-api-key,content-type");
  cr_assert_eq(api_test_res_status(r), 204);
  size_t len;
  api_test_res_body(r, &len);
  cr_assert_eq(len, 0, "the OPTIONS handler ran");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Credentials"), "true");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Methods"),
                   "GET, HEAD, POST, PUT, PATCH, DELETE");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Headers"),
                   "x-api-key, content-type");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Max-Age"), "600");
  assert_preflight_vary(r);
  api_test_res_free(r);

  /* A plain OPTIONS (no Access-Control-Request-Method) is the route's business. */
  r = send("OPTIONS", "/explicit", (const char *[]){"Origin: https://app.example.com", NULL});
  cr_assert_eq(api_test_res_status(r), 200);
  cr_assert_str_eq(api_test_res_body(r, NULL), "options handler ran");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Methods"));
  api_test_res_free(r);
}

Test(cors, preflight_on_a_path_the_router_answers) {
  start(API_CORS_OPTIONS(.origins = one, .methods = (const char *[]){"GET", "POST", NULL},
                         .max_age = 86400));
  api_test_res *r = preflight("/items", "https://app.example.com", "POST", "Content-Type");
  cr_assert_eq(api_test_res_status(r), 204);
  cr_assert_not_null(api_test_res_header(r, "Allow"));
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Methods"), "GET, POST");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Headers"), "Content-Type");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Max-Age"), "86400");
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Credentials"));
  assert_preflight_vary(r);
  api_test_res_free(r);

  /* No headers asked for: no Allow-Headers. */
  r = preflight("/items", "https://app.example.com", "GET", NULL);
  cr_assert_eq(api_test_res_status(r), 204);
  cr_assert_not_null(api_test_res_header(r, "Access-Control-Allow-Origin"));
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Headers"));
  api_test_res_free(r);
}

Test(cors, preflight_for_an_unknown_path_stays_404) {
  start(API_CORS_OPTIONS(.origins = one));
  api_test_res *r = preflight("/nope", "https://app.example.com", "GET", NULL);
  cr_assert_eq(api_test_res_status(r), 404);
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Methods"));
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Origin"));
  cr_assert_null(api_test_res_header(r, "Access-Control-Max-Age"));
  api_test_res_free(r);
}

Test(cors, refused_preflights_carry_no_cors_fields) {
  start(API_CORS_OPTIONS(.origins = one, .methods = (const char *[]){"GET", "POST", NULL},
                         .allow_headers = (const char *[]){"Content-Type", "X-Api-Key", NULL}));
  struct {
    const char *origin, *method, *headers;
  } cases[] = {
      {"https://evil.example.com", "GET", NULL},         /* origin */
      {"https://app.example.com.evil.net", "GET", NULL}, /* origin */
      {"null", "GET", NULL},                             /* origin */
      {"https://app.example.com", "DELETE", NULL},       /* method */
      {"https://app.example.com", "post", NULL},         /* methods are case-sensitive */
      {"https://app.example.com", "GET, POST", NULL},    /* not a method */
      {"https://app.example.com", "", NULL},             /* empty */
      {"https://app.example.com", "GET", "x-secret"},    /* header */
      {"https://app.example.com", "GET", "content-type, x-secret"},
      {"https://app.example.com", "GET", "content-type, x y"},       /* malformed */
      {"https://app.example.com", "GET", "content-type; x-api-key"}, /* malformed */
      {"https://app.example.com", "GET", "content-typ"},
      {"https://app.example.com", "GET", "content-type-x"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    api_test_res *r = preflight("/items", cases[i].origin, cases[i].method, cases[i].headers);
    cr_assert_eq(api_test_res_status(r), 204, "case %zu", i);
    assert_no_cors(r, cases[i].headers ? cases[i].headers : cases[i].method);
    assert_preflight_vary(r);
    api_test_res_free(r);
    r = preflight("/explicit", cases[i].origin, cases[i].method, cases[i].headers);
    cr_assert_eq(api_test_res_status(r), 204, "case %zu", i);
    assert_no_cors(r, cases[i].headers ? cases[i].headers : cases[i].method);
    api_test_res_free(r);
  }
  /* Two Access-Control-Request-Method fields. */
  api_test_res *r =
      send("OPTIONS", "/items",
           (const char *[]){"Origin: https://app.example.com", "Access-Control-Request-Method: GET",
                            "Access-Control-Request-Method: GET", NULL});
  assert_no_cors(r, "two methods");
  api_test_res_free(r);
}

Test(cors, requested_header_lists_hostile_and_large) {
  start(API_CORS_OPTIONS(.origins = one,
                         .allow_headers = (const char *[]){"Content-Type", "X-Api-Key", NULL}));
  /* Empty elements, case and whitespace: fine. */
  api_test_res *r =
      preflight("/items", "https://app.example.com", "GET", " ,, Content-Type ,X-API-KEY,");
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Headers"),
                   "Content-Type, X-API-KEY");
  api_test_res_free(r);
  r = preflight("/items", "https://app.example.com", "GET", ",,,,");
  cr_assert_not_null(api_test_res_header(r, "Access-Control-Allow-Origin"));
  cr_assert_null(api_test_res_header(r, "Access-Control-Allow-Headers"));
  api_test_res_free(r);

  /* 1000 allowed names, then the same with one refused name at the end. */
  char *big = malloc(16000);
  size_t n = 0;
  for (int i = 0; i < 1000; i++) n += (size_t)sprintf(big + n, "%sx-api-key", i ? "," : "");
  r = preflight("/items", "https://app.example.com", "GET", big);
  cr_assert_eq(api_test_res_status(r), 204);
  cr_assert_not_null(api_test_res_header(r, "Access-Control-Allow-Headers"));
  api_test_res_free(r);
  strcpy(big + n, ",x-evil");
  r = preflight("/items", "https://app.example.com", "GET", big);
  cr_assert_eq(api_test_res_status(r), 204);
  assert_no_cors(r, "1000 names and a refused one");
  api_test_res_free(r);
  free(big);

  /* Split over two fields: both are checked. */
  r = send("OPTIONS", "/items",
           (const char *[]){"Origin: https://app.example.com", "Access-Control-Request-Method: GET",
                            "Access-Control-Request-Headers: content-type",
                            "Access-Control-Request-Headers: x-evil", NULL});
  assert_no_cors(r, "second field refused");
  api_test_res_free(r);
}

Test(cors, any_header_and_no_max_age) {
  start(API_CORS_OPTIONS(.origins = one, .allow_headers = (const char *[]){"*", NULL},
                         .max_age = -1));
  api_test_res *r = preflight("/items", "https://app.example.com", "PATCH", "x-anything, x-more");
  cr_assert_eq(api_test_res_status(r), 204);
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Headers"), "x-anything, x-more");
  cr_assert_null(api_test_res_header(r, "Access-Control-Max-Age"));
  api_test_res_free(r);
  r = preflight("/items", "https://app.example.com", "GET", "x-anything, bad header");
  assert_no_cors(r, "malformed name with *");
  api_test_res_free(r);
}

Test(cors, vary_is_merged_with_the_handlers) {
  start(API_CORS_OPTIONS(.origins = one));
  /* The handler's Vary fields survive, and Origin (there already, in another case) is not
   * added twice. */
  api_test_res *r = send("GET", "/vary", (const char *[]){"Origin: https://app.example.com", NULL});
  cr_assert_str_eq(api_test_res_header(r, "Access-Control-Allow-Origin"),
                   "https://app.example.com");
  cr_assert_str_eq(api_test_res_header(r, "Vary"), "Accept-Language");
  cr_assert_str_eq(api_test_res_header_n(r, "Vary", 1), "Cookie, origin");
  cr_assert_null(api_test_res_header_n(r, "Vary", 2));
  api_test_res_free(r);
}
